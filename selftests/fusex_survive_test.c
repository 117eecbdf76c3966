// SPDX-License-Identifier: GPL-2.0
/*
 * fusex_survive_test: real servers killed with SIGKILL under `fusexctl
 * run`, and what applications see afterwards (Documentation/restart.rst).
 *
 * Fixture "survive", one variant per way of finding inodes again:
 *  - handles: build/fusex-passthrough over a tmpfs directory.  Inodes
 *    reached without a path (open files) are revalidated by
 *    FUSE_LOOKUP_HANDLE; -o stats=FILE makes the server count what it
 *    was asked.
 *  - by_name: Debian's unmodified passthrough_ll (built from the examples
 *    by make examples): no handles, inodes are looked up again by name.
 * Both run with long timeouts, so the kernel's caches are warm when the
 * server dies: what is revalidated afterwards is only what is used.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../uapi/linux/fusex.h"

#include "fusex_util.h"

/* Records of the append log test; each write is one record, fsynced. */
#define LOG_RECORDS	600
#define LOG_RECSZ	64

FIXTURE(survive) {
	char src[64];
	char mnt[64];
	char stats[64];
	char log[64];
	char path[PATH_MAX];
	char spath[PATH_MAX];
	pid_t ctl;
	/* The mount's root, open: FUSEX_IOC_STATUS needs no request. */
	int stfd;
};

FIXTURE_VARIANT(survive) {
	const char *server;
	bool handles;
	/* Files cached before the kill in lazy_revalidation. */
	unsigned int nfiles;
};

FIXTURE_VARIANT_ADD(survive, handles) {
	.server = "fusex-passthrough", .handles = true, .nfiles = 10000,
};

FIXTURE_VARIANT_ADD(survive, by_name) {
	.server = "passthrough_ll", .handles = false, .nfiles = 2000,
};

#define MNT(name) (snprintf(self->path, sizeof(self->path), "%s/%s", \
			    self->mnt, (name)), self->path)
#define SRC(name) (snprintf(self->spath, sizeof(self->spath), "%s/%s", \
			    self->src, (name)), self->spath)

