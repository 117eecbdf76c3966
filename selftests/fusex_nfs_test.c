// SPDX-License-Identifier: GPL-2.0
/*
 * A fusex mount exported over NFS by the kernel's own server (knfsd), and
 * mounted back over NFSv3 on 127.0.0.1, in the VM.
 *
 * fusex-passthrough opts into persistent handles, so the NFS file handles
 * knfsd hands out carry the server's handles (kmod/handle.c): they keep
 * working after the fusex inode has been evicted, because the kernel asks
 * the server with FUSE_LOOKUP_HANDLE (the server counts those, -o stats=),
 * and they turn ESTALE once the object is gone.  fuse.ko exports only for
 * servers that never reuse nodeids (FUSE_EXPORT_SUPPORT); that case is not
 * tested here.
 *
 * knfsd's user-space side comes from Debian's nfs-kernel-server (rpcbind,
 * rpc.mountd, exportfs, rpc.nfsd) and mount.nfs from nfs-common; without
 * them the tests SKIP.  Their state lives on a tmpfs over /var/lib/nfs
 * (the guest's root is read-only).  NFSv3 keeps the tests free of NFSv4's
 * grace period, and nolock of the lock daemons.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusex_util.h"

static const char *const nfs_tools[] = {
	"/usr/sbin/rpcbind", "/usr/sbin/rpc.mountd", "/usr/sbin/rpc.nfsd",
	"/usr/sbin/exportfs", "/sbin/mount.nfs",
};

/* Run a shell command; its exit status, or -1.  Output goes to stderr. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	status = system(cmd);
	if (status < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * knfsd with its daemons, NFSv3 only.  /var/lib/nfs gets a tmpfs the
 * first time; rpcbind and rpc.mountd are started if not running.
 */
static const char nfs_start[] =
	"exec >&2; set -e; "
	"modprobe nfsd; modprobe nfsv3; ip link set lo up; "
	"grep -qs ' /var/lib/nfs tmpfs ' /proc/mounts || "
	"mount -t tmpfs tmpfs /var/lib/nfs; "
	"mkdir -p /var/lib/nfs/rpc_pipefs /var/lib/nfs/sm; "
	"touch /var/lib/nfs/etab /var/lib/nfs/rmtab; "
	"grep -qs ' /proc/fs/nfsd nfsd ' /proc/mounts || "
	"mount -t nfsd nfsd /proc/fs/nfsd; "
	"pidof rpcbind >/dev/null || rpcbind -w; "
	"pidof rpc.mountd >/dev/null || rpc.mountd; "
	"rpc.nfsd -N 4 2";

FIXTURE(nfs) {
	struct fx_server srv;
	char src[64];		/* the backing directory */
	char nfs[64];		/* where the export is mounted back */
	char stats[64];		/* the server's request counts */
	bool exported, mounted;
};

/*
 * Undo what the set-up did, whatever it got to: the harness skips the
 * teardown when the set-up fails, and a fusex mount left in knfsd's
 * export cache keeps the module in use.
 */
static void nfs_cleanup(FIXTURE_DATA(nfs) *self)
{
	if (self->mounted)
		umount2(self->nfs, MNT_FORCE | MNT_DETACH);
	self->mounted = false;
	if (self->exported)
		sh("exportfs -u 127.0.0.1:%s; exportfs -f", self->srv.mnt);
	self->exported = false;
	/* Its file cache holds fusex files: let the mount go. */
	sh("rpc.nfsd 0 >&2");
	if (self->srv.mnt[0]) {
		fx_server_stop(&self->srv);
		rmdir(self->srv.mnt);
		self->srv.mnt[0] = '\0';
	}
	if (self->nfs[0])
		rmdir(self->nfs);
	if (self->stats[0])
		unlink(self->stats);
	if (self->src[0]) {
		fx_rmtree(self->src);
		rmdir(self->src);
	}
	self->nfs[0] = self->stats[0] = self->src[0] = '\0';
}

