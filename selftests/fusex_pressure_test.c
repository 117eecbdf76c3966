// SPDX-License-Identifier: GPL-2.0
/*
 * Writeback under memory pressure, through fuse and through fusex:
 * libfuse's passthrough_ll example, unmodified, over a fresh directory of
 * the guest's tmpfs, write-through and with the writeback cache
 * (passthrough_ll -o writeback), as in fusex_integrity_test.
 *
 * It creates a memory cgroup, which turns on the kernel's accounting of
 * slab objects to cgroups for the rest of the boot, and that changes what
 * fusex_memory_test measures: this test must run after it (the kselftest
 * runner takes the binaries in alphabetical order).  It leaves no cgroup,
 * no cgroup2 mount and no controller it enabled behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusex_util.h"

FIXTURE(pressure) {
	struct fx_server srv;
	char src[64];		/* the backing directory */
	char server[PATH_MAX];
	/* The memory cgroup, and what was done to have one. */
	char cgroot[256];
	char cg[512];
	bool cg_mounted;	/* cgroot was mounted here */
	bool cg_enabled;	/* +memory was written to its subtree_control */
};

FX_PTLL_VARIANTS(pressure);

/*
 * Memory pressure: a writer confined to a memory cgroup a quarter the size
 * of what it writes (write(), then stores through a shared mapping of the
 * same file) makes reclaim write its own dirty pages back while it dirties
 * more.  Writeback must never wait on a request that needs a page reclaim
 * holds: the writer finishes, nobody is OOM-killed, and the backing file
 * has every byte.
 */
#define MEMCG_LIMIT	(64 << 20)
#define MEMCG_FILE	(256 << 20)
#define MEMCG_CHUNK	(1 << 20)

static void memcg_fill(char *buf, size_t len, size_t off, unsigned int pass)
{
	size_t i;

	/* A different byte per page and per pass. */
	for (i = 0; i < len; i += 4096)
		memset(buf + i, (int)('A' + ((off + i) / 4096 + pass) % 26),
		       len - i < 4096 ? len - i : 4096);
}

static int write_str(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		err = -errno;
	close(fd);
	return err;
}

/* Does @dir/@file hold the word @word? */
static bool file_has_word(const char *dir, const char *file, const char *word)
{
	char path[PATH_MAX], w[64];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fscanf(f, "%63s", w) == 1)
		found = !strcmp(w, word);
	fclose(f);
	return found;
}

/*
 * A memory cgroup of its own with memory.max = @limit, in the cgroup2
 * hierarchy (mounted here if there is none, and the memory controller
 * enabled below its root if it is not).  0, or -errno for SKIP.
 */
static int memcg_make(FIXTURE_DATA(pressure) *self, long limit)
{
	char dev[64], dir[256], type[64], val[32];
	FILE *f = fopen("/proc/mounts", "r");
	bool found = false;
	int err;

	if (!f)
		return -errno;
	while (!found && fscanf(f, "%63s %255s %63s %*[^\n]", dev, dir,
				type) == 3)
		found = !strcmp(type, "cgroup2");
	fclose(f);
	if (found) {
		snprintf(self->cgroot, sizeof(self->cgroot), "%s", dir);
	} else {
		snprintf(self->cgroot, sizeof(self->cgroot),
			 "/tmp/fusex-cgroup2");
		if (mkdir(self->cgroot, 0755) && errno != EEXIST)
			return -errno;
		if (mount("none", self->cgroot, "cgroup2", 0, NULL))
			return -errno;
		self->cg_mounted = true;
	}
	if (!file_has_word(self->cgroot, "cgroup.subtree_control", "memory")) {
		err = write_str(self->cgroot, "cgroup.subtree_control",
				"+memory");
		if (err)
			return err;
		self->cg_enabled = true;
	}
	snprintf(self->cg, sizeof(self->cg), "%s/fusex-memcg.%d",
		 self->cgroot, getpid());
	if (mkdir(self->cg, 0755))
		return -errno;
	snprintf(val, sizeof(val), "%ld", limit);
	err = write_str(self->cg, "memory.max", val);
	if (!err)
		write_str(self->cg, "memory.swap.max", "0");
	return err;
}

/* Undo memcg_make(), as far as it went. */
static void memcg_remove(FIXTURE_DATA(pressure) *self)
{
	if (self->cg[0])
		rmdir(self->cg);
	if (self->cg_enabled)
		write_str(self->cgroot, "cgroup.subtree_control", "-memory");
	if (self->cg_mounted) {
		umount2(self->cgroot, 0);
		rmdir(self->cgroot);
	}
	self->cg[0] = '\0';
	self->cg_enabled = self->cg_mounted = false;
}