FIXTURE_SETUP(survive)
{
	char fusexctl[PATH_MAX], server[PATH_MAX], opts[256];
	int fd, waited;

	self->ctl = 0;
	self->stfd = -1;
	self->src[0] = self->mnt[0] = self->stats[0] = self->log[0] = 0;
	if (!fx_have_dev("fusex"))
		SKIP(return, "/dev/fusex is missing (module not loaded)");
	if (fx_build_path(fusexctl, sizeof(fusexctl), "fusexctl"))
		SKIP(return, "fusexctl not built (set FUSEX_BUILD)");
	if (fx_build_path(server, sizeof(server), variant->server))
		SKIP(return, "%s not built (make examples)", variant->server);
	strcpy(self->src, "/tmp/fusex-ssrc.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	strcpy(self->mnt, "/tmp/fusex-survive.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
	strcpy(self->log, "/tmp/fusex-survive-log.XXXXXX");
	fd = mkstemp(self->log);
	ASSERT_LE(0, fd);
	if (variant->handles) {
		strcpy(self->stats, "/tmp/fusex-stats.XXXXXX");
		close(mkstemp(self->stats));
		snprintf(opts, sizeof(opts),
			 "source=%s,timeout=86400,stats=%s", self->src,
			 self->stats);
	} else {
		/* flock: the server keeps flock() locks (locks_lost). */
		snprintf(opts, sizeof(opts), "source=%s,timeout=86400,flock",
			 self->src);
	}

	fflush(stdout);
	fflush(stderr);
	self->ctl = fork();
	ASSERT_LE(0, self->ctl);
	if (self->ctl == 0) {
		/* The servers keep an fd per cached inode. */
		struct rlimit rl = { .rlim_cur = 65536, .rlim_max = 65536 };

		setrlimit(RLIMIT_NOFILE, &rl);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execl(fusexctl, "fusexctl", "run", "--restart=always",
		      "-o", "restart_timeout=60", self->mnt, "--", server,
		      "-f", "-o", opts, (char *)NULL);
		_exit(127);
	}
	close(fd);
	for (waited = 0; !fx_is_mounted(self->mnt, "fusex"); waited += 20) {
		ASSERT_GT(30000, waited);
		ASSERT_EQ(-ETIMEDOUT, fx_wait_exit(self->ctl, 0))
			TH_LOG("fusexctl run exited; see %s", self->log);
		fx_msleep(20);
	}
	self->stfd = open(self->mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->stfd);
}

FIXTURE_TEARDOWN(survive)
{
	char stop[128];

	/* A soak that failed half-way leaves its children: stop them. */
	snprintf(stop, sizeof(stop), "%s.stop", self->log);
	close(open(stop, O_CREAT | O_WRONLY, 0644));
	if (self->stfd >= 0)
		close(self->stfd);
	if (self->ctl > 0) {
		/* fusexctl run stops its server and unmounts. */
		kill(self->ctl, SIGTERM);
		if (fx_wait_exit(self->ctl, 30000) == -ETIMEDOUT) {
			kill(self->ctl, SIGKILL);
			waitpid(self->ctl, NULL, 0);
		}
	}
	if (self->mnt[0]) {
		umount2(self->mnt, MNT_DETACH);
		rmdir(self->mnt);
	}
	if (self->src[0]) {
		fx_rmtree(self->src);
		rmdir(self->src);
	}
	if (self->stats[0])
		unlink(self->stats);
	if (self->log[0])
		unlink(self->log);
	unlink(stop);
}

static int get_status(FIXTURE_DATA(survive) *self, struct fusex_status *st)
{
	memset(st, 0, sizeof(*st));
	return ioctl(self->stfd, FUSEX_IOC_STATUS, st) ? -errno : 0;
}

/* What this server instance was asked: LOOKUPs and LOOKUP_HANDLEs. */
static int server_counts(FIXTURE_DATA(survive) *self,
			 unsigned long long *lookups,
			 unsigned long long *by_handle)
{
	FILE *f = fopen(self->stats, "r");
	int n;

	*lookups = *by_handle = 0;
	if (!f)
		return -errno;
	n = fscanf(f, "lookup %llu lookup_handle %llu", lookups, by_handle);
	fclose(f);
	/* A new instance has not been asked anything yet: empty file. */
	return n == 2 || n == EOF ? 0 : -EINVAL;
}

/*
 * kill -9 the server and wait until fusexctl has attached the next one:
 * the kernel would hold every request until then anyway, this only makes
 * "after the restart" a point in time.
 */
static void restart_server(struct __test_metadata *_metadata,
			   FIXTURE_DATA(survive) *self)
{
	struct fusex_status st;
	unsigned int attaches;
	pid_t pid, next;
	int waited;

	ASSERT_EQ(0, get_status(self, &st));
	attaches = st.attaches;
	pid = fx_child_of(self->ctl);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	/*
	 * fusexctl attaches before it forks the server: the next kill needs
	 * the new process, not only the attach.  The dead one stays a child
	 * until fusexctl reaps it.
	 */
	for (waited = 0;; waited += 10) {
		ASSERT_GT(30000, waited) TH_LOG("no new server; see %s",
						self->log);
		ASSERT_EQ(0, get_status(self, &st));
		if (st.attaches > attaches &&
		    !(st.flags & FUSEX_STATUS_DETACHED)) {
			next = fx_child_of(self->ctl);
			if (next > 0 && next != pid)
				break;
		}
		fx_msleep(10);
	}
	EXPECT_EQ(0, st.flags & FUSEX_STATUS_ABORTED);
}

static void fill(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

static ssize_t read_all(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	close(fd);
	return n;
}

/*
 * Many cached inodes, a restart, ten used by path and ten through open
 * files: revalidation costs one request per inode used, nothing for the
 * rest.  By path the names are looked up again (LOOKUP, which takes the
 * cached inode back); open files go by handle when there is one.
 */
TEST_F_TIMEOUT(survive, lazy_revalidation, 900)
{
	unsigned long long lookups, by_handle;
	struct fusex_status s0, s1, s2;
	unsigned int i, n = variant->nfiles;
	char name[64], buf[16];
	int fds[10], fd;
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT("d"), 0755));
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d/f%05u", i);
		fd = open(MNT(name), O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", name, strerror(errno));
		snprintf(buf, sizeof(buf), "%07u\n", i);
		ASSERT_EQ(8, write(fd, buf, 8));
		close(fd);
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "d/f%05u", i);
		ASSERT_EQ(0, stat(MNT(name), &st));
	}
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "d/f%05u", i * 97);
		fds[i] = open(MNT(name), O_RDONLY);
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_EQ(0, get_status(self, &s0));

	restart_server(_metadata, self);

	/* Ten by path: "d" and the ten names are looked up again. */
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "d/f%05u", i * 131 + 5);
		EXPECT_EQ(0, utimensat(AT_FDCWD, MNT(name), NULL, 0));
	}
	ASSERT_EQ(0, get_status(self, &s1));
	EXPECT_LE(11, s1.reval_name - s0.reval_name);
	EXPECT_GE(13, s1.reval_name - s0.reval_name);
	EXPECT_EQ(0, s1.reval_handle - s0.reval_handle);
	EXPECT_EQ(0, s1.stale - s0.stale);

	/* Ten through open files: by handle, or by name without one. */
	for (i = 0; i < 10; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%07u\n", i * 97);
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(8, pread(fds[i], buf, 8, 0));
		EXPECT_EQ(0, memcmp(want, buf, 8));
		close(fds[i]);
	}
	ASSERT_EQ(0, get_status(self, &s2));
	EXPECT_EQ(10, s2.reopens - s1.reopens);
	if (variant->handles) {
		EXPECT_LE(10, s2.reval_handle - s1.reval_handle);
		EXPECT_GE(12, s2.reval_handle - s1.reval_handle);
	} else {
		EXPECT_LE(10, s2.reval_name - s1.reval_name);
		EXPECT_GE(12, s2.reval_name - s1.reval_name);
	}
	/* Not the thousands that are cached. */
	EXPECT_GT(40, (s2.reval_name + s2.reval_handle) -
		      (s0.reval_name + s0.reval_handle));
	TH_LOG("%u cached, 20 used: %llu revalidated by name, %llu by handle, %llu reopened",
	       n, (unsigned long long)(s2.reval_name - s0.reval_name),
	       (unsigned long long)(s2.reval_handle - s0.reval_handle),
	       (unsigned long long)(s2.reopens - s0.reopens));

	if (variant->handles) {
		/* The new server's own count. */
		ASSERT_EQ(0, server_counts(self, &lookups, &by_handle));
		EXPECT_LE(10, by_handle);
		EXPECT_GE(12, by_handle);
		EXPECT_GE(20ULL, lookups);
		TH_LOG("the new server saw %llu LOOKUP, %llu FUSE_LOOKUP_HANDLE",
		       lookups, by_handle);
	}
}

