#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot the newest installed kernel in a VM, load fusex, mount
# Debian's passthrough_ll example server through fusexctl, and show fusex
# serving it, side by side with the stock fuse.ko; then run
# fusex-passthrough under fusexctl run, kill it three times under a writer
# and a reader, and print the timeline, the counters and the checksums.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
fusex_ensure_deps
KV=${KV:-$(fusex_kernels | tail -1)}
make -s module KV="$KV" userspace examples
exec scripts/vm-run -k "$KV" -t 600 -M "build/modules/$KV/fusex.ko" -- \
	'bash scripts/demo-guest.sh'
