// SPDX-License-Identifier: GPL-2.0
/*
 * Data integrity under concurrency, through fuse and through fusex: libfuse's
 * passthrough_ll example, unmodified, serving a fresh directory of the
 * guest's tmpfs, write-through and with the writeback cache (passthrough_ll
 * -o writeback).
 *
 * fio writes with verify=crc32c and reads it back: buffered, O_DIRECT and
 * through mmap, and once more with the verify pass run separately after the
 * caches are dropped, so that the data comes back from the server.  Then
 * several processes race each other over a small shared set of names with
 * creates, writes, renames, links, unlinks, truncates and the rest; when
 * they are done, the tree seen through the mount must be the backing tree:
 * the same names, types, modes, sizes, link counts, inode numbers, symlink
 * targets and contents, before and after the caches are dropped.  And
 * open(O_TRUNC) races a close() that writes dirty pages back, round after
 * round: the kernel and the server must agree on the size each time.
 *
 * Every change goes through the mount: the backing directory is only read,
 * to compare with.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusex_util.h"

#define FIO "/usr/bin/fio"

FIXTURE(integrity) {
	struct fx_server srv;
	char src[64];		/* the backing directory */
	char server[PATH_MAX];
};

FX_PTLL_VARIANTS(integrity);

FIXTURE_SETUP(integrity)
{
	const struct rlimit nofile = { 65536, 65536 };
	char why[256];

	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	if (fx_build_path(self->server, sizeof(self->server),
			  "passthrough_ll"))
		SKIP(return, "passthrough_ll not built (set FUSEX_BUILD)");
	umask(0);
	/* passthrough_ll keeps an fd per inode it knows */
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &nofile));
	strcpy(self->src, "/tmp/fusex-integ-src.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	strcpy(self->srv.mnt, "/tmp/fusex-integ.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	ASSERT_EQ(0, fx_ptll_start(&self->srv, self->server, variant->type,
				   variant->writeback, NULL, self->src, NULL,
				   why, sizeof(why))) TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(integrity)
{
	if (self->srv.mnt[0]) {
		fx_server_stop(&self->srv);
		rmdir(self->srv.mnt);
	}
	fx_rmtree(self->src);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Write back what is dirty, then drop the page cache, dentries, inodes. */
static int drop_caches(void)
{
	int fd, err = 0;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, "3", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

/* FNV-1a, 64 bits */
#define FNV_INIT 0xcbf29ce484222325ULL

static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * The trees: everything under a root, as lstat(2), readlink(2) and read(2)
 * see it, sorted by path.
 */
struct ent {
	char path[256];		/* relative to the root */
	mode_t mode;
	nlink_t nlink;
	ino_t ino;
	uid_t uid;
	gid_t gid;
	off_t size;
	uint64_t sum;		/* of the contents of a regular file */
	char target[256];	/* of a symlink */
};

struct tree {
	struct ent *e;
	size_t n, cap;
	char err[512];		/* the first thing that went wrong, or "" */
};

static void tree_err(struct tree *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void tree_err(struct tree *t, const char *fmt, ...)
{
	va_list ap;

	if (t->err[0])
		return;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

/* Checksum @path, which must be @size bytes long. */
static void file_sum(const char *path, off_t size, uint64_t *sum,
		     struct tree *t)
{
	static char buf[1 << 16];
	uint64_t h = FNV_INIT;
	off_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0) {
		tree_err(t, "open %s: %s", path, strerror(errno));
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		h = fnv1a(h, buf, n);
		got += n;
	}
	if (n < 0)
		tree_err(t, "read %s at %lld: %s", path, (long long)got,
			 strerror(errno));
	else if (got != size)
		tree_err(t, "%s: read %lld bytes, stat says %lld", path,
			 (long long)got, (long long)size);
	close(fd);
	*sum = h;
}

static void walk(const char *root, const char *rel, struct tree *t)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	struct ent *e;
	struct stat st;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(dir);
	if (!d) {
		tree_err(t, "opendir %s: %s", dir, strerror(errno));
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				tree_err(t, "readdir %s: %s", dir,
					 strerror(errno));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 256;
			t->e = realloc(t->e, t->cap * sizeof(*t->e));
			if (!t->e)
				abort();
		}
		e = &t->e[t->n];
		memset(e, 0, sizeof(*e));
		if (snprintf(e->path, sizeof(e->path), "%s%s%s", rel,
			     *rel ? "/" : "", de->d_name) >=
		    (int)sizeof(e->path)) {
			tree_err(t, "%s/%s: path too long", rel, de->d_name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", root, e->path);
		if (lstat(path, &st)) {
			tree_err(t, "lstat %s: %s", path, strerror(errno));
			continue;
		}
		t->n++;
		if (de->d_type != DT_UNKNOWN && de->d_type != IFTODT(st.st_mode))
			tree_err(t, "%s: readdir says type %d, lstat mode %o",
				 path, de->d_type, st.st_mode);
		e->mode = st.st_mode;
		e->nlink = st.st_nlink;
		e->ino = st.st_ino;
		e->uid = st.st_uid;
		e->gid = st.st_gid;
		e->size = st.st_size;
		if (S_ISREG(st.st_mode)) {
			file_sum(path, st.st_size, &e->sum, t);
		} else if (S_ISLNK(st.st_mode)) {
			n = readlink(path, e->target, sizeof(e->target) - 1);
			if (n < 0)
				tree_err(t, "readlink %s: %s", path,
					 strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			walk(root, e->path, t);
		}
	}
	closedir(d);
}

static int ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->path,
		      ((const struct ent *)b)->path);
}

static void tree_read(const char *root, struct tree *t)
{
	memset(t, 0, sizeof(*t));
	walk(root, "", t);
	qsort(t->e, t->n, sizeof(*t->e), ent_cmp);
}

#define MAX_DIFFS 20

/* What the trees had that matched. */
struct tree_stats {
	size_t files, dirs, symlinks, linked;	/* linked: nlink > 1 */
};

/*
 * The tree through the mount is the backing tree, entry by entry; @when
 * says which comparison this is, in the messages.  Returns the number of
 * regular files compared; @ts, if not NULL, gets the counts.
 */
static size_t compare_trees_stats(struct __test_metadata *_metadata,
				  FIXTURE_DATA(integrity) *self,
				  const char *when, struct tree_stats *ts)
{
	struct tree_stats st = { 0 };
	struct tree m, b;
	size_t i = 0, j = 0;
	int diffs = 0, c;

	tree_read(self->srv.mnt, &m);
	tree_read(self->src, &b);
	EXPECT_EQ(0, m.err[0]) TH_LOG("%s, through the mount: %s", when,
				      m.err);
	EXPECT_EQ(0, b.err[0]) TH_LOG("%s, backing: %s", when, b.err);
	while (i < m.n || j < b.n) {
		const struct ent *x = i < m.n ? &m.e[i] : NULL;
		const struct ent *y = j < b.n ? &b.e[j] : NULL;

		c = !x ? 1 : !y ? -1 : strcmp(x->path, y->path);
		if (c) {
			if (diffs++ < MAX_DIFFS)
				TH_LOG("%s: %s only %s", when,
				       c < 0 ? x->path : y->path,
				       c < 0 ? "through the mount" :
				       "in the backing directory");
			if (c < 0)
				i++;
			else
				j++;
			continue;
		}
		i++;
		j++;
		if (x->mode != y->mode || x->nlink != y->nlink ||
		    x->ino != y->ino || x->uid != y->uid ||
		    x->gid != y->gid || x->size != y->size ||
		    x->sum != y->sum || strcmp(x->target, y->target)) {
			if (diffs++ < MAX_DIFFS)
				TH_LOG("%s: %s: mount mode %o nlink %lu ino %lu size %lld sum %016llx '%s'; backing mode %o nlink %lu ino %lu size %lld sum %016llx '%s'",
				       when, x->path, x->mode,
				       (unsigned long)x->nlink,
				       (unsigned long)x->ino,
				       (long long)x->size,
				       (unsigned long long)x->sum, x->target,
				       y->mode, (unsigned long)y->nlink,
				       (unsigned long)y->ino,
				       (long long)y->size,
				       (unsigned long long)y->sum, y->target);
		}
		if (S_ISREG(x->mode)) {
			st.files++;
			st.linked += x->nlink > 1;
		}
		st.dirs += !!S_ISDIR(x->mode);
		st.symlinks += !!S_ISLNK(x->mode);
	}
	EXPECT_EQ(0, diffs) TH_LOG("%s: %d differences", when, diffs);
	free(m.e);
	free(b.e);
	if (ts)
		*ts = st;
	return st.files;
}

static size_t compare_trees(struct __test_metadata *_metadata,
			    FIXTURE_DATA(integrity) *self, const char *when)
{
	return compare_trees_stats(_metadata, self, when, NULL);
}

/*
 * fio
 */

/*
 * Run @argv in @cwd, its stdout and stderr into @out (NUL-terminated, cut
 * at @cap - 1): its wait status, or -errno.
 */
static int run_capture(const char *const argv[], const char *cwd,
		       char *out, size_t cap)
{
	char scratch[4096];
	size_t len = 0;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		if (chdir(cwd))
			_exit(126);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		if (len < cap - 1)
			n = read(pfd[0], out + len, cap - 1 - len);
		else
			n = read(pfd[0], scratch, sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < cap - 1)
			len += n;
	}
	out[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return status;
}

#define FIO_OUT (64 << 10)

/*
 * fio with @args on its own in @self->srv.mnt, @jobs jobs of @size_kb each,
 * output in terse format version 3, one line a job.  Returns its wait
 * status; @out has what it printed.
 */
static int fio(FIXTURE_DATA(integrity) *self, const char *name,
	       const char *const args[], int jobs, int size_kb, char *out)
{
	char a_name[64], a_dir[128], a_jobs[32], a_size[32];
	const char *argv[32];
	int argc = 0, i;

	snprintf(a_name, sizeof(a_name), "--name=%s", name);
	snprintf(a_dir, sizeof(a_dir), "--directory=%s", self->srv.mnt);
	snprintf(a_jobs, sizeof(a_jobs), "--numjobs=%d", jobs);
	snprintf(a_size, sizeof(a_size), "--size=%dk", size_kb);
	argv[argc++] = FIO;
	argv[argc++] = a_name;
	argv[argc++] = a_dir;
	argv[argc++] = a_jobs;
	argv[argc++] = a_size;
	argv[argc++] = "--verify=crc32c";
	argv[argc++] = "--output-format=terse";
	argv[argc++] = "--terse-version=3";
	/* No state files in the working directory, no fallocate (EOPNOTSUPP) */
	argv[argc++] = "--verify_state_save=0";
	argv[argc++] = "--fallocate=none";
	for (i = 0; args[i] && argc < 31; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	return run_capture(argv, "/tmp", out, FIO_OUT);
}

/* Terse format version 3, fields counted from 1 */
#define T_ERROR 5
#define T_READ_KB 6
#define T_WRITE_KB 47

/* Field @field (from 1) of the ';'-separated @line, as a number. */
static long long terse_field(const char *line, int field)
{
	int i;

	for (i = 1; i < field; i++) {
		line = strchr(line, ';');
		if (!line)
			return -1;
		line++;
	}
	return strtoll(line, NULL, 10);
}

/*
 * fio exited 0, said nothing about verify, and has a line for each of its
 * @jobs jobs with no error, @read_kb read back (the verify pass) and
 * @write_kb written.
 */
static void fio_check(struct __test_metadata *_metadata, const char *what,
		      int status, const char *out, int jobs, long long read_kb,
		      long long write_kb)
{
	const char *line;
	int lines = 0;

	EXPECT_EQ(0, status) TH_LOG("%s: fio exited with status %#x:\n%.4000s",
				    what, status, out);
	EXPECT_EQ(NULL, strcasestr(out, "verify"))
		TH_LOG("%s: fio reports verify errors:\n%.4000s", what, out);
	for (line = out; line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, "3;fio-", 6))
			continue;
		lines++;
		EXPECT_EQ(0, terse_field(line, T_ERROR))
			TH_LOG("%s: %.200s", what, line);
		EXPECT_EQ(read_kb, terse_field(line, T_READ_KB))
			TH_LOG("%s: read back: %.200s", what, line);
		EXPECT_EQ(write_kb, terse_field(line, T_WRITE_KB))
			TH_LOG("%s: written: %.200s", what, line);
	}
	EXPECT_EQ(jobs, lines) TH_LOG("%s: fio printed:\n%.4000s", what, out);
}

static bool have_fio(void)
{
	return access(FIO, X_OK) == 0;
}

/*
 * Buffered random writes of 4k to 64k, three jobs each on its own file, each
 * block read back and checked (from the page cache: the drop_caches test is
 * the one that reads from the server), then the files compared with the
 * backing ones.
 */
TEST_F_TIMEOUT(integrity, fio_buffered, FX_TIMEOUT)
{
	static const char *const args[] = {
		"--rw=randwrite", "--bsrange=4k-64k", "--ioengine=psync",
		"--end_fsync=1", NULL
	};
	int status;
	char *out;

	FX_RETURN_IF_SKIPPED();
	if (!have_fio())
		SKIP(return, FIO " is not installed");
	out = malloc(FIO_OUT);
	ASSERT_NE(NULL, out);
	status = fio(self, "buffered", args, 3, 16 << 10, out);
	fio_check(_metadata, "randwrite", status, out, 3, 16 << 10, 16 << 10);
	EXPECT_EQ(3, compare_trees(_metadata, self, "after fio"));
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(3, compare_trees(_metadata, self, "after drop_caches"));
	free(out);
}

/*
 * The same with O_DIRECT.  passthrough_ll opens the backing file with the
 * flags it is given, O_DIRECT included: where the backing filesystem has no
 * O_DIRECT (tmpfs before 6.6) the open fails with EINVAL, on fuse and on
 * fusex alike, and there is nothing more to check.
 */
TEST_F_TIMEOUT(integrity, fio_direct, FX_TIMEOUT)
{
	static const char *const args[] = {
		"--rw=randwrite", "--bsrange=4k-64k", "--ioengine=psync",
		"--direct=1", NULL
	};
	char path[PATH_MAX], buf[4096], *out;
	bool backing_direct;
	int fd, status;

	FX_RETURN_IF_SKIPPED();
	if (!have_fio())
		SKIP(return, FIO " is not installed");
	memset(buf, 'd', sizeof(buf));
	snprintf(path, sizeof(path), "%s/probe", self->srv.mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, close(fd));
	snprintf(path, sizeof(path), "%s/probe", self->src);
	fd = open(path, O_RDONLY | O_DIRECT);
	backing_direct = fd >= 0;
	if (fd >= 0)
		close(fd);
	else
		ASSERT_EQ(EINVAL, errno);

	snprintf(path, sizeof(path), "%s/probe", self->srv.mnt);
	fd = open(path, O_RDWR | O_DIRECT);
	if (backing_direct) {
		ASSERT_LE(0, fd) TH_LOG("open O_DIRECT: %s", strerror(errno));
		ASSERT_EQ(sizeof(buf), pread(fd, buf, sizeof(buf), 0));
		close(fd);
	} else {
		ASSERT_EQ(-1, fd);
		ASSERT_EQ(EINVAL, errno);
	}

	out = malloc(FIO_OUT);
	ASSERT_NE(NULL, out);
	/* When it is to fail, fio need not lay out much first. */
	status = fio(self, "direct", args, 3, backing_direct ? 4 << 10 : 64,
		     out);
	if (!backing_direct) {
		/* fio says "destination does not support O_DIRECT" */
		EXPECT_NE(0, status);
		EXPECT_NE(NULL, strstr(out, "O_DIRECT"))
			TH_LOG("fio printed:\n%.4000s", out);
		EXPECT_EQ(NULL, strcasestr(out, "verify"))
			TH_LOG("fio printed:\n%.4000s", out);
		free(out);
		if (!_metadata->passed)
			return;
		SKIP(return, "the backing tmpfs has no O_DIRECT: EINVAL through the mount, as it should");
	}
	fio_check(_metadata, "direct randwrite", status, out, 3, 4 << 10,
		  4 << 10);
	EXPECT_EQ(4, compare_trees(_metadata, self, "after fio"));
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(4, compare_trees(_metadata, self, "after drop_caches"));
	free(out);
}

/* The same through shared mappings (fio's mmap engine memcpy()s). */
TEST_F_TIMEOUT(integrity, fio_mmap, FX_TIMEOUT)
{
	static const char *const args[] = {
		"--rw=randwrite", "--bsrange=4k-64k", "--ioengine=mmap", NULL
	};
	int status;
	char *out;

	FX_RETURN_IF_SKIPPED();
	if (!have_fio())
		SKIP(return, FIO " is not installed");
	out = malloc(FIO_OUT);
	ASSERT_NE(NULL, out);
	status = fio(self, "mmap", args, 3, 1 << 10, out);
	fio_check(_metadata, "mmap randwrite", status, out, 3, 1 << 10,
		  1 << 10);
	EXPECT_EQ(3, compare_trees(_metadata, self, "after fio"));
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(3, compare_trees(_metadata, self, "after drop_caches"));
	free(out);
}

/*
 * Write with checksums and without reading back, drop the caches, and only
 * then have a second fio check every block: what it reads comes from the
 * server.
 */
TEST_F_TIMEOUT(integrity, fio_verify_after_drop, FX_TIMEOUT)
{
	static const char *const wargs[] = {
		"--rw=write", "--bsrange=4k-64k", "--ioengine=psync",
		"--do_verify=0", NULL
	};
	static const char *const vargs[] = {
		"--rw=write", "--bsrange=4k-64k", "--ioengine=psync",
		"--verify_only", NULL
	};
	int status;
	char *out;

	FX_RETURN_IF_SKIPPED();
	if (!have_fio())
		SKIP(return, FIO " is not installed");
	out = malloc(FIO_OUT);
	ASSERT_NE(NULL, out);
	status = fio(self, "seq", wargs, 3, 4 << 10, out);
	fio_check(_metadata, "write", status, out, 3, 0, 4 << 10);
	ASSERT_EQ(0, drop_caches());
	/* verify_only counts what it pretends to write as written */
	status = fio(self, "seq", vargs, 3, 4 << 10, out);
	fio_check(_metadata, "verify_only", status, out, 3, 4 << 10, 4 << 10);
	EXPECT_EQ(3, compare_trees(_metadata, self, "after verify"));
	free(out);
}

/*
 * The stress: NR_WORKERS processes, each NR_OPS seeded pseudo-random
 * operations on paths "dK/nJ" and "dK/nJ/nM" of the mount (from its root),
 * with NR_DIRS directories dK that stay and NR_NAMES names nJ, nM.  Races
 * make some errors legitimate, and each operation has the list of those;
 * anything else (EIO above all) fails the test.
 */
#define NR_WORKERS 4
#define NR_OPS 2000
#define NR_DIRS 4
#define NR_NAMES 6
#define MAX_CHUNK (12 << 10)
#define MAX_OFF (48 << 10)
#define MAX_APPEND_SIZE (256 << 10)

enum op {
	OP_CREATE, OP_WRITE, OP_APPEND, OP_READ, OP_TRUNCATE, OP_RENAME,
	OP_UNLINK, OP_MKDIR, OP_RMDIR, OP_LINK, OP_SYMLINK, OP_CHMOD,
	OP_STAT, OP_READDIR, OP_FSYNC, NR_OPKINDS
};

static const struct {
	const char *name;
	int weight;
	uint64_t ok;		/* the errnos races make legitimate */
} ops[NR_OPKINDS] = {
#define E(e) (1ULL << (e))
#define PATHERR (E(ENOENT) | E(ENOTDIR) | E(ELOOP))
	[OP_CREATE] = { "create", 14, PATHERR | E(EEXIST) | E(EISDIR) },
	[OP_WRITE] = { "write", 14, PATHERR | E(EISDIR) },
	[OP_APPEND] = { "append", 8, PATHERR | E(EISDIR) },
	[OP_READ] = { "read", 6, PATHERR | E(EISDIR) },
	[OP_TRUNCATE] = { "truncate", 6, PATHERR | E(EISDIR) },
	/* EINVAL: a directory into itself; ENOTEMPTY: over a non-empty one */
	[OP_RENAME] = { "rename", 14, PATHERR | E(EISDIR) | E(ENOTEMPTY) |
					   E(EINVAL) },
	[OP_UNLINK] = { "unlink", 8, PATHERR | E(EISDIR) },
	[OP_MKDIR] = { "mkdir", 3, PATHERR | E(EEXIST) },
	[OP_RMDIR] = { "rmdir", 5, PATHERR | E(ENOTEMPTY) },
	/* EPERM: a hard link to a directory */
	[OP_LINK] = { "link", 6, PATHERR | E(EEXIST) | E(EPERM) },
	[OP_SYMLINK] = { "symlink", 4, PATHERR | E(EEXIST) },
	[OP_CHMOD] = { "chmod", 3, PATHERR },
	[OP_STAT] = { "stat", 3, PATHERR },
	[OP_READDIR] = { "readdir", 2, PATHERR },
	[OP_FSYNC] = { "fsync", 3, PATHERR },
#undef PATHERR
#undef E
};

/* What the workers tell the test, in shared memory. */
struct stress_report {
	unsigned int done[NR_WORKERS][NR_OPKINDS];	/* succeeded */
	unsigned int raced[NR_WORKERS][NR_OPKINDS];	/* legitimate errno */
	char fail[NR_WORKERS][256];
};

/* splitmix64 */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(uint64_t *s, unsigned int n)
{
	return rnd(s) % n;
}

static void rnd_path(uint64_t *s, char *buf, size_t len)
{
	unsigned int d = rnd_below(s, NR_DIRS), j = rnd_below(s, NR_NAMES);

	if (rnd_below(s, 8))
		snprintf(buf, len, "d%u/n%u", d, j);
	else
		snprintf(buf, len, "d%u/n%u/n%u", d, j,
			 rnd_below(s, NR_NAMES));
}

/* Never zero, so that a hole where data belongs shows. */
static void rnd_fill(uint64_t *s, char *buf, size_t len)
{
	uint64_t v = rnd(s);
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i % 8))
			v = rnd(s);
		buf[i] = (v >> (8 * (i % 8))) | 1;
	}
}