/*
 * After a restart, a name looked up relative to a directory that is not
 * revalidated yet (a dirfd, a cwd) goes by the directory's handle: one
 * FUSE_LOOKUP_HANDLE with the name, no LOOKUP, and the directory itself
 * is not revalidated for it.
 */
TEST_F_TIMEOUT(survive, lookup_under_handle, 300)
{
	unsigned long long lookups, by_handle;
	struct fusex_status s0, s1;
	char name[32], buf[16];
	struct stat st;
	int dfd, fd, i;

	FX_RETURN_IF_SKIPPED();
	if (!variant->handles)
		SKIP(return, "passthrough_ll has no handles");
	ASSERT_EQ(0, mkdir(MNT("d"), 0755));
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "d/f%d", i);
		fd = open(MNT(name), O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		snprintf(buf, sizeof(buf), "file %d\n", i);
		ASSERT_EQ(7, write(fd, buf, 7));
		close(fd);
	}
	dfd = open(MNT("d"), O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	restart_server(_metadata, self);
	ASSERT_EQ(0, get_status(self, &s0));

	/* Cached names (d_revalidate) and a missing one (lookup). */
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		EXPECT_EQ(0, fstatat(dfd, name, &st, 0));
		EXPECT_EQ(7, st.st_size);
	}
	EXPECT_EQ(-1, fstatat(dfd, "missing", &st, 0));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, get_status(self, &s1));
	EXPECT_EQ(0, s1.reval_handle - s0.reval_handle);
	EXPECT_EQ(5, s1.reval_name - s0.reval_name);
	EXPECT_EQ(0, s1.stale - s0.stale);
	ASSERT_EQ(0, server_counts(self, &lookups, &by_handle));
	EXPECT_EQ(0, lookups);
	EXPECT_EQ(6, by_handle);
	TH_LOG("6 names under a directory of the dead instance: %llu LOOKUP, %llu FUSE_LOOKUP_HANDLE",
	       lookups, by_handle);

	/* The files are the same ones, and the directory works. */
	fd = openat(dfd, "f3", O_RDONLY);
	ASSERT_LE(0, fd);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(7, read(fd, buf, sizeof(buf)));
	EXPECT_STREQ("file 3\n", buf);
	close(fd);
	fd = openat(dfd, "new", O_CREAT | O_WRONLY, 0644);
	EXPECT_LE(0, fd);
	close(fd);
	EXPECT_EQ(0, stat(MNT("d/new"), &st));
	close(dfd);
}