FIXTURE_SETUP(nfs)
{
	char server[PATH_MAX], opts[256], why[256];
	const char *argv[] = { server, "-f", "-o", opts, NULL };
	unsigned int i;

	if (!fx_have_dev("fusex"))
		SKIP(return, "/dev/fusex is missing (module not loaded)");
	if (fx_build_path(server, sizeof(server), "fusex-passthrough"))
		SKIP(return, "fusex-passthrough not built (set FUSEX_BUILD)");
	for (i = 0; i < sizeof(nfs_tools) / sizeof(nfs_tools[0]); i++)
		if (access(nfs_tools[i], X_OK))
			SKIP(return, "%s is missing (nfs-kernel-server, nfs-common)",
			     nfs_tools[i]);
	if (sh("%s", nfs_start))
		SKIP(return, "knfsd does not start here (see above)");

	strcpy(self->src, "/tmp/fusex-nfs-src.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	strcpy(self->srv.mnt, "/tmp/fusex-nfs-mnt.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	strcpy(self->nfs, "/tmp/fusex-nfs.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->nfs));
	strcpy(self->stats, "/tmp/fusex-nfs-stats.XXXXXX");
	i = mkstemp(self->stats);
	close(i);
	snprintf(opts, sizeof(opts), "source=%s,stats=%s", self->src,
		 self->stats);
	if (fx_server_start(&self->srv, "fusex", NULL, argv, why,
			    sizeof(why))) {
		rmdir(self->srv.mnt);
		self->srv.mnt[0] = '\0';
		nfs_cleanup(self);
		ASSERT_TRUE(false) TH_LOG("fusex-passthrough: %s", why);
	}
	self->exported = true;
	if (sh("exportfs -o rw,no_root_squash,no_subtree_check,fsid=%d 127.0.0.1:%s",
	       getpid(), self->srv.mnt)) {
		nfs_cleanup(self);
		ASSERT_TRUE(false) TH_LOG("exportfs failed");
	}
	if (sh("timeout 60 mount -t nfs -o vers=3,nolock,proto=tcp 127.0.0.1:%s %s",
	       self->srv.mnt, self->nfs)) {
		nfs_cleanup(self);
		ASSERT_TRUE(false) TH_LOG("the NFS mount failed");
	}
	self->mounted = true;
}

FIXTURE_TEARDOWN(nfs)
{
	nfs_cleanup(self);
}

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* How many FUSE_LOOKUP_HANDLE the server has answered. */
static long long lookup_handles(FIXTURE_DATA(nfs) *self)
{
	unsigned long long lookups = 0, by_handle = 0;
	FILE *f = fopen(self->stats, "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "lookup %llu lookup_handle %llu", &lookups, &by_handle);
	fclose(f);
	return n == 2 ? (long long)by_handle : n == EOF ? 0 : -1;
}

static ssize_t read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Files made on either side are seen on the other, with their contents. */
TEST_F_TIMEOUT(nfs, read_write, 300)
{
	char p[PATH_MAX], buf[64];
	struct stat st;
	int fd;

	FX_RETURN_IF_SKIPPED();
	path_in(p, sizeof(p), self->src, "from_backing");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(8, write(fd, "backing\n", 8));
	close(fd);
	path_in(p, sizeof(p), self->nfs, "from_backing");
	EXPECT_EQ(8, read_text(p, buf, sizeof(buf)));
	EXPECT_STREQ("backing\n", buf);

	path_in(p, sizeof(p), self->nfs, "dir");
	ASSERT_EQ(0, mkdir(p, 0755));
	path_in(p, sizeof(p), self->nfs, "dir/from_nfs");
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, write(fd, "nfs\n", 4));
	EXPECT_EQ(0, fsync(fd));
	close(fd);
	path_in(p, sizeof(p), self->src, "dir/from_nfs");
	EXPECT_EQ(4, read_text(p, buf, sizeof(buf)));
	EXPECT_STREQ("nfs\n", buf);
	ASSERT_EQ(0, stat(p, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	path_in(p, sizeof(p), self->nfs, "dir/from_nfs");
	EXPECT_EQ(0, unlink(p));
	path_in(p, sizeof(p), self->src, "dir/from_nfs");
	EXPECT_EQ(-1, access(p, F_OK));
}

/*
 * Evict everything (knfsd's file cache first, then drop_caches): a file
 * the NFS client holds open is read again through its NFS file handle,
 * which knfsd can only turn back into the file by asking fusex, and fusex
 * by asking the server for the handle.  Then the file is removed behind
 * everyone's back: the same read gives ESTALE.
 */
TEST_F_TIMEOUT(nfs, handles_after_eviction, 300)
{
	char p[PATH_MAX], buf[64];
	long long before, after;
	int fd;

	FX_RETURN_IF_SKIPPED();
	path_in(p, sizeof(p), self->src, "kept");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, write(fd, "kept\n", 5));
	close(fd);
	path_in(p, sizeof(p), self->nfs, "kept");
	fd = open(p, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(5, pread(fd, buf, sizeof(buf), 0));

	/* knfsd closes the files it cached for NFSv3 when it stops. */
	ASSERT_EQ(0, sh("rpc.nfsd 0 >&2 && rpc.nfsd -N 4 2 >&2"));
	ASSERT_EQ(0, fx_drop_caches(0));
	before = lookup_handles(self);
	ASSERT_LE(0, before);
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(5, pread(fd, buf, sizeof(buf), 0)) TH_LOG("%s",
							    strerror(errno));
	EXPECT_STREQ("kept\n", buf);
	after = lookup_handles(self);
	EXPECT_LT(before, after) TH_LOG("the file was read without its handle");
	TH_LOG("read after eviction: %lld FUSE_LOOKUP_HANDLE", after - before);

	path_in(p, sizeof(p), self->src, "kept");
	ASSERT_EQ(0, unlink(p));
	ASSERT_EQ(0, sh("rpc.nfsd 0 >&2 && rpc.nfsd -N 4 2 >&2"));
	ASSERT_EQ(0, fx_drop_caches(0));
	errno = 0;
	EXPECT_EQ(-1, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(ESTALE, errno);
	close(fd);
}

TEST_HARNESS_MAIN
