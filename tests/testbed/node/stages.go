package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// The pod lifecycle the test bed's KWOK plays, written as KWOK stages: a pod whose images are
// all in the catalogue starts at once; any other pod fails to pull its image, then backs off
// and retries, as a kubelet does (ErrImagePull, ImagePullBackOff, ErrImagePull...); a deleted
// pod goes away after a second.
//
// KWOK's stage events carry fixed messages, so only the kubelet's fixed-text events are
// recorded ("Error: ErrImagePull", "Error: ImagePullBackOff"); the container statuses carry
// the image names.

// podConditions is the status template's conditions list for a pod on a node, ready or not.
const podConditions = `
{{ $now := Now }}
{{ $ready := %s }}
{{ $names := list }}{{ range .spec.containers }}{{ $names = append $names .name }}{{ end }}
conditions:
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: PodReadyToStartContainers
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Initialized
{{ if $ready }}
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  status: "True"
  type: ContainersReady
{{ else }}
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  message: {{ printf "containers with unready status: [%%s]" (join " " $names) | Quote }}
  reason: ContainersNotReady
  status: "False"
  type: Ready
- lastProbeTime: null
  lastTransitionTime: {{ $now | Quote }}
  message: {{ printf "containers with unready status: [%%s]" (join " " $names) | Quote }}
  reason: ContainersNotReady
  status: "False"
  type: ContainersReady
{{ end }}
{{ with NodeIPWith .spec.nodeName }}
hostIP: {{ . | Quote }}
hostIPs:
- ip: {{ . | Quote }}
{{ end }}
{{ $podIP := .status.podIP }}
{{ if not $podIP }}{{ $podIP = PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}{{ end }}
podIP: {{ $podIP | Quote }}
podIPs:
- ip: {{ $podIP | Quote }}
startTime: {{ or .status.startTime $now | Quote }}
qosClass: {{ or .status.qosClass "BestEffort" | Quote }}
`

// runningStatus: every container running, the pod Ready. Images are reported fully
// qualified, with an image ID, as containerd reports them.
const runningStatus = `
phase: Running
containerStatuses:
{{ range .spec.containers }}
{{ $image := .image }}
{{ if not (contains "/" $image) }}{{ $image = printf "docker.io/library/%s" $image }}{{ else if not (regexMatch "^[^/]*[.:][^/]*/|^localhost/" $image) }}{{ $image = printf "docker.io/%s" $image }}{{ end }}
{{ if not (regexMatch ":[^/]*$" $image) }}{{ $image = printf "%s:latest" $image }}{{ end }}
- containerID: {{ printf "containerd://%s" (sha256sum (printf "%s/%s" $.metadata.uid .name)) | Quote }}
  image: {{ $image | Quote }}
  imageID: {{ printf "%s@sha256:%s" (regexReplaceAll ":[^:/]*$" $image "") (sha256sum $image) | Quote }}
  name: {{ .name | Quote }}
  ready: true
  restartCount: 0
  started: true
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
`

// pullFailedStatus: every container waiting on its image with `reason`.
const pullFailedStatus = `
phase: Pending
containerStatuses:
{{ range .spec.containers }}
{{ $image := .image }}
{{ $q := $image }}
{{ if not (contains "/" $q) }}{{ $q = printf "docker.io/library/%%s" $q }}{{ else if not (regexMatch "^[^/]*[.:][^/]*/|^localhost/" $q) }}{{ $q = printf "docker.io/%%s" $q }}{{ end }}
{{ if not (regexMatch ":[^/]*$" $q) }}{{ $q = printf "%%s:latest" $q }}{{ end }}
{{ $pullError := printf "failed to pull and unpack image \"%%s\": failed to resolve reference \"%%s\": %%s: not found" $q $q $q }}
- image: {{ $image | Quote }}
  imageID: ""
  name: {{ .name | Quote }}
  ready: false
  restartCount: 0
  started: false
  state:
    waiting:
      message: {{ %s | Quote }}
      reason: %s
{{ end }}
`

type stage struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   map[string]any `json:"metadata"`
	Spec       map[string]any `json:"spec"`
}

func expression(key, operator string, values ...string) map[string]any {
	e := map[string]any{"key": key, "operator": operator}
	if len(values) > 0 {
		e["values"] = values
	}
	return e
}

func podStage(name string, delayMs int, selector []map[string]any, next map[string]any) stage {
	spec := map[string]any{
		"resourceRef": map[string]any{"apiGroup": "v1", "kind": "Pod"},
		"selector":    map[string]any{"matchExpressions": selector},
		"next":        next,
	}
	if delayMs > 0 {
		spec["delay"] = map[string]any{"durationMilliseconds": delayMs}
	}
	return stage{APIVersion: "kwok.x-k8s.io/v1alpha1", Kind: "Stage", Metadata: map[string]any{"name": name}, Spec: spec}
}

// podStages builds the pod stages for a catalogue.
func podStages(apps []app) []stage {
	quoted, _ := json.Marshal(pullablePattern(apps))
	pullable := fmt.Sprintf("[.spec.containers.[].image | test(%s)] | all", quoted)
	alive := expression(".metadata.deletionTimestamp", "DoesNotExist")
	pending := expression(".status.phase", "In", "Pending")
	waiting := func(reason string) map[string]any {
		return expression(".status.containerStatuses.[].state.waiting.reason", "In", reason)
	}
	failed := func(reason, message string) map[string]any {
		return map[string]any{
			"statusTemplate": fmt.Sprintf(podConditions, "false") + fmt.Sprintf(pullFailedStatus, message, reason),
			"event":          map[string]any{"type": "Warning", "reason": "Failed", "message": "Error: " + reason},
		}
	}
	backOffMessage := `printf "Back-off pulling image \"%s\": ErrImagePull: %s" $image $pullError`
	return []stage{
		podStage("pod-ready", 0, []map[string]any{
			alive, pending,
			expression(`.status.conditions.[] | select( .type == "Ready" ) | .status`, "NotIn", "True"),
			expression(pullable, "In", "true"),
		}, map[string]any{"statusTemplate": fmt.Sprintf(podConditions, "true") + runningStatus}),
		podStage("pod-pull-failed", 800, []map[string]any{
			alive, pending,
			expression(pullable, "In", "false"),
			expression(".status.containerStatuses", "DoesNotExist"),
		}, failed("ErrImagePull", "$pullError")),
		podStage("pod-pull-back-off", 800, []map[string]any{
			alive, pending, expression(pullable, "In", "false"), waiting("ErrImagePull"),
		}, failed("ImagePullBackOff", backOffMessage)),
		podStage("pod-pull-retry", 10000, []map[string]any{
			alive, pending, expression(pullable, "In", "false"), waiting("ImagePullBackOff"),
		}, failed("ErrImagePull", "$pullError")),
		podStage("pod-delete", 1000, []map[string]any{
			expression(".metadata.deletionTimestamp", "Exists"),
			expression(".metadata.finalizers", "DoesNotExist"),
		}, map[string]any{"delete": true}),
	}
}

// writeStages writes the pod stages for the lessons' catalogue as one multi-document file.
func writeStages(lessons []string, out string) error {
	if out == "" {
		return fmt.Errorf("-o FILE is required")
	}
	apps, err := loadCatalogue(lessons)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for i, s := range podStages(apps) {
		doc, err := yaml.Marshal(s)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
