// Command etcd is the etcd server built from the same module graph as the
// kube-apiserver under test, so the pair always speaks the same protocol.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
