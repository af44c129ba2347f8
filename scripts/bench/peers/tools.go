//go:build tools

// Package peers only exists so that `go mod tidy` keeps kube-apiserver's dependencies.
package peers

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
