// SPDX-License-Identifier: GPL-2.0
/*
 * FUSE_INTERRUPT for every operation a caller can block in, side by side
 * with fuse.ko.  The test is its own server: it answers what a small tree
 * needs (a file, a directory, a symlink), and when the operation under test
 * arrives it keeps it, signals the caller, and expects FUSE_INTERRUPT for
 * that request.  It then answers the request with EINTR, and the caller
 * must see EINTR.  Every case runs on fuse and on fusex; the expectations
 * are the same for both.
 *
 * The file is opened with FOPEN_DIRECT_IO, so reads and writes are the
 * caller's own requests (buffered reads are readahead in the background
 * on both modules: nobody waits for them interruptibly).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fusex_raw.h"

#define BUFSZ		(1 << 20)
#define ROOT_ID		1
#define FILE_ID		2	/* "f", 4096 bytes */
#define DIR_ID		3	/* "d" */
#define LINK_ID		4	/* "l" -> "f" */
#define NEW_ID		5	/* a file made */
#define NEWDIR_ID	6	/* a directory made */

/* One case: @run does its set-up, sets *armed, then the operation. */
struct intr_case {
	const char *name;
	uint32_t opcode;
	int (*run)(const char *mnt, atomic_int *armed);
};

struct caller {
	const struct intr_case *c;
	const char *mnt;
	atomic_int armed;
	atomic_int done;
	int err;		/* errno of the operation, 0 if it worked */
	pthread_t thread;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *caller_thread(void *arg)
{
	struct caller *c = arg;

	c->err = c->c->run(c->mnt, &c->armed);
	atomic_store(&c->done, 1);
	return NULL;
}

/* errno of a call that returned @ret (< 0 on failure) */
static int result(long ret)
{
	return ret < 0 ? errno : 0;
}

static void path_of(char *buf, size_t len, const char *mnt, const char *name)
{
	snprintf(buf, len, "%s/%s", mnt, name);
}

/* Open @name with @flags, then arm; -1 if the open failed. */
static int open_armed(const char *mnt, const char *name, int flags,
		      atomic_int *armed)
{
	char p[128];
	int fd;

	path_of(p, sizeof(p), mnt, name);
	fd = open(p, flags);
	if (fd >= 0)
		atomic_store(armed, 1);
	return fd;
}

#define PATH_CASE(fn, ...)						\
static int fn(const char *mnt, atomic_int *armed)			\
{									\
	char p[128], q[128];						\
	int ret;							\
									\
	(void)p;							\
	(void)q;							\
	atomic_store(armed, 1);						\
	__VA_ARGS__;							\
	return ret;							\
}

#define FD_CASE(fn, name, flags, ...)					\
static int fn(const char *mnt, atomic_int *armed)			\
{									\
	int fd = open_armed(mnt, name, flags, armed);			\
	int ret;							\
									\
	if (fd < 0)							\
		return -1;						\
	__VA_ARGS__;							\
	close(fd);							\
	return ret;							\
}

PATH_CASE(do_lookup, {
	struct stat st;

	path_of(p, sizeof(p), mnt, "nothing");
	ret = result(stat(p, &st));
})
PATH_CASE(do_open, {
	int fd;

	path_of(p, sizeof(p), mnt, "f");
	fd = open(p, O_RDONLY);
	ret = result(fd);
	if (fd >= 0)
		close(fd);
})
PATH_CASE(do_create, {
	int fd;

	path_of(p, sizeof(p), mnt, "new");
	fd = open(p, O_CREAT | O_RDWR, 0644);
	ret = result(fd);
	if (fd >= 0)
		close(fd);
})
PATH_CASE(do_mknod, {
	path_of(p, sizeof(p), mnt, "fifo");
	ret = result(mknod(p, S_IFIFO | 0644, 0));
})
PATH_CASE(do_mkdir, {
	path_of(p, sizeof(p), mnt, "newdir");
	ret = result(mkdir(p, 0755));
})
PATH_CASE(do_symlink, {
	path_of(p, sizeof(p), mnt, "sym");
	ret = result(symlink("f", p));
})
PATH_CASE(do_link, {
	path_of(p, sizeof(p), mnt, "f");
	path_of(q, sizeof(q), mnt, "hard");
	ret = result(link(p, q));
})
PATH_CASE(do_unlink, {
	path_of(p, sizeof(p), mnt, "f");
	ret = result(unlink(p));
})
PATH_CASE(do_rmdir, {
	path_of(p, sizeof(p), mnt, "d");
	ret = result(rmdir(p));
})
PATH_CASE(do_rename, {
	path_of(p, sizeof(p), mnt, "f");
	path_of(q, sizeof(q), mnt, "g");
	ret = result(renameat2(AT_FDCWD, p, AT_FDCWD, q, RENAME_NOREPLACE));
})
PATH_CASE(do_readlink, {
	char t[64];

	path_of(p, sizeof(p), mnt, "l");
	ret = result(readlink(p, t, sizeof(t)));
})
PATH_CASE(do_statfs, {
	struct statfs sf;

	ret = result(statfs(mnt, &sf));
})
PATH_CASE(do_access, {
	path_of(p, sizeof(p), mnt, "f");
	ret = result(access(p, W_OK));
})
PATH_CASE(do_getxattr, {
	char v[64];

	path_of(p, sizeof(p), mnt, "f");
	ret = result(getxattr(p, "user.a", v, sizeof(v)));
})
PATH_CASE(do_listxattr, {
	char v[64];

	path_of(p, sizeof(p), mnt, "f");
	ret = result(listxattr(p, v, sizeof(v)));
})
PATH_CASE(do_setxattr, {
	path_of(p, sizeof(p), mnt, "f");
	ret = result(setxattr(p, "user.a", "v", 1, 0));
})
PATH_CASE(do_removexattr, {
	path_of(p, sizeof(p), mnt, "f");
	ret = result(removexattr(p, "user.a"));
})

FD_CASE(do_getattr, "f", O_RDONLY, {
	struct stat st;

	ret = result(fstat(fd, &st));
})
FD_CASE(do_setattr, "f", O_RDWR, ret = result(fchmod(fd, 0600)))
FD_CASE(do_read, "f", O_RDONLY, {
	char b[4096];

	ret = result(pread(fd, b, sizeof(b), 0));
})
FD_CASE(do_write, "f", O_RDWR, {
	char b[4096] = { 'x' };

	ret = result(pwrite(fd, b, sizeof(b), 0));
})
FD_CASE(do_fsync, "f", O_RDWR, ret = result(fsync(fd)))
FD_CASE(do_fsyncdir, "d", O_RDONLY | O_DIRECTORY, ret = result(fsync(fd)))
FD_CASE(do_readdir, "d", O_RDONLY | O_DIRECTORY, {
	char b[4096];

	ret = result(syscall(SYS_getdents64, fd, b, sizeof(b)));
})
FD_CASE(do_getlk, "f", O_RDWR, {
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	ret = result(fcntl(fd, F_GETLK, &fl));
})
FD_CASE(do_setlk, "f", O_RDWR, {
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	ret = result(fcntl(fd, F_SETLK, &fl));
})
FD_CASE(do_setlkw, "f", O_RDWR, {
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	ret = result(fcntl(fd, F_SETLKW, &fl));
})
FD_CASE(do_flock, "f", O_RDONLY, ret = result(flock(fd, LOCK_EX)))
FD_CASE(do_fallocate, "f", O_RDWR, ret = result(fallocate(fd, 0, 0, 8192)))
FD_CASE(do_lseek, "f", O_RDONLY, ret = result(lseek(fd, 0, SEEK_DATA)))
FD_CASE(do_copy_file_range, "f", O_RDWR, {
	loff_t in = 0, out = 8192;

	ret = result(copy_file_range(fd, &in, fd, &out, 4096, 0));
})

/* close() sends FLUSH: the fd is gone whatever FLUSH says. */
static int do_flush(const char *mnt, atomic_int *armed)
{
	int fd = open_armed(mnt, "f", O_RDWR, armed);

	if (fd < 0)
		return -1;
	return result(close(fd));
}

FIXTURE(intr) {
	int fd;
	char mnt[64];
	bool mounted;
	char *buf;
	struct caller c;
};

FIXTURE_VARIANT(intr) {
	const char *type;
};

FIXTURE_VARIANT_ADD(intr, fuse) { .type = "fuse" };
FIXTURE_VARIANT_ADD(intr, fusex) { .type = "fusex" };

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->nlink = 1;
	a->blksize = 4096;
	switch (ino) {
	case ROOT_ID:
	case DIR_ID:
	case NEWDIR_ID:
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		break;
	case LINK_ID:
		a->mode = S_IFLNK | 0777;
		a->size = 1;
		break;
	default:
		a->mode = S_IFREG | 0644;
		a->size = 4096;
		a->blocks = 8;
		break;
	}
}

