#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: install what is missing, build everything, run the selftests
# in a VM on every installed kernel, and count.  Each kselftest case is a
# test; so are, per kernel, "the module builds without warnings", "the VM
# returned", "the guest kernel log is clean" and "rmmod fusex works", and
# once "checkpatch finds no errors".  The last line is
# "N passed, N failed, N skipped"; the exit status is non-zero iff anything
# failed.
set -uo pipefail
cd "$(dirname "$0")/.."

pass=0 fail=0 skip=0
failed=()
why=()
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); failed+=("$*"); echo "FAIL: $*"; }

. scripts/common.sh
# A fresh machine: install the packages first.
fusex_ensure_deps || { echo "make deps failed"; echo "0 passed, 1 failed"; exit 1; }
kernels=$(fusex_kernels)

echo "== building userspace, example servers, selftests"
if ! make -s userspace examples selftests; then
	bad "userspace and selftests build"
fi

echo "== libfusex on the host"
if build/libfusex-test; then
	ok "libfusex host tests (make -C userspace check)"
else
	bad "libfusex host tests (make -C userspace check)"
fi

echo "== checkpatch"
if make -s style >/dev/null; then
	ok "checkpatch.pl --no-tree: no errors in kmod/ and uapi/"
else
	bad "checkpatch.pl --no-tree: errors in kmod/ and uapi/"
	grep ': ERROR:' build/checkpatch.log
fi

# The kernels' VMs run side by side, the host's CPUs shared out between
# them (CHECK_CPUS= to choose): qemu runs each vCPU in a host thread, and
# more vCPUs than host CPUs makes a guest spin on locks whose holder is
# not running (on 2 CPUs, two VMs of 2 vCPUs took the suite 2.6 times as
# long as two of 1).  With fewer than two CPUs here, or CHECK_PARALLEL=0,
# one after the other, 2 vCPUs each.
parallel=${CHECK_PARALLEL:-1}
[ "$(nproc)" -ge 2 ] || parallel=0
nk=$(echo $kernels | wc -w)
cpus=2
if [ "$parallel" = 1 ] && [ "$nk" -gt 1 ]; then
	cpus=$(($(nproc) / nk))
	[ "$cpus" -ge 1 ] || cpus=1
	[ "$cpus" -le 2 ] || cpus=2
fi
cpus=${CHECK_CPUS:-$cpus}
echo "== $nk kernel(s), $([ "$parallel" = 1 ] && echo "side by side" || echo "one after the other"), $cpus vCPU(s) each"
vms=()
for kv in $kernels; do
	echo "== $kv: module"
	if make -s module KV="$kv" >/dev/null 2>&1; then
		ok "[$kv] fusex.ko builds without warnings"
	else
		bad "[$kv] fusex.ko builds without warnings"
		tail -20 "build/modules/$kv/build.log" 2>/dev/null
		continue
	fi
	echo "== $kv: selftests in the VM, log in build/check-$kv.log"
	scripts/vm-run -k "$kv" -c "$cpus" -m 3G -t 2700 -M "build/modules/$kv/fusex.ko" \
		-- 'make -s -C selftests run_tests' >"build/check-$kv.log" 2>&1 &
	[ "$parallel" = 1 ] || wait
	vms+=("$kv")
done
wait

for kv in "${vms[@]}"; do
	log=build/check-$kv.log
	echo "== $kv: selftests"
	cat "$log"

	# kselftest cases, as the harness prints them inside each binary
	# (runner.sh prefixes those lines with "# ").
	p=$(grep -E -c '^# ok [0-9]+ ' "$log" | head -1)
	s=$(grep -E -c '^# ok [0-9]+ .*# SKIP' "$log" | head -1)
	f=$(grep -E -c '^# not ok [0-9]+ ' "$log" | head -1)
	pass=$((pass + p - s))
	skip=$((skip + s))
	fail=$((fail + f))
	while read -r line; do
		failed+=("[$kv] ${line#\# }")
	done < <(grep -E '^# not ok [0-9]+ ' "$log")
	# What the harness said when an assertion failed ("file.c:line:
	# test:Expected ..." and the TH_LOG after it): the end of the output
	# is what a CI log shows, so say it again there.
	while read -r line; do
		why+=("[$kv] ${line#\# \# }")
	done < <(grep -E -A1 '^# # [A-Za-z0-9_./-]+\.c:[0-9]+:[^:]*:Expected ' "$log" |
		 grep -E '^# # ' | head -40)
	# A binary that crashed or timed out is a failure of its own.
	while read -r line; do
		bad "[$kv] $line"
	done < <(grep -E '^not ok [0-9]+ ' "$log")

	for what in "guest returned a status" "guest kernel log clean" \
		    "rmmod fusex"; do
		if grep -q "^vm-run: ok $what" "$log"; then
			ok "[$kv] $what"
		else
			bad "[$kv] $what"
		fi
	done
done

[ -n "$kernels" ] || bad "no installed kernel with headers and an image"

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "Failed:"
	printf '  %s\n' "${failed[@]}"
fi
if [ "$fail" -gt 0 ] && [ ${#why[@]} -gt 0 ]; then
	echo "Assertions that failed:"
	printf '  %s\n' "${why[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
