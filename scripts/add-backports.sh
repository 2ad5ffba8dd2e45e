#!/usr/bin/env bash
# Adds Debian's bookworm-backports suite, derived from the machine's own
# configured Debian source (no host name is written here), and installs QEMU
# 10 from it: `-device igb` (emulated SR-IOV) needs QEMU >= 8. Idempotent.
set -euo pipefail
src=/etc/apt/sources.list.d/debian.sources
bpo=/etc/apt/sources.list.d/backports.sources
if [ ! -f "$bpo" ] && [ -f "$src" ]; then
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$src" \
    | sed -e 's/^Suites:.*/Suites: bookworm-backports/' -e '/^#/d' > "$bpo"
  apt-get update -qq
fi
if ! qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-x86 >/dev/null
fi
