#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo's guest side (scripts/demo.sh runs it in the VM).
set -uo pipefail
B=$PWD/build
SRC=/tmp/demo/source
declare -A PID

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; eval "$@"; }

mount_server() # type mountpoint
{
	mkdir -p "$2"
	"$B/fusexctl" mount -t "$1" "$2" -- "$B/passthrough_ll" -f \
		-o "source=$SRC,xattr" >/dev/null 2>&1 &
	disown $!
	# fusexctl execs the server: this is the server's pid.
	PID[$1]=$!
	for _ in $(seq 100); do
		grep -q " $2 " /proc/mounts && stat "$2" >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "mount of $1 on $2 did not come up"; exit 1
}

mkdir -p $SRC/docs
echo "hello from the backing store" > $SRC/hello.txt
seq 1 300000 > $SRC/numbers.txt
ln -s hello.txt $SRC/link
setfattr -n trusted.demo -v "fusex keeps xattrs" $SRC/hello.txt
for i in $(seq 1 50); do echo "note $i" > $SRC/docs/note-$i; done

say "Linux $(uname -r): $(dmesg | grep -o 'fusex: FUSE protocol.*' | tail -1)"
run ls -l /dev/fusex
mount_server fusex /tmp/demo/fusex
mount_server fuse /tmp/demo/fuse
run "grep demo /proc/mounts"

say "passthrough_ll (unmodified, from Debian's libfuse examples) served by fusex"
run ls -l /tmp/demo/fusex
run cat /tmp/demo/fusex/hello.txt
run readlink /tmp/demo/fusex/link
run "getfattr --absolute-names -n trusted.demo /tmp/demo/fusex/hello.txt | grep trusted"
run "ls /tmp/demo/fusex/docs | wc -l"
run "stat -c '%n: %s bytes, mode %A, inode %i' /tmp/demo/fusex/numbers.txt $SRC/numbers.txt"
run df -h /tmp/demo/fusex

say "writes go through to the server"
run "echo 'written through fusex' > /tmp/demo/fusex/new.txt"
run cat $SRC/new.txt
run "mkdir /tmp/demo/fusex/newdir && mv /tmp/demo/fusex/new.txt /tmp/demo/fusex/newdir/ && ls $SRC/newdir"

say "the same server on the stock fuse.ko: same answers"
run "sha256sum /tmp/demo/fusex/numbers.txt /tmp/demo/fuse/numbers.txt $SRC/numbers.txt"
run "diff <(cd /tmp/demo/fusex && ls -lR) <(cd /tmp/demo/fuse && ls -lR) && echo 'ls -lR: identical'"

say "kill -9 the fusex server: callers get ENOTCONN, as on fuse (restart comes later)"
run "kill -9 ${PID[fusex]}"
sleep 0.5
run "ls /tmp/demo/fusex 2>&1 | head -1"
umount -l /tmp/demo/fusex /tmp/demo/fuse 2>/dev/null
pkill -f passthrough_ll
sleep 0.5
say "done"
