// SPDX-License-Identifier: GPL-2.0
/*
 * Round trips per operation, fusex against fuse.ko.
 *
 * Debian's passthrough_ll runs with -d on fuse and on fusex over two
 * backing directories with the same contents; its debug log names every
 * request it receives.  Each operation below runs on both mounts, and the
 * requests it caused are counted from the log.  fusex must never need more
 * round trips than fuse for the same operation; the table (printed as TAP
 * comments) is the one Documentation/performance.rst shows.
 *
 * Requests that run in the background (RELEASE, FORGET) are counted too,
 * after a short pause for them to arrive.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fusex_util.h"

enum { FUSE, FUSEX, NMNT };

static const char *const types[NMNT] = { "fuse", "fusex" };

struct side {
	struct fx_server srv;
	char backing[64];
	char log[80];
	FILE *logf;		/* read side of the server's log */
};

FIXTURE(rt) {
	struct side side[NMNT];
	bool started;
};

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			perror("drop_caches");
		close(fd);
	}
}

static void make_tree(const char *dir)
{
	char path[256];
	int i, fd;

	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "%s/f%03d", dir, i);
		fd = open(path, O_WRONLY | O_CREAT, 0644);
		if (fd >= 0) {
			if (write(fd, "data\n", 5) != 5)
				perror(path);
			close(fd);
		}
	}
	snprintf(path, sizeof(path), "%s/big", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0) {
		if (ftruncate(fd, 1 << 20))
			perror(path);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/link", dir);
	if (symlink("f000", path))
		perror(path);
}

/* Start a server whose stdout and stderr go to @s->log. */
static int start_logged(struct side *s, const char *type, char *why,
			size_t whylen)
{
	char server[PATH_MAX], src[128];
	const char *argv[] = { server, "-d", "-o", src, NULL };
	int logfd, saved, err;

	if (fx_build_path(server, sizeof(server), "passthrough_ll")) {
		snprintf(why, whylen, "passthrough_ll not built");
		return -ENOENT;
	}
	snprintf(src, sizeof(src), "source=%s,xattr", s->backing);
	logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (logfd < 0)
		return -errno;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(logfd, STDERR_FILENO);
	err = fx_server_start(&s->srv, type, NULL, argv, why, whylen);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(logfd);
	if (err)
		return err;
	s->logf = fopen(s->log, "re");
	return s->logf ? 0 : -errno;
}

FIXTURE_SETUP(rt)
{
	char why[256];
	int i;

	for (i = 0; i < NMNT; i++)
		if (!fx_have_dev(types[i]))
			SKIP(return, "/dev/%s is missing", types[i]);
	for (i = 0; i < NMNT; i++) {
		struct side *s = &self->side[i];

		snprintf(s->srv.mnt, sizeof(s->srv.mnt),
			 "/tmp/fusex-rt-%s.XXXXXX", types[i]);
		ASSERT_NE(NULL, mkdtemp(s->srv.mnt));
		snprintf(s->backing, sizeof(s->backing),
			 "/tmp/fusex-rt-src-%s.XXXXXX", types[i]);
		ASSERT_NE(NULL, mkdtemp(s->backing));
		snprintf(s->log, sizeof(s->log), "%s.log", s->backing);
		make_tree(s->backing);
		ASSERT_EQ(0, start_logged(s, types[i], why, sizeof(why)))
			TH_LOG("%s: %s", types[i], why);
	}
	self->started = true;
}

FIXTURE_TEARDOWN(rt)
{
	int i;

	for (i = 0; i < NMNT; i++) {
		struct side *s = &self->side[i];

		if (s->srv.mnt[0]) {
			fx_server_stop(&s->srv);
			rmdir(s->srv.mnt);
		}
		if (s->logf)
			fclose(s->logf);
		if (s->backing[0]) {
			fx_rmtree(s->backing);
			unlink(s->log);
		}
	}
}

/*
 * Requests logged since the last call, background ones (RELEASE, FORGET)
 * included; their names go to @names.
 */
static int count_requests(struct side *s, char *names, size_t len)
{
	char line[512], *op, *end;
	size_t used = 0;
	int n = 0, quiet = 0;

	if (len)
		names[0] = '\0';
	/* Until the log has been quiet for 300 ms. */
	while (quiet < 300 && n < 1000) {
		clearerr(s->logf);
		if (!fgets(line, sizeof(line), s->logf)) {
			fx_msleep(20);
			quiet += 20;
			continue;
		}
		quiet = 0;
		op = strstr(line, "opcode: ");
		if (!op || strstr(line, "opcode: DESTROY"))
			continue;
		n++;
		op += strlen("opcode: ");
		end = strchr(op, ' ');
		if (end)
			*end = '\0';
		if (used < len)
			used += snprintf(names + used, len - used, "%s%s",
					 used ? " " : "", op);
	}
	return n;
}

typedef int (*op_fn)(const char *mnt);

static int op_stat_cold(const char *mnt)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/f001", mnt);
	return stat(p, &st);
}

/* The second stat is answered from the cache. */
static int op_stat_twice(const char *mnt)
{
	return op_stat_cold(mnt) || op_stat_cold(mnt) ? -1 : 0;
}

