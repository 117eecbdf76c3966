// SPDX-License-Identifier: GPL-2.0
/*
 * Persistent server handles (FUSE_HAS_LOOKUP_HANDLE), end to end.
 *
 * Fixture "handle": a passthrough server over a tmpfs directory, mounted
 * through fusexctl, in three variants:
 *  - fusex_optin: fusex-passthrough on fusex: the server opts in through
 *    libfusex, so every inode carries the backing filesystem's own handle.
 *    name_to_handle_at() gives fusex's handle types 0xf4-0xf7, and
 *    open_by_handle_at() finds the object after `echo 3 > drop_caches`
 *    (FUSE_LOOKUP_HANDLE), even through another instance of the server;
 *    once the object is gone it gives ESTALE.
 *  - fusex_optout: Debian's passthrough_ll on fusex: no handles; file
 *    handles are nodeids (type 0xf2), good while the inode is cached.
 *  - fuse_optin: fusex-passthrough on fuse.ko: nothing is negotiated, the
 *    server runs as any libfuse server does, file handles are fuse's.
 * Each test makes an inode through one kind of reply (LOOKUP, CREATE,
 * MKNOD, MKDIR, SYMLINK, LINK, TMPFILE, READDIRPLUS) and checks its file
 * handle.
 *
 * Fixture "rawh": a server of the test's own on /dev/fusex that speaks the
 * handle protocol by hand, honest or spoiling one reply: a handle missing,
 * too large, of size 0, ill-sized, changing for a live inode, in a
 * READDIRPLUS record, a FUSE_LOOKUP_HANDLE answered for another object or
 * without a handle, an INIT with max_handle_sz out of range.  The caller
 * gets EIO (ESTALE from open_by_handle_at(), which turns every error into
 * ESTALE; ECONNREFUSED for INIT) and the mount goes on working.  Its INIT
 * reply comes late, so that every test's first request is built before
 * INIT says whether replies carry handles (the kernel once crashed so).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fusex_raw.h"
#include "../uapi/linux/fusex.h"

/*
 * File handle types fusex gives (kmod/handle.c): a server handle of
 * @size bytes alone, the type telling the padding of its last word; or
 * the nodeid.
 */
#define FH_FUSEX_HANDLE(size)	(0xf4 + (4 - (size) % 4) % 4)
#define FH_IS_FUSEX_HANDLE(t)	((t) >= 0xf4 && (t) <= 0xf7)
#define FH_FUSEX_NODEID	0xf2

/* Room for any file handle (MAX_HANDLE_SZ is 128). */
struct fh_buf {
	struct file_handle fh;
	unsigned char bytes[128];
};

/* Evict what nobody uses. */
static int drop_caches(void)
{
	return fx_drop_caches(0);
}

/* name_to_handle_at(): 0 or -errno. */
static int get_fh(const char *path, struct fh_buf *b, int flags)
{
	int mnt_id;

	memset(b, 0, sizeof(*b));
	b->fh.handle_bytes = sizeof(b->bytes);
	return name_to_handle_at(AT_FDCWD, path, &b->fh, &mnt_id, flags) ?
	       -errno : 0;
}

static bool same_fh(const struct fh_buf *a, const struct fh_buf *b)
{
	return a->fh.handle_type == b->fh.handle_type &&
	       a->fh.handle_bytes == b->fh.handle_bytes &&
	       !memcmp(a->fh.f_handle, b->fh.f_handle, a->fh.handle_bytes);
}

/* open_by_handle_at(): the fd or -errno. */
static int open_fh(int mfd, struct fh_buf *b, int flags)
{
	int fd = open_by_handle_at(mfd, &b->fh, flags);

	return fd < 0 ? -errno : fd;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* Read what @fd has from offset 0 into @buf (NUL-terminated). */
static ssize_t read_fd(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* ------------------------------------------------------------------ */
/* Fixture "handle": real servers                                     */
/* ------------------------------------------------------------------ */

FIXTURE(handle) {
	struct fx_server srv;
	char src[64];
	char path[256];
	char path2[256];
	char spath[256];
	int mfd;
};

FIXTURE_VARIANT(handle) {
	const char *type;
	const char *server;
	/* The server opts in and the kernel is fusex: handles persist. */
	bool persistent;
};

FIXTURE_VARIANT_ADD(handle, fusex_optin) {
	.type = "fusex", .server = "fusex-passthrough", .persistent = true,
};
FIXTURE_VARIANT_ADD(handle, fusex_optout) {
	.type = "fusex", .server = "passthrough_ll", .persistent = false,
};
FIXTURE_VARIANT_ADD(handle, fuse_optin) {
	.type = "fuse", .server = "fusex-passthrough", .persistent = false,
};

/* A path in the mount, and the same in the backing directory. */
#define MNT(name) (snprintf(self->path, sizeof(self->path), "%s/%s", \
			    self->srv.mnt, (name)), self->path)
#define MNT2(name) (snprintf(self->path2, sizeof(self->path2), "%s/%s", \
			     self->srv.mnt, (name)), self->path2)
#define SRC(name) (snprintf(self->spath, sizeof(self->spath), "%s/%s", \
			    self->src, (name)), self->spath)

static int start_server(struct fx_server *srv, const char *type,
			const char *server_name, const char *src, char *why,
			size_t whylen)
{
	char server[PATH_MAX], opts[128];
	const char *argv[] = { server, "-f", "-o", opts, NULL };

	if (fx_build_path(server, sizeof(server), server_name)) {
		snprintf(why, whylen, "%s not built", server_name);
		return -ENOENT;
	}
	/* Long timeouts: what READDIRPLUS brings in stays in the dcache. */
	snprintf(opts, sizeof(opts), "source=%s,timeout=86400", src);
	return fx_server_start(srv, type, NULL, argv, why, whylen);
}

