// Command testbed-node is the test bed's stand-in for what the containers on a real node
// would do, beside KWOK, which plays the kubelet's part in the API.
//
// It never starts a process and never leaves the machine: it writes the test bed's PKI,
// writes the KWOK stages that decide which images "pull", registers the fake nodes, answers
// HTTP on pod IPs (local addresses of the test bed's network namespace) with the responses of
// the lessons' image catalogue, and serves container logs as the nodes' kubelets would.
// Nothing runs in a container, so exec, attach and port-forward are not served.
//
//	testbed-node pki DIR
//	testbed-node stages -lessons PATH[,PATH] -o FILE
//	testbed-node setup -kubeconfig FILE -lessons PATH[,PATH]
//	testbed-node serve -kubeconfig FILE -pki DIR -lessons PATH[,PATH]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "pki":
		if len(os.Args) != 3 {
			usage()
		}
		err = writePKI(os.Args[2])
	case "stages":
		fs := flag.NewFlagSet("stages", flag.ExitOnError)
		lessons := fs.String("lessons", "", "comma-separated lesson files or folders")
		out := fs.String("o", "", "file to write the KWOK stages to")
		_ = fs.Parse(os.Args[2:])
		err = writeStages(splitList(*lessons), *out)
	case "setup":
		fs := flag.NewFlagSet("setup", flag.ExitOnError)
		kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig of the test bed")
		_ = fs.Parse(os.Args[2:])
		err = setup(*kubeconfig)
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		kubeconfig := fs.String("kubeconfig", "", "admin kubeconfig of the test bed")
		pki := fs.String("pki", "", "the folder `testbed-node pki` wrote")
		lessons := fs.String("lessons", "", "comma-separated lesson files or folders")
		_ = fs.Parse(os.Args[2:])
		err = serve(*kubeconfig, *pki, splitList(*lessons))
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbed-node %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: testbed-node pki DIR | stages -lessons PATHS -o FILE | setup -kubeconfig FILE | serve -kubeconfig FILE -pki DIR -lessons PATHS")
	os.Exit(2)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