static int op_open_close(const char *mnt)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/f002", mnt);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	return close(fd);
}

static int op_read_4k(const char *mnt)
{
	char p[128], buf[4096];
	int fd, r;

	snprintf(p, sizeof(p), "%s/f003", mnt);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf)) == 5 ? 0 : -1;
	close(fd);
	return r;
}

static int op_read_1m(const char *mnt)
{
	char p[128];
	static char buf[1 << 20];
	int fd, r;

	snprintf(p, sizeof(p), "%s/big", mnt);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf)) == sizeof(buf) ? 0 : -1;
	close(fd);
	return r;
}

static int op_create_write(const char *mnt)
{
	char p[128];
	int fd, r;

	snprintf(p, sizeof(p), "%s/new", mnt);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return -1;
	r = write(fd, "hello\n", 6) == 6 ? 0 : -1;
	close(fd);
	return r;
}

static int op_append(const char *mnt)
{
	char p[128];
	int fd, r;

	snprintf(p, sizeof(p), "%s/new", mnt);
	fd = open(p, O_WRONLY | O_APPEND);
	if (fd < 0)
		return -1;
	r = write(fd, "more\n", 5) == 5 ? 0 : -1;
	close(fd);
	return r;
}

static int op_chmod(const char *mnt)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/new", mnt);
	return chmod(p, 0600);
}

static int op_rename(const char *mnt)
{
	char a[128], b[128];

	snprintf(a, sizeof(a), "%s/new", mnt);
	snprintf(b, sizeof(b), "%s/renamed", mnt);
	return rename(a, b);
}

static int op_unlink(const char *mnt)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/renamed", mnt);
	return unlink(p);
}

static int op_mkdir_rmdir(const char *mnt)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/dir", mnt);
	if (mkdir(p, 0755))
		return -1;
	return rmdir(p);
}

static int op_readlink(const char *mnt)
{
	char p[128], buf[64];

	snprintf(p, sizeof(p), "%s/link", mnt);
	return readlink(p, buf, sizeof(buf)) == 4 ? 0 : -1;
}

static int op_getxattr(const char *mnt)
{
	char p[128], buf[64];

	snprintf(p, sizeof(p), "%s/f004", mnt);
	return getxattr(p, "trusted.none", buf, sizeof(buf)) < 0 &&
	       errno == ENODATA ? 0 : -1;
}

/* ls -l of 104 entries: readdir and lstat of every name, cold. */
static int op_ls_l(const char *mnt)
{
	char p[512];
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = opendir(mnt);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		snprintf(p, sizeof(p), "%s/%s", mnt, de->d_name);
		if (lstat(p, &st)) {
			closedir(d);
			return -1;
		}
	}
	return closedir(d);
}

static int op_statfs(const char *mnt)
{
	struct statvfs sv;

	return statvfs(mnt, &sv);
}

static const struct {
	const char *name;
	op_fn fn;
	bool cold;		/* drop caches first */
} ops[] = {
	{ "stat (cold)", op_stat_cold, true },
	{ "stat twice (cold)", op_stat_twice, true },
	{ "open+close", op_open_close, false },
	{ "read 4 KiB (cold)", op_read_4k, true },
	{ "read 1 MiB (cold)", op_read_1m, true },
	{ "create+write+close", op_create_write, false },
	{ "append+close", op_append, false },
	{ "chmod", op_chmod, false },
	{ "rename", op_rename, false },
	{ "unlink", op_unlink, false },
	{ "mkdir+rmdir", op_mkdir_rmdir, false },
	{ "readlink (cold)", op_readlink, true },
	{ "getxattr, missing", op_getxattr, false },
	{ "statfs", op_statfs, false },
	{ "ls -l, 104 entries (cold)", op_ls_l, true },
};

TEST_F_TIMEOUT(rt, per_operation, FX_TIMEOUT)
{
	char names[NMNT][512];
	int n[NMNT], i, k;

	FX_RETURN_IF_SKIPPED();
	/* Settle: INIT, the first GETATTRs, the mount's own traffic. */
	for (k = 0; k < NMNT; k++) {
		op_statfs(self->side[k].srv.mnt);
		count_requests(&self->side[k], NULL, 0);
	}
	printf("# %-28s %6s %6s   %s\n", "operation", "fuse", "fusex",
	       "fusex's requests");
	for (i = 0; i < (int)(sizeof(ops) / sizeof(ops[0])); i++) {
		for (k = 0; k < NMNT; k++) {
			struct side *s = &self->side[k];

			if (ops[i].cold)
				drop_caches();
			count_requests(s, NULL, 0);
			ASSERT_EQ(0, ops[i].fn(s->srv.mnt))
				TH_LOG("%s on %s: %s", ops[i].name, types[k],
				       strerror(errno));
			n[k] = count_requests(s, names[k], sizeof(names[k]));
		}
		printf("# %-28s %6d %6d   %s\n", ops[i].name, n[FUSE],
		       n[FUSEX], names[FUSEX]);
		fflush(stdout);
		EXPECT_GE(n[FUSE], n[FUSEX])
			TH_LOG("%s: fusex sends %s; fuse %s", ops[i].name,
			       names[FUSEX], names[FUSE]);
	}
}

TEST_HARNESS_MAIN
