/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fusex selftests that run real servers share: finding the build
 * directory, mounting a server through fusexctl, waiting for the mount,
 * reaping the server, removing trees.
 *
 * It includes kselftest_harness.h, so that the tests build with
 * -Wall -Wextra -Werror whether the harness directory is given with -I or
 * with -isystem: the 6.1 header has an unused parameter, and its EXPECT_EQ
 * compares an int literal with unsigned stat fields all the time.
 */
#ifndef FUSEX_UTIL_H
#define FUSEX_UTIL_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wsign-compare"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The 6.1 harness runs a test's body even when its FIXTURE_SETUP called
 * SKIP(); every TEST_F of a fixture that may skip starts with this.
 */
#define FX_RETURN_IF_SKIPPED() do {		\
	if (_metadata->skip)			\
		return;				\
} while (0)

/* Generous: under qemu without KVM everything is 10-50 times slower. */
#define FX_TIMEOUT 300

static inline void fx_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * The build directory holding fusexctl and the example servers: $FUSEX_BUILD,
 * else build/ next to the directory this binary is in (selftests/), else two
 * levels up (the binary under build/selftests/).  Returns 0 with @tool's
 * path in @out if it is there.
 */
static inline int fx_build_path(char *out, size_t len, const char *tool)
{
	const char *env = getenv("FUSEX_BUILD");
	static const char *const rel[] = { "../build", "../../build" };
	char self[PATH_MAX], *slash;
	ssize_t n;
	size_t i;

	if (env && *env) {
		if (snprintf(out, len, "%s/%s", env, tool) >= (int)len)
			return -ENAMETOOLONG;
		return access(out, X_OK) ? -ENOENT : 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (snprintf(out, len, "%s/%s/%s", self, rel[i],
			     tool) >= (int)len)
			continue;
		if (!access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* True if /dev/<type> exists (the module is loaded). */
static inline bool fx_have_dev(const char *type)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/%s", type);
	return access(path, F_OK) == 0;
}

/* Is @dir a mount point of filesystem type @type, per mountinfo? */
static inline bool fx_is_mounted(const char *dir, const char *type)
{
	char *line = NULL, mnt[PATH_MAX], fstype[64];
	bool found = false;
	size_t cap = 0;
	const char *sep;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%*d %*d %*s %*s %4095s", mnt) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		found = !strcmp(mnt, dir) && !strcmp(fstype, type);
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Wait up to @ms for @pid to exit; returns its wait status, or -ETIMEDOUT
 * (the child is left running).
 */
static inline int fx_wait_exit(pid_t pid, int ms)
{
	int status, waited = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -errno;
		if (waited >= ms)
			return -ETIMEDOUT;
		fx_msleep(10);
		waited += 10;
	}
}

/* A child process of @parent (the first found), or 0. */
static inline pid_t fx_child_of(pid_t parent)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	pid_t found = 0;
	int ppid;
	DIR *d;
	FILE *f;

	d = opendir("/proc");
	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		/* "pid (comm) state ppid": comm may hold spaces. */
		p = p ? strrchr(buf, ')') : NULL;
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1 &&
		    ppid == parent)
			found = atoi(de->d_name);
	}
	closedir(d);
	return found;
}

/*
 * sync, then evict what nobody uses: page cache, dentries, inodes.
 * Recently used dentries survive one pass of the shrinker
 * (DCACHE_REFERENCED), so make a few.  Then wait @settle_ms, if asked:
 * dentries and inodes are freed after an RCU grace period.  0 or -errno.
 */
static inline int fx_drop_caches(int settle_ms)
{
	int fd, ret = 0, i;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 3 && !ret; i++)
		if (pwrite(fd, "3", 1, 0) != 1)
			ret = -errno;
	close(fd);
	if (settle_ms)
		fx_msleep(settle_ms);
	return ret;
}

/* A server mounted through fusexctl: fusexctl execs into it, same pid. */
struct fx_server {
	pid_t pid;		/* 0 once reaped */
	const char *type;	/* "fuse" or "fusex" */
	char mnt[64];
};

/*
 * Run "fusexctl mount -t TYPE [-o MNTOPTS] MNT -- SERVER_ARGV..." and wait
 * until the mount is there and has answered INIT (a stat of its root).
 * On failure nothing is left behind and -errno is returned; @why says what
 * went wrong.
 */
