package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// kubeletPort is where the API server finds a node's kubelet when the node does not say.
const kubeletPort = 10250

// serveKubelet answers, on ip:10250 over TLS, the kubelet API calls the test bed can honour:
// `/healthz` and `/containerLogs/NS/POD/CONTAINER` (tailLines, timestamps, follow), with the
// catalogue's log lines. Everything else (exec, attach, port-forward) needs a container
// runtime: the connection is closed without an answer, as a node without one would leave it.
func serveKubelet(ip string, cert tls.Certificate, apps []app, pods cache.Store) error {
	ln, err := tls.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(kubeletPort)), &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/containerLogs/", func(w http.ResponseWriter, r *http.Request) {
		containerLogs(w, r, apps, pods)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		http.Error(w, "no container runtime", http.StatusNotImplemented)
	})
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(ln) }()
	return nil
}

func containerLogs(w http.ResponseWriter, r *http.Request, apps []app, pods cache.Store) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	obj, found, _ := pods.GetByKey(parts[0] + "/" + parts[1])
	pod, ok := obj.(*corev1.Pod)
	if !found || !ok {
		http.Error(w, fmt.Sprintf("pod %s/%s not found", parts[0], parts[1]), http.StatusNotFound)
		return
	}
	var image string
	var started time.Time
	for _, c := range pod.Spec.Containers {
		if c.Name == parts[2] {
			image = c.Image
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == parts[2] && s.State.Running != nil {
			started = s.State.Running.StartedAt.UTC()
		}
	}
	if image == "" {
		http.Error(w, fmt.Sprintf("container %s is not valid for pod %s", parts[2], parts[1]), http.StatusNotFound)
		return
	}
	a, _ := find(apps, image)
	info := podInfo{name: pod.Name, namespace: pod.Namespace, node: pod.Spec.NodeName, ip: pod.Status.PodIP}
	lines := make([]string, 0, len(a.logs))
	for _, l := range a.logs {
		lines = append(lines, render(l, info))
	}
	query := r.URL.Query()
	if tail, err := strconv.Atoi(query.Get("tailLines")); err == nil && tail >= 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	w.Header().Set("Content-Type", "text/plain")
	for _, l := range lines {
		if query.Get("timestamps") == "true" {
			l = started.Format(time.RFC3339Nano) + " " + l
		}
		_, _ = fmt.Fprintln(w, l)
	}
	if query.Get("follow") == "true" {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		<-r.Context().Done()
	}
}
