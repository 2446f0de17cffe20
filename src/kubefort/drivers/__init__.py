"""Drivers: what feeds the engine. `manifests` (files, directories, stdin, charts,
kustomizations), `node` (a node's component configuration); the cluster driver lives in
`kubefort.cluster.scan`. Each is a thin loop over the public `kubefort.engine.Engine` API."""