static int reply_entry(int fd, uint64_t unique, uint64_t ino)
{
	struct fuse_entry_out e = { .nodeid = ino, .generation = 1 };

	fill_attr(&e.attr, ino);
	return fx_reply(fd, unique, 0, &e, sizeof(e));
}

/* Everything the tree needs, no caching: each call reaches the server. */
static void answer(int fd, struct fuse_in_header *ih)
{
	void *arg = ih + 1;
	uint64_t u = ih->unique;

	switch (ih->opcode) {
	case FUSE_LOOKUP: {
		const char *name = arg;
		uint64_t ino = !strcmp(name, "f") ? FILE_ID :
			       !strcmp(name, "d") ? DIR_ID :
			       !strcmp(name, "l") ? LINK_ID : 0;

		if (ino)
			reply_entry(fd, u, ino);
		else
			fx_reply(fd, u, -ENOENT, NULL, 0);
		break;
	}
	case FUSE_GETATTR:
	case FUSE_SETATTR: {
		struct fuse_attr_out ao = {};

		fill_attr(&ao.attr, ih->nodeid);
		fx_reply(fd, u, 0, &ao, sizeof(ao));
		break;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		struct fuse_open_out oo = { .fh = ih->nodeid };

		if (ih->opcode == FUSE_OPEN)
			oo.open_flags = FOPEN_DIRECT_IO;
		fx_reply(fd, u, 0, &oo, sizeof(oo));
		break;
	}
	case FUSE_CREATE: {
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} co = {
			.e = { .nodeid = NEW_ID, .generation = 1 },
			.o = { .fh = NEW_ID, .open_flags = FOPEN_DIRECT_IO },
		};

		fill_attr(&co.e.attr, NEW_ID);
		fx_reply(fd, u, 0, &co, sizeof(co));
		break;
	}
	case FUSE_MKNOD:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		reply_entry(fd, u, ih->opcode == FUSE_LINK ? FILE_ID : NEW_ID);
		break;
	case FUSE_MKDIR:
		reply_entry(fd, u, NEWDIR_ID);
		break;
	case FUSE_READ:
	case FUSE_READDIR:
		fx_reply(fd, u, 0, NULL, 0);
		break;
	case FUSE_WRITE: {
		struct fuse_write_in *wi = arg;
		struct fuse_write_out wo = { .size = wi->size };

		fx_reply(fd, u, 0, &wo, sizeof(wo));
		break;
	}
	case FUSE_COPY_FILE_RANGE: {
		struct fuse_copy_file_range_in *ci = arg;
		struct fuse_write_out wo = { .size = (uint32_t)ci->len };

		fx_reply(fd, u, 0, &wo, sizeof(wo));
		break;
	}
	case FUSE_READLINK:
		fx_reply(fd, u, 0, "f", 1);
		break;
	case FUSE_STATFS: {
		struct fuse_statfs_out so = {
			.st = { .bsize = 4096, .namelen = 255, .frsize = 4096 },
		};

		fx_reply(fd, u, 0, &so, sizeof(so));
		break;
	}
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		fx_reply(fd, u, -ENODATA, NULL, 0);
		break;
	case FUSE_GETLK: {
		struct fuse_lk_out lo = { .lk = { .type = F_UNLCK } };

		fx_reply(fd, u, 0, &lo, sizeof(lo));
		break;
	}
	case FUSE_LSEEK: {
		struct fuse_lseek_in *li = arg;
		struct fuse_lseek_out lo = { .offset = li->offset };

		fx_reply(fd, u, 0, &lo, sizeof(lo));
		break;
	}
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FLUSH:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_SETXATTR:
	case FUSE_REMOVEXATTR:
	case FUSE_ACCESS:
	case FUSE_SETLK:
	case FUSE_SETLKW:
	case FUSE_FALLOCATE:
		fx_reply(fd, u, 0, NULL, 0);
		break;
	default:
		fx_reply(fd, u, -ENOSYS, NULL, 0);
		break;
	}
}