/*
 * Open files of every kind, a cwd inside the mount and a directory read
 * halfway all go on after the server is killed.
 */
TEST_F_TIMEOUT(survive, open_files_go_on, 600)
{
	static char data[256 * 1024], got[256 * 1024], page[4096];
	int fdr, fdw, fda, fdm, cwd, fd, i, seen[400] = { 0 };
	unsigned int names = 0;
	struct dirent *de;
	struct stat st;
	char name[64];
	char *map;
	DIR *dir;

	FX_RETURN_IF_SKIPPED();
	fill(data, sizeof(data), 1);
	fd = open(MNT("r"), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(data), write(fd, data, sizeof(data)));
	close(fd);
	fdr = open(MNT("r"), O_RDONLY);
	ASSERT_LE(0, fdr);
	ASSERT_EQ(65536, read(fdr, got, 65536));
	EXPECT_EQ(0, memcmp(data, got, 65536));

	fdw = open(MNT("w"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	ASSERT_LE(0, fdw);
	memset(page, 'A', sizeof(page));
	ASSERT_EQ(4096, write(fdw, page, sizeof(page)));
	fda = open(MNT("a"), O_CREAT | O_WRONLY | O_APPEND, 0644);
	ASSERT_LE(0, fda);
	ASSERT_EQ(4, write(fda, "one\n", 4));
	fdm = open(MNT("m"), O_CREAT | O_RDWR, 0644);
	ASSERT_LE(0, fdm);
	ASSERT_EQ(0, ftruncate(fdm, 8192));
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fdm, 0);
	ASSERT_NE(MAP_FAILED, map);
	memcpy(map, "first page", 10);
	ASSERT_EQ(0, msync(map, 8192, MS_SYNC));

	ASSERT_EQ(0, mkdir(MNT("sub"), 0755));
	cwd = open(".", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, cwd);
	ASSERT_EQ(0, chdir(MNT("sub")));

	ASSERT_EQ(0, mkdir(MNT("big"), 0755));
	for (i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "big/e%03d", i);
		fd = open(MNT(name), O_CREAT | O_WRONLY, 0644);
		ASSERT_LE(0, fd);
		close(fd);
	}
	dir = opendir(MNT("big"));
	ASSERT_NE(NULL, dir);
	while (names < 200 && (de = readdir(dir))) {
		if (sscanf(de->d_name, "e%d", &i) == 1 && i >= 0 && i < 400) {
			seen[i]++;
			names++;
		}
	}
	ASSERT_EQ(200, names);

	restart_server(_metadata, self);

	/* The read goes on where it was. */
	EXPECT_EQ((ssize_t)sizeof(data) - 65536,
		  read(fdr, got + 65536, sizeof(data) - 65536));
	EXPECT_EQ(0, memcmp(data, got, sizeof(data)));
	/* So do the writes, the append and the shared mapping. */
	memset(page, 'B', sizeof(page));
	EXPECT_EQ(4096, write(fdw, page, sizeof(page)));
	EXPECT_EQ(4, write(fda, "two\n", 4));
	memcpy(map + 4096, "second page", 11);
	EXPECT_EQ(0, msync(map, 8192, MS_SYNC));
	/* The cwd still works, for reading and for making names. */
	fd = open("rel", O_CREAT | O_WRONLY, 0644);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(0, fstatat(AT_FDCWD, "rel", &st, 0));
	/* The listing goes on: every name once. */
	while ((de = readdir(dir))) {
		if (sscanf(de->d_name, "e%d", &i) == 1 && i >= 0 && i < 400) {
			seen[i]++;
			names++;
		}
	}
	EXPECT_EQ(400, names);
	for (i = 0; i < 400; i++)
		EXPECT_EQ(1, seen[i]) TH_LOG("e%03d seen %d times", i, seen[i]);
	closedir(dir);

	EXPECT_EQ(0, fchdir(cwd));
	close(cwd);
	munmap(map, 8192);
	EXPECT_EQ(0, close(fdm));
	EXPECT_EQ(0, close(fda));
	EXPECT_EQ(0, close(fdw));
	close(fdr);

	/* What the backing store has is what was written. */
	EXPECT_EQ(8192, read_all(SRC("w"), got, sizeof(got)));
	memset(page, 'A', sizeof(page));
	EXPECT_EQ(0, memcmp(got, page, 4096));
	memset(page, 'B', sizeof(page));
	EXPECT_EQ(0, memcmp(got + 4096, page, 4096));
	EXPECT_EQ(8, read_all(SRC("a"), got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, "one\ntwo\n", 8));
	EXPECT_EQ(8192, read_all(SRC("m"), got, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, "first page", 10));
	EXPECT_EQ(0, memcmp(got + 4096, "second page", 11));
	EXPECT_EQ(0, stat(SRC("sub/rel"), &st));
}

