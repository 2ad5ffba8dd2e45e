#!/usr/bin/env bash
# Builds kube-apiserver (k8s.io/kubernetes v1.34.3, the release whose client
# libraries v0.34.3 kubevirt.io/api v1.9.0 uses) from the Go module proxy into
# .cache/kube-apiserver/, for the tests that need a real API server
# (pxe/kubevirt). The build module is scripts/kube-apiserver (its own go.mod,
# so it is not part of ./...). 4 to 9 minutes on 2 cores, 145 MB; idempotent:
# nothing is built when the binary of this script and go.sum is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
src="$root/scripts/kube-apiserver"
dest="$root/.cache/kube-apiserver"
# The stamp hashes the contents only (not the paths), so the same inputs
# from another checkout or another way of calling the script reuse the build.
stamp=$(cat "$0" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)
if [ -x "$dest/kube-apiserver" ] && [ "$(cat "$dest/stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
mkdir -p "$dest"
start=$(date +%s)
# The version the release build stamps in, so /version and clients see
# v1.34.3 rather than v0.0.0-master.
v=k8s.io/component-base/version
ldflags="-X $v.gitVersion=v1.34.3 -X $v.gitMajor=1 -X $v.gitMinor=34 -X $v.gitTreeState=clean"
(cd "$src" && CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o "$dest/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
mv "$dest/kube-apiserver.tmp" "$dest/kube-apiserver"
echo "$stamp" >"$dest/stamp"
echo "kube-apiserver: $dest/kube-apiserver ($(( $(date +%s) - start )) s)"
