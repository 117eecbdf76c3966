#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark's guest side (scripts/bench.sh runs it in the VM).
set -euo pipefail
B=$PWD/build
W=/tmp/bench
RUNS=${RUNS:-3}
RAW=$W/raw
declare -A PID

cleanup()
{
	umount -l $W/fuse $W/fusex $W/tmpfs 2>/dev/null || true
	pkill -f passthrough_ll 2>/dev/null || true
	pkill -f fusex-passthrough 2>/dev/null || true
	sleep 0.5
}
trap cleanup EXIT
# passthrough_ll keeps a file descriptor per inode it knows.
ulimit -n 1048576

mount_server() # type mountpoint
{
	mkdir -p "$2"
	"$B/fusexctl" mount -t "$1" "$2" -- "$B/passthrough_ll" -f \
		-o "source=$W/backing-$1" >/dev/null 2>&1 &
	PID[$1]=$!
	disown $!
	for _ in $(seq 300); do
		grep -q " $2 " /proc/mounts && stat "$2" >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "bench: the $1 mount did not come up"
	exit 1
}

mkdir -p $W/backing-fuse $W/backing-fusex $W/tmpfs
mount -t tmpfs tmpfs $W/tmpfs
mount_server fuse $W/fuse
mount_server fusex $W/fusex
: > $RAW

echo "bench: Linux $(uname -r), $(nproc) vCPU (qemu, no KVM), $RUNS runs each"
for run in $(seq "$RUNS"); do
	# Each module goes first in turn: what the run before left in memory
	# must not favour one of them.
	order="fuse fusex tmpfs"
	[ $((run % 2)) = 1 ] || order="fusex fuse tmpfs"
	for fs in $order; do
		echo "bench: run $run on $fs"
		# shellcheck disable=SC2086
		"$B/fusex-bench" ${BENCH_ARGS:-} "$W/$fs" | \
			sed "s/^/$fs /" >> $RAW
	done
done

# fs name value unit -> the median per (fs, name), in fusex-bench's order
median() # fs name
{
	awk -v fs="$1" -v n="$2" '$1 == fs && $2 == n { print $3 }' $RAW | \
		sort -g | awk '{ v[NR] = $1 } END {
			if (NR % 2) print v[(NR + 1) / 2];
			else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

{
	printf '%-10s %-8s %12s %12s %11s %12s\n' workload unit fuse fusex \
		fusex/fuse "tmpfs"
	awk '$1 == "fuse" && !seen[$2]++ { print $2, $4 }' $RAW | \
	while read -r name unit; do
		f=$(median fuse "$name")
		x=$(median fusex "$name")
		t=$(median tmpfs "$name")
		awk -v n="$name" -v u="$unit" -v f="$f" -v x="$x" -v t="$t" \
			'BEGIN { printf "%-10s %-8s %12.1f %12.1f %11.2f %12.1f\n",
				 n, u, f, x, (f > 0 ? x / f : 0), t }'
	done
} > $W/table

# Restart (fusex only): fusex-passthrough under fusexctl run, killed with
# SIGKILL once per run.
echo "bench: restart runs (fusex-passthrough under fusexctl run)"
mkdir -p $W/rsrc $W/restart
"$B/fusexctl" run --restart=always $W/restart -- "$B/fusex-passthrough" \
	-f -o source=$W/rsrc >/dev/null 2>&1 &
CTL=$!
for _ in $(seq 300); do
	grep -q " $W/restart " /proc/mounts && stat $W/restart >/dev/null 2>&1 &&
		break
	sleep 0.1
done
for run in $(seq "$RUNS"); do
	"$B/fusex-bench" -K "$(pgrep -P $CTL)" -n 1000 $W/restart | \
		sed "s/^/restart /" >> $RAW
done
kill $CTL 2>/dev/null || true
wait $CTL 2>/dev/null || true
umount -l $W/restart 2>/dev/null || true
{
	echo
	echo "restart (fusex-passthrough, fusex only; less is better)"
	d=$(median restart downtime)
	u=$(median restart startup)
	awk -v d="$d" -v u="$u" 'BEGIN {
		printf "  %-34s %10.1f ms\n", "downtime (kill to first create)", d
		printf "  %-34s %10.1f ms\n", "server start-up (attach to INIT)", u
		printf "  %-34s %10.1f ms\n", "downtime beyond start-up", d - u }'
	for n in reval_inode cached_stat reval_requests; do
		awk -v n="$n" -v v="$(median restart $n)" \
			-v u="$(awk -v n="$n" '$1 == "restart" && $2 == n { print $4; exit }' $RAW)" \
			'BEGIN { printf "  %-34s %10.2f %s\n", n, v, u }'
	done
} >> $W/table
echo
cat $W/table
cp $W/table "$B/bench.txt"

