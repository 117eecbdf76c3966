#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# pjdfstest's guest side (scripts/pjdfstest.sh runs it in the VM): the
# .t files listed in $1 on fuse.ko and on fusex at once.
set -uo pipefail
B=$PWD/build
LIST=$(readlink -f "$1")
W=/tmp/pjdfstest
ulimit -n 65536

# prove -j runs files side by side in one cwd; each gets a directory.
cat >$W.one <<'ONE'
#!/bin/sh
d=$(mktemp -d "$PWD/t.XXXXXX") || exit 1
chmod 0755 "$d"
cd "$d" || exit 1
sh "$1"
rc=$?
cd .. && rm -rf "$d"
exit $rc
ONE
chmod +x $W.one

for t in fuse fusex; do
	mkdir -p $W/$t/src $W/$t/mnt
	"$B/fusexctl" mount -t $t -o allow_other,default_permissions \
		$W/$t/mnt -- "$B/passthrough_ll" -f -o source=$W/$t/src \
		>$W/$t/server.log 2>&1 &
done
for _ in $(seq 100); do
	[ "$(grep -c " $W/fuse.*/mnt " /proc/mounts)" = 2 ] && break
	sleep 0.1
done
grep " $W/" /proc/mounts

pids=()
for t in fuse fusex; do
	(cd $W/$t/mnt && prove -j"$PJD_JOBS" --exec $W.one $(cat "$LIST") \
		>"$B/pjdfstest-$t.out" 2>&1) &
	pids+=($!)
done
# Not a bare wait: the servers are children of this shell too.
wait "${pids[@]}"
for t in fuse fusex; do
	echo "$t: $(tail -1 "$B/pjdfstest-$t.out")"
	umount $W/$t/mnt
done
wait