FIXTURE_SETUP(handle)
{
	char server[PATH_MAX], why[256];

	self->mfd = -1;
	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	if (fx_build_path(server, sizeof(server), variant->server))
		SKIP(return, "%s not built (set FUSEX_BUILD)", variant->server);
	strcpy(self->src, "/tmp/fusex-hsrc.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	strcpy(self->srv.mnt, "/tmp/fusex-handle.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	ASSERT_EQ(0, start_server(&self->srv, variant->type, variant->server,
				  self->src, why, sizeof(why)))
		TH_LOG("%s", why);
	self->mfd = open(self->srv.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->mfd);
}

FIXTURE_TEARDOWN(handle)
{
	if (self->mfd >= 0)
		close(self->mfd);
	if (self->srv.mnt[0]) {
		fx_server_stop(&self->srv);
		rmdir(self->srv.mnt);
	}
	if (self->src[0]) {
		fx_rmtree(self->src);
		rmdir(self->src);
	}
}

/*
 * The object at @path (in the mount) has a file handle of the kind the
 * variant promises.  After drop_caches, open_by_handle_at() finds it again
 * with a persistent handle (its backing inode number is @ino and, if
 * @text, it reads @text), and fails with ESTALE without one (the inode is
 * gone from the cache).
 */
static void check_fh(struct __test_metadata *_metadata,
		     FIXTURE_DATA(handle) *self,
		     const FIXTURE_VARIANT(handle) *variant,
		     const char *path, ino_t ino, const char *text,
		     int open_flags)
{
	struct fh_buf b;
	char buf[256];
	struct stat st;
	int fd;

	ASSERT_EQ(0, get_fh(path, &b, 0)) TH_LOG("name_to_handle_at %s", path);
	if (variant->persistent) {
		EXPECT_TRUE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));
	} else if (!strcmp(variant->type, "fusex")) {
		EXPECT_EQ(FH_FUSEX_NODEID, b.fh.handle_type);
	} else {
		EXPECT_FALSE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));
	}

	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, &b, open_flags);
	if (!variant->persistent) {
		/*
		 * The inode must go.  fuse.ko pins an inode until the
		 * server has answered the RELEASE it sends in the
		 * background after the last close(), so give that a
		 * moment before calling it a failure.
		 */
		for (int i = 0; i < 50 && fd >= 0; i++) {
			close(fd);
			fx_msleep(20);
			ASSERT_EQ(0, drop_caches());
			fd = open_fh(self->mfd, &b, open_flags);
		}
		EXPECT_EQ(-ESTALE, fd) TH_LOG("%s without handles", path);
		if (fd >= 0)
			close(fd);
		return;
	}
	ASSERT_LE(0, fd) TH_LOG("open_by_handle_at %s: %s", path,
				strerror(-fd));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(ino, st.st_ino);
	if (text) {
		EXPECT_EQ((ssize_t)strlen(text), read_fd(fd, buf, sizeof(buf)));
		EXPECT_STREQ(text, buf);
	}
	close(fd);
}

static ino_t src_ino(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_ino;
}

/* LOOKUP: a file made on the backing side, found by name. */
TEST_F_TIMEOUT(handle, lookup, FX_TIMEOUT)
{
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_file(SRC("a"), "looked up\n"));
	ASSERT_EQ(0, stat(MNT("a"), &st));
	check_fh(_metadata, self, variant, MNT("a"), src_ino(SRC("a")),
		 "looked up\n", O_RDONLY);
}

/* CREATE: the handle comes after fuse_open_out. */
TEST_F_TIMEOUT(handle, create, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_file(MNT("c"), "created\n"));
	check_fh(_metadata, self, variant, MNT("c"), src_ino(SRC("c")),
		 "created\n", O_RDONLY);
}

/* MKNOD: a regular file and a FIFO. */
TEST_F_TIMEOUT(handle, mknod, FX_TIMEOUT)
{
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mknod(MNT("n"), S_IFREG | 0644, 0));
	fd = open(MNT("n"), O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(6, write(fd, "mknod\n", 6));
	close(fd);
	check_fh(_metadata, self, variant, MNT("n"), src_ino(SRC("n")),
		 "mknod\n", O_RDONLY);

	ASSERT_EQ(0, mknod(MNT("fifo"), S_IFIFO | 0644, 0));
	check_fh(_metadata, self, variant, MNT("fifo"), src_ino(SRC("fifo")),
		 NULL, O_PATH);
}

/* MKDIR: a directory handle, reconnected to the tree on open. */
TEST_F_TIMEOUT(handle, mkdir, FX_TIMEOUT)
{
	struct fh_buf b;
	char buf[64];
	int fd, ffd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT("d"), 0755));
	ASSERT_EQ(0, mkdir(MNT("d/sub"), 0755));
	ASSERT_EQ(0, write_file(SRC("d/sub/inner"), "inner\n"));
	check_fh(_metadata, self, variant, MNT("d/sub"),
		 src_ino(SRC("d/sub")), NULL, O_RDONLY | O_DIRECTORY);
	if (!variant->persistent)
		return;

	/* Through the directory found by handle, to a file in it. */
	ASSERT_EQ(0, get_fh(MNT("d/sub"), &b, 0));
	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, &b, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd);
	ffd = openat(fd, "inner", O_RDONLY);
	ASSERT_LE(0, ffd);
	EXPECT_EQ(6, read_fd(ffd, buf, sizeof(buf)));
	EXPECT_STREQ("inner\n", buf);
	close(ffd);
	close(fd);
}

/* SYMLINK: the link itself (O_PATH), not its target. */
TEST_F_TIMEOUT(handle, symlink, FX_TIMEOUT)
{
	struct fh_buf b;
	char buf[64];
	ssize_t n;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, symlink("some/target", MNT("s")));
	check_fh(_metadata, self, variant, MNT("s"), src_ino(SRC("s")), NULL,
		 O_PATH);
	if (!variant->persistent)
		return;
	ASSERT_EQ(0, get_fh(MNT("s"), &b, 0));
	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, &b, O_PATH);
	ASSERT_LE(0, fd);
	n = readlinkat(fd, "", buf, sizeof(buf));
	ASSERT_EQ(11, n);
	buf[n] = '\0';
	EXPECT_STREQ("some/target", buf);
	close(fd);
}

/* LINK: a second name for the same object gives the same handle. */
TEST_F_TIMEOUT(handle, link, FX_TIMEOUT)
{
	struct fh_buf b1, b2;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_file(MNT("l1"), "linked\n"));
	ASSERT_EQ(0, link(MNT("l1"), MNT2("l2")));
	ASSERT_EQ(0, get_fh(MNT("l1"), &b1, 0));
	ASSERT_EQ(0, get_fh(MNT2("l2"), &b2, 0));
	EXPECT_TRUE(same_fh(&b1, &b2));
	check_fh(_metadata, self, variant, MNT("l2"), src_ino(SRC("l1")),
		 "linked\n", O_RDONLY);
}

/*
 * TMPFILE: fusex-passthrough answers it through libfusex's tmpfile
 * callback (libfuse 3.14 has no tmpfile operation).  The unnamed file is
 * written, its file handle is the server's, and linkat() gives it a name
 * that the backing directory has too.  passthrough_ll answers ENOSYS:
 * O_TMPFILE fails with EOPNOTSUPP, as it does on fuse.ko.  fuse.ko sends
 * FUSE_TMPFILE from Linux 6.3 on; on 6.1 it answers EOPNOTSUPP itself.
 */
