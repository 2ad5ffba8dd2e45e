#!/usr/bin/env bash
# Fetches Debian kernels for guest-kernel tests and QEMU boots, unpacked under
# .cache/kernel/<flavor>/ (boot/vmlinuz-* and lib/modules/<release>/):
#   cloud  Debian 12's cloud kernel (small, fast to boot; virtio, bridge, 8021q)
#          (signed by Debian: the Secure Boot tests boot it under shim)
#   bpo    bookworm-backports' generic 6.12 kernel (igb/igbvf SR-IOV, vfio-pci)
# Idempotent: nothing is downloaded when the kernel is already unpacked.
# The bpo flavor needs the bookworm-backports suite (scripts/add-backports.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
flavors=("$@")
[ ${#flavors[@]} -gt 0 ] || flavors=(cloud bpo)

resolve() { # flavor -> package name
  case "$1" in
    cloud) apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-6/{print $2; exit}' ;;
    bpo) apt-cache depends -t bookworm-backports linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6/{print $2; exit}' ;;
    *) echo "unknown kernel flavor $1" >&2; exit 2 ;;
  esac
}

for flavor in "${flavors[@]}"; do
  dest="$root/.cache/kernel/$flavor"
  if ls "$dest"/boot/vmlinuz-* >/dev/null 2>&1; then
    continue
  fi
  pkg=$(resolve "$flavor")
  if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(resolve "$flavor")
  fi
  [ -n "$pkg" ] || { echo "cannot resolve the $flavor kernel package" >&2; exit 1; }
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's _apt user downloads into it
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1)
  mkdir -p "$dest"
  dpkg -x "$tmp"/*.deb "$dest"
  rm -rf "$tmp"
  echo "guest kernel ($flavor): $(ls "$dest"/boot/vmlinuz-*)"
done