/* Read one request, waiting up to @ms; its length, 0 on timeout, -errno. */
static ssize_t next_request(int fd, char *buf, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	n = read(fd, buf, BUFSZ);
	return n < 0 ? -errno : n;
}

FIXTURE_SETUP(intr)
{
	struct fuse_init_out out = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.flags = FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS |
			 FUSE_ATOMIC_O_TRUNC,
		.max_write = 65536, .max_background = 12,
		.congestion_threshold = 9, .time_gran = 1,
	};
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct fuse_in_header *ih;
	char path[32], opts[128];

	self->fd = -1;
	self->buf = malloc(BUFSZ);
	ASSERT_NE(NULL, self->buf);
	ih = (void *)self->buf;
	snprintf(path, sizeof(path), "/dev/%s", variant->type);
	if (access(path, F_OK))
		SKIP(return, "%s is missing (module not loaded)", path);
	/* No SA_RESTART: an interrupted call returns EINTR. */
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	self->fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	strcpy(self->mnt, "/tmp/fusex-intr.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", self->fd);
	ASSERT_EQ(0, mount(variant->type, self->mnt, variant->type, 0, opts));
	self->mounted = true;
	ASSERT_LT(0, next_request(self->fd, self->buf, 10000));
	ASSERT_EQ(FUSE_INIT, ih->opcode);
	ASSERT_EQ(0, fx_reply(self->fd, ih->unique, 0, &out, sizeof(out)));
}

