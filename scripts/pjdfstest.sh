#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make pjdfstest PJDFSTEST=DIR: the public POSIX conformance suite
# pjdfstest (https://github.com/pjd/pjdfstest, not packaged in Debian 12)
# against fuse.ko and fusex side by side in one VM, with the same server
# (Debian's passthrough_ll, -o allow_other,default_permissions).  DIR is a
# pjdfstest checkout; it is built here if its pjdfstest binary is missing.
# Both modules run every Linux-relevant .t file (not chflags/ and
# granular/, which are FreeBSD's) at once, files in parallel (PJD_JOBS=,
# default 6: most of the suite's time is its own sleeps), each file in a
# directory of its own.  Then the failed subtests are compared file by
# file: the run fails if fusex fails a subtest that fuse.ko passes, or
# if either side did not finish.  KV= picks the kernel (default the
# newest), PJD_LIST=FILE a list of .t files to run instead of all.
# Results: build/pjdfstest-{fuse,fusex}.out and build/pjdfstest.diff.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

P=${PJDFSTEST:-}
if [ -z "$P" ] || [ ! -d "$P/tests" ]; then
	echo "pjdfstest: set PJDFSTEST= to a pjdfstest checkout (https://github.com/pjd/pjdfstest)" >&2
	exit 2
fi
P=$(readlink -f "$P")
fusex_ensure_deps || exit 1
command -v prove >/dev/null || { echo "pjdfstest: prove (perl) is missing" >&2; exit 1; }
if [ ! -x "$P/pjdfstest" ]; then
	echo "== building pjdfstest in $P"
	if [ ! -x "$P/configure" ] && ! command -v autoreconf >/dev/null; then
		apt-get install -y autoconf automake >/dev/null ||
			{ echo "pjdfstest: cannot install autoconf" >&2; exit 1; }
	fi
	(cd "$P" && { [ -x configure ] || autoreconf -ifs; } &&
	 ./configure && make pjdfstest) >build/pjdfstest-build.log 2>&1 ||
		{ echo "pjdfstest: build failed, see build/pjdfstest-build.log" >&2; exit 1; }
fi
KV=${KV:-$(fusex_kernels | tail -1)}
make -s module KV="$KV" userspace examples || exit 1

list=build/pjdfstest.list
if [ -n "${PJD_LIST:-}" ]; then
	cp "$PJD_LIST" "$list"
else
	find "$P/tests" -name '*.t' | grep -v -e /chflags/ -e /granular/ |
		sort >"$list"
fi
echo "== $(wc -l <"$list") files on fuse.ko and on fusex, $KV"
rm -f build/pjdfstest-fuse.out build/pjdfstest-fusex.out
scripts/vm-run -k "$KV" -m 3G -t "${PJD_TIMEOUT:-5400}" \
	-M "build/modules/$KV/fusex.ko" -- \
	"PJD_JOBS=${PJD_JOBS:-6} bash scripts/pjdfstest-guest.sh $list"
vmrc=$?

# "FILE (Wstat: ... Tests: N Failed: M)" then "  Failed tests:  5-6, 9"
# in prove's summary: one line "FILE subtest" per failure, expanded.
failures()
{
	awk 'function expand(list,    n, r, ab, i, j) {
		n = split(list, r, /, */);
		for (i = 1; i <= n; i++) {
			gsub(/ /, "", r[i]);
			if (split(r[i], ab, "-") == 2)
				for (j = ab[1]; j <= ab[2]; j++) print f, j;
			else if (r[i] != "") print f, r[i];
		}
	     }
	     /^\/.*\.t +\(Wstat/ { f = $1; sec = ""; next }
	     /^  [A-Z][A-Za-z -]*:/ {
		sec = $0;
		sub(/:.*/, "", sec);
		sub(/^ */, "", sec);
		rest = $0;
		sub(/^[^:]*: */, "", rest);
		if (sec ~ /^Failed tests?$/) expand(rest);
		else if (sec == "Parse errors") print f, "parse";
		next }
	     /^ +[0-9]/ && sec ~ /^Failed tests?$/ { expand($0) }' "$1" |
		sort -u
}

rc=0
for t in fuse fusex; do
	out=build/pjdfstest-$t.out
	if ! grep -q '^Result:' "$out" 2>/dev/null; then
		echo "pjdfstest: the $t run did not finish (see $out)"
		rc=1
	fi
done
failures build/pjdfstest-fuse.out >build/pjdfstest-fuse.fail
failures build/pjdfstest-fusex.out >build/pjdfstest-fusex.fail
comm -13 build/pjdfstest-fuse.fail build/pjdfstest-fusex.fail \
	>build/pjdfstest.diff
echo "== fuse.ko: $(wc -l <build/pjdfstest-fuse.fail) subtests failed;" \
	"fusex: $(wc -l <build/pjdfstest-fusex.fail)"
echo "   failed on fuse.ko only: $(comm -23 build/pjdfstest-fuse.fail build/pjdfstest-fusex.fail | wc -l)"
if [ -s build/pjdfstest.diff ]; then
	echo "   failed on fusex only:"
	sed 's/^/     /' build/pjdfstest.diff
	rc=1
else
	echo "   failed on fusex only: 0"
fi
[ "$vmrc" = 0 ] || { echo "pjdfstest: the VM run failed ($vmrc)"; rc=1; }
exit $rc
