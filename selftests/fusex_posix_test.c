// SPDX-License-Identifier: GPL-2.0
/*
 * POSIX behaviour through fuse and through fusex, with libfuse's
 * passthrough_ll example, unmodified, serving a fresh directory of the
 * guest's tmpfs: each test does the same operations on fuse.ko and on
 * fusex, write-through and with the writeback cache (passthrough_ll
 * -o writeback), and checks exact results: return values, errno, the
 * attributes stat(2) shows on the mount and in the backing directory, and
 * file contents, read back through the mount and from the backing file.
 *
 * fuse.ko is the reference: where the expected result is not the one a
 * local filesystem would give, the comment says why fuse gives it (mostly
 * what passthrough_ll and libfuse 3.14 do or do not implement).  fusex
 * gives the same results as fuse in every check here, both cache modes.
 *
 * The server runs with -o source=DIR,xattr,flock and the mount with
 * allow_other (for the tests that run as uid 1000); default_permissions
 * has a test, and a second mount, of its own.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "fusex_util.h"

#define PG 4096
#define USER_ID 1000	/* the unprivileged user of the tests */

FIXTURE(posix) {
	struct fx_server srv;	/* the mount the tests use */
	struct fx_server dp;	/* default_permissions only */
	char src[64];		/* the backing directory */
	char server[PATH_MAX];
	bool writeback;
};

FX_PTLL_VARIANTS(posix);

/* Mount passthrough_ll serving self->src on @s->mnt with @mntopts. */
static int start_server(FIXTURE_DATA(posix) *self,
			const FIXTURE_VARIANT(posix) *variant,
			struct fx_server *s, const char *mntopts,
			char *why, size_t whylen)
{
	return fx_ptll_start(s, self->server, variant->type,
			     variant->writeback, mntopts, self->src,
			     ",xattr,flock", why, whylen);
}

FIXTURE_SETUP(posix)
{
	char why[256];

	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	if (fx_build_path(self->server, sizeof(self->server),
			  "passthrough_ll"))
		SKIP(return, "passthrough_ll not built (set FUSEX_BUILD)");
	umask(0);
	self->writeback = variant->writeback;
	strcpy(self->src, "/tmp/fusex-posix-src.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	/* The root of the mount: uid 1000 must get through it. */
	ASSERT_EQ(0, chmod(self->src, 0755));
	strcpy(self->srv.mnt, "/tmp/fusex-posix.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	ASSERT_EQ(0, start_server(self, variant, &self->srv, "allow_other",
				  why, sizeof(why))) TH_LOG("%s", why);
}

FIXTURE_TEARDOWN(posix)
{
	if (self->dp.mnt[0]) {
		fx_server_stop(&self->dp);
		rmdir(self->dp.mnt);
	}
	if (self->srv.mnt[0]) {
		fx_server_stop(&self->srv);
		rmdir(self->srv.mnt);
	}
	fx_rmtree(self->src);
}

/* Helpers */

static char *fx_join(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return buf;
}

/* @name on the mount, and in the backing directory */
#define MNT(buf, name) fx_join(buf, sizeof(buf), self->srv.mnt, name)
#define SRC(buf, name) fx_join(buf, sizeof(buf), self->src, name)

/*
 * Not periodic in the page size, and never zero: a misplaced or lost page
 * shows, and so do zeroes where data should be.
 */
static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (i * 7 + i / 4093 + seed) % 251 + 1;
}

static bool all_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Where @a and @b differ first, or -1 */
static long first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return i;
	return -1;
}

/* Create or truncate @path (0644) and write @len bytes: 0 or -errno. */
static int put_file(const char *path, const void *data, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) && !err)
		err = -errno;
	return err;
}

/* Read up to @cap bytes of @path: the length read, or -errno. */
static ssize_t get_file(const char *path, void *buf, size_t cap)
{
	ssize_t n = 0, got = 0;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((size_t)got < cap) {
		n = read(fd, (char *)buf + got, cap - got);
		if (n <= 0)
			break;
		got += n;
	}
	if (n < 0)
		got = -errno;
	close(fd);
	return got;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/*
 * @name holds exactly the @len bytes of @want, read through the mount and
 * from the backing file.
 */
static void check_contents(struct __test_metadata *_metadata,
			   FIXTURE_DATA(posix) *self, const char *name,
			   const void *want, size_t len)
{
	char path[160];
	char *buf = malloc(len + 1);
	ssize_t n;
	int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < 2; i++) {
		if (i == 0)
			MNT(path, name);
		else
			SRC(path, name);
		memset(buf, 0xa5, len + 1);
		n = get_file(path, buf, len + 1);
		EXPECT_EQ(len, n) TH_LOG("%s", path);
		if (n == (ssize_t)len)
			EXPECT_EQ(-1, first_diff(buf, want, len))
				TH_LOG("%s: contents differ", path);
	}
	free(buf);
}

/*
 * The mount shows what the backing file has: type and mode, owner, size,
 * link count, inode number, block size; write-through, also mtime, ctime
 * and the block count.  Fills @mst and @bst.
 */
static void check_same_attr(struct __test_metadata *_metadata,
			    FIXTURE_DATA(posix) *self, const char *name,
			    struct stat *mst, struct stat *bst)
{
	char path[160];

	ASSERT_EQ(0, lstat(MNT(path, name), mst)) TH_LOG("%s", path);
	ASSERT_EQ(0, lstat(SRC(path, name), bst)) TH_LOG("%s", path);
	EXPECT_EQ(bst->st_mode, mst->st_mode) TH_LOG("%s", name);
	EXPECT_EQ(bst->st_uid, mst->st_uid) TH_LOG("%s", name);
	EXPECT_EQ(bst->st_gid, mst->st_gid) TH_LOG("%s", name);
	EXPECT_EQ(bst->st_size, mst->st_size) TH_LOG("%s", name);
	EXPECT_EQ(bst->st_nlink, mst->st_nlink) TH_LOG("%s", name);
	EXPECT_EQ(bst->st_ino, mst->st_ino) TH_LOG("%s", name);
	EXPECT_EQ(bst->st_blksize, mst->st_blksize) TH_LOG("%s", name);
	/*
	 * With the writeback cache fuse keeps mtime, ctime and the block
	 * count of its own, and they need not be the server's.
	 */
	if (self->writeback)
		return;
	EXPECT_TRUE(ts_eq(bst->st_mtim, mst->st_mtim))
		TH_LOG("%s: mtime %ld.%09ld on the mount, %ld.%09ld behind it",
		       name, (long)mst->st_mtim.tv_sec, mst->st_mtim.tv_nsec,
		       (long)bst->st_mtim.tv_sec, bst->st_mtim.tv_nsec);
	EXPECT_TRUE(ts_eq(bst->st_ctim, mst->st_ctim))
		TH_LOG("%s: ctime %ld.%09ld on the mount, %ld.%09ld behind it",
		       name, (long)mst->st_ctim.tv_sec, mst->st_ctim.tv_nsec,
		       (long)bst->st_ctim.tv_sec, bst->st_ctim.tv_nsec);
	EXPECT_EQ(bst->st_blocks, mst->st_blocks) TH_LOG("%s", name);
}

/* Neither on the mount nor in the backing directory. */
static void check_absent(struct __test_metadata *_metadata,
			 FIXTURE_DATA(posix) *self, const char *name)
{
	char path[160];
	struct stat st;

	EXPECT_EQ(-1, lstat(MNT(path, name), &st)) TH_LOG("%s", path);
	EXPECT_EQ(ENOENT, errno) TH_LOG("%s", path);
	EXPECT_EQ(-1, lstat(SRC(path, name), &st)) TH_LOG("%s", path);
	EXPECT_EQ(ENOENT, errno) TH_LOG("%s", path);
}

/* @t is between @lo and @hi, a second of slack each side (coarse clock). */
static bool ts_within(struct timespec t, struct timespec lo,
		      struct timespec hi)
{
	return t.tv_sec >= lo.tv_sec - 1 && t.tv_sec <= hi.tv_sec + 1;
}

static struct timespec now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static bool ts_ge(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec);
}

/*
 * Wait until the coarse realtime clock, which file times are taken from, is
 * past @t, and return its time: a file time set after that is at least
 * this, so later than @t.
 */
static struct timespec tick_after(struct timespec t)
{
	struct timespec c;

	for (;;) {
		clock_gettime(CLOCK_REALTIME_COARSE, &c);
		if (!ts_ge(t, c))
			return c;
		fx_msleep(1);
	}
}

/* What a child reports: return values and errnos of its steps. */
struct child_res {
	long ret[16];
	int err[16];
	long val[16];
};

#define STEP(res, i, expr) do {				\
	errno = 0;					\
	(res)->ret[i] = (long)(expr);			\
	(res)->err[i] = (res)->ret[i] < 0 ? errno : 0;	\
} while (0)

/*
 * Run @fn in a child process, as @uid/@gid (without supplementary groups)
 * unless @uid is 0, and get its report back in @res.  Returns 0, or -1 if
 * the child could not switch or died before reporting.
 */
static int in_child(uid_t uid, gid_t gid,
		    void (*fn)(const void *arg, struct child_res *res),
		    const void *arg, struct child_res *res)
{
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe(pfd))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		struct child_res r;

		memset(&r, 0, sizeof(r));
		close(pfd[0]);
		if (uid && (setgroups(0, NULL) || setgid(gid) || setuid(uid)))
			_exit(2);
		fn(arg, &r);
		_exit(write(pfd[1], &r, sizeof(r)) == sizeof(r) ? 0 : 3);
	}
	close(pfd[1]);
	n = read(pfd[0], res, sizeof(*res));
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (n != sizeof(*res) || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

/*
 * Does the ELF file @path import @sym?  Its dynamic string table then holds
 * "\0sym\0".  passthrough_ll calls fallocate(2) and copy_file_range(2) only
 * when built with HAVE_FALLOCATE or HAVE_COPY_FILE_RANGE (libfuse's meson
 * config), which a plain "cc passthrough_ll.c" does not define: without them
 * its fallocate answers EOPNOTSUPP and it has no copy_file_range at all.
 */
static bool binary_imports(const char *path, const char *sym)
{
	size_t cap = 1 << 20, len = 0, slen = strlen(sym);
	char *buf = malloc(cap), pat[64];
	bool found = false;
	ssize_t n;
	int fd;

	if (!buf || slen + 2 > sizeof(pat))
		goto out;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto out;
	for (;;) {
		if (len == cap) {
			char *nbuf = realloc(buf, cap * 2);

			if (!nbuf)
				break;
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	pat[0] = '\0';
	memcpy(pat + 1, sym, slen);
	pat[slen + 1] = '\0';
	found = memmem(buf, len, pat, slen + 2) != NULL;
out:
	free(buf);
	return found;
}

/* Namespace operations */

TEST_F_TIMEOUT(posix, create, FX_TIMEOUT)
{
	char p[160];
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	umask(0);
	fd = open(MNT(p, "create"), O_CREAT | O_EXCL | O_RDWR, 0641);
	ASSERT_LE(0, fd);
	EXPECT_EQ(5, write(fd, "hello", 5));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(S_IFREG | 0641, st.st_mode);
	EXPECT_EQ(5, st.st_size);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(0, st.st_gid);
	EXPECT_EQ(0, close(fd));

	EXPECT_EQ(-1, open(p, O_CREAT | O_EXCL | O_RDWR, 0600));
	EXPECT_EQ(EEXIST, errno);
	/* Without O_EXCL it opens the file as it is. */
	fd = open(p, O_CREAT | O_RDONLY, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "create", &st, &bst);
	EXPECT_EQ(S_IFREG | 0641, st.st_mode);
	EXPECT_EQ(5, st.st_size);
	check_contents(_metadata, self, "create", "hello", 5);

	/* The umask applies to the mode asked for. */
	umask(027);
	fd = open(MNT(p, "create_umask"), O_CREAT | O_EXCL | O_WRONLY, 0666);
	umask(0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "create_umask", &st, &bst);
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	EXPECT_EQ(0, st.st_size);

	EXPECT_EQ(-1, open(MNT(p, "create_nodir/x"), O_CREAT | O_RDWR, 0600));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, open(MNT(p, "create/x"), O_CREAT | O_RDWR, 0600));
	EXPECT_EQ(ENOTDIR, errno);
}

TEST_F_TIMEOUT(posix, mknod, FX_TIMEOUT)
{
	struct stat st, bst;
	char p[160], c;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mknod(MNT(p, "fifo"), S_IFIFO | 0640, 0));
	check_same_attr(_metadata, self, "fifo", &st, &bst);
	EXPECT_EQ(S_IFIFO | 0640, st.st_mode);
	EXPECT_EQ(-1, mknod(p, S_IFIFO | 0600, 0));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, mkfifo(p, 0600));
	EXPECT_EQ(EEXIST, errno);

	/* A fifo on the mount is a kernel pipe. */
	fd = open(p, O_RDWR | O_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, &c, 1));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(1, write(fd, "z", 1));
	EXPECT_EQ(1, read(fd, &c, 1));
	EXPECT_EQ('z', c);
	EXPECT_EQ(0, close(fd));

	/* A device node: the device is the kernel's, not the server's. */
	ASSERT_EQ(0, mknod(MNT(p, "fifo_null"), S_IFCHR | 0666,
			   makedev(1, 3)));
	check_same_attr(_metadata, self, "fifo_null", &st, &bst);
	EXPECT_EQ(S_IFCHR | 0666, st.st_mode);
	EXPECT_EQ(makedev(1, 3), st.st_rdev);
	EXPECT_EQ(bst.st_rdev, st.st_rdev);
	fd = open(p, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", p, strerror(errno));
	EXPECT_EQ(5, write(fd, "12345", 5));
	EXPECT_EQ(0, read(fd, &c, 1));
	EXPECT_EQ(0, close(fd));

	/* mknod of a regular file */
	ASSERT_EQ(0, mknod(MNT(p, "fifo_reg"), S_IFREG | 0604, 0));
	check_same_attr(_metadata, self, "fifo_reg", &st, &bst);
	EXPECT_EQ(S_IFREG | 0604, st.st_mode);
	EXPECT_EQ(0, st.st_size);
}