FIXTURE_TEARDOWN(intr)
{
	/* The server goes first, so nobody waits for it at unmount. */
	if (self->fd >= 0)
		close(self->fd);
	if (self->c.thread) {
		pthread_join(self->c.thread, NULL);
		self->c.thread = 0;
	}
	if (self->mounted)
		umount2(self->mnt, MNT_DETACH);
	rmdir(self->mnt);
	free(self->buf);
}

/*
 * Serve until the caller is done.  The first request of the case's opcode
 * after the caller armed is kept; the caller is signalled; FUSE_INTERRUPT
 * naming that request must follow within 10 s, and then the request is
 * answered with EINTR.  Without an INTERRUPT it is answered with EIO
 * after 10 s, so that a failing case ends.
 */
static void run_case(struct __test_metadata *_metadata,
		     FIXTURE_DATA(intr) *self, const struct intr_case *c)
{
	struct fuse_in_header *ih = (void *)self->buf;
	struct fuse_interrupt_in *ii = (void *)(ih + 1);
	uint64_t target = 0;
	bool interrupted = false;
	struct timespec t0, t;
	ssize_t n;

	self->c.c = c;
	self->c.mnt = self->mnt;
	ASSERT_EQ(0, pthread_create(&self->c.thread, NULL, caller_thread,
				    &self->c));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&self->c.done)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10) {
			if (!target)
				break;
			/* No INTERRUPT came: let the caller go. */
			fx_reply(self->fd, target, -EIO, NULL, 0);
			target = 0;
			t0 = t;
			continue;
		}
		n = next_request(self->fd, self->buf, 50);
		ASSERT_LE(0, n);
		if (!n)
			continue;
		if (!target && !interrupted && ih->opcode == c->opcode &&
		    atomic_load(&self->c.armed)) {
			target = ih->unique;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			ASSERT_EQ(0, pthread_kill(self->c.thread, SIGUSR1));
			continue;
		}
		if (ih->opcode == FUSE_INTERRUPT && target &&
		    ii->unique == target) {
			EXPECT_EQ(target | 1, ih->unique);
			interrupted = true;
			/* The server gives up on the request. */
			ASSERT_EQ(0, fx_reply(self->fd, target, -EINTR, NULL, 0));
			target = 0;
			continue;
		}
		answer(self->fd, ih);
	}
	ASSERT_TRUE(atomic_load(&self->c.done))
		TH_LOG("%s: %s never came", c->name,
		       target ? "the caller's end" : "the operation");
	pthread_join(self->c.thread, NULL);
	self->c.thread = 0;
	EXPECT_TRUE(interrupted)
		TH_LOG("%s: no FUSE_INTERRUPT for opcode %u", c->name,
		       c->opcode);
	EXPECT_EQ(EINTR, self->c.err)
		TH_LOG("%s: the caller saw %s", c->name,
		       strerror(self->c.err));
}