TEST_F_TIMEOUT(handle, tmpfile, FX_TIMEOUT)
{
	struct fh_buf b;
	char buf[32];
	struct stat st;
	int fd, sfd, mnt_id;

	FX_RETURN_IF_SKIPPED();
	errno = 0;
	fd = open(self->srv.mnt, O_TMPFILE | O_RDWR, 0640);
	if (!strcmp(variant->server, "passthrough_ll")) {
		EXPECT_EQ(-1, fd);
		EXPECT_EQ(EOPNOTSUPP, errno);
		if (fd >= 0)
			close(fd);
		return;
	}
	if (fd < 0 && errno == EOPNOTSUPP && !strcmp(variant->type, "fuse"))
		SKIP(return, "this kernel's fuse.ko has no FUSE_TMPFILE");
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_nlink);
	ASSERT_EQ(5, write(fd, "temp\n", 5));
	memset(&b, 0, sizeof(b));
	b.fh.handle_bytes = sizeof(b.bytes);
	ASSERT_EQ(0, name_to_handle_at(fd, "", &b.fh, &mnt_id, AT_EMPTY_PATH));
	if (variant->persistent)
		EXPECT_TRUE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));
	ASSERT_EQ(0, linkat(fd, "", AT_FDCWD, MNT("named"), AT_EMPTY_PATH))
		TH_LOG("linkat: %s", strerror(errno));
	close(fd);
	sfd = open(SRC("named"), O_RDONLY);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(5, read_fd(sfd, buf, sizeof(buf)));
	EXPECT_STREQ("temp\n", buf);
	ASSERT_EQ(0, fstat(sfd, &st));
	EXPECT_EQ(1, st.st_nlink);
	close(sfd);
	check_fh(_metadata, self, variant, MNT("named"), src_ino(SRC("named")),
		 "temp\n", O_RDONLY);
}

/*
 * READDIRPLUS: the entries of a directory listed after drop_caches are
 * instantiated from its records.  The files are then renamed on the
 * backing side, so a LOOKUP of the old names would fail: their file
 * handles can only come from what READDIRPLUS brought in.
 */
TEST_F_TIMEOUT(handle, readdirplus, FX_TIMEOUT)
{
	static const char *const names[] = { "x", "y", "z" };
	char name[32], text[32], old[300], buf[64];
	struct fh_buf b[3];
	struct dirent *de;
	unsigned int i, seen = 0;
	DIR *d;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(SRC("dp"), 0755));
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "dp/%s", names[i]);
		snprintf(text, sizeof(text), "record %s\n", names[i]);
		ASSERT_EQ(0, write_file(SRC(name), text));
	}
	ASSERT_EQ(0, drop_caches());
	d = opendir(MNT("dp"));
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		seen++;
	closedir(d);
	EXPECT_EQ(5, seen);

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "dp/%s", names[i]);
		snprintf(old, sizeof(old), "%s", SRC(name));
		snprintf(name, sizeof(name), "dp/%s.moved", names[i]);
		ASSERT_EQ(0, rename(old, SRC(name)));
	}
	/* All the handles first: drop_caches would take the dentries. */
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "dp/%s", names[i]);
		ASSERT_EQ(0, get_fh(MNT(name), &b[i], 0)) TH_LOG("%s", name);
		if (variant->persistent)
			EXPECT_TRUE(FH_IS_FUSEX_HANDLE(b[i].fh.handle_type));
	}
	ASSERT_EQ(0, drop_caches());
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "record %s\n", names[i]);
		fd = open_fh(self->mfd, &b[i], O_RDONLY);
		if (!variant->persistent) {
			EXPECT_EQ(-ESTALE, fd);
			continue;
		}
		ASSERT_LE(0, fd) TH_LOG("%s: %s", names[i], strerror(-fd));
		EXPECT_EQ((ssize_t)strlen(text), read_fd(fd, buf, sizeof(buf)));
		EXPECT_STREQ(text, buf);
		close(fd);
	}
}

/*
 * Give ESTALE within @ms, retrying: the kernel's FORGET of the inode and
 * the server's closing of its backing fd run in the background.
 */
static int open_fh_until_stale(int mfd, struct fh_buf *b, int ms)
{
	int fd, waited;

	for (waited = 0;; waited += 50) {
		fd = open_fh(mfd, b, O_PATH);
		if (fd < 0)
			return fd;
		close(fd);
		if (waited >= ms)
			return 0;
		drop_caches();
		fx_msleep(50);
	}
}

/* Unlinked through the mount: the handle is stale. */
TEST_F_TIMEOUT(handle, unlink_estale, FX_TIMEOUT)
{
	struct fh_buf b;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_file(MNT("u"), "unlinked\n"));
	ASSERT_EQ(0, get_fh(MNT("u"), &b, 0));
	ASSERT_EQ(0, unlink(MNT("u")));
	ASSERT_EQ(0, drop_caches());
	EXPECT_EQ(-ESTALE, open_fh_until_stale(self->mfd, &b, 5000));
}

/*
 * Unlinked and made again on the backing side, under the same name: the
 * old handle is stale, the new one finds the new file.
 */
TEST_F_TIMEOUT(handle, recreate_estale, FX_TIMEOUT)
{
	struct fh_buf b1, b2;
	ino_t ino1, ino2;
	char buf[64];
	struct stat st;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, write_file(SRC("r"), "old\n"));
	ASSERT_EQ(0, stat(MNT("r"), &st));
	ASSERT_EQ(0, get_fh(MNT("r"), &b1, 0));
	ino1 = src_ino(SRC("r"));
	ASSERT_EQ(0, unlink(SRC("r")));
	ASSERT_EQ(0, write_file(SRC("r"), "new\n"));
	ino2 = src_ino(SRC("r"));
	TH_LOG("backing inode %lu, then %lu%s", (unsigned long)ino1,
	       (unsigned long)ino2, ino1 == ino2 ? " (reused)" : "");
	ASSERT_EQ(0, drop_caches());
	ASSERT_EQ(0, stat(MNT("r"), &st));
	EXPECT_EQ(ino2, st.st_ino);
	ASSERT_EQ(0, get_fh(MNT("r"), &b2, 0));
	EXPECT_FALSE(same_fh(&b1, &b2));
	EXPECT_EQ(-ESTALE, open_fh_until_stale(self->mfd, &b1, 5000));
	if (!variant->persistent)
		return;
	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, &b2, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("new handle: %s", strerror(-fd));
	EXPECT_EQ(4, read_fd(fd, buf, sizeof(buf)));
	EXPECT_STREQ("new\n", buf);
	close(fd);
}

