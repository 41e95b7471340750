// The pod sandbox program of scripts/k8s-local.sh: standard library only.
module logagent.test/k8s/pause

go 1.24.0