TEST_F_TIMEOUT(posix, mkdir_rmdir, FX_TIMEOUT)
{
	struct stat st, bst;
	char p[160], c;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT(p, "dir"), 0750));
	check_same_attr(_metadata, self, "dir", &st, &bst);
	EXPECT_EQ(S_IFDIR | 0750, st.st_mode);
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_EQ(-1, mkdir(p, 0755));
	EXPECT_EQ(EEXIST, errno);

	ASSERT_EQ(0, mkdir(MNT(p, "dir/sub"), 0700));
	check_same_attr(_metadata, self, "dir", &st, &bst);
	EXPECT_EQ(3, st.st_nlink);
	ASSERT_EQ(0, put_file(MNT(p, "dir/file"), "x", 1));

	EXPECT_EQ(-1, rmdir(MNT(p, "dir")));
	EXPECT_EQ(ENOTEMPTY, errno);
	EXPECT_EQ(-1, rmdir(MNT(p, "dir/file")));
	EXPECT_EQ(ENOTDIR, errno);
	EXPECT_EQ(-1, mkdir(MNT(p, "dir/file/sub"), 0755));
	EXPECT_EQ(ENOTDIR, errno);
	EXPECT_EQ(-1, unlink(MNT(p, "dir/sub")));
	EXPECT_EQ(EISDIR, errno);
	EXPECT_EQ(-1, rmdir(MNT(p, "dir/nothing")));
	EXPECT_EQ(ENOENT, errno);

	EXPECT_EQ(0, rmdir(MNT(p, "dir/sub")));
	check_absent(_metadata, self, "dir/sub");
	check_same_attr(_metadata, self, "dir", &st, &bst);
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_EQ(0, unlink(MNT(p, "dir/file")));
	EXPECT_EQ(0, rmdir(MNT(p, "dir")));
	check_absent(_metadata, self, "dir");
	EXPECT_EQ(-1, rmdir(p));
	EXPECT_EQ(ENOENT, errno);

	/* The root's link count follows its subdirectories. */
	ASSERT_EQ(0, stat(self->srv.mnt, &st));
	ASSERT_EQ(0, stat(self->src, &bst));
	EXPECT_EQ(bst.st_nlink, st.st_nlink);
	EXPECT_EQ(2, st.st_nlink);

	/* mkdir keeps the sticky bit, not set-group-ID (VFS) */
	ASSERT_EQ(0, mkdir(MNT(p, "dir_sticky"), 03777));
	check_same_attr(_metadata, self, "dir_sticky", &st, &bst);
	EXPECT_EQ(S_IFDIR | 01777, st.st_mode);

	/* read(2) of a directory, or opening it for writing: EISDIR */
	fd = open(p, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, &c, 1));
	EXPECT_EQ(EISDIR, errno);
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(-1, open(p, O_RDWR));
	EXPECT_EQ(EISDIR, errno);
}

/* New files in a set-group-ID directory take its group (the server's fs). */
TEST_F_TIMEOUT(posix, setgid_dir, FX_TIMEOUT)
{
	struct stat st, bst;
	char p[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT(p, "sgid"), 0755));
	ASSERT_EQ(0, chown(p, 0, USER_ID));
	ASSERT_EQ(0, chmod(p, 02775));
	check_same_attr(_metadata, self, "sgid", &st, &bst);
	EXPECT_EQ(S_IFDIR | 02775, st.st_mode);
	EXPECT_EQ(USER_ID, st.st_gid);

	ASSERT_EQ(0, put_file(MNT(p, "sgid/file"), "g", 1));
	check_same_attr(_metadata, self, "sgid/file", &st, &bst);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(USER_ID, st.st_gid);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	ASSERT_EQ(0, mkdir(MNT(p, "sgid/sub"), 0755));
	check_same_attr(_metadata, self, "sgid/sub", &st, &bst);
	EXPECT_EQ(USER_ID, st.st_gid);
	EXPECT_EQ(S_IFDIR | 02755, st.st_mode);
}

TEST_F_TIMEOUT(posix, symlink, FX_TIMEOUT)
{
	static const char target[] = "some/where/else";
	char p[160], buf[64];
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, symlink(target, MNT(p, "sym")));
	check_same_attr(_metadata, self, "sym", &st, &bst);
	EXPECT_TRUE(S_ISLNK(st.st_mode));
	EXPECT_EQ(strlen(target), st.st_size);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(strlen(target), readlink(p, buf, sizeof(buf)));
	EXPECT_STREQ(target, buf);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(strlen(target), readlink(SRC(p, "sym"), buf, sizeof(buf)));
	EXPECT_STREQ(target, buf);
	/* A short buffer: truncated, not terminated. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(4, readlink(MNT(p, "sym"), buf, 4));
	EXPECT_STREQ("some", buf);

	/* Dangling */
	EXPECT_EQ(-1, stat(p, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, symlink("other", p));
	EXPECT_EQ(EEXIST, errno);

	/* Followed */
	ASSERT_EQ(0, put_file(MNT(p, "sym_target"), "abc", 3));
	ASSERT_EQ(0, symlink("sym_target", MNT(p, "sym2")));
	ASSERT_EQ(0, stat(p, &st));
	ASSERT_EQ(0, stat(SRC(p, "sym_target"), &bst));
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_EQ(bst.st_ino, st.st_ino);
	EXPECT_EQ(3, get_file(MNT(p, "sym2"), buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));

	EXPECT_EQ(-1, readlink(MNT(p, "sym_target"), buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, open(MNT(p, "sym2"), O_RDONLY | O_NOFOLLOW));
	EXPECT_EQ(ELOOP, errno);

	/*
	 * O_CREAT through a dangling symlink creates its target; with O_EXCL
	 * the symlink itself is in the way.
	 */
	ASSERT_EQ(0, symlink("sym_made", MNT(p, "sym3")));
	EXPECT_EQ(-1, open(p, O_WRONLY | O_CREAT | O_EXCL, 0600));
	EXPECT_EQ(EEXIST, errno);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "ok", 2));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "sym_made", &st, &bst);
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	check_contents(_metadata, self, "sym_made", "ok", 2);
	check_same_attr(_metadata, self, "sym3", &st, &bst);
	EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F_TIMEOUT(posix, link, FX_TIMEOUT)
{
	struct stat st, st2, bst;
	char p[160], q[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "link_a"), "data", 4));
	ASSERT_EQ(0, link(p, MNT(q, "link_b")));
	check_same_attr(_metadata, self, "link_a", &st, &bst);
	EXPECT_EQ(2, st.st_nlink);
	check_same_attr(_metadata, self, "link_b", &st2, &bst);
	EXPECT_EQ(2, st2.st_nlink);
	EXPECT_EQ(st.st_ino, st2.st_ino);
	check_contents(_metadata, self, "link_b", "data", 4);

	EXPECT_EQ(-1, link(p, q));
	EXPECT_EQ(EEXIST, errno);
	EXPECT_EQ(-1, link(MNT(p, "link_none"), MNT(q, "link_c")));
	EXPECT_EQ(ENOENT, errno);
	/* No hard links to directories. */
	ASSERT_EQ(0, mkdir(MNT(p, "link_dir"), 0755));
	EXPECT_EQ(-1, link(p, MNT(q, "link_d")));
	EXPECT_EQ(EPERM, errno);

	/* Written through one name, read through the other. */
	ASSERT_EQ(0, put_file(MNT(p, "link_a"), "DATA2", 5));
	check_contents(_metadata, self, "link_b", "DATA2", 5);

	EXPECT_EQ(0, unlink(MNT(p, "link_a")));
	check_absent(_metadata, self, "link_a");
	check_same_attr(_metadata, self, "link_b", &st, &bst);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(st2.st_ino, st.st_ino);
}

TEST_F_TIMEOUT(posix, unlink_open, FX_TIMEOUT)
{
	char p[160], buf[32];
	struct stat st;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "victim"), "still here", 10));
	fd = open(p, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, unlink(p));
	check_absent(_metadata, self, "victim");
	EXPECT_EQ(-1, unlink(p));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, open(p, O_RDONLY));
	EXPECT_EQ(ENOENT, errno);

	/* The open file lives on. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(10, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "still here", 10));
	EXPECT_EQ(4, pread(fd, buf, 4, 6));
	EXPECT_EQ(0, memcmp(buf, "here", 4));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_nlink);
	EXPECT_EQ(10, st.st_size);
	EXPECT_EQ(0, close(fd));

	/* The name can be used again at once. */
	ASSERT_EQ(0, put_file(p, "new", 3));
	check_contents(_metadata, self, "victim", "new", 3);
}

TEST_F_TIMEOUT(posix, rename_replace, FX_TIMEOUT)
{
	struct stat st, bst, sta;
	char p[160], q[160];
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "ren_a"), "AAAA", 4));
	ASSERT_EQ(0, put_file(MNT(q, "ren_b"), "BBBBBB", 6));
	ASSERT_EQ(0, stat(p, &sta));
	fd = open(p, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, rename(p, q));
	check_absent(_metadata, self, "ren_a");
	/* The open file follows its inode to the new name. */
	EXPECT_EQ(1, pwrite(fd, "Z", 1, 0));
	EXPECT_EQ(0, close(fd));
	check_contents(_metadata, self, "ren_b", "ZAAA", 4);
	ASSERT_EQ(0, put_file(q, "AAAA", 4));
	check_same_attr(_metadata, self, "ren_b", &st, &bst);
	EXPECT_EQ(sta.st_ino, st.st_ino);
	EXPECT_EQ(1, st.st_nlink);
	check_contents(_metadata, self, "ren_b", "AAAA", 4);

	EXPECT_EQ(-1, rename(p, q));
	EXPECT_EQ(ENOENT, errno);
	/* Onto itself: nothing happens. */
	EXPECT_EQ(0, rename(q, q));
	check_contents(_metadata, self, "ren_b", "AAAA", 4);

	/* A file over a directory and a directory over a file */
	ASSERT_EQ(0, mkdir(MNT(p, "ren_dir"), 0755));
	EXPECT_EQ(-1, rename(q, p));
	EXPECT_EQ(EISDIR, errno);
	EXPECT_EQ(-1, rename(p, q));
	EXPECT_EQ(ENOTDIR, errno);

	/* Into a subdirectory, under a new name */
	EXPECT_EQ(0, rename(q, MNT(p, "ren_dir/moved")));
	check_absent(_metadata, self, "ren_b");
	check_same_attr(_metadata, self, "ren_dir/moved", &st, &bst);
	EXPECT_EQ(sta.st_ino, st.st_ino);
	check_contents(_metadata, self, "ren_dir/moved", "AAAA", 4);
}

