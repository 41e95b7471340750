// Command pause is the sandbox ("infra") container of every pod on the local
// node (scripts/k8s-local.sh): it holds the pod's namespaces open, reaps the
// zombies that land on it as the pod's PID 1 (when processes share a PID
// namespace), and exits on SIGTERM or SIGINT. It replaces the upstream pause
// image, which cannot be pulled here. Built static (CGO_ENABLED=0) and packed
// as an image by scripts/k8s/image-tar.sh.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (logagent) 1")
		return
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not PID 1, zombies of others are not mine to reap")
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		switch s {
		case syscall.SIGCHLD:
			reap()
		default:
			fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", s)
			os.Exit(0)
		}
	}
}

// reap collects every child that has exited; SIGCHLDs coalesce, so one signal
// may stand for several children.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
