#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package fusex needs to build, test and demo itself:
# two kernels (Debian 12's 6.1 and the 6.12 LTS from bookworm-backports) with
# their headers, qemu, busybox, libfuse3, libnl-3, linux-source-6.1 for
# the kselftest harness header and checkpatch.pl, and knfsd's daemons for
# fusex_nfs_test (installed, never started here: only in the VM).
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "deps: must run as root (apt-get)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat > /etc/apt/sources.list.d/fusex-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

PKGS=(build-essential make gcc kmod cpio gzip xz-utils bc flex bison
      libelf-dev libssl-dev pkg-config perl python3
      linux-image-amd64 linux-headers-amd64 linux-source-6.1
      qemu-system-x86 busybox-static
      libfuse3-dev fuse3 libnl-3-dev libnl-genl-3-dev
      attr fio stress-ng
      nfs-kernel-server nfs-common rpcbind iproute2)

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${PKGS[@]}"
# The 6.12 LTS; its metapackages have their own names, so 6.1 stays.
apt-get install -y -qq --no-install-recommends -t bookworm-backports \
	linux-image-6.12-amd64 linux-headers-6.12-amd64 || \
	echo "deps: bookworm-backports 6.12 kernel not available; 6.1 only" >&2