TEST_F_TIMEOUT(posix, rename_dir, FX_TIMEOUT)
{
	struct stat st, bst, std1;
	char p[160], q[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT(p, "rd1"), 0755));
	ASSERT_EQ(0, put_file(MNT(p, "rd1/x"), "x1", 2));
	ASSERT_EQ(0, mkdir(MNT(p, "rd2"), 0755));
	ASSERT_EQ(0, put_file(MNT(p, "rd2/y"), "y2", 2));
	ASSERT_EQ(0, stat(MNT(p, "rd1"), &std1));

	EXPECT_EQ(-1, rename(MNT(p, "rd1"), MNT(q, "rd2")));
	EXPECT_EQ(ENOTEMPTY, errno);
	check_contents(_metadata, self, "rd1/x", "x1", 2);
	check_contents(_metadata, self, "rd2/y", "y2", 2);

	/* A directory into its own subtree */
	EXPECT_EQ(-1, rename(MNT(p, "rd1"), MNT(q, "rd1/inside")));
	EXPECT_EQ(EINVAL, errno);

	/* Over an empty directory */
	ASSERT_EQ(0, unlink(MNT(p, "rd2/y")));
	EXPECT_EQ(0, rename(MNT(p, "rd1"), MNT(q, "rd2")));
	check_absent(_metadata, self, "rd1");
	check_same_attr(_metadata, self, "rd2", &st, &bst);
	EXPECT_EQ(std1.st_ino, st.st_ino);
	EXPECT_EQ(S_IFDIR | 0755, st.st_mode);
	check_contents(_metadata, self, "rd2/x", "x1", 2);
	ASSERT_EQ(0, stat(self->srv.mnt, &st));
	ASSERT_EQ(0, stat(self->src, &bst));
	EXPECT_EQ(bst.st_nlink, st.st_nlink);
	EXPECT_EQ(3, st.st_nlink);
}

static int renameat2_(const char *a, const char *b, unsigned int flags)
{
	return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

TEST_F_TIMEOUT(posix, renameat2, FX_TIMEOUT)
{
	char p[160], q[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "r2_a"), "aaa", 3));
	ASSERT_EQ(0, put_file(MNT(q, "r2_b"), "bbbbb", 5));

	/* The VFS answers this one: the target exists. */
	EXPECT_EQ(-1, renameat2_(p, q, RENAME_NOREPLACE));
	EXPECT_EQ(EEXIST, errno);
	check_contents(_metadata, self, "r2_a", "aaa", 3);
	check_contents(_metadata, self, "r2_b", "bbbbb", 5);

	/*
	 * The others reach the server as FUSE_RENAME2, and passthrough_ll's
	 * rename answers EINVAL to any flags: so does fuse.
	 */
	EXPECT_EQ(-1, renameat2_(p, q, RENAME_EXCHANGE));
	EXPECT_EQ(EINVAL, errno);
	check_contents(_metadata, self, "r2_a", "aaa", 3);
	check_contents(_metadata, self, "r2_b", "bbbbb", 5);
	EXPECT_EQ(-1, renameat2_(p, MNT(q, "r2_c"), RENAME_NOREPLACE));
	EXPECT_EQ(EINVAL, errno);
	check_absent(_metadata, self, "r2_c");
	check_contents(_metadata, self, "r2_a", "aaa", 3);

	/* Asked again: still EINVAL (EINVAL is not ENOSYS, not remembered) */
	EXPECT_EQ(-1, renameat2_(p, MNT(q, "r2_b"), RENAME_EXCHANGE));
	EXPECT_EQ(EINVAL, errno);
	/* Exchange with a missing name: the VFS says ENOENT. */
	EXPECT_EQ(-1, renameat2_(p, MNT(q, "r2_none"), RENAME_EXCHANGE));
	EXPECT_EQ(ENOENT, errno);
	/* Contradictory flags */
	EXPECT_EQ(-1, renameat2_(p, MNT(q, "r2_b"),
				 RENAME_EXCHANGE | RENAME_NOREPLACE));
	EXPECT_EQ(EINVAL, errno);
	/* No flags: a plain rename */
	EXPECT_EQ(0, renameat2_(p, MNT(q, "r2_c"), 0));
	check_absent(_metadata, self, "r2_a");
	check_contents(_metadata, self, "r2_c", "aaa", 3);
}

/* Attributes */

TEST_F_TIMEOUT(posix, chmod_chown, FX_TIMEOUT)
{
	struct stat st, bst;
	char p[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "own"), "abc", 3));
	EXPECT_EQ(0, chmod(p, 0600));
	check_same_attr(_metadata, self, "own", &st, &bst);
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(0, chmod(p, 06750));
	check_same_attr(_metadata, self, "own", &st, &bst);
	EXPECT_EQ(S_IFREG | 06750, st.st_mode);

	/* chown of a regular file drops set-user-ID and set-group-ID. */
	EXPECT_EQ(0, chown(p, USER_ID, USER_ID));
	check_same_attr(_metadata, self, "own", &st, &bst);
	EXPECT_EQ(USER_ID, st.st_uid);
	EXPECT_EQ(USER_ID, st.st_gid);
	EXPECT_EQ(S_IFREG | 0750, st.st_mode);

	EXPECT_EQ(0, chown(p, -1, 0));
	check_same_attr(_metadata, self, "own", &st, &bst);
	EXPECT_EQ(USER_ID, st.st_uid);
	EXPECT_EQ(0, st.st_gid);

	/* Through an fd */
	{
		int fd = open(p, O_RDONLY);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, fchmod(fd, 0444));
		EXPECT_EQ(0, fchown(fd, 0, USER_ID));
		EXPECT_EQ(0, close(fd));
	}
	check_same_attr(_metadata, self, "own", &st, &bst);
	EXPECT_EQ(S_IFREG | 0444, st.st_mode);
	EXPECT_EQ(0, st.st_uid);
	EXPECT_EQ(USER_ID, st.st_gid);

	/* A symlink's own owner */
	ASSERT_EQ(0, symlink("own", MNT(p, "own_sym")));
	EXPECT_EQ(0, lchown(p, USER_ID, USER_ID));
	check_same_attr(_metadata, self, "own_sym", &st, &bst);
	EXPECT_EQ(USER_ID, st.st_uid);
	check_same_attr(_metadata, self, "own", &st, &bst);
	EXPECT_EQ(0, st.st_uid);

	EXPECT_EQ(-1, chmod(MNT(p, "own_none"), 0644));
	EXPECT_EQ(ENOENT, errno);
	check_contents(_metadata, self, "own", "abc", 3);
}

TEST_F_TIMEOUT(posix, truncate, FX_TIMEOUT)
{
	char p[160], data[100], *buf, *want;
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	buf = malloc(10000);
	want = calloc(1, 10000);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);
	fill(data, sizeof(data), 1);
	memcpy(want, data, sizeof(data));

	/* An fd that has the old contents cached */
	fd = open(MNT(p, "trunc"), O_RDWR | O_CREAT, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(100, write(fd, data, 100));
	ASSERT_EQ(100, pread(fd, buf, 200, 0));

	EXPECT_EQ(0, truncate(p, 10000));
	check_same_attr(_metadata, self, "trunc", &st, &bst);
	EXPECT_EQ(10000, st.st_size);
	check_contents(_metadata, self, "trunc", want, 10000);
	memset(buf, 0xa5, 10000);
	EXPECT_EQ(10000, pread(fd, buf, 10000, 0));
	EXPECT_EQ(0, memcmp(buf, want, 10000));

	EXPECT_EQ(0, truncate(p, 50));
	check_same_attr(_metadata, self, "trunc", &st, &bst);
	EXPECT_EQ(50, st.st_size);
	check_contents(_metadata, self, "trunc", data, 50);
	EXPECT_EQ(50, pread(fd, buf, 10000, 0));
	EXPECT_EQ(0, memcmp(buf, data, 50));

	/* Extend again: what was cut off must not come back. */
	EXPECT_EQ(0, truncate(p, 100));
	memset(want + 50, 0, 50);
	check_contents(_metadata, self, "trunc", want, 100);

	EXPECT_EQ(0, truncate(p, 0));
	check_same_attr(_metadata, self, "trunc", &st, &bst);
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, pread(fd, buf, 10000, 0));
	EXPECT_EQ(0, close(fd));

	EXPECT_EQ(-1, truncate(p, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, truncate(self->srv.mnt, 0));
	EXPECT_EQ(EISDIR, errno);
	EXPECT_EQ(-1, truncate(MNT(p, "trunc_none"), 0));
	EXPECT_EQ(ENOENT, errno);
	free(buf);
	free(want);
}

TEST_F_TIMEOUT(posix, ftruncate, FX_TIMEOUT)
{
	char p[160], *data, *buf;
	struct stat st, bst;
	int fd, rfd;

	FX_RETURN_IF_SKIPPED();
	data = malloc(3 * PG);
	buf = malloc(3 * PG);
	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, buf);
	fill(data, 3 * PG, 2);

	fd = open(MNT(p, "ftrunc"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2 * PG, write(fd, data, 2 * PG));
	EXPECT_EQ(0, ftruncate(fd, 5000));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(5000, st.st_size);
	EXPECT_EQ(5000, pread(fd, buf, 3 * PG, 0));
	EXPECT_EQ(0, memcmp(buf, data, 5000));
	/* The file position is not moved by ftruncate. */
	EXPECT_EQ(2 * PG, lseek(fd, 0, SEEK_CUR));

	EXPECT_EQ(0, ftruncate(fd, 3 * PG));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(3 * PG, st.st_size);
	memset(buf, 0xa5, 3 * PG);
	EXPECT_EQ(3 * PG, pread(fd, buf, 3 * PG, 0));
	EXPECT_EQ(0, memcmp(buf, data, 5000));
	EXPECT_TRUE(all_zero(buf + 5000, 3 * PG - 5000));
	EXPECT_EQ(0, fsync(fd));
	check_same_attr(_metadata, self, "ftrunc", &st, &bst);
	EXPECT_EQ(3 * PG, st.st_size);
	check_contents(_metadata, self, "ftrunc", buf, 3 * PG);

	/* A write at the position, two pages in: inside the new size */
	EXPECT_EQ(10, write(fd, "0123456789", 10));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(3 * PG, st.st_size);
	memcpy(buf + 2 * PG, "0123456789", 10);
	EXPECT_EQ(0, close(fd));
	check_contents(_metadata, self, "ftrunc", buf, 3 * PG);

	/* Not through a read-only fd */
	rfd = open(p, O_RDONLY);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(-1, ftruncate(rfd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ftruncate(rfd, -1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, close(rfd));
	check_same_attr(_metadata, self, "ftrunc", &st, &bst);
	EXPECT_EQ(3 * PG, st.st_size);
	free(data);
	free(buf);
}

TEST_F_TIMEOUT(posix, utimensat, FX_TIMEOUT)
{
	const struct timespec set[2] = {
		{ 1000000000, 123456789 }, { 1100000000, 987654321 },
	};
	struct timespec ts[2], t0, t1;
	struct stat st, bst;
	char p[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "times"), "t", 1));
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, set, 0));
	check_same_attr(_metadata, self, "times", &st, &bst);
	EXPECT_TRUE(ts_eq(set[0], st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim));
	EXPECT_TRUE(ts_eq(set[0], bst.st_atim));
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim));

	/* mtime now, atime left alone */
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_NOW;
	t0 = now();
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, ts, 0));
	t1 = now();
	check_same_attr(_metadata, self, "times", &st, &bst);
	EXPECT_TRUE(ts_eq(set[0], st.st_atim));
	EXPECT_TRUE(ts_eq(set[0], bst.st_atim));
	EXPECT_TRUE(ts_within(st.st_mtim, t0, t1))
		TH_LOG("mtime %ld, now %ld", (long)st.st_mtim.tv_sec,
		       (long)t0.tv_sec);
	EXPECT_TRUE(ts_eq(bst.st_mtim, st.st_mtim));

	/* atime now, mtime left alone */
	ts[0].tv_nsec = UTIME_NOW;
	ts[1] = set[1];
	ts[1].tv_nsec = UTIME_OMIT;
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, set, 0));
	t0 = now();
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, ts, 0));
	t1 = now();
	check_same_attr(_metadata, self, "times", &st, &bst);
	EXPECT_TRUE(ts_within(st.st_atim, t0, t1));
	EXPECT_TRUE(ts_eq(bst.st_atim, st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim));
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim));

	/* Both now */
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, set, 0));
	t0 = now();
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, NULL, 0));
	t1 = now();
	check_same_attr(_metadata, self, "times", &st, &bst);
	EXPECT_TRUE(ts_within(st.st_atim, t0, t1));
	EXPECT_TRUE(ts_within(st.st_mtim, t0, t1));
	EXPECT_TRUE(ts_eq(bst.st_mtim, st.st_mtim));

	/* Both omitted: nothing changes. */
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, set, 0));
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, ts, 0));
	check_same_attr(_metadata, self, "times", &st, &bst);
	EXPECT_TRUE(ts_eq(set[0], st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim));

	/* A symlink's own times */
	ASSERT_EQ(0, symlink("times", MNT(p, "times_sym")));
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, set, AT_SYMLINK_NOFOLLOW));
	check_same_attr(_metadata, self, "times_sym", &st, &bst);
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim));
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim));

	ts[0].tv_nsec = 1000000000;
	EXPECT_EQ(-1, utimensat(AT_FDCWD, p, ts, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F_TIMEOUT(posix, futimens, FX_TIMEOUT)
{
	const struct timespec set[2] = {
		{ 1200000000, 5 }, { 1300000000, 999999999 },
	};
	struct timespec ts[2], t0, t1;
	struct stat st, bst;
	char p[160];
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "ftimes"), "t", 1));
	fd = open(p, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, futimens(fd, set));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(ts_eq(set[0], st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim));
	check_same_attr(_metadata, self, "ftimes", &st, &bst);
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim));
	EXPECT_TRUE(ts_eq(set[0], bst.st_atim));

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_sec = 0;
	ts[1].tv_nsec = UTIME_OMIT;
	t0 = now();
	EXPECT_EQ(0, futimens(fd, ts));
	t1 = now();
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(ts_within(st.st_atim, t0, t1));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "ftimes", &st, &bst);
	EXPECT_TRUE(ts_eq(bst.st_atim, st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim));
}

