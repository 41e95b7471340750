// Command etcd is upstream etcd's server, built from the pinned module in this
// directory's go.mod (scripts/k8s-build.sh), so the project needs no etcd
// release tarball: the same entry point as etcd's own main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