#define INTR_TEST(op, opc, fn)						\
	static const struct intr_case case_##op = {			\
		.name = #op, .opcode = opc, .run = fn,			\
	};								\
	TEST_F_TIMEOUT(intr, op, 60)					\
	{								\
		run_case(_metadata, self, &case_##op);			\
	}

INTR_TEST(lookup, FUSE_LOOKUP, do_lookup)
INTR_TEST(getattr, FUSE_GETATTR, do_getattr)
INTR_TEST(setattr, FUSE_SETATTR, do_setattr)
INTR_TEST(open, FUSE_OPEN, do_open)
INTR_TEST(create, FUSE_CREATE, do_create)
INTR_TEST(mknod, FUSE_MKNOD, do_mknod)
INTR_TEST(mkdir, FUSE_MKDIR, do_mkdir)
INTR_TEST(symlink, FUSE_SYMLINK, do_symlink)
INTR_TEST(link, FUSE_LINK, do_link)
INTR_TEST(unlink, FUSE_UNLINK, do_unlink)
INTR_TEST(rmdir, FUSE_RMDIR, do_rmdir)
INTR_TEST(rename2, FUSE_RENAME2, do_rename)
INTR_TEST(readlink, FUSE_READLINK, do_readlink)
INTR_TEST(statfs, FUSE_STATFS, do_statfs)
INTR_TEST(access, FUSE_ACCESS, do_access)
INTR_TEST(getxattr, FUSE_GETXATTR, do_getxattr)
INTR_TEST(listxattr, FUSE_LISTXATTR, do_listxattr)
INTR_TEST(setxattr, FUSE_SETXATTR, do_setxattr)
INTR_TEST(removexattr, FUSE_REMOVEXATTR, do_removexattr)
INTR_TEST(read, FUSE_READ, do_read)
INTR_TEST(write, FUSE_WRITE, do_write)
INTR_TEST(fsync, FUSE_FSYNC, do_fsync)
INTR_TEST(flush, FUSE_FLUSH, do_flush)
INTR_TEST(fsyncdir, FUSE_FSYNCDIR, do_fsyncdir)
INTR_TEST(readdir, FUSE_READDIR, do_readdir)
INTR_TEST(getlk, FUSE_GETLK, do_getlk)
INTR_TEST(setlk, FUSE_SETLK, do_setlk)
INTR_TEST(setlkw, FUSE_SETLKW, do_setlkw)
INTR_TEST(flock, FUSE_SETLKW, do_flock)
INTR_TEST(fallocate, FUSE_FALLOCATE, do_fallocate)
INTR_TEST(lseek, FUSE_LSEEK, do_lseek)
INTR_TEST(copy_file_range, FUSE_COPY_FILE_RANGE, do_copy_file_range)

TEST_HARNESS_MAIN