/* Write all of @len at @off (-1: at the current offset): 0 or -errno. */
static int write_all(int fd, const char *buf, size_t len, off_t off)
{
	ssize_t n;

	while (len) {
		n = off < 0 ? write(fd, buf, len) : pwrite(fd, buf, len, off);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

static const mode_t file_modes[] = { 0600, 0644, 0640, 0755, 0444, 0700 };
static const mode_t dir_modes[] = { 0755, 0700, 0750, 0777 };

struct stress_cfg {
	bool writeback;		/* the mount has the writeback cache */
};

/*
 * One operation: 0 if it succeeded, else the errno.  *@what says what
 * failed, for the report.
 */
static int do_op(uint64_t *s, enum op op, const struct stress_cfg *cfg,
		 char *buf, const char **what)
{
	char a[64], b[64], sbuf[64];
	int fd, flags, err = 0;
	struct stat st;
	struct dirent *de;
	size_t len;
	ssize_t n;
	off_t off;
	DIR *d;

	rnd_path(s, a, sizeof(a));
	rnd_path(s, b, sizeof(b));
	*what = "";
	switch (op) {
	case OP_CREATE:
		/*
		 * passthrough_ll's lo_open turns O_WRONLY into O_RDWR under
		 * the writeback cache, for the READs that fill partial pages,
		 * but its lo_create does not: an O_CREAT open of a file that
		 * exists gets a write-only handle, and a write to part of a
		 * page fails with that READ's EBADF, on fuse as on fusex.
		 */
		flags = rnd_below(s, 2) && !cfg->writeback ? O_WRONLY : O_RDWR;
		flags |= O_CREAT;
		if (!rnd_below(s, 3))
			flags |= O_EXCL;
		/*
		 * Not with the writeback cache: an O_CREAT|O_TRUNC open that
		 * races the creation of its name is a CREATE that truncates
		 * a file another process has dirty pages of, and what either
		 * side keeps is then a matter of timing, on fuse.ko as on
		 * fusex (fuse_wb ends with the mount's size and the server's
		 * apart).  open_trunc_vs_flush tests the ordering that can
		 * be kept.
		 */
		if (!rnd_below(s, 2) && !cfg->writeback)
			flags |= O_TRUNC;
		*what = "open";
		fd = open(a, flags,
			  file_modes[rnd_below(s, ARRAY_SIZE(file_modes))]);
		if (fd < 0)
			return errno;
		len = 1 + rnd_below(s, MAX_CHUNK);
		rnd_fill(s, buf, len);
		*what = "write";
		err = -write_all(fd, buf, len, 0);
		break;
	case OP_WRITE:
	case OP_APPEND:
		flags = rnd_below(s, 2) ? O_WRONLY : O_RDWR;
		if (op == OP_APPEND)
			flags |= O_APPEND;
		if (!rnd_below(s, 4))
			flags |= O_NOFOLLOW;
		*what = "open";
		fd = open(a, flags);
		if (fd < 0)
			return errno;
		if (op == OP_APPEND && !fstat(fd, &st) &&
		    st.st_size > MAX_APPEND_SIZE) {
			*what = "ftruncate";
			if (ftruncate(fd, rnd_below(s, MAX_OFF)))
				err = errno;
			break;
		}
		len = 1 + rnd_below(s, MAX_CHUNK);
		off = op == OP_APPEND ? -1 : (off_t)rnd_below(s, MAX_OFF);
		rnd_fill(s, buf, len);
		*what = "write";
		err = -write_all(fd, buf, len, off);
		if (!err && !rnd_below(s, 8)) {
			*what = "fdatasync";
			if (fdatasync(fd))
				err = errno;
		}
		break;
	case OP_READ:
		*what = "open";
		fd = open(a, O_RDONLY);
		if (fd < 0)
			return errno;
		*what = "read";
		while ((n = read(fd, buf, MAX_CHUNK)) > 0)
			;
		if (n < 0)
			err = errno;
		break;
	case OP_TRUNCATE:
		off = rnd_below(s, MAX_OFF);
		if (rnd_below(s, 2)) {
			*what = "truncate";
			return truncate(a, off) ? errno : 0;
		}
		*what = "open";
		fd = open(a, O_WRONLY);
		if (fd < 0)
			return errno;
		*what = "ftruncate";
		if (ftruncate(fd, off))
			err = errno;
		break;
	case OP_RENAME:
		/* half of them within one directory */
		if (rnd_below(s, 2)) {
			snprintf(sbuf, sizeof(sbuf), "%s", a);
			*strrchr(sbuf, '/') = '\0';
			if (snprintf(b, sizeof(b), "%s/n%u", sbuf,
				     rnd_below(s, NR_NAMES)) >= (int)sizeof(b))
				return ENAMETOOLONG;
		}
		*what = "rename";
		return rename(a, b) ? errno : 0;
	case OP_UNLINK:
		*what = "unlink";
		return unlink(a) ? errno : 0;
	case OP_MKDIR:
		*what = "mkdir";
		return mkdir(a, dir_modes[rnd_below(s, ARRAY_SIZE(dir_modes))]) ?
		       errno : 0;
	case OP_RMDIR:
		*what = "rmdir";
		return rmdir(a) ? errno : 0;
	case OP_LINK:
		*what = "link";
		return link(a, b) ? errno : 0;
	case OP_SYMLINK:
		/* relative, so always inside the mount */
		if (rnd_below(s, 2))
			snprintf(sbuf, sizeof(sbuf), "n%u",
				 rnd_below(s, NR_NAMES));
		else
			snprintf(sbuf, sizeof(sbuf), "../d%u/n%u",
				 rnd_below(s, NR_DIRS),
				 rnd_below(s, NR_NAMES));
		*what = "symlink";
		return symlink(sbuf, a) ? errno : 0;
	case OP_CHMOD:
		*what = "chmod";
		if (rnd_below(s, 2))
			return chmod(a, dir_modes[rnd_below(s,
					ARRAY_SIZE(dir_modes))]) ? errno : 0;
		return chmod(a, file_modes[rnd_below(s,
					ARRAY_SIZE(file_modes))]) ? errno : 0;
	case OP_STAT:
		*what = "lstat";
		return lstat(a, &st) ? errno : 0;
	case OP_READDIR:
		*what = "opendir";
		d = opendir(a);
		if (!d)
			return errno;
		*what = "readdir";
		for (;;) {
			errno = 0;
			de = readdir(d);
			if (!de) {
				err = errno;
				break;
			}
		}
		closedir(d);
		return err;
	case OP_FSYNC:
		*what = "open";
		fd = open(a, O_RDONLY);
		if (fd < 0)
			return errno;
		*what = "fsync";
		if (fsync(fd))
			err = errno;
		break;
	default:
		return EINVAL;
	}
	if (close(fd) && !err) {
		*what = "close";
		err = errno;
	}
	return err;
}

static __attribute__((noreturn)) void worker(const char *mnt, int id,
					       const struct stress_cfg *cfg,
					       struct stress_report *r)
{
	uint64_t seed = 0x5eed0000ULL + id;
	const char *what;
	int total = 0, i, err;
	unsigned int k, w;
	char *buf;

	for (k = 0; k < NR_OPKINDS; k++)
		total += ops[k].weight;
	buf = malloc(MAX_CHUNK);
	if (!buf || chdir(mnt)) {
		snprintf(r->fail[id], sizeof(r->fail[id]), "setup: %s",
			 strerror(errno));
		_exit(1);
	}
	for (i = 0; i < NR_OPS; i++) {
		w = rnd_below(&seed, total);
		for (k = 0; w >= (unsigned int)ops[k].weight; k++)
			w -= ops[k].weight;
		err = do_op(&seed, k, cfg, buf, &what);
		if (!err) {
			r->done[id][k]++;
		} else if (err < 64 && (ops[k].ok & (1ULL << err))) {
			r->raced[id][k]++;
		} else {
			snprintf(r->fail[id], sizeof(r->fail[id]),
				 "worker %d, operation %d (%s): %s: %s",
				 id, i, ops[k].name, what, strerror(err));
			_exit(1);
		}
	}
	_exit(0);
}

TEST_F_TIMEOUT(integrity, stress_tree, FX_TIMEOUT)
{
	unsigned int done[NR_OPKINDS] = { 0 }, raced[NR_OPKINDS] = { 0 };
	unsigned int all_done = 0, all_raced = 0;
	struct stress_cfg cfg = {
		.writeback = variant->writeback,
	};
	struct stress_report *r;
	struct tree_stats ts;
	pid_t pid[NR_WORKERS];
	char path[PATH_MAX];
	int i, k, status;
	size_t files;

	FX_RETURN_IF_SKIPPED();
	for (i = 0; i < NR_DIRS; i++) {
		snprintf(path, sizeof(path), "%s/d%d", self->srv.mnt, i);
		ASSERT_EQ(0, mkdir(path, 0755));
	}
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r);

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < NR_WORKERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0)
			worker(self->srv.mnt, i, &cfg, r);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("worker %d: status %#x: %s", i, status,
			       r->fail[i]);
	}
	for (i = 0; i < NR_WORKERS; i++) {
		for (k = 0; k < NR_OPKINDS; k++) {
			done[k] += r->done[i][k];
			raced[k] += r->raced[i][k];
		}
	}
	/* Not a test that passes by doing nothing: each kind succeeded. */
	for (k = 0; k < NR_OPKINDS; k++) {
		EXPECT_LT(0, done[k]) TH_LOG("no %s succeeded (%u raced)",
					     ops[k].name, raced[k]);
		all_done += done[k];
		all_raced += raced[k];
	}
	munmap(r, sizeof(*r));

	files = compare_trees_stats(_metadata, self, "after the stress", &ts);
	EXPECT_LT(0, files);
	ksft_print_msg("%u operations succeeded, %u failed as races may; %zu files (%zu with links), %zu directories, %zu symlinks\n",
		       all_done, all_raced, ts.files, ts.linked, ts.dirs,
		       ts.symlinks);
	/* The harness's test process ends with _exit(): no stdio flush. */
	fflush(stdout);
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(files, compare_trees(_metadata, self,
				       "after drop_caches"));
}