/* The root's handle comes from a FUSE_LOOKUP_HANDLE right after INIT. */
TEST_F_TIMEOUT(handle, root, FX_TIMEOUT)
{
	struct fh_buf b;
	struct stat st;
	int i, fd;

	FX_RETURN_IF_SKIPPED();
	/* It is fetched in the background: give it a moment. */
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, get_fh(self->srv.mnt, &b, 0));
		if (!variant->persistent ||
		    FH_IS_FUSEX_HANDLE(b.fh.handle_type))
			break;
		fx_msleep(20);
	}
	if (variant->persistent)
		EXPECT_TRUE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));
	/* The root is never evicted: its file handle always works. */
	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, &b, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(src_ino(self->src), st.st_ino);
	close(fd);
}

/*
 * A handle from one instance of the server works through another: the
 * first is stopped (and its mount gone), a second is started on the same
 * directory, and the old handle finds the file through the new mount.
 * This is what lets a restarted server take over a mount.
 */
TEST_F_TIMEOUT(handle, another_instance, FX_TIMEOUT)
{
	char buf[64], why[256];
	struct fh_buf b;
	int fd;

	FX_RETURN_IF_SKIPPED();
	if (!variant->persistent)
		SKIP(return, "handles persist only when negotiated");
	ASSERT_EQ(0, mkdir(MNT("deep"), 0755));
	ASSERT_EQ(0, write_file(MNT("deep/f"), "instance one\n"));
	ASSERT_EQ(0, get_fh(MNT("deep/f"), &b, 0));
	ASSERT_TRUE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));

	close(self->mfd);
	self->mfd = -1;
	fx_server_stop(&self->srv);
	ASSERT_EQ(0, start_server(&self->srv, variant->type, variant->server,
				  self->src, why, sizeof(why)))
		TH_LOG("%s", why);
	self->mfd = open(self->srv.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->mfd);
	fd = open_fh(self->mfd, &b, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	EXPECT_EQ(13, read_fd(fd, buf, sizeof(buf)));
	EXPECT_STREQ("instance one\n", buf);
	EXPECT_EQ(3, pwrite(fd, "two", 3, 9));
	close(fd);
	fd = open(SRC("deep/f"), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(13, read_fd(fd, buf, sizeof(buf)));
	EXPECT_STREQ("instance two\n", buf);
	close(fd);
}

/* The usual operations work, with or without handles. */
TEST_F_TIMEOUT(handle, basic_ops, FX_TIMEOUT)
{
	char buf[64];
	struct stat st;
	struct dirent *de;
	int fd, n = 0;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(MNT("dir"), 0750));
	ASSERT_EQ(0, write_file(MNT("dir/f"), "0123456789"));
	ASSERT_EQ(0, truncate(MNT("dir/f"), 4));
	ASSERT_EQ(0, stat(MNT("dir/f"), &st));
	EXPECT_EQ(4, st.st_size);
	ASSERT_EQ(0, chmod(MNT("dir/f"), 0600));
	ASSERT_EQ(0, rename(MNT("dir/f"), MNT2("dir/g")));
	ASSERT_EQ(0, stat(SRC("dir/g"), &st));
	EXPECT_EQ(S_IFREG | 0600, st.st_mode);
	EXPECT_EQ(4, st.st_size);
	if (setxattr(MNT("dir/g"), "user.k", "v", 1, 0) == 0) {
		EXPECT_EQ(1, getxattr(MNT("dir/g"), "user.k", buf, sizeof(buf)));
		EXPECT_EQ(1, getxattr(SRC("dir/g"), "user.k", buf, sizeof(buf)));
	} else {
		EXPECT_EQ(EOPNOTSUPP, errno);
	}
	fd = open(MNT("dir/g"), O_RDWR | O_APPEND);
	ASSERT_LE(0, fd);
	EXPECT_EQ(2, write(fd, "ab", 2));
	EXPECT_EQ(6, read_fd(fd, buf, sizeof(buf)));
	EXPECT_STREQ("0123ab", buf);
	EXPECT_EQ(0, fsync(fd));
	close(fd);
	d = opendir(MNT("dir"));
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		n++;
	closedir(d);
	EXPECT_EQ(3, n);
	EXPECT_EQ(-1, rmdir(MNT("dir")));
	EXPECT_EQ(ENOTEMPTY, errno);
	ASSERT_EQ(0, unlink(MNT("dir/g")));
	ASSERT_EQ(0, rmdir(MNT("dir")));
	EXPECT_EQ(-1, stat(SRC("dir"), &st));
}

/* Many entries: READDIRPLUS replies made smaller to fit the handles. */
TEST_F_TIMEOUT(handle, big_directory, FX_TIMEOUT)
{
	char name[64];
	struct dirent *de;
	bool seen[300] = { false };
	unsigned int i, n = 0, bad = 0;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, mkdir(SRC("big"), 0755));
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "big/%u", i);
		ASSERT_EQ(0, write_file(SRC(name), ""));
	}
	ASSERT_EQ(0, drop_caches());
	d = opendir(MNT("big"));
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		char *end;
		unsigned long v = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] == '.')
			continue;
		if (*end || v >= 300 || seen[v]) {
			bad++;
			continue;
		}
		seen[v] = true;
		n++;
	}
	closedir(d);
	EXPECT_EQ(300, n);
	EXPECT_EQ(0, bad);
	/* Every one of them came with its handle. */
	for (i = 0; i < 300; i += 37) {
		struct fh_buf b;

		snprintf(name, sizeof(name), "big/%u", i);
		ASSERT_EQ(0, get_fh(MNT(name), &b, 0));
		if (variant->persistent)
			EXPECT_TRUE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));
	}
}

/* ------------------------------------------------------------------ */
/* Fixture "rawh": the handle protocol by hand                        */
/* ------------------------------------------------------------------ */

#define RBUFSZ ((1 << 20) + 4096)
#define RFILE_SIZE 100
/*
 * The handles this server gives: RHANDLE_SZ bytes, of at most RMAX_HANDLE,
 * unless a test sets rsrv.hsize (then the maximum is the same).
 */
#define RHANDLE_SZ 12
#define RMAX_HANDLE 16
#define RHANDLE_MAX_SZ 128

enum { R_ROOT = 1, R_FILE = 2, R_DIR = 4, R_TMP = 8 };