/*
 * Which operations change ctime, which mtime too: each starts on a clock
 * tick after the file's ctime, so a time that was set is later than it.
 */
static void times_check(struct __test_metadata *_metadata, const char *path,
			const struct stat *before, struct timespec t0,
			const char *what, bool data)
{
	struct stat st;

	ASSERT_EQ(0, lstat(path, &st)) TH_LOG("%s", what);
	EXPECT_TRUE(ts_ge(st.st_ctim, t0))
		TH_LOG("%s: ctime %ld.%09ld, not after %ld.%09ld", what,
		       (long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
		       (long)t0.tv_sec, t0.tv_nsec);
	if (data) {
		EXPECT_TRUE(ts_ge(st.st_mtim, t0))
			TH_LOG("%s: mtime %ld.%09ld, not after %ld.%09ld",
			       what, (long)st.st_mtim.tv_sec,
			       st.st_mtim.tv_nsec, (long)t0.tv_sec,
			       t0.tv_nsec);
	} else {
		EXPECT_TRUE(ts_eq(before->st_mtim, st.st_mtim))
			TH_LOG("%s: mtime changed", what);
	}
}

#define TIMES_BEFORE(path) do {					\
	ASSERT_EQ(0, lstat(path, &before));				\
	t0 = tick_after(before.st_ctim);				\
} while (0)

TEST_F_TIMEOUT(posix, times_update, FX_TIMEOUT)
{
	char p[160], q[160], r[160], *map;
	struct timespec t0, set[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct stat before;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "tu"), "0123456789", 10));

	TIMES_BEFORE(p);
	ASSERT_EQ(0, chmod(p, 0600));
	times_check(_metadata, p, &before, t0, "chmod", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, chown(p, USER_ID, USER_ID));
	times_check(_metadata, p, &before, t0, "chown", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, link(p, MNT(q, "tu2")));
	times_check(_metadata, p, &before, t0, "link", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, rename(q, MNT(r, "tu3")));
	times_check(_metadata, p, &before, t0, "rename (other name)", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, unlink(r));
	times_check(_metadata, p, &before, t0, "unlink (other name)", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, setxattr(p, "trusted.tu", "x", 1, 0));
	times_check(_metadata, p, &before, t0, "setxattr", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, removexattr(p, "trusted.tu"));
	times_check(_metadata, p, &before, t0, "removexattr", false);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, utimensat(AT_FDCWD, p, set, 0));
	before.st_mtim = set[1];	/* the mtime is the one set */
	times_check(_metadata, p, &before, t0, "utimensat", false);

	TIMES_BEFORE(p);
	ASSERT_EQ(0, truncate(p, 100));
	times_check(_metadata, p, &before, t0, "truncate", true);
	fd = open(p, O_RDWR);
	ASSERT_LE(0, fd);
	TIMES_BEFORE(p);
	ASSERT_EQ(0, ftruncate(fd, 2 * PG));
	times_check(_metadata, p, &before, t0, "ftruncate", true);
	TIMES_BEFORE(p);
	ASSERT_EQ(3, pwrite(fd, "abc", 3, 5));
	times_check(_metadata, p, &before, t0, "write", true);
	TIMES_BEFORE(p);
	map = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[PG + 1] = 'm';
	EXPECT_EQ(0, msync(map, 2 * PG, MS_SYNC));
	EXPECT_EQ(0, munmap(map, 2 * PG));
	times_check(_metadata, p, &before, t0, "mmap write", true);
	EXPECT_EQ(0, close(fd));
	TIMES_BEFORE(p);
	fd = open(p, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	times_check(_metadata, p, &before, t0, "open O_TRUNC", true);

	/* A directory: an entry added, renamed, removed */
	ASSERT_EQ(0, mkdir(MNT(q, "tu_dir"), 0755));
	TIMES_BEFORE(q);
	ASSERT_EQ(0, put_file(MNT(p, "tu_dir/f"), "", 0));
	times_check(_metadata, q, &before, t0, "create in dir", true);
	TIMES_BEFORE(q);
	ASSERT_EQ(0, rename(p, MNT(r, "tu_dir/g")));
	times_check(_metadata, q, &before, t0, "rename in dir", true);
	TIMES_BEFORE(q);
	ASSERT_EQ(0, unlink(r));
	times_check(_metadata, q, &before, t0, "unlink in dir", true);
	TIMES_BEFORE(q);
	ASSERT_EQ(0, chmod(q, 0700));
	times_check(_metadata, q, &before, t0, "chmod dir", false);
}

/* Writing */

TEST_F_TIMEOUT(posix, append, FX_TIMEOUT)
{
	char p[160], want[9000], chunk[2000];
	size_t len = 0, n;
	struct stat st, bst;
	int fd[2], i;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "append"), "start", 5));
	memcpy(want, "start", 5);
	len = 5;
	fd[0] = open(p, O_WRONLY | O_APPEND);
	fd[1] = open(p, O_RDWR | O_APPEND);
	ASSERT_LE(0, fd[0]);
	ASSERT_LE(0, fd[1]);
	/* Interleaved, sizes that cross page boundaries */
	for (i = 0; i < 8; i++) {
		n = 500 + i * 111;
		memset(chunk, 'a' + i, n);
		EXPECT_EQ(n, write(fd[i % 2], chunk, n));
		memcpy(want + len, chunk, n);
		len += n;
		EXPECT_EQ(len, lseek(fd[i % 2], 0, SEEK_CUR)) TH_LOG("i %d", i);
	}
	/* pwrite on an O_APPEND file appends too (Linux). */
	EXPECT_EQ(3, pwrite(fd[0], "XYZ", 3, 0));
	memcpy(want + len, "XYZ", 3);
	len += 3;
	ASSERT_EQ(0, fstat(fd[1], &st));
	EXPECT_EQ(len, st.st_size);
	/* Reading through an O_APPEND fd starts where it is told. */
	EXPECT_EQ(5, pread(fd[1], chunk, 5, 0));
	EXPECT_EQ(0, memcmp(chunk, "start", 5));
	EXPECT_EQ(0, close(fd[0]));
	EXPECT_EQ(0, close(fd[1]));
	check_same_attr(_metadata, self, "append", &st, &bst);
	EXPECT_EQ(len, st.st_size);
	check_contents(_metadata, self, "append", want, len);
}

TEST_F_TIMEOUT(posix, o_trunc, FX_TIMEOUT)
{
	char p[160], data[5000], buf[5000];
	struct stat st, bst;
	int fd, rfd;

	FX_RETURN_IF_SKIPPED();
	fill(data, sizeof(data), 3);
	ASSERT_EQ(0, put_file(MNT(p, "otrunc"), data, sizeof(data)));
	/* A reader with the old contents in its cache */
	rfd = open(p, O_RDONLY);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(sizeof(data), read(rfd, buf, sizeof(buf)));

	fd = open(p, O_WRONLY | O_TRUNC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(0, pread(rfd, buf, sizeof(buf), 0));
	EXPECT_EQ(3, write(fd, "new", 3));
	EXPECT_EQ(0, close(fd));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, pread(rfd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "new", 3));
	EXPECT_EQ(0, close(rfd));
	check_same_attr(_metadata, self, "otrunc", &st, &bst);
	EXPECT_EQ(3, st.st_size);
	check_contents(_metadata, self, "otrunc", "new", 3);

	/* O_TRUNC with O_CREAT on an existing file */
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "otrunc", &st, &bst);
	EXPECT_EQ(0, st.st_size);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
}

TEST_F_TIMEOUT(posix, pwrite_hole, FX_TIMEOUT)
{
	const off_t off = 100000;
	char p[160], *buf, *want;
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	buf = malloc(off + 4);
	want = calloc(1, off + 4);
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, want);
	memcpy(want, "head", 4);
	memcpy(want + off, "tail", 4);

	fd = open(MNT(p, "hole"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(4, write(fd, "head", 4));
	EXPECT_EQ(4, pwrite(fd, "tail", 4, off));
	/* pwrite leaves the position alone. */
	EXPECT_EQ(4, lseek(fd, 0, SEEK_CUR));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(off + 4, st.st_size);
	memset(buf, 0xa5, off + 4);
	EXPECT_EQ(off + 4, pread(fd, buf, off + 4, 0));
	EXPECT_EQ(0, memcmp(buf, want, off + 4));
	EXPECT_EQ(0, pread(fd, buf, 10, off + 4));
	EXPECT_EQ(0, pread(fd, buf, 10, 1 << 24));
	/* A hole in the middle of a page and across pages */
	EXPECT_EQ(2, pread(fd, buf, 2, 3));
	EXPECT_EQ(0, memcmp(buf, "d\0", 2));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "hole", &st, &bst);
	EXPECT_EQ(off + 4, st.st_size);
	check_contents(_metadata, self, "hole", want, off + 4);
	free(buf);
	free(want);
}