/*
 * stress-ng's filesystem stressors, all at once, one instance each, each
 * for 50 operations or 20 seconds, whichever ends first, with its own
 * verification where it has one: every stressor must finish without a
 * failure, on fuse and on fusex alike.  The list is the filesystem class minus what needs more
 * than a FUSE mount gives (bind mounts, fanotify, chattr, verity, leases,
 * inode flags, FIEMAP, dnotify) and "access" (as root it expects
 * access(X_OK) to fail on a file without x bits; FUSE without
 * default_permissions lets a server without ACCESS allow it, fuse.ko as
 * fusex), and the mount must be as the backing directory afterwards.
 */
#define STRESS_NG "/usr/bin/stress-ng"

TEST_F_TIMEOUT(integrity, stress_ng, FX_TIMEOUT)
{
	static const char *const stressors[] = {
		"chdir", "chmod", "chown", "copy-file", "dentry",
		"dir", "dirdeep", "dirmany", "dup", "fallocate", "fcntl",
		"filename", "flock", "fpunch", "fsize", "fstat", "getdent",
		"hdd", "io", "link", "lockf", "lockofd", "mknod", "open",
		"rename", "symlink", "sync-file", "touch", "utime",
	};
	enum { NR = sizeof(stressors) / sizeof(stressors[0]) };
	char dir[PATH_MAX], opt[NR][32], ops[NR][40], *out, *line;
	const char *argv[12 + 4 * NR];
	int argc = 0, status;
	size_t i;

	FX_RETURN_IF_SKIPPED();
	if (access(STRESS_NG, X_OK))
		SKIP(return, STRESS_NG " is not installed");
	snprintf(dir, sizeof(dir), "%s/stress-ng", self->srv.mnt);
	ASSERT_EQ(0, mkdir(dir, 0777));
	argv[argc++] = STRESS_NG;
	argv[argc++] = "--temp-path";
	argv[argc++] = dir;
	argv[argc++] = "--verify";
	/* Each stops at its ops or at this, whichever comes first */
	argv[argc++] = "--timeout";
	argv[argc++] = "20";
	/* Sizes for a VM: hdd would write 1 GiB */
	argv[argc++] = "--hdd-bytes";
	argv[argc++] = "8M";
	argv[argc++] = "--fallocate-bytes";
	argv[argc++] = "4M";
	/* --NAME 1 --NAME-ops 50, for each */
	for (i = 0; i < NR; i++) {
		snprintf(opt[i], sizeof(opt[i]), "--%s", stressors[i]);
		snprintf(ops[i], sizeof(ops[i]), "--%s-ops", stressors[i]);
		argv[argc++] = opt[i];
		argv[argc++] = "1";
		argv[argc++] = ops[i];
		argv[argc++] = "50";
	}
	argv[argc] = NULL;
	out = malloc(FIO_OUT);
	ASSERT_NE(NULL, out);
	status = run_capture(argv, self->srv.mnt, out, FIO_OUT);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("stress-ng: wait status %#x", status);
	for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "fail:") || strstr(line, "error:"))
			TH_LOG("%s", line);
	free(out);
	/* stress-ng removed what it made: both sides must agree on that */
	compare_trees(_metadata, self, "after stress-ng");
}

