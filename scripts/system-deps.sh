#!/usr/bin/env bash
# Installs the Debian packages meshforge's demo and tests run, when missing.
# mksquashfs, mke2fs: the stand-in ImageBuilder; tincd, babeld: LibreNet6;
# wrk: bench.
set -euo pipefail
need=()
command -v mksquashfs >/dev/null || need+=(squashfs-tools)
# mke2fs (ext4 stand-in images) lives in /usr/sbin, often not on a user's PATH.
command -v mke2fs >/dev/null || [ -x /usr/sbin/mke2fs ] || need+=(e2fsprogs)
command -v tincd >/dev/null || need+=(tinc)
command -v babeld >/dev/null || need+=(babeld)
command -v wrk >/dev/null || need+=(wrk)
command -v ip >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "meshforge needs these Debian packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