enum rspoil {
	R_HONEST,
	R_MISSING,		/* LOOKUP file: no handle after the entry */
	R_OVERSIZED,		/* LOOKUP file: a 17-byte handle (max 16) */
	R_SIZE_LIES,		/* LOOKUP file: size 20 in 16 bytes of data */
	R_ZERO,			/* LOOKUP file: a handle of size 0 */
	R_ILL_SIZED,		/* LOOKUP file: size 4 sent in 16 bytes */
	R_CHANGES,		/* LOOKUP file: another handle the 2nd time */
	R_PLUS_MISSING,		/* READDIRPLUS: "file" without its handle */
	R_PLUS_OVERSIZED,	/* READDIRPLUS: "file" with a 17-byte one */
	R_LH_OTHER,		/* LOOKUP_HANDLE of file: dir's entry */
	R_LH_NO_HANDLE,		/* LOOKUP_HANDLE of file: no handle */
	R_LH_STALE,		/* LOOKUP_HANDLE of file: ESTALE */
	R_INIT_ZERO,		/* INIT: handles with max_handle_sz 0 */
	R_INIT_BIG,		/* INIT: handles with max_handle_sz 129 */
};

struct rsrv {
	struct fx_raw r;
	enum rspoil spoil;
	/* Entries and attributes valid for a day, not 0 s. */
	bool long_valid;
	atomic_int file_lookups;	/* LOOKUPs of "file" */
	atomic_int lh_root;		/* LOOKUP_HANDLEs of size 0, nodeid 1 */
	atomic_int lh_found;		/* LOOKUP_HANDLEs answered honestly */
	atomic_int opens;		/* OPENs */
	unsigned int hsize;		/* its handles' size, if not 12 */
};

static unsigned int rhsize(const struct rsrv *s)
{
	return s->hsize ? s->hsize : RHANDLE_SZ;
}

static void rhandle(const struct rsrv *s, uint64_t nodeid,
		    unsigned char h[RHANDLE_MAX_SZ])
{
	unsigned int i;

	memset(h, 0, RHANDLE_MAX_SZ);
	for (i = 0; i < rhsize(s); i++)
		h[i] = (unsigned char)(0xa0 + i + nodeid * 16);
}

static uint64_t rnodeid_of(const struct rsrv *s, const unsigned char *h,
			   size_t size)
{
	static const uint64_t ids[] = { R_ROOT, R_FILE, R_DIR, R_TMP };
	unsigned char want[RHANDLE_MAX_SZ];
	size_t i;

	if (size != rhsize(s))
		return 0;
	for (i = 0; i < 4; i++) {
		rhandle(s, ids[i], want);
		if (!memcmp(want, h, size))
			return ids[i];
	}
	return 0;
}

static int rsend(struct rsrv *s, uint64_t unique, int error,
		 const void *data, size_t len)
{
	return fx_raw_send(&s->r, unique, error, data, len, 0);
}

static void rsend_spoiled(struct rsrv *s, uint64_t unique, int error,
			  const void *data, size_t len)
{
	fx_raw_send_spoiled(&s->r, unique, error, data, len, 0);
}

static void rfill_entry(struct rsrv *s, struct fuse_entry_out *e,
			uint64_t nodeid)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = nodeid;
	e->generation = 1;
	if (s->long_valid)
		e->entry_valid = e->attr_valid = 86400;
	e->attr.ino = nodeid;
	e->attr.nlink = 1;
	e->attr.blksize = 4096;
	if (nodeid == R_FILE) {
		e->attr.mode = S_IFREG | 0644;
		e->attr.size = RFILE_SIZE;
	} else if (nodeid == R_TMP) {
		e->attr.mode = S_IFREG | 0600;
		e->attr.nlink = 0;
	} else {
		e->attr.mode = S_IFDIR | 0755;
		e->attr.nlink = 2;
	}
}

/* A handle on the wire: @size in its header, @datalen bytes of data. */
static size_t rput_handle(const struct rsrv *s, void *buf, uint64_t nodeid,
			  unsigned int size, size_t datalen)
{
	struct fusex_handle h = { .size = size };
	unsigned char data[RHANDLE_MAX_SZ];

	memset(buf, 0, sizeof(h) + datalen);
	memcpy(buf, &h, sizeof(h));
	rhandle(s, nodeid, data);
	memcpy((char *)buf + sizeof(h), data,
	       datalen < rhsize(s) ? datalen : rhsize(s));
	return sizeof(h) + datalen;
}

/* The bytes an honest handle takes on the wire: whole 8-byte words. */
static size_t rwire(const struct rsrv *s)
{
	return (rhsize(s) + 7) / 8 * 8;
}

/* An entry reply with its handle, or spoiled as @spoil says. */
static void rentry(struct rsrv *s, uint64_t unique, uint64_t nodeid,
		   enum rspoil spoil)
{
	char out[sizeof(struct fuse_entry_out) + 16 + RHANDLE_MAX_SZ];
	struct fuse_entry_out *e = (void *)out;
	size_t len = sizeof(*e);

	rfill_entry(s, e, nodeid);
	switch (spoil) {
	case R_MISSING:
	case R_LH_NO_HANDLE:
		rsend_spoiled(s, unique, 0, out, len);
		return;
	case R_OVERSIZED:
		len += rput_handle(s, out + len, nodeid, 17, 24);
		break;
	case R_SIZE_LIES:
		len += rput_handle(s, out + len, nodeid, 20, 16);
		break;
	case R_ZERO:
		len += rput_handle(s, out + len, nodeid, 0, 0);
		break;
	case R_ILL_SIZED:
		len += rput_handle(s, out + len, nodeid, 4, 16);
		break;
	case R_CHANGES:
		len += rput_handle(s, out + len, nodeid + 1, rhsize(s),
				   rwire(s));
		break;
	default:
		len += rput_handle(s, out + len, nodeid, rhsize(s), rwire(s));
		rsend(s, unique, 0, out, len);
		return;
	}
	rsend_spoiled(s, unique, 0, out, len);
}

static void rdo_init(struct rsrv *s, struct fuse_in_header *ih,
		     const struct fuse_init_in *in)
{
	struct fusex_init_out out = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.flags = FUSE_DO_READDIRPLUS | FUSE_INIT_EXT,
		.max_background = 12, .congestion_threshold = 9,
		.max_write = 65536, .time_gran = 1,
		.flags2 = FUSE_HAS_LOOKUP_HANDLE >> 32,
		.max_handle_sz = s->hsize ? s->hsize : RMAX_HANDLE,
	};

	/* Only what the kernel offered. */
	if (!(in->flags & FUSE_INIT_EXT) ||
	    !(((uint64_t)in->flags2 << 32) & FUSE_HAS_LOOKUP_HANDLE)) {
		out.flags2 = 0;
		out.max_handle_sz = 0;
	}
	/*
	 * Late, so that the test's first request is built before INIT is
	 * answered: whether its reply carries a handle is not known yet.
	 */
	fx_msleep(100);
	if (s->spoil == R_INIT_ZERO || s->spoil == R_INIT_BIG) {
		out.max_handle_sz = s->spoil == R_INIT_ZERO ? 0 : 129;
		rsend_spoiled(s, ih->unique, 0, &out, sizeof(out));
		return;
	}
	rsend(s, ih->unique, 0, &out, sizeof(out));
}