/*
 * open(O_TRUNC) while another file of the inode is closed, which writes
 * its dirty pages back: whichever comes last, the kernel and the server
 * must agree on what the file holds.  One process dirties a page and
 * closes, another opens with O_TRUNC a moment later (the moment varies
 * from round to round), and the sizes are compared after each round.
 * (fusex once lost this race with the writeback cache: the close()'s
 * WRITE reached the server after the OPEN had truncated the file.)
 */
#define OTRUNC_ROUNDS 2000
#define OTRUNC_LEN 2147

TEST_F_TIMEOUT(integrity, open_trunc_vs_flush, FX_TIMEOUT)
{
	char path[PATH_MAX], back[PATH_MAX], buf[OTRUNC_LEN], c;
	int round, fd, go[2], status, bad = 0;
	struct stat ms, bs;
	pid_t pid;

	FX_RETURN_IF_SKIPPED();
	memset(buf, 'w', sizeof(buf));
	snprintf(path, sizeof(path), "%s/f", self->srv.mnt);
	snprintf(back, sizeof(back), "%s/f", self->src);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	for (round = 0; round < OTRUNC_ROUNDS; round++) {
		ASSERT_EQ(0, pipe(go));
		fd = open(path, O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(sizeof(buf), pwrite(fd, buf, sizeof(buf), 0));
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(2);
			sleep_us((round * 37) % 3000);
			fd = open(path, O_WRONLY | O_TRUNC);
			_exit(fd < 0 || close(fd) ? 1 : 0);
		}
		close(go[0]);
		ASSERT_EQ(1, write(go[1], "g", 1));
		/* FLUSH, after the WRITE of the dirty page */
		EXPECT_EQ(0, close(fd));
		close(go[1]);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_EQ(0, status);
		ASSERT_EQ(0, stat(path, &ms));
		ASSERT_EQ(0, stat(back, &bs));
		if (ms.st_size != bs.st_size && bad++ < 5)
			TH_LOG("round %d: %lld bytes through the mount, %lld in the backing file",
			       round, (long long)ms.st_size,
			       (long long)bs.st_size);
	}
	EXPECT_EQ(0, bad) TH_LOG("%d of %d rounds", bad, OTRUNC_ROUNDS);
	EXPECT_EQ(1, compare_trees(_metadata, self, "at the end"));
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(1, compare_trees(_metadata, self, "after drop_caches"));
}

TEST_HARNESS_MAIN