static inline int fx_server_start(struct fx_server *s, const char *type,
				  const char *mntopts,
				  const char *const server_argv[],
				  char *why, size_t whylen)
{
	const char *argv[64];
	char fusexctl[PATH_MAX];
	int argc = 0, status, i, waited = 0;
	struct stat st;

	s->pid = 0;
	s->type = type;
	if (fx_build_path(fusexctl, sizeof(fusexctl), "fusexctl")) {
		snprintf(why, whylen, "fusexctl not found");
		return -ENOENT;
	}
	argv[argc++] = fusexctl;
	argv[argc++] = "mount";
	argv[argc++] = "-t";
	argv[argc++] = type;
	if (mntopts) {
		argv[argc++] = "-o";
		argv[argc++] = mntopts;
	}
	argv[argc++] = s->mnt;
	argv[argc++] = "--";
	for (i = 0; server_argv[i] && argc < 63; i++)
		argv[argc++] = server_argv[i];
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return -EAGAIN;
	}
	if (s->pid == 0) {
		/* Keep the harness's TAP on stdout clean. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(fusexctl, (char **)argv);
		_exit(127);
	}
	while (!fx_is_mounted(s->mnt, type)) {
		status = fx_wait_exit(s->pid, 0);
		if (status >= 0) {
			s->pid = 0;
			snprintf(why, whylen, "fusexctl mount exited with %d",
				 WIFEXITED(status) ? WEXITSTATUS(status) :
				 128 + WTERMSIG(status));
			return -ECHILD;
		}
		if (waited >= 30000) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
			snprintf(why, whylen, "%s did not appear in 30 s",
				 s->mnt);
			return -ETIMEDOUT;
		}
		fx_msleep(10);
		waited += 10;
	}
	/* Blocks until the server has answered INIT. */
	if (stat(s->mnt, &st)) {
		snprintf(why, whylen, "stat %s: %s", s->mnt, strerror(errno));
		umount2(s->mnt, MNT_DETACH);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
		return -EIO;
	}
	return 0;
}

/* Detach the mount, kill the server and reap it. */
static inline void fx_server_stop(struct fx_server *s)
{
	umount2(s->mnt, MNT_DETACH);
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static inline int fx_rm_one(const char *path, const struct stat *st,
			    int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* rm -rf @dir (it must not be a mount). */
static inline void fx_rmtree(const char *dir)
{
	if (dir[0])
		nftw(dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/*
 * The four variants of the tests that run Debian's passthrough_ll on both
 * modules, write-through and with the writeback cache (-o writeback):
 * fuse_wt, fusex_wt, fuse_wb, fusex_wb.
 */
#define FX_PTLL_VARIANTS(fixture)					\
	FIXTURE_VARIANT(fixture) {					\
		const char *type;					\
		bool writeback;						\
	};								\
	FIXTURE_VARIANT_ADD(fixture, fuse_wt) {				\
		.type = "fuse", .writeback = false			\
	};								\
	FIXTURE_VARIANT_ADD(fixture, fusex_wt) {			\
		.type = "fusex", .writeback = false			\
	};								\
	FIXTURE_VARIANT_ADD(fixture, fuse_wb) {				\
		.type = "fuse", .writeback = true			\
	};								\
	FIXTURE_VARIANT_ADD(fixture, fusex_wb) {			\
		.type = "fusex", .writeback = true			\
	}

/*
 * "passthrough_ll -f -o source=@src@opts[,writeback]" mounted on @s->mnt
 * (with @mntopts) through fx_server_start(); @server is where it was found
 * (PATH_MAX bytes).  0 or -errno, with @why.
 */
static inline int fx_ptll_start(struct fx_server *s, char *server,
				const char *type, bool writeback,
				const char *mntopts, const char *src,
				const char *opts, char *why, size_t whylen)
{
	const char *argv[] = { server, "-f", "-o", NULL, NULL };
	char o[256];

	if (fx_build_path(server, PATH_MAX, "passthrough_ll")) {
		snprintf(why, whylen, "passthrough_ll not built (set FUSEX_BUILD)");
		return -ENOENT;
	}
	snprintf(o, sizeof(o), "source=%s%s%s", src, opts ? opts : "",
		 writeback ? ",writeback" : "");
	argv[3] = o;
	return fx_server_start(s, type, mntopts, argv, why, whylen);
}

#endif /* FUSEX_UTIL_H */
