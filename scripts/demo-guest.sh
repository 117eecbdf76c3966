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

say "kill -9 the fuse.ko server: its callers get ENOTCONN"
run "kill -9 ${PID[fuse]}"
sleep 0.5
run "ls /tmp/demo/fuse 2>&1 | head -1"
umount -l /tmp/demo/fusex /tmp/demo/fuse 2>/dev/null
pkill -f passthrough_ll
sleep 0.5

say "a fusex mount survives its server: fusex-passthrough under fusexctl run"
R=/tmp/demo/restart
mkdir -p $R /tmp/demo/rsrc
"$B/fusexctl" run --restart=always $R -- "$B/fusex-passthrough" -f \
	-o source=/tmp/demo/rsrc 2>/tmp/demo/run.log &
CTL=$!
for _ in $(seq 100); do
	grep -q " $R " /proc/mounts && stat $R >/dev/null 2>&1 && break
	sleep 0.1
done
T0=$(date +%s.%N)
t() { printf 't=%6.2fs  ' "$(echo "$(date +%s.%N) - $T0" | bc)"; }
N=3000
# What the log must hold at the end, made off the mount.
for i in $(seq 1 $N); do printf 'record %06d\n' $i; done > /tmp/demo/expected
# The writer keeps the log open across the kills and fsyncs now and then;
# the reader tails it.
(
	exec 3>>$R/log
	for i in $(seq 1 $N); do
		printf 'record %06d\n' $i >&3
		[ $((i % 250)) = 0 ] && sync $R/log
	done
	sync $R/log
) &
WRITER=$!
tail -n +1 -F $R/log > /tmp/demo/reader.out 2>/dev/null &
READER=$!
t; echo "writer (holding $R/log open) and reader (tail -F) start: $N records"
for k in 1 2 3; do
	sleep 1
	pid=$(pgrep -P $CTL)
	t; echo "kill -9 the server (pid $pid); the log has $(wc -l < /tmp/demo/rsrc/log) records"
	kill -9 "$pid"
	for _ in $(seq 200); do
		new=$(pgrep -P $CTL)
		[ -n "$new" ] && [ "$new" != "$pid" ] && break
		sleep 0.05
	done
	t; echo "server $k restarted (pid $new)"
done
wait $WRITER
ws=$?
t; echo "writer done, exit status $ws"
for _ in $(seq 100); do
	[ "$(wc -l < /tmp/demo/reader.out)" -ge $N ] && break
	sleep 0.1
done
kill $READER 2>/dev/null
t; echo "reader saw $(wc -l < /tmp/demo/reader.out) records"

say "the timeline fusexctl run logged"
sed 's/^/  /' /tmp/demo/run.log
say "what the kernel counted (fusexctl status)"
"$B/fusexctl" status $R | sed 's/^/  /'
say "the log, through the mount, on the backing store, as the reader saw it"
run "sha256sum /tmp/demo/expected $R/log /tmp/demo/rsrc/log /tmp/demo/reader.out"
if cmp -s /tmp/demo/expected $R/log && cmp -s /tmp/demo/expected /tmp/demo/rsrc/log &&
   cmp -s /tmp/demo/expected /tmp/demo/reader.out; then
	echo "checksums match: nothing lost, nothing twice, through 3 kills"
else
	echo "CHECKSUM MISMATCH"
fi
kill $CTL
wait $CTL 2>/dev/null
say "done"