FIXTURE_SETUP(pressure)
{
	char why[256];

	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	if (fx_build_path(self->server, sizeof(self->server),
			  "passthrough_ll"))
		SKIP(return, "passthrough_ll not built (set FUSEX_BUILD)");
	strcpy(self->src, "/tmp/fusex-press-src.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	strcpy(self->srv.mnt, "/tmp/fusex-press.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	ASSERT_EQ(0, fx_ptll_start(&self->srv, self->server, variant->type,
				   variant->writeback, NULL, self->src, NULL,
				   why, sizeof(why))) TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(pressure)
{
	memcg_remove(self);
	if (self->srv.mnt[0]) {
		fx_server_stop(&self->srv);
		rmdir(self->srv.mnt);
	}
	fx_rmtree(self->src);
}

/* The writer, in the cgroup: write() all, then rewrite half by mmap. */
static int memcg_writer(const char *cg, const char *path)
{
	char pid[32], *buf, *map;
	size_t off;
	int fd;

	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_str(cg, "cgroup.procs", pid))
		return 10;
	buf = malloc(MEMCG_CHUNK);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!buf || fd < 0)
		return 11;
	for (off = 0; off < MEMCG_FILE; off += MEMCG_CHUNK) {
		memcg_fill(buf, MEMCG_CHUNK, off, 0);
		if (write(fd, buf, MEMCG_CHUNK) != MEMCG_CHUNK)
			return 12;
	}
	map = mmap(NULL, MEMCG_FILE / 2, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED)
		return 13;
	for (off = 0; off < MEMCG_FILE / 2; off += MEMCG_CHUNK)
		memcg_fill(map + off, MEMCG_CHUNK, off, 1);
	if (msync(map, MEMCG_FILE / 2, MS_SYNC) || munmap(map, MEMCG_FILE / 2))
		return 14;
	if (fsync(fd) || close(fd))
		return 15;
	return 0;
}

/* The file as the writer left it: 0, or the first bad offset + 1. */
static size_t memcg_check(const char *path)
{
	char *want = malloc(MEMCG_CHUNK), *got = malloc(MEMCG_CHUNK);
	size_t off, bad = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !want || !got)
		bad = 1;
	for (off = 0; !bad && off < MEMCG_FILE; off += MEMCG_CHUNK) {
		memcg_fill(want, MEMCG_CHUNK, off, off < MEMCG_FILE / 2);
		if (pread(fd, got, MEMCG_CHUNK, off) != MEMCG_CHUNK ||
		    memcmp(want, got, MEMCG_CHUNK))
			bad = off + 1;
	}
	if (!bad && pread(fd, got, 1, MEMCG_FILE) != 0)
		bad = MEMCG_FILE + 1;
	if (fd >= 0)
		close(fd);
	free(want);
	free(got);
	return bad;
}

TEST_F_TIMEOUT(pressure, memcg_writeback, FX_TIMEOUT)
{
	char path[PATH_MAX], back[PATH_MAX], events[600], key[64];
	long long n, hit_max = 0;
	int status, err;
	size_t bad;
	pid_t pid;
	FILE *f;

	FX_RETURN_IF_SKIPPED();
	err = memcg_make(self, MEMCG_LIMIT);
	if (err) {
		memcg_remove(self);
		SKIP(return, "no memory cgroup: %s", strerror(-err));
	}
	snprintf(path, sizeof(path), "%s/big", self->srv.mnt);
	snprintf(back, sizeof(back), "%s/big", self->src);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(memcg_writer(self->cg, path));
	status = fx_wait_exit(pid, (FX_TIMEOUT - 60) * 1000);
	if (status == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		status = -ETIMEDOUT;
	}
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
		TH_LOG("the writer in a %d MiB cgroup: status %#x (%s)",
		       MEMCG_LIMIT >> 20, status,
		       status == -ETIMEDOUT ? "hung" : "failed");
	snprintf(events, sizeof(events), "%s/memory.events", self->cg);
	f = fopen(events, "r");
	ASSERT_NE(NULL, f);
	while (fscanf(f, "%63s %lld", key, &n) == 2) {
		if (!strcmp(key, "max"))
			hit_max = n;
		if (!strcmp(key, "oom_kill"))
			EXPECT_EQ(0, n) TH_LOG("OOM kills in the cgroup");
	}
	fclose(f);
	/* Reclaim ran in the cgroup: the test is about that. */
	EXPECT_LT(0, hit_max) TH_LOG("the writer never reached memory.max");
	EXPECT_EQ(0, rmdir(self->cg));
	self->cg[0] = '\0';
	memcg_remove(self);
	bad = memcg_check(back);
	EXPECT_EQ(0, bad) TH_LOG("the backing file differs at %zu", bad - 1);
	ASSERT_EQ(0, fx_drop_caches(0));
	bad = memcg_check(path);
	EXPECT_EQ(0, bad) TH_LOG("the mount's file differs at %zu", bad - 1);
	EXPECT_EQ(0, unlink(path));
}

TEST_HARNESS_MAIN
