// SPDX-License-Identifier: GPL-2.0
/*
 * The device and mount interface of fusex, side by side with fuse.ko:
 * mount options, reading before mount, non-blocking read and poll, the
 * read buffer minimum, FUSE_INTERRUPT, FUSE_DEV_IOC_CLONE, abort when the
 * last device file closes, and DESTROY at unmount.
 *
 * The test is its own server here: it speaks the protocol by hand so that
 * it sees exactly what the kernel sends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fusex_raw.h"

#define BUFSZ (1 << 20)

struct srv {
	int fd;
	char mnt[64];
	const char *type;
	bool mounted;
};

static int dev_open(const char *type)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/%s", type);
	return open(path, O_RDWR | O_CLOEXEC);
}

static int do_mount(struct srv *s, const char *extra)
{
	char opts[256];

	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0%s", s->fd,
		 extra ? extra : "");
	return mount(s->type, s->mnt, s->type, 0, opts);
}

/* Read one message; returns its length, or -errno. */
static ssize_t rd(int fd, void *buf, size_t size)
{
	ssize_t n = read(fd, buf, size);

	return n < 0 ? -errno : n;
}

/* Read INIT and accept it as a 7.38 server with no extra flags. */
static int answer_init(int fd)
{
	char *buf = malloc(BUFSZ);
	struct fuse_in_header *ih = (void *)buf;
	struct fuse_init_out out = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.max_write = 65536, .max_background = 12,
		.congestion_threshold = 9, .time_gran = 1,
	};
	ssize_t n;
	int err = -EPROTO;

	n = rd(fd, buf, BUFSZ);
	if (n >= (ssize_t)sizeof(*ih) && ih->opcode == FUSE_INIT)
		err = fx_reply(fd, ih->unique, 0, &out, sizeof(out));
	free(buf);
	return err;
}

/* Wait (up to ms) until the device has something to read. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms);
}

FIXTURE(dev) {
	struct srv s;
	char *buf;
};

FIXTURE_VARIANT(dev) {
	const char *type;
};

FIXTURE_VARIANT_ADD(dev, fuse) { .type = "fuse" };
FIXTURE_VARIANT_ADD(dev, fusex) { .type = "fusex" };

FIXTURE_SETUP(dev)
{
	char path[32];

	self->buf = malloc(BUFSZ);
	ASSERT_NE(NULL, self->buf);
	snprintf(path, sizeof(path), "/dev/%s", variant->type);
	if (access(path, F_OK))
		SKIP(return, "%s is missing (module not loaded)", path);
	self->s.type = variant->type;
	self->s.fd = dev_open(variant->type);
	ASSERT_LE(0, self->s.fd);
	strcpy(self->s.mnt, "/tmp/fusex-dev.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->s.mnt));
}

FIXTURE_TEARDOWN(dev)
{
	/* The server goes first, so nobody waits for it at unmount. */
	if (self->s.fd >= 0)
		close(self->s.fd);
	if (self->s.mounted)
		umount2(self->s.mnt, MNT_DETACH);
	rmdir(self->s.mnt);
	free(self->buf);
}

static void mount_and_init(struct __test_metadata *_metadata,
			   FIXTURE_DATA(dev) *self)
{
	ASSERT_EQ(0, do_mount(&self->s, NULL));
	self->s.mounted = true;
	ASSERT_EQ(0, answer_init(self->s.fd));
}

/* Look for @needle in what the kernel logged since @since (a kmsg fd). */
static bool kmsg_has(int kfd, const char *needle)
{
	char line[1024];
	ssize_t n;

	while ((n = read(kfd, line, sizeof(line) - 1)) > 0) {
		line[n] = '\0';
		if (strstr(line, needle))
			return true;
	}
	return false;
}

TEST_F(dev, bad_mount_options)
{
	char opts[128];
	int kfd, nfd;

	kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, kfd);
	lseek(kfd, 0, SEEK_END);

	/* An unknown option is refused, and the log names it. */
	EXPECT_EQ(-1, do_mount(&self->s, ",bogus_option=1"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(kmsg_has(kfd, "Unknown parameter 'bogus_option'"));
	close(kfd);

	/* A rootmode that is no file type */
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=0,user_id=0,group_id=0",
		 self->s.fd);
	EXPECT_EQ(-1, mount(self->s.type, self->s.mnt, self->s.type, 0, opts));
	EXPECT_EQ(EINVAL, errno);

	/* A required option missing */
	EXPECT_EQ(-1, mount(self->s.type, self->s.mnt, self->s.type, 0,
			    "rootmode=40000,user_id=0,group_id=0"));
	EXPECT_EQ(EINVAL, errno);

	/* fd= naming something that is not the device */
	nfd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, nfd);
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", nfd);
	EXPECT_EQ(-1, mount(self->s.type, self->s.mnt, self->s.type, 0, opts));
	EXPECT_EQ(EINVAL, errno);
	close(nfd);
}

