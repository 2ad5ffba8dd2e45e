#!/usr/bin/env bash
# Fetches Debian's cloud kernel for guest-kernel tests and QEMU boots into
# .cache/kernel/cloud (vmlinuz + lib/modules). Idempotent; no download when
# the kernel is already unpacked. Needs apt (the package lists are refreshed
# once if the package cannot be found).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.cache/kernel/cloud"
if ls "$dest"/boot/vmlinuz-* >/dev/null 2>&1; then
  exit 0
fi
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-6/{print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -qq
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-6/{print $2; exit}')
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
(cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1)
mkdir -p "$dest"
dpkg -x "$tmp"/*.deb "$dest"
echo "guest kernel: $(ls "$dest"/boot/vmlinuz-*)"
