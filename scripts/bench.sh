#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: one VM on the newest installed kernel (KV= picks another),
# Debian's passthrough_ll over the same backing tmpfs mounted on fuse.ko and
# on fusex, and tmpfs itself as the ceiling; every workload of
# build/fusex-bench three times on each (RUNS= for more), interleaved,
# fuse and fusex taking turns to go first, and a table of the medians
# with the ratio fusex/fuse.  BENCH_ARGS= passes options to
# fusex-bench (smaller runs: BENCH_ARGS="-n 2000 -m 64 -t 4000").
# The table is also left in build/bench.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
fusex_ensure_deps
KV=${KV:-$(fusex_kernels | tail -1)}
make -s module KV="$KV" userspace examples
rm -f build/bench.txt
scripts/vm-run -k "$KV" -m 3G -t 3000 -M "build/modules/$KV/fusex.ko" -- \
	"BENCH_ARGS='${BENCH_ARGS:-}' RUNS=${RUNS:-3} bash scripts/bench-guest.sh"
[ -s build/bench.txt ] || { echo "bench: no table came back"; exit 1; }