/*
 * Changed on the backing store while the server was dead: an object that
 * is gone gives ESTALE through an open file and ENOENT by path; a name
 * that now stands for another object is not taken for the old one.
 */
TEST_F_TIMEOUT(survive, gone_and_replaced, 300)
{
	struct fusex_status s0, s1;
	char buf[64], newpath[PATH_MAX];
	struct stat st, old;
	int fdg, fdr, fd;

	FX_RETURN_IF_SKIPPED();
	/* SRC() has one buffer: the rename's target is kept here. */
	strcpy(newpath, SRC("r"));
	fd = open(MNT("gone"), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "gone", 4));
	close(fd);
	fd = open(MNT("r"), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "old", 3));
	close(fd);
	fdg = open(MNT("gone"), O_RDONLY);
	ASSERT_LE(0, fdg);
	fdr = open(MNT("r"), O_RDONLY);
	ASSERT_LE(0, fdr);
	ASSERT_EQ(4, pread(fdg, buf, sizeof(buf), 0));
	ASSERT_EQ(3, pread(fdr, buf, sizeof(buf), 0));
	ASSERT_EQ(0, fstat(fdr, &old));
	ASSERT_EQ(0, get_status(self, &s0));

	/* Behind the server's back: one removed, one replaced. */
	ASSERT_EQ(0, unlink(SRC("gone")));
	fd = open(SRC("new"), O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(11, write(fd, "new content", 11));
	close(fd);
	ASSERT_EQ(0, renameat(AT_FDCWD, SRC("new"), AT_FDCWD, newpath));

	restart_server(_metadata, self);

	errno = 0;
	EXPECT_EQ(-1, pread(fdg, buf, sizeof(buf), 0));
	EXPECT_EQ(ESTALE, errno);
	errno = 0;
	EXPECT_EQ(-1, stat(MNT("gone"), &st));
	EXPECT_EQ(ENOENT, errno);
	errno = 0;
	EXPECT_EQ(-1, pread(fdr, buf, sizeof(buf), 0));
	EXPECT_EQ(ESTALE, errno);
	ASSERT_EQ(0, stat(MNT("r"), &st));
	EXPECT_NE(old.st_ino, st.st_ino);
	EXPECT_EQ(11, st.st_size);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(11, read_all(MNT("r"), buf, sizeof(buf)));
	EXPECT_STREQ("new content", buf);
	ASSERT_EQ(0, get_status(self, &s1));
	EXPECT_LE(2, s1.stale - s0.stale);
	close(fdg);
	close(fdr);
}

/*
 * A writer appends fixed-size records to a log, fsyncing each, and a
 * reader tails it, while the server is killed three times.  The log ends
 * byte-identical to what the writer was told was written.
 *
 * With handles the writer uses O_APPEND: fusex-passthrough writes at the
 * offset the kernel gives, so a WRITE sent again after a kill lands where
 * it did.  passthrough_ll opens its backing file with O_APPEND and would
 * append such a WRITE twice (a documented limit of servers that append by
 * themselves): there the writer gives the offsets.
 */
