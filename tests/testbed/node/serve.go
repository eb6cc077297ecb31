package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// podInfo is what a response template may name.
type podInfo struct {
	name, namespace, node, ip string
}

// notFoundPage is what the lessons' Flask apps answer for any other path.
const notFoundPage = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n"

// listener is one app listening on a pod IP and port, for one pod.
type listener struct {
	server *http.Server
	owner  string
}

// serve listens on IP:port for each running pod whose image serves HTTP, for as long as the
// pod runs, so that a Service's targetPort that no app listens on is refused exactly as on a
// cluster; and on each node's address the part of a kubelet's API that serves container logs.
// Pod and node IPs are local addresses of the test bed's network namespace.
func serve(kubeconfig, pkiDir string, lessons []string) error {
	apps, err := loadCatalogue(lessons)
	if err != nil {
		return err
	}
	client, err := clientFor(kubeconfig)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mu sync.Mutex
	wanted := func(pod *corev1.Pod) map[string]podHTTP {
		out := map[string]podHTTP{}
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
			return out
		}
		info := podInfo{name: pod.Name, namespace: pod.Namespace, node: pod.Spec.NodeName, ip: pod.Status.PodIP}
		for _, c := range pod.Spec.Containers {
			a, ok := find(apps, c.Image)
			if !ok || a.port == 0 {
				continue
			}
			addr := net.JoinHostPort(pod.Status.PodIP, fmt.Sprint(a.port))
			out[addr] = podHTTP{app: a, pod: info}
		}
		return out
	}
	// Every running pod claims its addresses; the newest claim of an address answers on it.
	// Two live pods can claim one address: KWOK hands a deleted pod's IP out again as soon as it
	// sees the deletion, which may be before this informer does, and a template rendered
	// twice may move a pod to a second IP. When the newest claimant goes, the one before it
	// answers again, so no running pod is left without its app.
	claims := map[string]map[string]claim{} // "ip:port" -> pod key -> claim
	listening := map[string]*listener{}     // "ip:port" -> listener
	var seq uint64
	reconcile := func(addr string) {
		var newest string
		var best claim
		for key, c := range claims[addr] {
			if newest == "" || c.seq > best.seq {
				newest, best = key, c
			}
		}
		l := listening[addr]
		if l != nil && l.owner == newest {
			return
		}
		if l != nil {
			_ = l.server.Close()
			delete(listening, addr)
		}
		if newest == "" {
			return
		}
		if len(claims[addr]) > 1 {
			log.Printf("%s is claimed by %d running pods; %s answers", addr, len(claims[addr]), newest)
		}
		l, err := listen(addr, best.target)
		if err != nil {
			log.Printf("pod %s: cannot listen on %s: %v", newest, addr, err)
			return
		}
		l.owner = newest
		listening[addr] = l
	}
	update := func(key string, pod *corev1.Pod) {
		mu.Lock()
		defer mu.Unlock()
		want := map[string]podHTTP{}
		if pod != nil {
			want = wanted(pod)
		}
		touched := map[string]bool{}
		for addr, byPod := range claims {
			if _, keep := want[addr]; !keep {
				if _, had := byPod[key]; had {
					delete(byPod, key)
					touched[addr] = true
				}
			}
		}
		for addr, target := range want {
			if claims[addr] == nil {
				claims[addr] = map[string]claim{}
			}
			c, had := claims[addr][key]
			if !had {
				seq++
				c.seq = seq
				touched[addr] = true
			}
			c.target = target
			claims[addr][key] = c
		}
		for addr := range touched {
			reconcile(addr)
			if len(claims[addr]) == 0 {
				delete(claims, addr)
			}
		}
	}

	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	pods := factory.Core().V1().Pods().Informer()
	_, err = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				update(pod.Namespace+"/"+pod.Name, pod)
			}
		},
		UpdateFunc: func(_, obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				update(pod.Namespace+"/"+pod.Name, pod)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				update(pod.Namespace+"/"+pod.Name, nil)
			}
		},
	})
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "kubelet.crt"), filepath.Join(pkiDir, "kubelet.key"))
	if err != nil {
		return err
	}
	for _, n := range testbedNodes {
		if err := serveKubelet(n.ip, cert, apps, pods.GetStore()); err != nil {
			return err
		}
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	return nil
}

// claim is a running pod's wish to answer on an address, numbered in the order claims came.
type claim struct {
	seq    uint64
	target podHTTP
}

// podHTTP is an app answering for one pod.
type podHTTP struct {
	app app
	pod podInfo
}

func listen(addr string, target podHTTP) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path != "/" && r.URL.Path != "" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(notFoundPage))
			return
		}
		_, _ = w.Write([]byte(render(target.app.response, target.pod)))
	})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(ln) }()
	return &listener{server: server}, nil
}