TEST_F_TIMEOUT(posix, pwrite_64bit, FX_TIMEOUT)
{
	const off_t off = (5LL << 32) + 4093;	/* past 4 GiB, across a page */
	char p[160], buf[16];
	struct stat st, bst;
	int fd, bfd;

	FX_RETURN_IF_SKIPPED();
	fd = open(MNT(p, "far"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(7, pwrite(fd, "faraway", 7, off));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(off + 7, st.st_size);
	EXPECT_EQ(off + 7, lseek(fd, 0, SEEK_END));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(7, pread(fd, buf, sizeof(buf), off));
	EXPECT_STREQ("faraway", buf);
	EXPECT_EQ(4, pread(fd, buf, 4, off - 4));
	EXPECT_TRUE(all_zero(buf, 4));
	EXPECT_EQ(0, ftruncate(fd, off + 3));
	EXPECT_EQ(0, close(fd));

	check_same_attr(_metadata, self, "far", &st, &bst);
	EXPECT_EQ(off + 3, st.st_size);
	bfd = open(SRC(p, "far"), O_RDONLY);
	ASSERT_LE(0, bfd);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(3, pread(bfd, buf, sizeof(buf), off));
	EXPECT_STREQ("far", buf);
	EXPECT_EQ(0, close(bfd));
}

TEST_F_TIMEOUT(posix, page_straddle, FX_TIMEOUT)
{
	static const struct { off_t off; size_t len; } w[] = {
		{ 0, 4000 }, { 4000, 200 }, { 4200, 3993 }, { 8193, 4095 },
		{ 4090, 10 }, { 8191, 2 }, { 12287, 3 }, { 2 * PG - 1, 1 },
	};
	char p[160], want[3 * PG + 2], buf[3 * PG + 2], piece[PG];
	struct stat st, bst;
	size_t i, end = 0;
	int fd;

	FX_RETURN_IF_SKIPPED();
	memset(want, 0, sizeof(want));
	fd = open(MNT(p, "straddle"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(w); i++) {
		fill(piece, w[i].len, 10 + i);
		EXPECT_EQ(w[i].len, pwrite(fd, piece, w[i].len, w[i].off));
		memcpy(want + w[i].off, piece, w[i].len);
		if (w[i].off + w[i].len > end)
			end = w[i].off + w[i].len;
		/* Read back across the boundary it touched */
		memset(buf, 0xa5, sizeof(buf));
		EXPECT_EQ(end, pread(fd, buf, sizeof(buf), 0)) TH_LOG("%zu", i);
		EXPECT_EQ(0, memcmp(buf, want, end)) TH_LOG("after write %zu",
							    i);
	}
	EXPECT_EQ(3 * PG + 2, end);
	EXPECT_EQ(20, pread(fd, buf, 20, PG - 10));
	EXPECT_EQ(0, memcmp(buf, want + PG - 10, 20));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "straddle", &st, &bst);
	EXPECT_EQ(end, st.st_size);
	check_contents(_metadata, self, "straddle", want, end);
}

TEST_F_TIMEOUT(posix, write_3m, FX_TIMEOUT)
{
	const size_t len = 3 << 20;
	char p[160], *data, *buf;
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	data = malloc(len);
	buf = malloc(len);
	ASSERT_NE(NULL, data);
	ASSERT_NE(NULL, buf);
	fill(data, len, 4);
	fd = open(MNT(p, "big"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	/* One call, more than any max_write: split by the kernel */
	EXPECT_EQ(len, write(fd, data, len));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(len, st.st_size);
	memset(buf, 0, len);
	EXPECT_EQ(len, pread(fd, buf, len, 0));
	EXPECT_EQ(0, memcmp(buf, data, len));
	/* And again, not page aligned, over the first copy */
	fill(data + 1, len - 2, 5);
	EXPECT_EQ(len - 2, pwrite(fd, data + 1, len - 2, 1));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "big", &st, &bst);
	EXPECT_EQ(len, st.st_size);
	check_contents(_metadata, self, "big", data, len);
	free(data);
	free(buf);
}

TEST_F_TIMEOUT(posix, two_fds, FX_TIMEOUT)
{
	char p[160], buf[64];
	struct stat st;
	int wfd, rfd;

	FX_RETURN_IF_SKIPPED();
	wfd = open(MNT(p, "twofds"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, wfd);
	rfd = open(p, O_RDONLY);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(0, read(rfd, buf, sizeof(buf)));

	EXPECT_EQ(5, write(wfd, "first", 5));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, pread(rfd, buf, sizeof(buf), 0));
	EXPECT_STREQ("first", buf);
	ASSERT_EQ(0, fstat(rfd, &st));
	EXPECT_EQ(5, st.st_size);

	EXPECT_EQ(6, pwrite(wfd, "SECOND", 6, 2));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(8, pread(rfd, buf, sizeof(buf), 0));
	EXPECT_STREQ("fiSECOND", buf);
	ASSERT_EQ(0, fstat(rfd, &st));
	EXPECT_EQ(8, st.st_size);

	/* Each fd keeps its access mode. */
	EXPECT_EQ(-1, write(rfd, "x", 1));
	EXPECT_EQ(EBADF, errno);

	/* A third fd, opened after the writes, sees them too. */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(8, get_file(p, buf, sizeof(buf)));
	EXPECT_STREQ("fiSECOND", buf);
	EXPECT_EQ(0, close(wfd));
	EXPECT_EQ(0, close(rfd));
	check_contents(_metadata, self, "twofds", "fiSECOND", 8);
}

TEST_F_TIMEOUT(posix, write_size_mtime, FX_TIMEOUT)
{
	const struct timespec old[2] = {
		{ 1000000000, 0 }, { 1000000000, 0 },
	};
	struct timespec t0, t1;
	struct stat st, bst;
	char p[160];
	int fd;

	FX_RETURN_IF_SKIPPED();
	fd = open(MNT(p, "mtime"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, futimens(fd, old));
	ASSERT_EQ(0, stat(p, &st));
	EXPECT_TRUE(ts_eq(old[1], st.st_mtim));

	t0 = now();
	EXPECT_EQ(10, write(fd, "0123456789", 10));
	t1 = now();
	ASSERT_EQ(0, stat(p, &st));
	EXPECT_EQ(10, st.st_size);
	EXPECT_LT(old[1].tv_sec, st.st_mtim.tv_sec);
	EXPECT_TRUE(ts_within(st.st_mtim, t0, t1))
		TH_LOG("mtime %ld, now %ld", (long)st.st_mtim.tv_sec,
		       (long)t0.tv_sec);
	EXPECT_TRUE(ts_within(st.st_ctim, t0, t1));

	/* Once more, from an old mtime, through fstat this time */
	EXPECT_EQ(0, futimens(fd, old));
	t0 = now();
	EXPECT_EQ(5, pwrite(fd, "abcde", 5, 20));
	t1 = now();
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(25, st.st_size);
	EXPECT_TRUE(ts_within(st.st_mtim, t0, t1))
		TH_LOG("mtime %ld, now %ld", (long)st.st_mtim.tv_sec,
		       (long)t0.tv_sec);
	EXPECT_EQ(0, close(fd));

	/* And in the backing file once written back */
	check_same_attr(_metadata, self, "mtime", &st, &bst);
	EXPECT_EQ(25, bst.st_size);
	EXPECT_TRUE(ts_within(bst.st_mtim, t0, t1))
		TH_LOG("backing mtime %ld, now %ld", (long)bst.st_mtim.tv_sec,
		       (long)t0.tv_sec);
	EXPECT_TRUE(ts_within(st.st_mtim, t0, t1));
}

/* cp -p and tar: write, set the times, close.  The times must stay. */
TEST_F_TIMEOUT(posix, write_then_utimens, FX_TIMEOUT)
{
	const struct timespec set[2] = {
		{ 1000000000, 111 }, { 1100000000, 222 },
	};
	char p[160], data[3 * PG];
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	fill(data, sizeof(data), 15);
	fd = open(MNT(p, "cpp"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(sizeof(data), write(fd, data, sizeof(data)));
	EXPECT_EQ(0, futimens(fd, set));
	EXPECT_EQ(0, fchmod(fd, 0640));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim))
		TH_LOG("fstat: mtime %ld.%09ld",
		       (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "cpp", &st, &bst);
	EXPECT_EQ(S_IFREG | 0640, st.st_mode);
	EXPECT_TRUE(ts_eq(set[0], st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim))
		TH_LOG("stat: mtime %ld.%09ld",
		       (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim))
		TH_LOG("backing: mtime %ld.%09ld",
		       (long)bst.st_mtim.tv_sec, bst.st_mtim.tv_nsec);
	check_contents(_metadata, self, "cpp", data, sizeof(data));

	/* By path, with the data still open for writing */
	fd = open(MNT(p, "cpp2"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(100, write(fd, data, 100));
	EXPECT_EQ(0, utimensat(AT_FDCWD, p, set, 0));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "cpp2", &st, &bst);
	EXPECT_EQ(100, st.st_size);
	EXPECT_TRUE(ts_eq(set[0], st.st_atim));
	EXPECT_TRUE(ts_eq(set[1], st.st_mtim))
		TH_LOG("stat: mtime %ld.%09ld",
		       (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	EXPECT_TRUE(ts_eq(set[1], bst.st_mtim))
		TH_LOG("backing: mtime %ld.%09ld",
		       (long)bst.st_mtim.tv_sec, bst.st_mtim.tv_nsec);
}

/*
 * The variant is what it says: write-through, a write is on the server
 * when write() returns; with the writeback cache it waits in the page cache
 * (for up to dirty_expire_centisecs, 30 s) until fsync.
 */
TEST_F_TIMEOUT(posix, cache_mode, FX_TIMEOUT)
{
	char p[160];
	struct stat bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	fd = open(MNT(p, "cachemode"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(6, write(fd, "cached", 6));
	ASSERT_EQ(0, stat(SRC(p, "cachemode"), &bst));
	EXPECT_EQ(variant->writeback ? 0 : 6, bst.st_size);
	EXPECT_EQ(0, fsync(fd));
	ASSERT_EQ(0, stat(p, &bst));
	EXPECT_EQ(6, bst.st_size);
	EXPECT_EQ(0, close(fd));
	check_contents(_metadata, self, "cachemode", "cached", 6);
}

TEST_F_TIMEOUT(posix, o_direct, FX_TIMEOUT)
{
	char p[160], *data, *buf, *want;
	int fd, bfd, berr, rfd;
	void *mem;

	FX_RETURN_IF_SKIPPED();
	/* Aligned: data (2 pages), buf (2 pages); then want (3 pages) */
	ASSERT_EQ(0, posix_memalign(&mem, PG, 7 * PG));
	data = mem;
	buf = data + 2 * PG;
	want = data + 4 * PG;
	fill(data, 2 * PG, 6);
	ASSERT_EQ(0, put_file(MNT(p, "direct"), data, 2 * PG));

	/*
	 * passthrough_ll opens the backing file with the flags it is given,
	 * O_DIRECT included: the backing filesystem decides (tmpfs takes
	 * O_DIRECT from 6.6 on only, 6.1 says EINVAL).  The mount must say
	 * what the backing file says.
	 */
	bfd = open(SRC(p, "direct"), O_RDWR | O_DIRECT);
	berr = bfd < 0 ? errno : 0;
	if (bfd >= 0)
		close(bfd);
	fd = open(MNT(p, "direct"), O_RDWR | O_DIRECT);
	if (berr) {
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(berr, errno);
		if (fd >= 0)
			close(fd);
		free(mem);
		/* SKIP() would pass a failed test. */
		if (!_metadata->passed)
			return;
		SKIP(return, "the backing fs refuses O_DIRECT (%s), and so does the mount",
		     strerror(berr));
	}
	ASSERT_LE(0, fd) TH_LOG("open O_DIRECT: %s", strerror(errno));
	rfd = open(p, O_RDONLY);
	ASSERT_LE(0, rfd);
	/* Cached by a plain reader first */
	EXPECT_EQ(2 * PG, pread(rfd, buf, 2 * PG, 0));

	memset(buf, 0, 2 * PG);
	EXPECT_EQ(2 * PG, pread(fd, buf, 2 * PG, 0));
	EXPECT_EQ(0, memcmp(buf, data, 2 * PG));
	/* The second page anew, and the first again as a third */
	fill(data + PG, PG, 7);
	EXPECT_EQ(PG, pwrite(fd, data + PG, PG, PG));
	EXPECT_EQ(PG, pwrite(fd, data, PG, 2 * PG));
	memcpy(want, data, 2 * PG);
	memcpy(want + 2 * PG, data, PG);
	memset(buf, 0, 2 * PG);
	EXPECT_EQ(2 * PG, pread(fd, buf, 2 * PG, PG));
	EXPECT_EQ(0, memcmp(buf, want + PG, 2 * PG));
	/* The plain reader sees the direct writes. */
	memset(buf, 0, 2 * PG);
	EXPECT_EQ(2 * PG, pread(rfd, buf, 2 * PG, PG));
	EXPECT_EQ(0, memcmp(buf, want + PG, 2 * PG));

	/* fuse has no alignment rule for direct I/O. */
	EXPECT_EQ(10, pwrite(fd, "unaligned!", 10, PG - 3));
	memcpy(want + PG - 3, "unaligned!", 10);
	memset(buf, 0, 32);
	EXPECT_EQ(20, pread(fd, buf + 1, 20, PG - 6));
	EXPECT_EQ(0, memcmp(buf + 1, want + PG - 6, 20));
	EXPECT_EQ(0, close(rfd));

	/* A buffered write, still cached: the direct read sees it. */
	rfd = open(p, O_RDWR);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(5, pwrite(rfd, "dirty", 5, 2 * PG + 100));
	memcpy(want + 2 * PG + 100, "dirty", 5);
	memset(buf, 0, PG);
	EXPECT_EQ(PG, pread(fd, buf, PG, 2 * PG));
	EXPECT_EQ(-1, first_diff(buf, want + 2 * PG, PG));

	/* A direct write over a cached dirty range: the direct one wins. */
	EXPECT_EQ(5, pwrite(rfd, "older", 5, 200));
	memcpy(buf, want, PG);
	memcpy(buf + 200, "newer", 5);
	EXPECT_EQ(PG, pwrite(fd, buf, PG, 0));
	memcpy(want, buf, PG);
	memset(buf, 0, PG);
	EXPECT_EQ(PG, pread(rfd, buf, PG, 0));
	EXPECT_EQ(-1, first_diff(buf, want, PG));
	EXPECT_EQ(0, close(rfd));
	EXPECT_EQ(0, close(fd));
	check_contents(_metadata, self, "direct", want, 3 * PG);
	free(mem);
}

/* mmap */

TEST_F_TIMEOUT(posix, mmap_write, FX_TIMEOUT)
{
	const size_t len = 3 * PG;
	char p[160], *map, *data;
	struct stat st, bst;
	int fd;

	FX_RETURN_IF_SKIPPED();
	data = malloc(len);
	ASSERT_NE(NULL, data);
	fill(data, len, 8);
	fd = open(MNT(p, "mmapw"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, len));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_TRUE(all_zero(map, len));
	memcpy(map, data, len);
	EXPECT_EQ(0, msync(map, len, MS_SYNC));
	EXPECT_EQ(0, munmap(map, len));
	/* In the backing file before close */
	check_contents(_metadata, self, "mmapw", data, len);

	/* Through a second map, a single byte in the middle page */
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	map[PG + 7] = 'M';
	data[PG + 7] = 'M';
	EXPECT_EQ(0, munmap(map, len));
	EXPECT_EQ(0, fsync(fd));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "mmapw", &st, &bst);
	EXPECT_EQ(len, st.st_size);
	check_contents(_metadata, self, "mmapw", data, len);
	free(data);
}

TEST_F_TIMEOUT(posix, mmap_read, FX_TIMEOUT)
{
	const size_t len = 10000;
	char p[160], *map, data[10000];
	int fd, wfd;

	FX_RETURN_IF_SKIPPED();
	fill(data, len, 9);
	ASSERT_EQ(0, put_file(MNT(p, "mmapr"), data, len));
	fd = open(p, O_RDONLY);
	ASSERT_LE(0, fd);
	map = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, memcmp(map, data, len));
	/* The rest of the last page reads as zeroes. */
	EXPECT_TRUE(all_zero(map + len, 3 * PG - len));

	/* A write() through another fd shows in the map. */
	wfd = open(p, O_WRONLY);
	ASSERT_LE(0, wfd);
	EXPECT_EQ(3, pwrite(wfd, "XYZ", 3, PG - 1));
	EXPECT_EQ(0, memcmp(map + PG - 1, "XYZ", 3));
	EXPECT_EQ(0, close(wfd));
	EXPECT_EQ(0, memcmp(map, data, PG - 1));
	EXPECT_EQ(0, munmap(map, 3 * PG));
	EXPECT_EQ(0, close(fd));
	memcpy(data + PG - 1, "XYZ", 3);
	check_contents(_metadata, self, "mmapr", data, len);
}

TEST_F_TIMEOUT(posix, fsync, FX_TIMEOUT)
{
	char p[160], data[3 * PG];
	int fd, dfd, rfd;

	FX_RETURN_IF_SKIPPED();
	fill(data, sizeof(data), 11);
	fd = open(MNT(p, "fsync"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	EXPECT_EQ(sizeof(data), write(fd, data, sizeof(data)));
	EXPECT_EQ(0, fsync(fd));
	/* On the server before close */
	check_contents(_metadata, self, "fsync", data, sizeof(data));
	EXPECT_EQ(5, pwrite(fd, "fdata", 5, 100));
	memcpy(data + 100, "fdata", 5);
	EXPECT_EQ(0, fdatasync(fd));
	check_contents(_metadata, self, "fsync", data, sizeof(data));
	EXPECT_EQ(0, sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE));

	rfd = open(p, O_RDONLY);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(0, fsync(rfd));
	EXPECT_EQ(0, fdatasync(rfd));
	EXPECT_EQ(0, close(rfd));
	EXPECT_EQ(0, close(fd));

	/* passthrough_ll has fsyncdir. */
	ASSERT_EQ(0, mkdir(MNT(p, "fsync_dir"), 0755));
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(0, fsync(dfd));
	EXPECT_EQ(0, fdatasync(dfd));
	EXPECT_EQ(0, close(dfd));
	dfd = open(self->srv.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	EXPECT_EQ(0, fsync(dfd));
	EXPECT_EQ(0, syncfs(dfd));
	EXPECT_EQ(0, close(dfd));
}

TEST_F_TIMEOUT(posix, fallocate_punch, FX_TIMEOUT)
{
	char p[160], data[3 * PG], buf[5 * PG];
	struct stat st, bst;
	bool has;
	int fd, r;

	FX_RETURN_IF_SKIPPED();
	has = binary_imports(self->server, "fallocate") ||
	      binary_imports(self->server, "fallocate64");
	fill(data, sizeof(data), 12);
	fd = open(MNT(p, "falloc"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(data), write(fd, data, sizeof(data)));

	r = fallocate(fd, 0, 0, 5 * PG);
	if (has) {
		EXPECT_EQ(0, r) TH_LOG("%s", strerror(errno));
	} else {
		EXPECT_EQ(-1, r);
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(has ? 5 * PG : 3 * PG, st.st_size);

	r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PG, PG);
	if (has) {
		EXPECT_EQ(0, r) TH_LOG("%s", strerror(errno));
		memset(data + PG, 0, PG);
	} else {
		EXPECT_EQ(-1, r);
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
	memset(buf, 0xa5, sizeof(buf));
	EXPECT_EQ(has ? 5 * PG : 3 * PG, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, data, sizeof(data)));
	if (has)
		EXPECT_TRUE(all_zero(buf + 3 * PG, 2 * PG));

	/* Checked by the VFS before the server is asked */
	EXPECT_EQ(-1, fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, PG));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, fallocate(fd, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, close(fd));
	fd = open(p, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, fallocate(fd, 0, 0, PG));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(0, close(fd));

	check_same_attr(_metadata, self, "falloc", &st, &bst);
	EXPECT_EQ(has ? 5 * PG : 3 * PG, st.st_size);
	if (!has) {
		check_contents(_metadata, self, "falloc", data, sizeof(data));
		if (!_metadata->passed)
			return;
		SKIP(return, "passthrough_ll built without HAVE_FALLOCATE: EOPNOTSUPP checked, not the allocation");
	}
	memcpy(buf, data, sizeof(data));
	check_contents(_metadata, self, "falloc", buf, 5 * PG);
}

TEST_F_TIMEOUT(posix, seek_data_hole, FX_TIMEOUT)
{
	static const off_t offs[] = {
		0, 100, PG, 5000, 65536, 70000, 131072, 131171, 131172,
		200000,
	};
	static const int whences[] = { SEEK_DATA, SEEK_HOLE };
	char p[160], data[PG];
	off_t rm, rb;
	int fd, bfd, em, eb;
	size_t i, j;

	FX_RETURN_IF_SKIPPED();
	fill(data, sizeof(data), 13);
	fd = open(MNT(p, "sparse"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(PG, pwrite(fd, data, PG, 0));
	ASSERT_EQ(PG, pwrite(fd, data, PG, 65536));
	ASSERT_EQ(100, pwrite(fd, data, 100, 131072));
	/* LSEEK goes to the server: the data must be there. */
	ASSERT_EQ(0, fsync(fd));
	bfd = open(SRC(p, "sparse"), O_RDONLY);
	ASSERT_LE(0, bfd);

	for (i = 0; i < ARRAY_SIZE(whences); i++) {
		for (j = 0; j < ARRAY_SIZE(offs); j++) {
			errno = 0;
			rb = lseek(bfd, offs[j], whences[i]);
			eb = errno;
			errno = 0;
			rm = lseek(fd, offs[j], whences[i]);
			em = errno;
			EXPECT_EQ(rb, rm) TH_LOG("%s from %ld",
						 i ? "SEEK_HOLE" : "SEEK_DATA",
						 (long)offs[j]);
			if (rb < 0)
				EXPECT_EQ(eb, em);
		}
	}
	/* What any filesystem must say */
	EXPECT_EQ(0, lseek(fd, 0, SEEK_DATA));
	EXPECT_EQ(131072, lseek(fd, 131000, SEEK_DATA));
	EXPECT_EQ(131172, lseek(fd, 131072, SEEK_HOLE));
	EXPECT_EQ(-1, lseek(fd, 131172, SEEK_DATA));
	EXPECT_EQ(ENXIO, errno);
	EXPECT_EQ(-1, lseek(fd, 131172, SEEK_HOLE));
	EXPECT_EQ(ENXIO, errno);
	/* The position is where the last lseek put it. */
	EXPECT_EQ(131172, lseek(fd, 131072, SEEK_HOLE));
	EXPECT_EQ(131172, lseek(fd, 0, SEEK_CUR));
	EXPECT_EQ(0, close(bfd));
	EXPECT_EQ(0, close(fd));
}

TEST_F_TIMEOUT(posix, copy_file_range, FX_TIMEOUT)
{
	const size_t slen = 100000, dlen = 10000, clen = 50000;
	char p[160], *src, *want, *got;
	loff_t oi = 1000, oo = 5000;
	int fi, fo, n = 0;
	struct stat st, bst;
	size_t done = 0;
	ssize_t r;

	FX_RETURN_IF_SKIPPED();
	src = malloc(slen);
	want = malloc(oo + clen);
	got = malloc(oo + clen);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	fill(src, slen, 14);
	memset(want, 'd', dlen);
	/*
	 * Both written through fds that stay open: with the writeback cache
	 * the data is still in the page cache when the copy starts.
	 */
	fi = open(MNT(p, "cfr_src"), O_RDWR | O_CREAT | O_EXCL, 0644);
	fo = open(MNT(p, "cfr_dst"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ASSERT_LE(0, fi);
	ASSERT_LE(0, fo);
	ASSERT_EQ(slen, pwrite(fi, src, slen, 0));
	ASSERT_EQ(dlen, pwrite(fo, want, dlen, 0));
	/* And the destination's cache has the old data. */
	ASSERT_EQ(dlen, pread(fo, got, dlen, 0));
	memcpy(want + oo, src + oi, clen);
	while (done < clen && n++ < 100) {
		r = copy_file_range(fi, &oi, fo, &oo, clen - done, 0);
		ASSERT_LT(0, r) TH_LOG("copy_file_range: %s", strerror(errno));
		done += r;
	}
	EXPECT_EQ(clen, done);
	EXPECT_EQ(1000 + clen, oi);
	EXPECT_EQ(5000 + clen, oo);
	/* The file positions are not used, nor moved. */
	EXPECT_EQ(0, lseek(fi, 0, SEEK_CUR));
	EXPECT_EQ(0, lseek(fo, 0, SEEK_CUR));
	ASSERT_EQ(0, fstat(fo, &st));
	EXPECT_EQ(5000 + clen, st.st_size);
	/* Read back through the destination's fd, its cache */
	memset(got, 0, 5000 + clen);
	EXPECT_EQ(5000 + clen, pread(fo, got, 5000 + clen, 0));
	EXPECT_EQ(-1, first_diff(got, want, 5000 + clen));
	/* At the end of the source: nothing */
	oi = slen;
	EXPECT_EQ(0, copy_file_range(fi, &oi, fo, NULL, 100, 0));
	EXPECT_EQ(0, close(fi));
	/* Not into a file open read-only */
	fi = open(MNT(p, "cfr_src"), O_RDONLY);
	ASSERT_LE(0, fi);
	EXPECT_EQ(-1, copy_file_range(fo, NULL, fi, NULL, 100, 0));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(0, close(fi));
	EXPECT_EQ(0, close(fo));
	check_same_attr(_metadata, self, "cfr_dst", &st, &bst);
	EXPECT_EQ(5000 + clen, st.st_size);
	check_contents(_metadata, self, "cfr_dst", want, 5000 + clen);
	check_contents(_metadata, self, "cfr_src", src, slen);
	free(src);
	free(want);
	free(got);
}

/*
 * trusted.*: tmpfs has user.* xattrs only from 6.6 on, and passthrough_ll
 * runs as root.
 */
#define XA "trusted.fxposix"
#define XB "trusted.fxother"

static bool in_list(const char *list, ssize_t len, const char *name)
{
	ssize_t i;

	for (i = 0; i < len; i += strlen(list + i) + 1)
		if (!strcmp(list + i, name))
			return true;
	return false;
}

TEST_F_TIMEOUT(posix, xattr, FX_TIMEOUT)
{
	char p[160], b[160], buf[256], bbuf[256];
	ssize_t n, bn;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "xattr"), "x", 1));
	SRC(b, "xattr");
	EXPECT_EQ(0, listxattr(p, buf, sizeof(buf)));

	EXPECT_EQ(0, setxattr(p, XA, "v1", 2, XATTR_CREATE));
	EXPECT_EQ(-1, setxattr(p, XA, "v2", 2, XATTR_CREATE));
	EXPECT_EQ(EEXIST, errno);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(2, getxattr(p, XA, buf, sizeof(buf)));
	EXPECT_STREQ("v1", buf);
	EXPECT_EQ(2, getxattr(p, XA, NULL, 0));
	EXPECT_EQ(-1, getxattr(p, XA, buf, 1));
	EXPECT_EQ(ERANGE, errno);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(2, lgetxattr(b, XA, buf, sizeof(buf)));
	EXPECT_STREQ("v1", buf);

	EXPECT_EQ(-1, setxattr(p, XB, "x", 1, XATTR_REPLACE));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(-1, getxattr(p, XB, buf, sizeof(buf)));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(0, setxattr(p, XA, "value2", 6, XATTR_REPLACE));
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(6, getxattr(p, XA, buf, sizeof(buf)));
	EXPECT_STREQ("value2", buf);
	/* An empty value */
	EXPECT_EQ(0, setxattr(p, XB, "", 0, 0));
	EXPECT_EQ(0, getxattr(p, XB, buf, sizeof(buf)));

	n = listxattr(p, buf, sizeof(buf));
	bn = llistxattr(b, bbuf, sizeof(bbuf));
	EXPECT_EQ(sizeof(XA) + sizeof(XB), n);
	EXPECT_EQ(bn, n);
	EXPECT_TRUE(in_list(buf, n, XA));
	EXPECT_TRUE(in_list(buf, n, XB));
	if (n == bn && n > 0)
		EXPECT_EQ(0, memcmp(buf, bbuf, n));
	EXPECT_EQ(n, listxattr(p, NULL, 0));
	EXPECT_EQ(-1, listxattr(p, buf, 3));
	EXPECT_EQ(ERANGE, errno);

	EXPECT_EQ(0, removexattr(p, XA));
	EXPECT_EQ(-1, getxattr(p, XA, buf, sizeof(buf)));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(-1, lgetxattr(b, XA, buf, sizeof(buf)));
	EXPECT_EQ(ENODATA, errno);
	EXPECT_EQ(-1, removexattr(p, XA));
	EXPECT_EQ(ENODATA, errno);
	n = listxattr(p, buf, sizeof(buf));
	EXPECT_EQ(sizeof(XB), n);
	EXPECT_FALSE(in_list(buf, n, XA));
	EXPECT_TRUE(in_list(buf, n, XB));
	EXPECT_EQ(n, llistxattr(b, bbuf, sizeof(bbuf)));

	/* On a directory too, and through an fd */
	ASSERT_EQ(0, mkdir(MNT(p, "xattr_dir"), 0755));
	{
		int fd = open(p, O_RDONLY | O_DIRECTORY);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, fsetxattr(fd, XA, "dir", 3, XATTR_CREATE));
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(3, fgetxattr(fd, XA, buf, sizeof(buf)));
		EXPECT_STREQ("dir", buf);
		EXPECT_EQ(0, fremovexattr(fd, XA));
		EXPECT_EQ(0, flistxattr(fd, buf, sizeof(buf)));
		EXPECT_EQ(0, close(fd));
	}
}

/* Locks */

struct lock_arg {
	const char *mnt;
	const char *src;
};

static void lock_child(const void *varg, struct child_res *r)
{
	const struct lock_arg *a = varg;
	struct flock fl;
	int fd, bfd;

	fd = open(a->mnt, O_RDWR);
	STEP(r, 0, fd);
	if (fd < 0)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 100;
	STEP(r, 1, fcntl(fd, F_GETLK, &fl));
	r->val[1] = fl.l_type;
	r->val[2] = fl.l_pid;
	r->val[3] = fl.l_start;
	r->val[4] = fl.l_len;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 50;
	fl.l_len = 10;
	STEP(r, 2, fcntl(fd, F_SETLK, &fl));
	fl.l_type = F_RDLCK;
	STEP(r, 3, fcntl(fd, F_SETLK, &fl));
	fl.l_start = 200;
	fl.l_len = 100;
	STEP(r, 4, fcntl(fd, F_SETLK, &fl));
	fl.l_type = F_WRLCK;
	STEP(r, 5, fcntl(fd, F_SETLK, &fl));
	fl.l_start = 0;
	fl.l_len = 0;
	fl.l_type = F_RDLCK;
	STEP(r, 6, fcntl(fd, F_GETLK, &fl));
	r->val[6] = fl.l_type;
	r->val[7] = fl.l_start;
	r->val[8] = fl.l_len;

	/* The backing file: are the locks the server's? */
	bfd = open(a->src, O_RDWR);
	STEP(r, 7, bfd);
	if (bfd < 0)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	STEP(r, 8, fcntl(bfd, F_GETLK, &fl));
	r->val[9] = fl.l_type;
}

static void lock_child2(const void *varg, struct child_res *r)
{
	const struct lock_arg *a = varg;
	struct flock fl;
	int fd;

	fd = open(a->mnt, O_RDWR);
	STEP(r, 0, fd);
	if (fd < 0)
		return;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_len = 100;
	STEP(r, 1, fcntl(fd, F_SETLK, &fl));
	fl.l_start = 100;
	fl.l_len = 0;
	STEP(r, 2, fcntl(fd, F_SETLK, &fl));
}

TEST_F_TIMEOUT(posix, posix_locks, FX_TIMEOUT)
{
	char p[160], b[160], data[1000];
	struct lock_arg a = { MNT(p, "plock"), SRC(b, "plock") };
	struct child_res r;
	struct flock fl;
	int fd;

	FX_RETURN_IF_SKIPPED();
	memset(data, 'l', sizeof(data));
	ASSERT_EQ(0, put_file(p, data, sizeof(data)));
	fd = open(p, O_RDWR);
	ASSERT_LE(0, fd);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 100;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));
	fl.l_type = F_RDLCK;
	fl.l_start = 500;
	fl.l_len = 10;
	ASSERT_EQ(0, fcntl(fd, F_SETLK, &fl));

	ASSERT_EQ(0, in_child(0, 0, lock_child, &a, &r));
	EXPECT_LE(0, r.ret[0]);
	/* The parent's write lock, as the child sees it */
	EXPECT_EQ(0, r.ret[1]);
	EXPECT_EQ(F_WRLCK, r.val[1]);
	EXPECT_EQ(getpid(), r.val[2]);
	EXPECT_EQ(0, r.val[3]);
	EXPECT_EQ(100, r.val[4]);
	/* Conflicts with it, read or write */
	EXPECT_EQ(-1, r.ret[2]);
	EXPECT_EQ(EAGAIN, r.err[2]);
	EXPECT_EQ(-1, r.ret[3]);
	EXPECT_EQ(EAGAIN, r.err[3]);
	/* Elsewhere: fine */
	EXPECT_EQ(0, r.ret[4]);
	EXPECT_EQ(0, r.ret[5]);
	/* A read lock over the whole file meets the write lock first. */
	EXPECT_EQ(0, r.ret[6]);
	EXPECT_EQ(F_WRLCK, r.val[6]);
	EXPECT_EQ(0, r.val[7]);
	EXPECT_EQ(100, r.val[8]);
	/*
	 * passthrough_ll has no getlk/setlk: libfuse does not offer
	 * FUSE_POSIX_LOCKS, the locks are the kernel's own and the backing
	 * file has none.
	 */
	EXPECT_LE(0, r.ret[7]);
	EXPECT_EQ(0, r.ret[8]);
	EXPECT_EQ(F_UNLCK, r.val[9]);

	/* The child's locks went with it; ours do not conflict with us. */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 200;
	fl.l_len = 100;
	EXPECT_EQ(0, fcntl(fd, F_GETLK, &fl));
	EXPECT_EQ(F_UNLCK, fl.l_type);

	/* Unlocked: another process gets the range. */
	fl.l_type = F_UNLCK;
	fl.l_start = 0;
	fl.l_len = 0;
	EXPECT_EQ(0, fcntl(fd, F_SETLK, &fl));
	ASSERT_EQ(0, in_child(0, 0, lock_child2, &a, &r));
	EXPECT_EQ(0, r.ret[1]);
	EXPECT_EQ(0, r.ret[2]);

	/* Closing any fd of the file drops the process's locks. */
	fl.l_type = F_WRLCK;
	fl.l_start = 0;
	fl.l_len = 100;
	EXPECT_EQ(0, fcntl(fd, F_SETLK, &fl));
	close(open(p, O_RDONLY));
	ASSERT_EQ(0, in_child(0, 0, lock_child2, &a, &r));
	EXPECT_EQ(0, r.ret[1]);
	EXPECT_EQ(0, close(fd));
}

/*
 * flock(@fd, @op | LOCK_NB), retried for up to 5 s while it says
 * EWOULDBLOCK: with FUSE_FLOCK_LOCKS the lock of a closed file goes with
 * its RELEASE, which fuse sends asynchronously after close(2) returns.
 */
static int flock_soon(int fd, int op)
{
	int i, r = -1;

	for (i = 0; i < 500; i++) {
		r = flock(fd, op | LOCK_NB);
		if (r == 0 || errno != EWOULDBLOCK)
			break;
		fx_msleep(10);
	}
	return r;
}

TEST_F_TIMEOUT(posix, flock, FX_TIMEOUT)
{
	char p[160], b[160];
	int fd1, fd2, fd3, bfd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "flock"), "f", 1));
	fd1 = open(p, O_RDWR);
	fd2 = open(p, O_RDONLY);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);

	EXPECT_EQ(0, flock(fd1, LOCK_EX | LOCK_NB));
	EXPECT_EQ(-1, flock(fd2, LOCK_EX | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(-1, flock(fd2, LOCK_SH | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* The same open file description: a conversion, not a conflict */
	fd3 = dup(fd1);
	ASSERT_LE(0, fd3);
	EXPECT_EQ(0, flock(fd3, LOCK_EX | LOCK_NB));
	EXPECT_EQ(0, close(fd3));

	/*
	 * passthrough_ll -o flock: FUSE_FLOCK_LOCKS, the server takes the
	 * lock on its own backing fd, so the backing file is locked.
	 */
	bfd = open(SRC(b, "flock"), O_RDONLY);
	ASSERT_LE(0, bfd);
	EXPECT_EQ(-1, flock(bfd, LOCK_SH | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);

	EXPECT_EQ(0, flock(fd1, LOCK_UN));
	EXPECT_EQ(0, flock(fd2, LOCK_SH | LOCK_NB));
	EXPECT_EQ(0, flock(fd1, LOCK_SH | LOCK_NB));
	EXPECT_EQ(-1, flock(fd1, LOCK_EX | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(0, flock(bfd, LOCK_SH | LOCK_NB));
	EXPECT_EQ(0, flock(bfd, LOCK_UN));

	/* The last close of fd2's description releases its lock. */
	EXPECT_EQ(0, close(fd2));
	EXPECT_EQ(0, flock_soon(fd1, LOCK_EX));
	EXPECT_EQ(-1, flock(bfd, LOCK_SH | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(0, close(fd1));
	EXPECT_EQ(0, flock_soon(bfd, LOCK_EX));
	EXPECT_EQ(0, close(bfd));
}

TEST_F_TIMEOUT(posix, o_tmpfile, FX_TIMEOUT)
{
	char p[160], fdpath[64], buf[16];
	struct stat st, bst;
	struct dirent *de;
	int fd, n = 0;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT(p, "tmpdir"), 0755));
	/*
	 * libfuse 3.14 has no tmpfile operation: it answers FUSE_TMPFILE
	 * (sent from 6.6 on) with ENOSYS, which fuse turns into EOPNOTSUPP;
	 * 6.1's fuse has no ->tmpfile at all, which is EOPNOTSUPP too.
	 */
	fd = open(p, O_TMPFILE | O_RDWR, 0600);
	if (fd < 0) {
		EXPECT_EQ(EOPNOTSUPP, errno);
		/* Nothing left behind */
		d = opendir(SRC(p, "tmpdir"));
		ASSERT_NE(NULL, d);
		while ((de = readdir(d)))
			n++;
		closedir(d);
		EXPECT_EQ(2, n);
		return;
	}
	EXPECT_EQ(-1, fd) TH_LOG("O_TMPFILE worked: not with libfuse 3.14");
	/* If it does work, it must be a tmpfile. */
	EXPECT_EQ(4, write(fd, "temp", 4));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(0, st.st_nlink);
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	EXPECT_EQ(0, linkat(AT_FDCWD, fdpath, AT_FDCWD,
			    MNT(p, "tmpdir/named"), AT_SYMLINK_FOLLOW));
	EXPECT_EQ(0, close(fd));
	check_same_attr(_metadata, self, "tmpdir/named", &st, &bst);
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(4, get_file(p, buf, sizeof(buf)));
	check_contents(_metadata, self, "tmpdir/named", "temp", 4);
}

TEST_F_TIMEOUT(posix, statfs, FX_TIMEOUT)
{
	struct statvfs m, b;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, statvfs(self->srv.mnt, &m));
	ASSERT_EQ(0, statvfs(self->src, &b));
	EXPECT_EQ(b.f_bsize, m.f_bsize);
	EXPECT_EQ(b.f_frsize, m.f_frsize);
	EXPECT_EQ(b.f_blocks, m.f_blocks);
	EXPECT_EQ(b.f_files, m.f_files);
	EXPECT_EQ(b.f_namemax, m.f_namemax);
	fd = open(self->srv.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstatvfs(fd, &m));
	EXPECT_EQ(b.f_blocks, m.f_blocks);
	EXPECT_EQ(0, close(fd));
}

struct dent {
	char name[32];
	ino_t ino;
	unsigned char type;
};

/* Up to @max entries of @dir, sorted by name: their number, or -1. */
static int list_dir(const char *dir, struct dent *ents, int max)
{
	struct dirent *de;
	int n = 0, i, j;
	struct dent t;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (n == max || strlen(de->d_name) >= sizeof(ents->name)) {
			n = -1;
			break;
		}
		strcpy(ents[n].name, de->d_name);
		ents[n].ino = de->d_ino;
		ents[n].type = de->d_type;
		n++;
	}
	closedir(d);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(ents[j - 1].name,
					    ents[j].name) > 0; j--) {
			t = ents[j];
			ents[j] = ents[j - 1];
			ents[j - 1] = t;
		}
	return n;
}

TEST_F_TIMEOUT(posix, readdir, FX_TIMEOUT)
{
	enum { NFILES = 60, MAX = 80 };
	struct dent *me, *be;
	char p[160], q[160], name[32];
	int i, nm, nb, again = 0;
	struct dirent *de;
	long pos;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	me = calloc(MAX, sizeof(*me));
	be = calloc(MAX, sizeof(*be));
	ASSERT_NE(NULL, me);
	ASSERT_NE(NULL, be);
	ASSERT_EQ(0, mkdir(MNT(p, "rdd"), 0755));
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "rdd/file-with-a-longer-name%02d",
			 i);
		ASSERT_EQ(0, put_file(MNT(p, name), "", 0));
	}
	ASSERT_EQ(0, mkdir(MNT(p, "rdd/sub"), 0755));
	ASSERT_EQ(0, symlink("sub", MNT(p, "rdd/lnk")));
	ASSERT_EQ(0, mkfifo(MNT(p, "rdd/fifo"), 0644));

	nm = list_dir(MNT(p, "rdd"), me, MAX);
	nb = list_dir(SRC(q, "rdd"), be, MAX);
	EXPECT_EQ(NFILES + 5, nm);
	EXPECT_EQ(nb, nm);
	for (i = 0; i < nm && nm == nb; i++) {
		EXPECT_STREQ(be[i].name, me[i].name);
		EXPECT_EQ(be[i].ino, me[i].ino) TH_LOG("%s", me[i].name);
		EXPECT_EQ(be[i].type, me[i].type) TH_LOG("%s", me[i].name);
	}

	/* Gone from a fresh listing once unlinked */
	ASSERT_EQ(0, unlink(MNT(p, "rdd/file-with-a-longer-name07")));
	nm = list_dir(MNT(p, "rdd"), me, MAX);
	EXPECT_EQ(NFILES + 4, nm);
	for (i = 0; i < nm; i++)
		EXPECT_STRNE("file-with-a-longer-name07", me[i].name);

	/* telldir and seekdir */
	d = opendir(MNT(p, "rdd"));
	ASSERT_NE(NULL, d);
	for (i = 0; i < 20; i++)
		ASSERT_NE(NULL, readdir(d));
	pos = telldir(d);
	de = readdir(d);
	ASSERT_NE(NULL, de);
	strcpy(name, de->d_name);
	for (i = 0; i < 10; i++)
		ASSERT_NE(NULL, readdir(d));
	seekdir(d, pos);
	de = readdir(d);
	ASSERT_NE(NULL, de);
	EXPECT_STREQ(name, de->d_name);
	rewinddir(d);
	while (readdir(d))
		again++;
	EXPECT_EQ(NFILES + 4, again);
	closedir(d);

	EXPECT_EQ(NULL, opendir(MNT(p, "rdd/fifo")));
	EXPECT_EQ(ENOTDIR, errno);
	free(me);
	free(be);
}

/* Privileges */

struct exec_arg {
	const char *path[3];
};

static void exec_child(const void *varg, struct child_res *r)
{
	const struct exec_arg *a = varg;
	int i;

	/* Not one of them can run: the report is sent after the last. */
	for (i = 0; i < 3; i++)
		STEP(r, i, execl(a->path[i], a->path[i], (char *)NULL));
}

TEST_F_TIMEOUT(posix, access, FX_TIMEOUT)
{
	char p[160], rw[160], x[160], none[160];
	struct exec_arg a = { { rw, x, none } };
	struct child_res r;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(rw, "acc_rw"), "", 0));
	ASSERT_EQ(0, put_file(MNT(x, "acc_x"), "", 0));
	ASSERT_EQ(0, chmod(x, 0744));
	ASSERT_EQ(0, put_file(MNT(none, "acc_none"), "", 0));
	ASSERT_EQ(0, chmod(none, 0));

	/*
	 * Without default_permissions access(2) is the server's question
	 * (FUSE_ACCESS), and passthrough_ll has no access operation: ENOSYS,
	 * which fuse takes as "allowed", then and from then on.
	 */
	EXPECT_EQ(0, access(rw, R_OK | W_OK));
	EXPECT_EQ(0, access(rw, X_OK));
	EXPECT_EQ(0, access(x, X_OK));
	EXPECT_EQ(0, access(none, R_OK | W_OK | X_OK));
	EXPECT_EQ(0, access(self->srv.mnt, X_OK | W_OK));
	EXPECT_EQ(-1, access(MNT(p, "acc_missing"), F_OK));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, access(MNT(p, "acc_rw/x"), F_OK));
	EXPECT_EQ(ENOTDIR, errno);

	/*
	 * Executing a regular file needs an x bit, which the kernel checks
	 * itself, for root too: EACCES; acc_x may run but is empty, ENOEXEC.
	 */
	ASSERT_EQ(0, in_child(0, 0, exec_child, &a, &r));
	EXPECT_EQ(-1, r.ret[0]);
	EXPECT_EQ(EACCES, r.err[0]);
	EXPECT_EQ(-1, r.ret[1]);
	EXPECT_EQ(ENOEXEC, r.err[1]);
	EXPECT_EQ(-1, r.ret[2]);
	EXPECT_EQ(EACCES, r.err[2]);
}

static void suid_child(const void *arg, struct child_res *r)
{
	int fd;

	fd = open(arg, O_WRONLY);
	STEP(r, 0, fd);
	if (fd < 0)
		return;
	STEP(r, 1, write(fd, "X", 1));
	STEP(r, 2, close(fd));
}

TEST_F_TIMEOUT(posix, kill_suid, FX_TIMEOUT)
{
	struct stat st, bst;
	struct child_res r;
	char p[160];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "suid"), "original", 8));
	ASSERT_EQ(0, chown(p, USER_ID, USER_ID));
	ASSERT_EQ(0, chmod(p, 06755));
	check_same_attr(_metadata, self, "suid", &st, &bst);
	ASSERT_EQ(S_IFREG | 06755, st.st_mode);

	ASSERT_EQ(0, in_child(USER_ID, USER_ID, suid_child, p, &r));
	EXPECT_LE(0, r.ret[0]) TH_LOG("open: %s", strerror(r.err[0]));
	EXPECT_EQ(1, r.ret[1]) TH_LOG("write: %s", strerror(r.err[1]));
	EXPECT_EQ(0, r.ret[2]);
	check_contents(_metadata, self, "suid", "Xriginal", 8);
	/*
	 * A write by someone without CAP_FSETID drops set-user-ID, and
	 * set-group-ID as the group may execute.
	 */
	check_same_attr(_metadata, self, "suid", &st, &bst);
	EXPECT_EQ(S_IFREG | 0755, st.st_mode);
	EXPECT_EQ(S_IFREG | 0755, bst.st_mode);
}