TEST_F_TIMEOUT(survive, append_log_through_restarts, 900)
{
	static char want[LOG_RECORDS * LOG_RECSZ], got[LOG_RECORDS * LOG_RECSZ];
	int acks[2], fd, status, kills = 0;
	unsigned int seq, ack = 0;
	pid_t writer, reader;

	FX_RETURN_IF_SKIPPED();
	for (seq = 0; seq < LOG_RECORDS; seq++) {
		char *r = want + (size_t)seq * LOG_RECSZ;

		fill(r, LOG_RECSZ, seq);
		snprintf(r, 10, "%08u", seq);
		r[8] = ' ';
		r[LOG_RECSZ - 1] = '\n';
	}
	fd = open(MNT("log"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, pipe(acks));

	fflush(stdout);
	fflush(stderr);
	writer = fork();
	ASSERT_LE(0, writer);
	if (writer == 0) {
		int flags = O_WRONLY | (variant->handles ? O_APPEND : 0);

		close(acks[0]);
		fd = open(MNT("log"), flags);
		if (fd < 0)
			_exit(2);
		for (seq = 0; seq < LOG_RECORDS; seq++) {
			const char *r = want + (size_t)seq * LOG_RECSZ;
			ssize_t n = variant->handles ?
				write(fd, r, LOG_RECSZ) :
				pwrite(fd, r, LOG_RECSZ,
				       (off_t)seq * LOG_RECSZ);

			if (n != LOG_RECSZ || fsync(fd))
				_exit(3);
			if (write(acks[1], &seq, sizeof(seq)) != sizeof(seq))
				_exit(4);
		}
		_exit(close(fd) ? 5 : 0);
	}
	close(acks[1]);

	reader = fork();
	ASSERT_LE(0, reader);
	if (reader == 0) {
		size_t have = 0;
		ssize_t n;

		fd = open(MNT("log"), O_RDONLY);
		if (fd < 0)
			_exit(2);
		/* Tail: what is there must be the records, in order. */
		while (have < sizeof(got)) {
			n = read(fd, got + have, sizeof(got) - have);
			if (n < 0)
				_exit(3);
			if (!n) {
				fx_msleep(5);
				continue;
			}
			if (memcmp(got + have, want + have, n)) {
				size_t at = have;

				while (got[at] == want[at])
					at++;
				fprintf(stderr, "# reader: %zd bytes at %zu differ from %zu ('%.20s', not '%.20s')\n",
					n, have, at, got + at, want + at);
				_exit(4);
			}
			have += n;
		}
		_exit(0);
	}

	/* Three kills, at a quarter, half and three quarters of the log. */
	while (read(acks[0], &ack, sizeof(ack)) == sizeof(ack)) {
		if (kills < 3 && ack + 1 == (kills + 1) * LOG_RECORDS / 4) {
			restart_server(_metadata, self);
			kills++;
		}
	}
	close(acks[0]);
	EXPECT_EQ(3, kills);
	EXPECT_EQ(LOG_RECORDS - 1, ack);
	ASSERT_EQ(writer, waitpid(writer, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("writer status %#x", status);
	status = fx_wait_exit(reader, 60000);
	if (status == -ETIMEDOUT) {
		kill(reader, SIGKILL);
		waitpid(reader, NULL, 0);
	}
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
		TH_LOG("reader status %d", status);

	EXPECT_EQ((ssize_t)sizeof(want), read_all(SRC("log"), got,
						  sizeof(got)));
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
	EXPECT_EQ((ssize_t)sizeof(want), read_all(MNT("log"), got,
						  sizeof(got)));
	EXPECT_EQ(0, memcmp(want, got, sizeof(want)));
}

/*
 * flock() locks the server kept die with it (both servers keep them): a
 * file that held one fails its next lock operation with ENOLCK, once, and
 * may lock again after.
 */
TEST_F_TIMEOUT(survive, locks_lost, 120)
{
	struct fusex_status s0, s1;
	int fd;

	FX_RETURN_IF_SKIPPED();
	fd = open(MNT("lk"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, flock(fd, LOCK_EX));
	ASSERT_EQ(0, get_status(self, &s0));

	restart_server(_metadata, self);

	errno = 0;
	EXPECT_EQ(-1, flock(fd, LOCK_UN));
	EXPECT_EQ(ENOLCK, errno);
	EXPECT_EQ(0, flock(fd, LOCK_EX));
	EXPECT_EQ(0, flock(fd, LOCK_UN));
	ASSERT_EQ(0, get_status(self, &s1));
	EXPECT_EQ(1, s1.locks_lost - s0.locks_lost);
	EXPECT_EQ(0, close(fd));
}

/* Start fusex-passthrough by hand on the fixture's source and mount. */
static pid_t start_by_hand(FIXTURE_DATA(survive) *self, int devfd)
{
	char server[PATH_MAX], opts[256], num[16];
	pid_t pid;

	if (fx_build_path(server, sizeof(server), "fusex-passthrough"))
		return -1;
	snprintf(opts, sizeof(opts), "source=%s,timeout=86400", self->src);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	if (devfd >= 0) {
		/* As systemd hands its fd store down: fd 3, named. */
		if (dup2(devfd, 3) < 0)
			_exit(126);
		snprintf(num, sizeof(num), "%d", (int)getpid());
		setenv("LISTEN_PID", num, 1);
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_FDNAMES", "fusex", 1);
	}
	execl(server, server, "-f", "-o", opts, self->mnt, (char *)NULL);
	_exit(127);
}

/* Wait until a server with pid @pid has said RESTARTED. */
static int wait_restarted(FIXTURE_DATA(survive) *self, pid_t pid,
			  struct fusex_status *st)
{
	int waited;

	for (waited = 0; waited < 30000; waited += 20) {
		if (get_status(self, st))
			return -1;
		if (st->instance_id == (uint64_t)pid &&
		    !(st->flags & FUSEX_STATUS_DETACHED))
			return 0;
		fx_msleep(20);
	}
	return -ETIMEDOUT;
}

/*
 * libfusex's restart-aware start (fusex_session_fd()): a server started by
 * hand on the path of a mount whose server died attaches to it; one handed
 * a device fd the way systemd's fd store does (LISTEN_FDS) serves it.
 * Each says FUSE_NOTIFY_RESTARTED with its pid; an open file goes on.
 */
TEST_F_TIMEOUT(survive, session_start, 300)
{
	struct fusex_attach at = { 0 };
	struct fusex_status st;
	pid_t server, pid, holder;
	int fd, devfd, mfd, go[2];
	char buf[16];

	FX_RETURN_IF_SKIPPED();
	if (!variant->handles)
		SKIP(return, "fusex-passthrough's start, not passthrough_ll's");
	/* Not inherited by the servers started below. */
	fd = open(MNT("f"), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, pwrite(fd, "12345", 5, 0));
	/* A process holding a file of the mount, to exit while detached. */
	ASSERT_EQ(0, pipe(go));
	holder = fork();
	ASSERT_LE(0, holder);
	if (holder == 0) {
		int keep = dup(fd);

		close(go[1]);
		_exit(read(go[0], buf, 1) < 0 || keep < 0);
	}
	close(go[0]);
	/* No supervisor any more, then no server. */
	server = fx_child_of(self->ctl);
	ASSERT_LT(0, server);
	kill(self->ctl, SIGKILL);
	waitpid(self->ctl, NULL, 0);
	self->ctl = 0;
	kill(server, SIGKILL);
	/* Its close (FLUSH) does not wait for a server to come. */
	fx_msleep(200);
	close(go[1]);
	EXPECT_LE(0, fx_wait_exit(holder, 5000));

	/* By hand, on the mountpoint: it attaches itself. */
	pid = start_by_hand(self, -1);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, wait_restarted(self, pid, &st));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, pread(fd, buf, sizeof(buf), 0));
	EXPECT_STREQ("12345", buf);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* From an fd store: the device fd comes as fd 3, LISTEN_FDS=1. */
	devfd = open("/dev/fusex", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, devfd);
	mfd = open(self->mnt, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, mfd);
	at.mount_fd = mfd;
	ASSERT_EQ(0, ioctl(devfd, FUSEX_DEV_IOC_ATTACH, &at));
	close(mfd);
	pid = start_by_hand(self, devfd);
	ASSERT_LT(0, pid);
	close(devfd);
	ASSERT_EQ(0, wait_restarted(self, pid, &st));
	EXPECT_EQ(5, pwrite(fd, "abcde", 5, 0));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, read_all(SRC("f"), buf, sizeof(buf)));
	EXPECT_STREQ("abcde", buf);
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Soak: kills, and the pause before each (ms, at random up to this). */
#define SOAK_KILLS	100
#define SOAK_PAUSE_MS	250

/*
 * A metadata stress in the mount until @stop exists: make a directory,
 * create a file in it exclusively, write, rename, check, remove both.
 * Any error ends it with a message and status 1.
 */
static int metadata_stress(const char *dir, const char *stop)
{
	char d[PATH_MAX], f[PATH_MAX + 8], g[PATH_MAX + 8], buf[100];
	unsigned int i;
	struct stat st;
	int fd;

	memset(buf, 'm', sizeof(buf));
	for (i = 0; access(stop, F_OK); i++) {
		if (snprintf(d, sizeof(d), "%.*s/d%u", PATH_MAX - 16, dir,
			     i) >= (int)sizeof(d))
			return 1;
		snprintf(f, sizeof(f), "%s/f", d);
		snprintf(g, sizeof(g), "%s/g", d);
		if (mkdir(d, 0755))
			goto fail;
		fd = open(f, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0)
			goto fail;
		if (write(fd, buf, sizeof(buf)) != sizeof(buf) || close(fd))
			goto fail;
		if (rename(f, g) || stat(g, &st))
			goto fail;
		if (st.st_size != sizeof(buf)) {
			errno = EIO;
			goto fail;
		}
		if (unlink(g) || rmdir(d))
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "# metadata stress, round %u: %s\n", i,
		strerror(errno));
	return 1;
}

/*
 * The soak: fio writing and verifying (crc32c) and the metadata stress
 * run while the server is killed SOAK_KILLS times at random points.  No
 * corruption and no application-visible error; then the kernel log and
 * rmmod are checked by the runner as always.
 *
 * With handles only: a resent MKDIR or UNLINK the dead server had done
 * gives EEXIST or ENOENT unless the server tells (fusex-passthrough does,
 * through fusex_request_resent()); passthrough_ll cannot.
 */
TEST_F_TIMEOUT(survive, soak, 1200)
{
	char stop[128], dir[128], fiodir[128], cmd[1024];
	struct fusex_status s0, s1;
	int status, k;
	pid_t fio, meta;

	FX_RETURN_IF_SKIPPED();
	if (!variant->handles)
		SKIP(return, "passthrough_ll cannot tell a resent request");
	if (access("/usr/bin/fio", X_OK))
		SKIP(return, "fio is not installed");
	snprintf(stop, sizeof(stop), "%s.stop", self->log);
	snprintf(dir, sizeof(dir), "%s/meta", self->mnt);
	snprintf(fiodir, sizeof(fiodir), "%s/fio", self->mnt);
	ASSERT_EQ(0, mkdir(dir, 0755));
	ASSERT_EQ(0, mkdir(fiodir, 0755));
	ASSERT_EQ(0, get_status(self, &s0));
	srandom(getpid());

	fflush(stdout);
	fflush(stderr);
	fio = fork();
	ASSERT_LE(0, fio);
	if (fio == 0) {
		snprintf(cmd, sizeof(cmd),
			 "cd /tmp && while [ ! -e %s ]; do "
			 "/usr/bin/fio --name=soak --directory=%s --numjobs=2 "
			 "--size=2m --bs=4k --rw=randwrite --ioengine=psync "
			 "--verify=crc32c --verify_fatal=1 --verify_state_save=0 "
			 "--fallocate=none --eta=never --output=/dev/null || exit 1; done",
			 stop, fiodir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	meta = fork();
	ASSERT_LE(0, meta);
	if (meta == 0)
		_exit(metadata_stress(dir, stop));

	for (k = 0; k < SOAK_KILLS; k++) {
		fx_msleep(random() % SOAK_PAUSE_MS);
		restart_server(_metadata, self);
		/* Both must still be running. */
		ASSERT_EQ(-ETIMEDOUT, fx_wait_exit(fio, 0))
			TH_LOG("fio failed after %d kills", k + 1);
		ASSERT_EQ(-ETIMEDOUT, fx_wait_exit(meta, 0))
			TH_LOG("the metadata stress failed after %d kills",
			       k + 1);
	}
	close(open(stop, O_CREAT | O_WRONLY, 0644));
	status = fx_wait_exit(fio, 300000);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0) TH_LOG("fio status %d", status);
	status = fx_wait_exit(meta, 60000);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
		TH_LOG("metadata stress status %d", status);
	unlink(stop);
	ASSERT_EQ(0, get_status(self, &s1));
	EXPECT_EQ(SOAK_KILLS, s1.attaches - s0.attaches);
	EXPECT_EQ(0, s1.stale - s0.stale);
	TH_LOG("%d kills: %llu requests resent, %llu inodes revalidated by handle, %llu by name, %llu files reopened",
	       SOAK_KILLS, (unsigned long long)(s1.resent - s0.resent),
	       (unsigned long long)(s1.reval_handle - s0.reval_handle),
	       (unsigned long long)(s1.reval_name - s0.reval_name),
	       (unsigned long long)(s1.reopens - s0.reopens));
}

TEST_HARNESS_MAIN
