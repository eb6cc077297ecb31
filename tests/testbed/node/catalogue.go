package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// app is an image the test bed's nodes can "pull", and what its container answers over HTTP.
type app struct {
	// repository is the fully qualified repository, e.g. docker.io/library/nginx.
	repository string
	// tag is the only tag that pulls; empty means any tag a public image plausibly has.
	tag string
	// port is where the app listens; 0 when nothing listens.
	port int
	// response is the body of `GET /`, with {hostname}, {pod}, {namespace}, {node} and {ip}
	// replaced by the pod's values.
	response string
	// logs are the container's start-up lines, rendered like response.
	logs []string
}

// lessonFile is the part of a lesson this program reads: its sandbox image catalogue.
type lessonFile struct {
	Sandbox struct {
		Images []struct {
			Image    string   `json:"image"`
			Port     int      `json:"port"`
			Response string   `json:"response"`
			Logs     []string `json:"logs"`
		} `json:"images"`
	} `json:"sandbox"`
}

const nginxPage = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n</body>\n</html>\n"

// builtinApps are the public images every catalogue knows, as in the embedded sandbox.
func builtinApps() []app {
	return []app{
		{repository: "docker.io/library/nginx", port: 80, response: nginxPage, logs: []string{
			"/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
			"/docker-entrypoint.sh: Configuration complete; ready for start up",
			"2025/01/01 00:00:00 [notice] 1#1: nginx/1.27.3",
			"2025/01/01 00:00:00 [notice] 1#1: start worker processes",
		}},
		{repository: "docker.io/library/httpd", port: 80, response: "<html><body><h1>It works!</h1></body></html>\n", logs: []string{
			"AH00558: httpd: Could not reliably determine the server's fully qualified domain name, using {ip}. Set the 'ServerName' directive globally to suppress this message",
			"[mpm_event:notice] [pid 1:tid 1] AH00489: Apache/2.4.62 (Unix) configured -- resuming normal operations",
		}},
		{repository: "docker.io/library/busybox"},
		{repository: "registry.k8s.io/pause"},
	}
}

// loadCatalogue reads the image catalogues of every lesson under paths; files that are not
// lessons (or do not parse) are skipped, as the sandbox only ever reads valid lessons, and so
// are folders named `bad`. The first lesson to name an image decides its app.
func loadCatalogue(paths []string) ([]app, error) {
	var apps []app
	seen := map[string]bool{}
	for _, root := range paths {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "bad" && path != root {
				// Lessons kept to test lint's errors; their images are not a catalogue.
				return filepath.SkipDir
			}
			if d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				return nil
			}
			text, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var lesson lessonFile
			if yaml.Unmarshal(text, &lesson) != nil {
				return nil
			}
			for _, image := range lesson.Sandbox.Images {
				repo, tag := normalizeImage(image.Image)
				key := repo + ":" + tag
				if seen[key] {
					continue
				}
				seen[key] = true
				port := image.Port
				if port == 0 {
					port = 80 // the lesson format's default
				}
				apps = append(apps, app{repository: repo, tag: tag, port: port, response: image.Response, logs: image.Logs})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(apps, func(i, j int) bool {
		return apps[i].repository+":"+apps[i].tag < apps[j].repository+":"+apps[j].tag
	})
	return append(apps, builtinApps()...), nil
}

// normalizeImage splits a reference into a fully qualified repository and a tag (default
// latest), the way container runtimes resolve short names.
func normalizeImage(reference string) (string, string) {
	ref := strings.TrimSpace(reference)
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	name, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i:], "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	first := strings.SplitN(name, "/", 2)[0]
	hasRegistry := strings.Contains(name, "/") &&
		(strings.ContainsAny(first, ".:") || first == "localhost")
	switch {
	case hasRegistry:
		return name, tag
	case strings.Contains(name, "/"):
		return "docker.io/" + name, tag
	default:
		return "docker.io/library/" + name, tag
	}
}

// plausibleTag says whether a built-in image plausibly has this tag (a version, or one of the
// usual flavours), like the sandbox's catalogue.
func plausibleTag(tag string) bool {
	if tag != "" && tag[0] >= '0' && tag[0] <= '9' {
		return true
	}
	for _, f := range []string{"latest", "stable", "mainline", "alpine", "musl", "glibc", "uclibc"} {
		if tag == f || strings.HasPrefix(tag, f+"-") {
			return true
		}
	}
	return false
}

// find returns the app an image reference runs, if it pulls.
func find(apps []app, image string) (app, bool) {
	repo, tag := normalizeImage(image)
	for _, a := range apps {
		if a.repository != repo {
			continue
		}
		if (a.tag == "" && plausibleTag(tag)) || a.tag == tag {
			return a, true
		}
	}
	return app{}, false
}

// pullablePattern is one regular expression (RE2, as gojq's `test` takes it) matching every
// spelling of every pullable image: short and qualified names, with or without a digest.
func pullablePattern(apps []app) string {
	var alternatives []string
	for _, a := range apps {
		var name string
		switch {
		case strings.HasPrefix(a.repository, "docker.io/library/"):
			name = `(docker\.io/)?(library/)?` + regexp.QuoteMeta(strings.TrimPrefix(a.repository, "docker.io/library/"))
		case strings.HasPrefix(a.repository, "docker.io/"):
			name = `(docker\.io/)?` + regexp.QuoteMeta(strings.TrimPrefix(a.repository, "docker.io/"))
		default:
			name = regexp.QuoteMeta(a.repository)
		}
		var tag string
		switch a.tag {
		case "":
			tag = `(:([0-9][A-Za-z0-9._-]*|(latest|stable|mainline|alpine|musl|glibc|uclibc)(-[A-Za-z0-9._-]*)?))?`
		case "latest":
			tag = `(:latest)?`
		default:
			tag = ":" + regexp.QuoteMeta(a.tag)
		}
		alternatives = append(alternatives, name+tag)
	}
	return `^(` + strings.Join(alternatives, "|") + `)(@sha256:[0-9a-f]{64})?$`
}

// render fills a response template with a pod's values.
func render(template string, pod podInfo) string {
	return strings.NewReplacer(
		"{hostname}", pod.name,
		"{pod}", pod.name,
		"{namespace}", pod.namespace,
		"{node}", pod.node,
		"{ip}", pod.ip,
	).Replace(template)
}