struct perm_arg {
	const char *dp;		/* the default_permissions mount */
	const char *mnt;	/* the mount without it */
};

static void perm_child(const void *varg, struct child_res *r)
{
	const struct perm_arg *a = varg;
	char p[160];

	snprintf(p, sizeof(p), "%s/secret", a->dp);
	STEP(r, 0, open(p, O_RDONLY));
	STEP(r, 1, access(p, R_OK));
	STEP(r, 2, access(p, F_OK));
	snprintf(p, sizeof(p), "%s/public", a->dp);
	STEP(r, 3, open(p, O_RDONLY));
	STEP(r, 4, open(p, O_WRONLY));
	STEP(r, 5, truncate(p, 0));
	snprintf(p, sizeof(p), "%s/newfile", a->dp);
	STEP(r, 6, open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/pubdir/newfile", a->dp);
	STEP(r, 7, open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/public", a->dp);
	STEP(r, 8, chmod(p, 0666));
	/* The same files without default_permissions: the server decides. */
	snprintf(p, sizeof(p), "%s/secret", a->mnt);
	STEP(r, 9, open(p, O_RDONLY));
	STEP(r, 10, access(p, R_OK));
}

TEST_F_TIMEOUT(posix, default_permissions, FX_TIMEOUT)
{
	char p[160], why[256];
	struct perm_arg a = { self->dp.mnt, self->srv.mnt };
	struct stat st, bst;
	struct child_res r;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, put_file(MNT(p, "secret"), "s", 1));
	ASSERT_EQ(0, chmod(p, 0600));
	ASSERT_EQ(0, put_file(MNT(p, "public"), "p", 1));
	ASSERT_EQ(0, mkdir(MNT(p, "pubdir"), 0777));

	strcpy(self->dp.mnt, "/tmp/fusex-posix-dp.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dp.mnt));
	ASSERT_EQ(0, start_server(self, variant, &self->dp,
				  "allow_other,default_permissions",
				  why, sizeof(why))) TH_LOG("%s", why);

	ASSERT_EQ(0, in_child(USER_ID, USER_ID, perm_child, &a, &r));
	EXPECT_EQ(-1, r.ret[0]);
	EXPECT_EQ(EACCES, r.err[0]);
	EXPECT_EQ(-1, r.ret[1]);
	EXPECT_EQ(EACCES, r.err[1]);
	EXPECT_EQ(0, r.ret[2]);
	EXPECT_LE(0, r.ret[3]);
	EXPECT_EQ(-1, r.ret[4]);
	EXPECT_EQ(EACCES, r.err[4]);
	EXPECT_EQ(-1, r.ret[5]);
	EXPECT_EQ(EACCES, r.err[5]);
	/* The root directory is root's, 0755 */
	EXPECT_EQ(-1, r.ret[6]);
	EXPECT_EQ(EACCES, r.err[6]);
	/* pubdir is 0777: allowed, and passthrough_ll creates as root */
	EXPECT_LE(0, r.ret[7]) TH_LOG("%s", strerror(r.err[7]));
	EXPECT_EQ(-1, r.ret[8]);
	EXPECT_EQ(EPERM, r.err[8]);
	/*
	 * Without default_permissions nothing is checked by the kernel:
	 * passthrough_ll opens as root, and has no access operation (ENOSYS:
	 * access(2) succeeds from then on).
	 */
	EXPECT_LE(0, r.ret[9]) TH_LOG("%s", strerror(r.err[9]));
	EXPECT_EQ(0, r.ret[10]) TH_LOG("%s", strerror(r.err[10]));

	check_absent(_metadata, self, "newfile");
	check_same_attr(_metadata, self, "pubdir/newfile", &st, &bst);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_EQ(0, st.st_uid);
	check_same_attr(_metadata, self, "public", &st, &bst);
	EXPECT_EQ(S_IFREG | 0644, st.st_mode);
	EXPECT_EQ(1, st.st_size);
	check_contents(_metadata, self, "secret", "s", 1);
}

TEST_HARNESS_MAIN