static void rdo_lookup(struct rsrv *s, struct fuse_in_header *ih,
		       const char *name)
{
	enum rspoil spoil = R_HONEST;
	uint64_t nodeid;

	if (!strcmp(name, "file")) {
		nodeid = R_FILE;
		if (atomic_fetch_add(&s->file_lookups, 1) ||
		    s->spoil != R_CHANGES)
			spoil = s->spoil;
	} else if (!strcmp(name, "dir")) {
		nodeid = R_DIR;
	} else if (!strcmp(name, "..")) {
		nodeid = R_ROOT;
	} else {
		rsend(s, ih->unique, -ENOENT, NULL, 0);
		return;
	}
	if (spoil > R_CHANGES)
		spoil = R_HONEST;
	rentry(s, ih->unique, nodeid, spoil);
}

static void rdo_lookup_handle(struct rsrv *s, struct fuse_in_header *ih)
{
	const struct fusex_lookup_handle_in *in = (void *)(ih + 1);
	const struct fusex_handle *h = (void *)(in + 1);
	uint64_t nodeid;

	if (!h->size) {
		if (in->nodeid == R_ROOT)
			atomic_fetch_add(&s->lh_root, 1);
		rentry(s, ih->unique, in->nodeid, R_HONEST);
		return;
	}
	nodeid = rnodeid_of(s, h->data, h->size);
	if (!nodeid) {
		rsend(s, ih->unique, -ESTALE, NULL, 0);
		return;
	}
	switch (s->spoil) {
	case R_LH_OTHER:
		/* Honest about the directory, but that was not asked. */
		rentry(s, ih->unique, R_DIR, R_HONEST);
		atomic_fetch_add(&s->r.spoiled, 1);
		return;
	case R_LH_NO_HANDLE:
		rentry(s, ih->unique, nodeid, R_LH_NO_HANDLE);
		return;
	case R_LH_STALE:
		rsend_spoiled(s, ih->unique, -ESTALE, NULL, 0);
		return;
	default:
		atomic_fetch_add(&s->lh_found, 1);
		rentry(s, ih->unique, nodeid, R_HONEST);
	}
}

/* Append a READDIRPLUS record (and its handle); returns the new length. */
static size_t radd_plus(struct rsrv *s, char *buf, size_t len,
			uint64_t nodeid, const char *name, uint64_t off,
			enum rspoil spoil)
{
	struct fuse_direntplus *dp = (void *)(buf + len);
	size_t namelen = strlen(name), reclen;

	reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
	memset(dp, 0, reclen);
	if (nodeid)
		rfill_entry(s, &dp->entry_out, nodeid);
	dp->entry_out.nodeid = nodeid;
	dp->dirent.ino = nodeid ? nodeid : R_ROOT;
	dp->dirent.off = off;
	dp->dirent.namelen = namelen;
	dp->dirent.type = nodeid == R_FILE ? DT_REG : DT_DIR;
	memcpy(dp->dirent.name, name, namelen);
	len += reclen;
	if (!nodeid || spoil == R_PLUS_MISSING)
		return len;
	if (spoil == R_PLUS_OVERSIZED)
		return len + rput_handle(s, buf + len, nodeid, 17, 24);
	return len + rput_handle(s, buf + len, nodeid, rhsize(s), rwire(s));
}

static void rdo_readdirplus(struct rsrv *s, struct fuse_in_header *ih,
			    const struct fuse_read_in *ri)
{
	static const struct {
		const char *name;
		uint64_t nodeid;
	} ents[] = {
		{ ".", 0 }, { "..", 0 }, { "dir", R_DIR }, { "file", R_FILE },
	};
	enum rspoil spoil = s->spoil;
	char out[4096];
	size_t len = 0;
	uint64_t i;

	/* "file" last: a record without its handle ends the reply short. */
	for (i = ri->offset; i < 4; i++)
		len = radd_plus(s, out, len, ents[i].nodeid, ents[i].name,
				i + 1, ents[i].nodeid == R_FILE ? spoil :
								   R_HONEST);
	if (ri->offset >= 4)
		spoil = R_HONEST;
	if (spoil == R_PLUS_MISSING || spoil == R_PLUS_OVERSIZED)
		rsend_spoiled(s, ih->unique, 0, out, len);
	else
		rsend(s, ih->unique, 0, out, len);
}

static void rdo_read(struct rsrv *s, struct fuse_in_header *ih,
		     const struct fuse_read_in *ri)
{
	char data[RFILE_SIZE];
	size_t n = 0;

	memset(data, 'x', sizeof(data));
	if (ri->offset < RFILE_SIZE)
		n = RFILE_SIZE - ri->offset;
	if (n > ri->size)
		n = ri->size;
	rsend(s, ih->unique, 0, data, n);
}

/* TMPFILE: an entry, an open file, and the new file's handle. */
static void rdo_tmpfile(struct rsrv *s, struct fuse_in_header *ih)
{
	char out[sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out) +
		 16 + RHANDLE_MAX_SZ];
	struct fuse_entry_out *e = (void *)out;
	struct fuse_open_out oo = { .fh = R_TMP };
	size_t len = sizeof(*e);

	rfill_entry(s, e, R_TMP);
	memcpy(out + len, &oo, sizeof(oo));
	len += sizeof(oo);
	len += rput_handle(s, out + len, R_TMP, rhsize(s), rwire(s));
	rsend(s, ih->unique, 0, out, len);
}

static void rhandle_req(struct fx_raw *r, struct fuse_in_header *ih)
{
	struct rsrv *s = fx_container_of(r, struct rsrv, r);
	struct fuse_attr_out ao = { 0 };
	struct fuse_entry_out e;
	void *arg = ih + 1;

	switch (ih->opcode) {
	case FUSE_INIT:
		rdo_init(s, ih, arg);
		break;
	case FUSE_LOOKUP:
		rdo_lookup(s, ih, arg);
		break;
	case FUSE_LOOKUP_HANDLE:
		rdo_lookup_handle(s, ih);
		break;
	case FUSE_GETATTR:
		rfill_entry(s, &e, ih->nodeid);
		ao.attr = e.attr;
		ao.attr_valid = e.attr_valid;
		rsend(s, ih->unique, 0, &ao, sizeof(ao));
		break;
	case FUSE_READ:
		rdo_read(s, ih, arg);
		break;
	case FUSE_READDIRPLUS:
		rdo_readdirplus(s, ih, arg);
		break;
	case FUSE_TMPFILE:
		rdo_tmpfile(s, ih);
		break;
	case FUSE_OPEN:
		atomic_fetch_add(&s->opens, 1);
		fx_raw_default(r, ih);
		break;
	default:
		fx_raw_default(r, ih);
		break;
	}
}

