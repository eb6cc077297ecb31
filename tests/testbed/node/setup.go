package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubernetesVersion is the version the control plane is built at (tests/testbed/k8s/go.mod).
const kubernetesVersion = "v1.37.2"

// controlPlaneIP is the control-plane node's address, which the API server advertises (so the
// `kubernetes` Service's endpoint is a node address, as on kind).
const controlPlaneIP = "172.18.0.2"

// testbedNode is one of the fake nodes, named and addressed like a kind cluster's.
type testbedNode struct {
	name, ip, podCIDR string
	controlPlane      bool
}

var testbedNodes = []testbedNode{
	{"testbed-control-plane", controlPlaneIP, "10.244.0.0/24", true},
	{"testbed-worker", "172.18.0.3", "10.244.1.0/24", false},
	{"testbed-worker2", "172.18.0.4", "10.244.2.0/24", false},
	{"testbed-worker3", "172.18.0.5", "10.244.3.0/24", false},
}

// setup waits for the API server, registers the fake nodes KWOK manages, and waits until they
// are Ready and the default ServiceAccount exists (created by the controller manager).
func setup(kubeconfig string) error {
	client, err := clientFor(kubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := poll(ctx, "the API server to be ready", func() (bool, error) {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	}); err != nil {
		return err
	}
	for _, n := range testbedNodes {
		if _, err := client.CoreV1().Nodes().Create(ctx, n.object(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create node %s: %w", n.name, err)
		}
	}
	if err := poll(ctx, "the nodes to be Ready", func() (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, node := range nodes.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == len(testbedNodes), nil
	}); err != nil {
		return err
	}
	return poll(ctx, "the default ServiceAccount", func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
}

// clientFor builds a client from a kubeconfig file.
func clientFor(kubeconfig string) (*kubernetes.Clientset, error) {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(config)
}

func poll(ctx context.Context, what string, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// object is the Node as registered: labels, taint and addresses of a kind node, with the
// annotation that hands it to KWOK.
func (n testbedNode) object() *corev1.Node {
	labels := map[string]string{
		"beta.kubernetes.io/arch": "amd64",
		"beta.kubernetes.io/os":   "linux",
		"kubernetes.io/arch":      "amd64",
		"kubernetes.io/hostname":  n.name,
		"kubernetes.io/os":        "linux",
		"type":                    "kwok",
	}
	var taints []corev1.Taint
	if n.controlPlane {
		labels["node-role.kubernetes.io/control-plane"] = ""
		labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		taints = append(taints, corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule})
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("2"),
		corev1.ResourceMemory:           resource.MustParse("8Gi"),
		corev1.ResourcePods:             resource.MustParse("110"),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.name,
			Labels:      labels,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
		},
		Spec: corev1.NodeSpec{
			PodCIDR:    n.podCIDR,
			PodCIDRs:   []string{n.podCIDR},
			ProviderID: "kind://docker/testbed/" + n.name,
			Taints:     taints,
		},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: n.ip},
				{Type: corev1.NodeHostName, Address: n.name},
			},
			Capacity:    capacity,
			Allocatable: capacity,
			// What a kind node of this Kubernetes version reports (KWOK keeps set values).
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:            "amd64",
				ContainerRuntimeVersion: "containerd://2.1.3",
				KernelVersion:           "6.8.0-kubetutor",
				KubeletVersion:          kubernetesVersion,
				OperatingSystem:         "linux",
				OSImage:                 "Debian GNU/Linux 12 (bookworm)",
			},
		},
	}
}
