# SPDX-License-Identifier: GPL-2.0
#
# fusex: the module, its userspace, its tests.
#
#   make                 module for the newest installed kernel, userspace,
#                        the libfuse example servers, the selftests
#   make module KV=...   the module for one installed kernel, into
#                        build/modules/KV/fusex.ko (KDIR= builds in place)
#   make modules         the module for every installed kernel
#   make check           the whole suite in a VM, on every installed kernel
#   make demo            a VM that mounts a real server through fusex
#   make bench           fusex against fuse.ko, side by side, in one VM
#   make pjdfstest PJDFSTEST=DIR
#                        the pjdfstest POSIX suite (a checkout in DIR) on
#                        fuse.ko and on fusex in one VM, failures compared
#   make deps            install every Debian package the project needs
#   make style           checkpatch.pl --no-tree over the kernel code
#   make clean

B := $(CURDIR)/build
KERNELS := $(shell for d in /lib/modules/*; do \
		kv=$$(basename $$d); \
		[ -d $$d/build ] && [ -f /boot/vmlinuz-$$kv ] && echo $$kv; \
	   done | sort -V)
KV ?= $(lastword $(KERNELS))
KSFT_TAR := /usr/src/linux-source-6.1.tar.xz
KSFT := $(B)/ksft
KSFT_DIR := $(KSFT)/tools/testing/selftests
EXAMPLES := /usr/share/doc/libfuse3-dev/examples
KSRC := Kbuild $(wildcard kmod/*.c kmod/*.h kmod/Kbuild uapi/linux/*.h)

all: module userspace examples selftests

# Build a copy per kernel, so that two kernels never share objects.
$(B)/modules/%/fusex.ko: $(KSRC)
	@[ -d /lib/modules/$*/build ] || { echo "no headers for $*: make deps"; exit 1; }
	rm -rf $(B)/modules/$*/src && mkdir -p $(B)/modules/$*/src
	cp -r Kbuild kmod uapi $(B)/modules/$*/src/
	$(MAKE) -C /lib/modules/$*/build M=$(B)/modules/$*/src modules 2>&1 | \
		tee $(B)/modules/$*/build.log
	@! grep -q -i 'warning:\|error:' $(B)/modules/$*/build.log || \
		{ echo "fusex: the build for $* has warnings or errors"; exit 1; }
	cp $(B)/modules/$*/src/kmod/fusex.ko $@

ifneq ($(KDIR),)
module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules
else
module: $(B)/modules/$(KV)/fusex.ko
endif

modules: $(foreach k,$(KERNELS),$(B)/modules/$(k)/fusex.ko)

userspace:
	$(MAKE) -C userspace O=$(B)

# The notify_* examples and invalidate_path send server notifications
# (fusex_notify_test); invalidate_path is a high-level (struct fuse) server.
NOTIFY_EXAMPLES := notify_inval_inode notify_inval_entry notify_store_retrieve \
	invalidate_path
examples: $(B)/passthrough_ll $(B)/hello_ll $(NOTIFY_EXAMPLES:%=$(B)/%)

# As libfuse's own build configures them on glibc: passthrough_ll then
# answers COPY_FILE_RANGE and FALLOCATE itself.
$(B)/%: $(EXAMPLES)/%.c Makefile
	@mkdir -p $(B)
	$(CC) -O2 -w -DHAVE_COPY_FILE_RANGE -DHAVE_FALLOCATE -o $@ $< \
		$$(pkg-config --cflags --libs fuse3) -lpthread

# The kselftest harness and checkpatch come from Debian's linux-source-6.1.
$(KSFT)/.stamp:
	@[ -f $(KSFT_TAR) ] || { echo "no $(KSFT_TAR): make deps"; exit 1; }
	rm -rf $(KSFT) && mkdir -p $(KSFT)
	tar -xJf $(KSFT_TAR) -C $(KSFT) --strip-components=1 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h \
		linux-source-6.1/tools/testing/selftests/lib.mk \
		linux-source-6.1/tools/testing/selftests/kselftest/runner.sh \
		linux-source-6.1/tools/testing/selftests/kselftest/prefix.pl \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	touch $@

ksft: $(KSFT)/.stamp

selftests: ksft
	$(MAKE) -C selftests KSFT=$(KSFT_DIR)

deps:
	scripts/deps.sh

check:
	scripts/check.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

pjdfstest:
	scripts/pjdfstest.sh

style: ksft
	perl $(KSFT)/scripts/checkpatch.pl --no-tree -q --terse \
		--ignore ENOSYS,LINUX_VERSION_CODE,NEW_TYPEDEFS,CONSTANT_COMPARISON \
		-f kmod/*.c kmod/*.h uapi/linux/*.h | tee $(B)/checkpatch.log
	@! grep -q ': ERROR:' $(B)/checkpatch.log

clean:
	rm -rf $(B)
	-$(MAKE) -C selftests clean KSFT=$(KSFT_DIR) 2>/dev/null
	find kmod -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' | xargs rm -f

.PHONY: all module modules userspace examples ksft selftests deps check demo \
	bench pjdfstest style clean