FIXTURE(rawh) {
	struct rsrv s;
	char path[128];
	int mfd;
};

FIXTURE_SETUP(rawh)
{
	self->mfd = -1;
	fx_raw_setup(_metadata, &self->s.r, "/tmp/fusex-rawh.XXXXXX", RBUFSZ);
}

FIXTURE_TEARDOWN(rawh)
{
	if (self->mfd >= 0)
		close(self->mfd);
	fx_raw_teardown(&self->s.r);
}

static int rstart(FIXTURE_DATA(rawh) *self, enum rspoil spoil,
		  bool long_valid)
{
	struct rsrv *s = &self->s;

	s->spoil = spoil;
	s->long_valid = long_valid;
	s->r.handle = rhandle_req;
	return fx_raw_start(&s->r);
}

#define RPATH(name) (snprintf(self->path, sizeof(self->path), "%s/%s", \
			      self->s.r.mnt, (name)), self->path)

/* After a spoiled reply, the honest server is served as before. */
static bool rstill_works(FIXTURE_DATA(rawh) *self)
{
	self->s.spoil = R_HONEST;
	return fx_raw_still_works(self->s.r.mnt, RFILE_SIZE);
}

/* The file handle name_to_handle_at() gives is the server's handle. */
static void expect_raw_fh(struct __test_metadata *_metadata,
			  FIXTURE_DATA(rawh) *self, const struct fh_buf *b,
			  uint64_t nodeid)
{
	unsigned int size = rhsize(&self->s);
	unsigned char want[RHANDLE_MAX_SZ];

	rhandle(&self->s, nodeid, want);
	ASSERT_EQ(FH_FUSEX_HANDLE(size), b->fh.handle_type);
	/* The handle alone, zero-padded to a whole word. */
	ASSERT_EQ((size + 3) / 4 * 4, b->fh.handle_bytes);
	EXPECT_EQ(0, memcmp(b->bytes, want, b->fh.handle_bytes));
}

/*
 * Look "file" up, check its file handle, evict it, and open it by the
 * file handle: one FUSE_LOOKUP_HANDLE with the same bytes, and the file's
 * contents.
 */
static void rfile_by_handle(struct __test_metadata *_metadata,
			    FIXTURE_DATA(rawh) *self, struct fh_buf *b)
{
	char buf[256];
	struct stat st;
	int fd;

	ASSERT_EQ(0, stat(RPATH("file"), &st));
	ASSERT_EQ(0, get_fh(RPATH("file"), b, 0))
		TH_LOG("%u-byte handle: %s", rhsize(&self->s), strerror(errno));
	expect_raw_fh(_metadata, self, b, R_FILE);
	self->mfd = open(self->s.r.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->mfd);
	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, b, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	EXPECT_EQ(1, atomic_load(&self->s.lh_found));
	EXPECT_EQ(RFILE_SIZE, pread(fd, buf, sizeof(buf), 0));
	close(fd);
}

/*
 * Honest: a LOOKUP's handle is what name_to_handle_at() gives, and
 * open_by_handle_at() after drop_caches sends FUSE_LOOKUP_HANDLE with it;
 * the root's handle is asked for after INIT.
 */
TEST_F_TIMEOUT(rawh, honest, FX_TIMEOUT)
{
	struct fh_buf b;
	int i;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_HONEST, false));
	rfile_by_handle(_metadata, self, &b);
	for (i = 0; i < 100 && !atomic_load(&self->s.lh_root); i++)
		fx_msleep(10);
	EXPECT_EQ(1, atomic_load(&self->s.lh_root));
	ASSERT_EQ(0, get_fh(self->s.r.mnt, &b, 0));
	expect_raw_fh(_metadata, self, &b, R_ROOT);
	EXPECT_EQ(0, atomic_load(&self->s.r.spoiled));
}

/*
 * The largest handles: up to 128 bytes a server may declare, and a file
 * handle has 128 bytes (MAX_HANDLE_SZ).  fusex puts the server's handle
 * in it alone, so 125 to 128 bytes export too.  And a file handle with
 * bytes after the handle where the padding should be is not the same
 * file handle: ESTALE, nothing asked.
 */
static void rbig_handle(struct __test_metadata *_metadata,
			FIXTURE_DATA(rawh) *self, unsigned int size)
{
	struct fh_buf b;

	self->s.hsize = size;
	ASSERT_EQ(0, rstart(self, R_HONEST, false));
	rfile_by_handle(_metadata, self, &b);
	if (size % 4) {
		b.bytes[b.fh.handle_bytes - 1] = 1;
		EXPECT_EQ(-ESTALE, open_fh(self->mfd, &b, O_RDONLY));
		EXPECT_EQ(1, atomic_load(&self->s.lh_found));
	}
	EXPECT_EQ(0, atomic_load(&self->s.r.spoiled));
}

TEST_F_TIMEOUT(rawh, handle_125_bytes, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rbig_handle(_metadata, self, 125);
}

TEST_F_TIMEOUT(rawh, handle_128_bytes, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rbig_handle(_metadata, self, 128);
}

/* TMPFILE's reply carries the new file's handle too (by hand here). */
TEST_F_TIMEOUT(rawh, tmpfile_handle, FX_TIMEOUT)
{
	struct fh_buf b;
	int fd, mnt_id;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_HONEST, false));
	fd = open(self->s.r.mnt, O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE: %s", strerror(errno));
	memset(&b, 0, sizeof(b));
	b.fh.handle_bytes = sizeof(b.bytes);
	ASSERT_EQ(0, name_to_handle_at(fd, "", &b.fh, &mnt_id, AT_EMPTY_PATH))
		TH_LOG("%s", strerror(errno));
	expect_raw_fh(_metadata, self, &b, R_TMP);
	close(fd);
	/* TMPFILE's reply opened it: no OPEN after it. */
	EXPECT_EQ(0, atomic_load(&self->s.opens));
	EXPECT_EQ(0, atomic_load(&self->s.r.spoiled));
}