TEST_F(dev, read_before_mount)
{
	EXPECT_EQ(-EPERM, rd(self->s.fd, self->buf, BUFSZ));
}

TEST_F(dev, nonblocking_read_and_poll)
{
	int fl;

	ASSERT_EQ(0, do_mount(&self->s, NULL));
	self->s.mounted = true;
	/* INIT is queued at mount */
	EXPECT_EQ(1, wait_readable(self->s.fd, 0));
	ASSERT_EQ(0, answer_init(self->s.fd));
	EXPECT_EQ(0, wait_readable(self->s.fd, 0));
	fl = fcntl(self->s.fd, F_GETFL);
	ASSERT_EQ(0, fcntl(self->s.fd, F_SETFL, fl | O_NONBLOCK));
	EXPECT_EQ(-EAGAIN, rd(self->s.fd, self->buf, BUFSZ));
}

TEST_F(dev, read_buffer_too_small)
{
	ASSERT_EQ(0, do_mount(&self->s, NULL));
	self->s.mounted = true;
	/* Smaller than the minimum any server must offer */
	EXPECT_EQ(-EINVAL, rd(self->s.fd, self->buf, 4096));
	ASSERT_EQ(0, answer_init(self->s.fd));
}

struct caller {
	const char *path;
	int err;
	pthread_t thread;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *stat_thread(void *arg)
{
	struct caller *c = arg;
	struct stat st;

	c->err = stat(c->path, &st) ? errno : 0;
	return NULL;
}

TEST_F_TIMEOUT(dev, interrupt, 60)
{
	struct fuse_in_header *ih = (void *)self->buf;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct fuse_interrupt_in *ii;
	struct caller c = {};
	char path[128];
	uint64_t lookup_unique;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	mount_and_init(_metadata, self);
	snprintf(path, sizeof(path), "%s/stalled", self->s.mnt);
	c.path = path;
	ASSERT_EQ(0, pthread_create(&c.thread, NULL, stat_thread, &c));

	/* The walk may GETATTR the root first; answer until the LOOKUP. */
	for (;;) {
		ASSERT_LT(0, rd(self->s.fd, self->buf, BUFSZ));
		if (ih->opcode == FUSE_LOOKUP)
			break;
		if (ih->opcode == FUSE_GETATTR) {
			struct fuse_attr_out ao = {
				.attr = { .ino = 1, .mode = S_IFDIR | 0755,
					  .nlink = 2 },
			};

			ASSERT_EQ(0, fx_reply(self->s.fd, ih->unique, 0, &ao,
					   sizeof(ao)));
		} else {
			ASSERT_EQ(0, fx_reply(self->s.fd, ih->unique, -ENOSYS,
					   NULL, 0));
		}
	}
	lookup_unique = ih->unique;

	/* The caller is signalled while the server holds its LOOKUP. */
	ASSERT_EQ(0, pthread_kill(c.thread, SIGUSR1));
	ASSERT_EQ(1, wait_readable(self->s.fd, 10000));
	ASSERT_LT(0, rd(self->s.fd, self->buf, BUFSZ));
	EXPECT_EQ((uint32_t)FUSE_INTERRUPT, ih->opcode);
	ii = (void *)(ih + 1);
	EXPECT_EQ(lookup_unique, ii->unique);
	EXPECT_EQ(lookup_unique | 1, ih->unique);

	/* The server gives up on the request: the caller sees EINTR. */
	ASSERT_EQ(0, fx_reply(self->s.fd, lookup_unique, -EINTR, NULL, 0));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(EINTR, c.err);
}

TEST_F(dev, clone)
{
	struct fuse_in_header *ih = (void *)self->buf;
	uint32_t src = self->s.fd, unbound;
	int clone_fd, other;
	struct caller c = {};
	char path[128];

	mount_and_init(_metadata, self);

	/* An fd that serves nothing cannot be cloned from. */
	other = dev_open(self->s.type);
	ASSERT_LE(0, other);
	clone_fd = dev_open(self->s.type);
	ASSERT_LE(0, clone_fd);
	unbound = other;
	EXPECT_EQ(-1, ioctl(clone_fd, FUSE_DEV_IOC_CLONE, &unbound));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(clone_fd, FUSE_DEV_IOC_CLONE, &src));
	/* A bound fd cannot be bound again. */
	EXPECT_EQ(-1, ioctl(clone_fd, FUSE_DEV_IOC_CLONE, &src));
	EXPECT_EQ(EINVAL, errno);
	close(other);

