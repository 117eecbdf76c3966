# SPDX-License-Identifier: GPL-2.0
# Shared by the scripts that need the project's packages.

# Succeeds when something make deps installs is missing.
fusex_need_deps()
{
	command -v qemu-system-x86_64 >/dev/null || return 0
	[ -x /bin/busybox ] || return 0
	[ -f /usr/src/linux-source-6.1.tar.xz ] || return 0
	pkg-config --exists fuse3 2>/dev/null || return 0
	ls -d /lib/modules/*/build >/dev/null 2>&1 || return 0
	command -v fio >/dev/null || return 0
	command -v stress-ng >/dev/null || return 0
	[ -x /usr/sbin/rpc.nfsd ] || return 0
	return 1
}

# Install the packages when something is missing.
fusex_ensure_deps()
{
	if fusex_need_deps; then
		echo "== installing packages (make deps)"
		"$(dirname "${BASH_SOURCE[0]}")/deps.sh"
	fi
}

# Installed kernels with headers and an image, oldest first.
fusex_kernels()
{
	local d kv

	for d in /lib/modules/*; do
		kv=$(basename "$d")
		[ -d "$d/build" ] && [ -f "/boot/vmlinuz-$kv" ] && echo "$kv"
	done | sort -V
}
