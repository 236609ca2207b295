#!/bin/sh
# Written by kubesmith: keepalived health check of the local kube-apiserver.
out=$(curl -sk --max-time 3 https://127.0.0.1:6443/healthz) || exit 1
[ "$out" = ok ]