	/* Requests can be read from the clone; the original may go. */
	close(self->s.fd);
	self->s.fd = clone_fd;
	snprintf(path, sizeof(path), "%s/x", self->s.mnt);
	c.path = path;
	ASSERT_EQ(0, pthread_create(&c.thread, NULL, stat_thread, &c));
	for (;;) {
		ASSERT_LT(0, rd(clone_fd, self->buf, BUFSZ));
		if (ih->opcode == FUSE_LOOKUP) {
			ASSERT_EQ(0, fx_reply(clone_fd, ih->unique, -ENOENT,
					   NULL, 0));
			break;
		}
		if (ih->opcode == FUSE_GETATTR) {
			struct fuse_attr_out ao = {
				.attr = { .ino = 1, .mode = S_IFDIR | 0755,
					  .nlink = 2 },
			};

			ASSERT_EQ(0, fx_reply(clone_fd, ih->unique, 0, &ao,
					   sizeof(ao)));
		} else {
			ASSERT_EQ(0, fx_reply(clone_fd, ih->unique, -ENOSYS,
					   NULL, 0));
		}
	}
	pthread_join(c.thread, NULL);
	EXPECT_EQ(ENOENT, c.err);
}

TEST_F_TIMEOUT(dev, abort_on_last_close, 60)
{
	struct fuse_in_header *ih = (void *)self->buf;
	struct caller c = {};
	struct stat st;
	char path[128];

	mount_and_init(_metadata, self);
	snprintf(path, sizeof(path), "%s/waiting", self->s.mnt);
	c.path = path;
	ASSERT_EQ(0, pthread_create(&c.thread, NULL, stat_thread, &c));
	/* Hold the first request the caller sends, then die. */
	ASSERT_LT(0, rd(self->s.fd, self->buf, BUFSZ));
	ASSERT_NE((uint32_t)FUSE_INIT, ih->opcode);
	close(self->s.fd);
	self->s.fd = -1;

	pthread_join(c.thread, NULL);
	/* In flight: aborted; afterwards: not connected, as on fuse. */
	EXPECT_EQ(ECONNABORTED, c.err);
	EXPECT_EQ(-1, stat(self->s.mnt, &st));
	EXPECT_EQ(ENOTCONN, errno);
	/* The dead mount still unmounts. */
	EXPECT_EQ(0, umount2(self->s.mnt, 0));
	self->s.mounted = false;
}

struct unmounter {
	const char *mnt;
	int ret;
};

static void *umount_thread(void *arg)
{
	struct unmounter *u = arg;

	u->ret = umount2(u->mnt, 0) ? errno : 0;
	return NULL;
}

TEST_F_TIMEOUT(dev, destroy_at_unmount, 60)
{
	struct fuse_in_header *ih = (void *)self->buf;
	struct unmounter u = { .mnt = self->s.mnt };
	pthread_t t;

	if (strcmp(self->s.type, "fusex"))
		SKIP(return, "fuse.ko sends DESTROY only for fuseblk mounts");
	mount_and_init(_metadata, self);
	ASSERT_EQ(0, pthread_create(&t, NULL, umount_thread, &u));
	ASSERT_EQ(1, wait_readable(self->s.fd, 10000));
	ASSERT_LT(0, rd(self->s.fd, self->buf, BUFSZ));
	EXPECT_EQ((uint32_t)FUSE_DESTROY, ih->opcode);
	EXPECT_EQ(0, fx_reply(self->s.fd, ih->unique, 0, NULL, 0));
	pthread_join(t, NULL);
	EXPECT_EQ(0, u.ret);
	self->s.mounted = false;
	/* After unmount the device reports the end. */
	EXPECT_EQ(-ENODEV, rd(self->s.fd, self->buf, BUFSZ));
}

static int write_param(const char *path, const char *val, char *old,
		       size_t oldsz)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	n = read(fd, old, oldsz - 1);
	old[n > 0 ? n : 0] = '\0';
	n = pwrite(fd, val, strlen(val), 0);
	close(fd);
	return n < 0 ? -errno : 0;
}

TEST_F_TIMEOUT(dev, unanswered_destroy, 60)
{
	const char *param = "/sys/module/fusex/parameters/destroy_timeout";
	struct timespec t0, t1;
	char old[16];
	double secs;

	if (strcmp(self->s.type, "fusex"))
		SKIP(return, "fuse.ko sends DESTROY only for fuseblk mounts");
	ASSERT_EQ(0, write_param(param, "1", old, sizeof(old)));
	mount_and_init(_metadata, self);

	/* Nobody reads DESTROY: unmount goes on after the timeout. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(0, umount2(self->s.mnt, 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	self->s.mounted = false;
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	EXPECT_LT(0.5, secs);
	EXPECT_GT(10.0, secs);
	EXPECT_EQ(-ENODEV, rd(self->s.fd, self->buf, BUFSZ));
	write_param(param, old, old, sizeof(old));
}

TEST_HARNESS_MAIN