/* Honest READDIRPLUS: its records' handles, with no LOOKUP. */
TEST_F_TIMEOUT(rawh, honest_readdirplus, FX_TIMEOUT)
{
	struct fh_buf b;
	struct dirent *de;
	int n = 0;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_HONEST, true));
	d = opendir(self->s.r.mnt);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d)))
		n++;
	closedir(d);
	EXPECT_EQ(4, n);
	ASSERT_EQ(0, get_fh(RPATH("file"), &b, 0));
	expect_raw_fh(_metadata, self, &b, R_FILE);
	ASSERT_EQ(0, get_fh(RPATH("dir"), &b, 0));
	expect_raw_fh(_metadata, self, &b, R_DIR);
	EXPECT_EQ(0, atomic_load(&self->s.file_lookups));
}

static void rlookup_eio(struct __test_metadata *_metadata,
			FIXTURE_DATA(rawh) *self, enum rspoil spoil,
			bool einval)
{
	struct stat st;

	ASSERT_EQ(0, rstart(self, spoil, false));
	errno = 0;
	EXPECT_EQ(-1, stat(RPATH("file"), &st));
	EXPECT_EQ(EIO, errno);
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_EQ(einval ? -EINVAL : 0, atomic_load(&self->s.r.write_err));
	EXPECT_TRUE(rstill_works(self));
}

TEST_F_TIMEOUT(rawh, handle_missing, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlookup_eio(_metadata, self, R_MISSING, false);
}

TEST_F_TIMEOUT(rawh, handle_oversized, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	/* More bytes than max_handle_sz allows: the write itself fails. */
	rlookup_eio(_metadata, self, R_OVERSIZED, true);
}

TEST_F_TIMEOUT(rawh, handle_size_over_max, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlookup_eio(_metadata, self, R_SIZE_LIES, false);
}

TEST_F_TIMEOUT(rawh, handle_size_zero, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlookup_eio(_metadata, self, R_ZERO, false);
}

TEST_F_TIMEOUT(rawh, handle_ill_sized, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlookup_eio(_metadata, self, R_ILL_SIZED, false);
}

/* A live inode's handle must not change: the next lookup gets EIO. */
TEST_F_TIMEOUT(rawh, handle_changes, FX_TIMEOUT)
{
	struct stat st;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_CHANGES, false));
	fd = open(RPATH("file"), O_RDONLY);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, stat(RPATH("file"), &st));
	EXPECT_EQ(EIO, errno);
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));
	/* The inode keeps its first handle. */
	EXPECT_EQ(0, fstat(fd, &st));
	close(fd);
	EXPECT_TRUE(rstill_works(self));
}

TEST_F_TIMEOUT(rawh, readdirplus_handle_missing, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_PLUS_MISSING, false));
	EXPECT_EQ(-EIO, fx_list_dir(self->s.r.mnt));
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_TRUE(rstill_works(self));
	EXPECT_EQ(0, fx_list_dir(self->s.r.mnt));
}

TEST_F_TIMEOUT(rawh, readdirplus_handle_oversized, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_PLUS_OVERSIZED, false));
	EXPECT_EQ(-EIO, fx_list_dir(self->s.r.mnt));
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_TRUE(rstill_works(self));
	EXPECT_EQ(0, fx_list_dir(self->s.r.mnt));
}

/*
 * A spoiled FUSE_LOOKUP_HANDLE reply.  The kernel refuses it with EIO,
 * which open_by_handle_at() reports as ESTALE (exportfs turns every error
 * but ENOMEM into ESTALE); the mount goes on, and the honest server
 * resolves the same handle afterwards.
 */
static void rlh_spoiled(struct __test_metadata *_metadata,
			FIXTURE_DATA(rawh) *self, enum rspoil spoil)
{
	struct fh_buf b;
	struct stat st;
	int fd;

	ASSERT_EQ(0, rstart(self, R_HONEST, false));
	ASSERT_EQ(0, stat(RPATH("file"), &st));
	ASSERT_EQ(0, get_fh(RPATH("file"), &b, 0));
	expect_raw_fh(_metadata, self, &b, R_FILE);
	self->mfd = open(self->s.r.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->mfd);
	ASSERT_EQ(0, drop_caches());
	self->s.spoil = spoil;
	EXPECT_EQ(-ESTALE, open_fh(self->mfd, &b, O_RDONLY));
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_TRUE(rstill_works(self));
	ASSERT_EQ(0, drop_caches());
	fd = open_fh(self->mfd, &b, O_RDONLY);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
}

TEST_F_TIMEOUT(rawh, lookup_handle_other_object, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlh_spoiled(_metadata, self, R_LH_OTHER);
}

TEST_F_TIMEOUT(rawh, lookup_handle_without_handle, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlh_spoiled(_metadata, self, R_LH_NO_HANDLE);
}

TEST_F_TIMEOUT(rawh, lookup_handle_stale, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rlh_spoiled(_metadata, self, R_LH_STALE);
}

/* A handle the server never gave: ESTALE, from the server. */
TEST_F_TIMEOUT(rawh, lookup_handle_unknown, FX_TIMEOUT)
{
	struct fh_buf b;
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, rstart(self, R_HONEST, false));
	ASSERT_EQ(0, stat(RPATH("file"), &st));
	ASSERT_EQ(0, get_fh(RPATH("file"), &b, 0));
	b.bytes[4] ^= 0xff;
	self->mfd = open(self->s.r.mnt, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, self->mfd);
	EXPECT_EQ(-ESTALE, open_fh(self->mfd, &b, O_RDONLY));
	/* Larger than max_handle_sz: refused before asking the server. */
	b.bytes[0] = RMAX_HANDLE + 1;
	EXPECT_EQ(-ESTALE, open_fh(self->mfd, &b, O_RDONLY));
	EXPECT_EQ(0, atomic_load(&self->s.lh_found));
	EXPECT_TRUE(rstill_works(self));
}

static void rinit_refused(struct __test_metadata *_metadata,
			  FIXTURE_DATA(rawh) *self, enum rspoil spoil)
{
	struct stat st;

	ASSERT_EQ(0, rstart(self, spoil, false));
	EXPECT_EQ(-1, stat(RPATH("file"), &st));
	EXPECT_EQ(ECONNREFUSED, errno);
	EXPECT_EQ(1, fx_raw_spoiled(&self->s.r, 1));
}

TEST_F_TIMEOUT(rawh, init_max_handle_zero, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rinit_refused(_metadata, self, R_INIT_ZERO);
}

TEST_F_TIMEOUT(rawh, init_max_handle_too_big, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	rinit_refused(_metadata, self, R_INIT_BIG);
}

TEST_HARNESS_MAIN
