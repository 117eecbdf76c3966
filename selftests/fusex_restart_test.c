// SPDX-License-Identifier: GPL-2.0
/*
 * Restart, phase 1 (Documentation/restart.rst): a mount with
 * restart_timeout= outlives its server's device fd, a new server attaches
 * with FUSEX_DEV_IOC_ATTACH, gets INIT again (FUSEX_INIT_REINIT) and the
 * requests the dead one read and never answered (FUSE_UNIQUE_RESEND).
 *
 * The test is its own server, speaking the protocol by hand: phase 1 keeps
 * the old instance's nodeids, so only a server whose nodeids are the same
 * in every instance can be restarted, and this one's are fixed numbers:
 * the root is 1 and its only entry, "file", is 2.
 *
 * Run with FUSEX_RESTART_SERVE=1 and a /dev/fd/N argument, the binary is
 * that server on fd N instead (for fusexctl run; see the last test).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
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
#include "../uapi/linux/fusex.h"

#define BUFSZ (1 << 20)
#define FILE_INO 2
#define FILE_SIZE 42

/* Read one message, waiting at most @ms; its length or -errno. */
static ssize_t rd(int fd, void *buf, size_t size, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	n = poll(&p, 1, ms);
	if (n == 0)
		return -ETIMEDOUT;
	n = read(fd, buf, size);
	return n < 0 ? -errno : n;
}

static void fill_attr(struct fuse_attr *a, uint64_t nodeid)
{
	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	if (nodeid == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0644;
		a->nlink = 1;
		a->size = FILE_SIZE;
	}
}

/* INIT flags as one u64 (flags2 in the upper half). */
static uint64_t init_in_flags(const struct fuse_init_in *in)
{
	return in->flags | ((uint64_t)in->flags2 << 32);
}

/* Answer an INIT (in @buf) as a 7.38 server accepting @flags. */
static int answer_init(int fd, const void *buf, uint64_t flags)
{
	const struct fuse_in_header *ih = buf;
	struct fuse_init_out out = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.max_write = 65536, .max_background = 12,
		.congestion_threshold = 9, .time_gran = 1,
	};

	if (flags >> 32)
		flags |= FUSE_INIT_EXT;
	out.flags = (uint32_t)flags;
	out.flags2 = flags >> 32;
	return fx_reply(fd, ih->unique, 0, &out, sizeof(out));
}

/*
 * Answer one request of the fixed tree.  Returns 1 for INIT (with its
 * flags in *@init_flags), 0 otherwise, -errno if the reply failed.
 */
static int answer(int fd, const char *buf, uint64_t *init_flags)
{
	const struct fuse_in_header *ih = (const void *)buf;
	const char *arg = buf + sizeof(*ih);
	struct fuse_entry_out eo;
	struct fuse_attr_out ao;

	switch (ih->opcode) {
	case FUSE_INIT:
		if (init_flags)
			*init_flags = init_in_flags((const void *)arg);
		return answer_init(fd, buf, 0) ?: 1;
	case FUSE_LOOKUP:
		if (ih->nodeid != FUSE_ROOT_ID || strcmp(arg, "file"))
			return fx_reply(fd, ih->unique, -ENOENT, NULL, 0);
		memset(&eo, 0, sizeof(eo));
		eo.nodeid = FILE_INO;
		eo.generation = 1;
		fill_attr(&eo.attr, FILE_INO);
		return fx_reply(fd, ih->unique, 0, &eo, sizeof(eo));
	case FUSE_GETATTR:
		memset(&ao, 0, sizeof(ao));
		fill_attr(&ao.attr, ih->nodeid);
		return fx_reply(fd, ih->unique, 0, &ao, sizeof(ao));
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		return 0;
	case FUSE_DESTROY:
		return fx_reply(fd, ih->unique, 0, NULL, 0);
	default:
		return fx_reply(fd, ih->unique, -ENOSYS, NULL, 0);
	}
}

/* A server thread on one device fd. */
struct server {
	int fd;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_int inits, reinits, resent, lookups;
	uint64_t init_flags;	/* of the last INIT */
	int end;		/* why it stopped: 0 or -errno of read */
	char *buf;
};

static void *server_thread(void *arg)
{
	struct server *s = arg;
	const struct fuse_in_header *ih = (void *)s->buf;
	uint64_t flags;
	ssize_t n;

	while (!atomic_load(&s->stop)) {
		n = rd(s->fd, s->buf, BUFSZ, 50);
		if (n == -ETIMEDOUT || n == -EINTR)
			continue;
		if (n < 0) {
			s->end = n;
			break;
		}
		if (ih->unique & FUSE_UNIQUE_RESEND)
			atomic_fetch_add(&s->resent, 1);
		if (ih->opcode == FUSE_LOOKUP)
			atomic_fetch_add(&s->lookups, 1);
		/* Counted before the answer, which may wake the test. */
		if (ih->opcode == FUSE_INIT) {
			flags = init_in_flags((const void *)(ih + 1));
			s->init_flags = flags;
			atomic_fetch_add(&s->inits, 1);
			if (flags & FUSEX_INIT_REINIT)
				atomic_fetch_add(&s->reinits, 1);
		}
		answer(s->fd, s->buf, NULL);
	}
	return NULL;
}

static int server_start(struct server *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->buf = malloc(BUFSZ);
	if (!s->buf)
		return -ENOMEM;
	if (pthread_create(&s->thread, NULL, server_thread, s)) {
		free(s->buf);
		return -EAGAIN;
	}
	s->running = true;
	return 0;
}

/* Stop the thread; the fd stays open. */
static void server_stop(struct server *s)
{
	if (!s->running)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	free(s->buf);
	s->running = false;
}

static int dev_open(void)
{
	return open("/dev/fusex", O_RDWR | O_CLOEXEC);
}

static int attach(int devfd, int mount_fd, uint32_t flags)
{
	struct fusex_attach a = { .flags = flags, .mount_fd = mount_fd };

	return ioctl(devfd, FUSEX_DEV_IOC_ATTACH, &a) ? -errno : 0;
}

/* A stat(2) in a thread, to be seen blocking. */
struct caller {
	char path[128];
	int err;
	ino_t ino;
	atomic_bool done;
	pthread_t thread;
};

static void *stat_thread(void *arg)
{
	struct caller *c = arg;
	struct stat st;

	c->err = stat(c->path, &st) ? errno : 0;
	c->ino = st.st_ino;
	atomic_store(&c->done, true);
	return NULL;
}

static int caller_start(struct caller *c, const char *mnt)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s/file", mnt);
	return pthread_create(&c->thread, NULL, stat_thread, c) ? -EAGAIN : 0;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* Skip what the kernel logged so far; kmsg_has() reads what comes after. */
static int kmsg_open(void)
{
	int kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (kfd >= 0)
		lseek(kfd, 0, SEEK_END);
	return kfd;
}

static bool kmsg_has(int kfd, const char *needle)
{
	char line[1024];
	ssize_t n;

	while ((n = read(kfd, line, sizeof(line) - 1)) > 0 || n == -1) {
		if (n < 0) {
			if (errno == EPIPE)
				continue;
			break;
		}
		line[n] = '\0';
		if (strstr(line, needle))
			return true;
	}
	return false;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * FUSEX_RESTART_SERVE=PIDFILE: this binary is a server on /dev/fd/N (its
 * last argument), for fusexctl run.  It writes its pid to PIDFILE and,
 * after answering a re-INIT, says FUSE_NOTIFY_RESTARTED with its pid.
 */
__attribute__((constructor))
static void serve_mode(int argc, char **argv)
{
	const char *pidfile = getenv("FUSEX_RESTART_SERVE");
	struct fusex_notify_restarted_out nr = { 0 };
	char tmp[PATH_MAX], *buf;
	uint64_t flags;
	ssize_t n;
	FILE *f;
	int fd;

	if (!pidfile || argc < 2 ||
	    sscanf(argv[argc - 1], "/dev/fd/%d", &fd) != 1)
		return;
	buf = malloc(BUFSZ);
	if (!buf)
		_exit(1);
	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) ||
	    rename(tmp, pidfile))
		_exit(1);
	for (;;) {
		n = read(fd, buf, BUFSZ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			_exit(0);
		flags = 0;
		if (answer(fd, buf, &flags) == 1 && (flags & FUSEX_INIT_REINIT)) {
			nr.instance_id = getpid();
			fx_reply(fd, 0, FUSE_NOTIFY_RESTARTED, &nr, sizeof(nr));
		}
	}
}

FIXTURE(restart) {
	char mnt[64];
	bool mounted;
	int fd;			/* the first server's device fd */
	int mntfd;		/* O_PATH on the mount's root */
	pid_t ctl;		/* fusexctl run */
	struct server srv;
	char *buf;
};

FIXTURE_SETUP(restart)
{
	self->fd = -1;
	self->mntfd = -1;
	self->ctl = 0;
	self->mounted = false;
	memset(&self->srv, 0, sizeof(self->srv));
	self->buf = malloc(BUFSZ);
	ASSERT_NE(NULL, self->buf);
	if (!fx_have_dev("fusex"))
		SKIP(return, "/dev/fusex is missing (module not loaded)");
	strcpy(self->mnt, "/tmp/fusex-restart.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->mnt));
}

FIXTURE_TEARDOWN(restart)
{
	if (self->ctl > 0) {
		kill(self->ctl, SIGTERM);
		waitpid(self->ctl, NULL, 0);
	}
	server_stop(&self->srv);
	if (self->mntfd >= 0)
		close(self->mntfd);
	/* The server goes first: a detached mount unmounts at once. */
	if (self->fd >= 0)
		close(self->fd);
	if (self->mounted)
		umount2(self->mnt, MNT_DETACH);
	rmdir(self->mnt);
	free(self->buf);
}

/*
 * Mount with @extra options on a new device fd, start the server thread
 * on it and wait for INIT to be answered (a stat of the root).
 */
static void mount_served(struct __test_metadata *_metadata,
			 FIXTURE_DATA(restart) *self, const char *extra)
{
	char opts[256];
	struct stat st;

	self->fd = dev_open();
	ASSERT_LE(0, self->fd);
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0%s", self->fd,
		 extra ? extra : "");
	ASSERT_EQ(0, mount("fusex", self->mnt, "fusex", 0, opts));
	self->mounted = true;
	ASSERT_EQ(0, server_start(&self->srv, self->fd));
	ASSERT_EQ(0, stat(self->mnt, &st));
	ASSERT_EQ(1, atomic_load(&self->srv.inits));
	EXPECT_EQ(0, self->srv.init_flags & FUSEX_INIT_REINIT);
	self->mntfd = open(self->mnt, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, self->mntfd);
}

/* Stop the server and close its fd: the mount is detached. */
static void kill_server(FIXTURE_DATA(restart) *self)
{
	server_stop(&self->srv);
	close(self->fd);
	self->fd = -1;
}

TEST_F_TIMEOUT(restart, survives_and_reattaches, 120)
{
	struct server srv2;
	struct caller c;
	struct stat st;
	int fd2;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	ASSERT_EQ(0, stat(self->mnt, &st));
	kill_server(self);

	/* The mount is still there, and a stat waits for a server. */
	EXPECT_TRUE(fx_is_mounted(self->mnt, "fusex"));
	ASSERT_EQ(0, caller_start(&c, self->mnt));
	fx_msleep(500);
	EXPECT_FALSE(atomic_load(&c.done));

	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	ASSERT_EQ(0, server_start(&srv2, fd2));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(0, c.err);
	EXPECT_EQ(FILE_INO, c.ino);
	/* INIT again, flagged; and the mount works on. */
	EXPECT_EQ(1, atomic_load(&srv2.inits));
	EXPECT_EQ(1, atomic_load(&srv2.reinits));
	EXPECT_NE(0, srv2.init_flags & FUSE_HAS_RESEND);
	EXPECT_EQ(0, stat(c.path, &st));
	EXPECT_EQ(FILE_SIZE, st.st_size);

	/* It survives a second restart too. */
	server_stop(&srv2);
	close(fd2);
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	ASSERT_EQ(0, server_start(&srv2, fd2));
	EXPECT_EQ(0, stat(c.path, &st));
	EXPECT_EQ(1, atomic_load(&srv2.reinits));
	server_stop(&srv2);
	close(fd2);
}

/*
 * Mount with a restart timeout and stop the server thread; a caller
 * stats a file; answer everything by hand up to its LOOKUP, which is left
 * in self->buf unanswered.
 */
static void hold_lookup(struct __test_metadata *_metadata,
			FIXTURE_DATA(restart) *self, struct caller *c)
{
	const struct fuse_in_header *ih = (void *)self->buf;

	mount_served(_metadata, self, ",restart_timeout=60");
	server_stop(&self->srv);
	ASSERT_EQ(0, caller_start(c, self->mnt));
	for (;;) {
		ASSERT_LT(0, rd(self->fd, self->buf, BUFSZ, 10000));
		if (ih->opcode == FUSE_LOOKUP)
			break;
		ASSERT_LE(0, answer(self->fd, self->buf, NULL));
	}
}

TEST_F_TIMEOUT(restart, unanswered_request_is_resent, 120)
{
	const struct fuse_in_header *ih = (void *)self->buf;
	uint64_t unique = 0, flags = 0;
	struct server srv2;
	struct caller c;
	int fd2, n;

	FX_RETURN_IF_SKIPPED();
	/* The server goes on by hand: read the LOOKUP and die. */
	hold_lookup(_metadata, self, &c);
	unique = ih->unique;
	EXPECT_EQ(0, unique & FUSE_UNIQUE_RESEND);
	close(self->fd);
	self->fd = -1;
	fx_msleep(200);
	EXPECT_FALSE(atomic_load(&c.done));

	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	/* The re-INIT comes first... */
	ASSERT_LT(0, rd(fd2, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_INIT, ih->opcode);
	flags = init_in_flags((const void *)(ih + 1));
	EXPECT_NE(0, flags & FUSEX_INIT_REINIT);
	/* ...and nothing else until it is answered. */
	EXPECT_EQ(-ETIMEDOUT, rd(fd2, self->buf, BUFSZ, 300));
	ASSERT_EQ(0, answer_init(fd2, self->buf, 0));
	/* Then the root is revalidated (it has no handle: GETATTR)... */
	ASSERT_LT(0, rd(fd2, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_GETATTR, ih->opcode);
	EXPECT_EQ(FUSE_ROOT_ID, ih->nodeid);
	EXPECT_EQ(0, ih->unique & FUSE_UNIQUE_RESEND);
	ASSERT_EQ(0, answer(fd2, self->buf, NULL));
	/* ...and the LOOKUP the dead server held comes again, resent. */
	ASSERT_LT(0, rd(fd2, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_LOOKUP, ih->opcode);
	EXPECT_EQ(unique | FUSE_UNIQUE_RESEND, ih->unique);
	EXPECT_STREQ("file", (const char *)(ih + 1));
	unique = ih->unique;
	ASSERT_EQ(0, answer(fd2, self->buf, NULL));
	/* stat goes on with a GETATTR: a server thread answers the rest. */
	ASSERT_EQ(0, server_start(&srv2, fd2));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(0, c.err);
	EXPECT_EQ(FILE_INO, c.ino);
	/* It completed once: neither unique names a request any more. */
	n = fx_reply(fd2, unique, -ENOENT, NULL, 0);
	EXPECT_EQ(-ENOENT, n);
	n = fx_reply(fd2, unique & ~FUSE_UNIQUE_RESEND, -ENOENT, NULL, 0);
	EXPECT_EQ(-ENOENT, n);
	/* Nothing else was sent again. */
	EXPECT_EQ(0, atomic_load(&srv2.resent));
	server_stop(&srv2);
	close(fd2);
}

/*
 * fd passing: a new instance that is handed the still-open device fd says
 * FUSE_NOTIFY_RESTARTED on it.  The kernel then sends INIT again, and what
 * the old instance read and never answered comes again, resent, after its
 * inode (the root here) is revalidated.
 */
TEST_F_TIMEOUT(restart, restarted_on_passed_fd, 120)
{
	struct fusex_notify_restarted_out nr = { .instance_id = 7 };
	const struct fuse_in_header *ih = (void *)self->buf;
	uint64_t unique = 0;
	struct server srv2;
	struct caller c;

	FX_RETURN_IF_SKIPPED();
	/* The old instance reads the LOOKUP and "dies"; the fd lives on. */
	hold_lookup(_metadata, self, &c);
	unique = ih->unique;

	/* The new instance, on the same fd. */
	ASSERT_EQ(0, fx_reply(self->fd, 0, FUSE_NOTIFY_RESTARTED, &nr,
			   sizeof(nr)));
	ASSERT_LT(0, rd(self->fd, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_INIT, ih->opcode);
	EXPECT_NE(0, init_in_flags((const void *)(ih + 1)) &
		     FUSEX_INIT_REINIT);
	ASSERT_EQ(0, answer_init(self->fd, self->buf, 0));
	ASSERT_LT(0, rd(self->fd, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_GETATTR, ih->opcode);
	EXPECT_EQ(FUSE_ROOT_ID, ih->nodeid);
	ASSERT_EQ(0, answer(self->fd, self->buf, NULL));
	ASSERT_LT(0, rd(self->fd, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_LOOKUP, ih->opcode);
	EXPECT_EQ(unique | FUSE_UNIQUE_RESEND, ih->unique);
	ASSERT_EQ(0, answer(self->fd, self->buf, NULL));
	ASSERT_EQ(0, server_start(&srv2, self->fd));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(0, c.err);
	EXPECT_EQ(FILE_INO, c.ino);
	server_stop(&srv2);
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int err = 0;

	if (fd < 0)
		return -errno;
	sync();
	if (write(fd, "2", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

TEST_F_TIMEOUT(restart, forgets_dropped_at_detach, 60)
{
	const struct fuse_in_header *ih = (void *)self->buf;
	struct pollfd p = { .events = POLLIN };
	struct stat st;
	char path[128];
	int fd2;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	snprintf(path, sizeof(path), "%s/file", self->mnt);
	ASSERT_EQ(0, stat(path, &st));
	/* The old server stops reading; evicting "file" queues a FORGET. */
	server_stop(&self->srv);
	ASSERT_EQ(0, drop_caches());
	p.fd = self->fd;
	ASSERT_EQ(1, poll(&p, 1, 1000));
	close(self->fd);
	self->fd = -1;

	/* The new instance never hears of the old one's nodeids. */
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	ASSERT_LT(0, rd(fd2, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_INIT, ih->opcode);
	ASSERT_EQ(0, answer_init(fd2, self->buf, 0));
	EXPECT_EQ(-ETIMEDOUT, rd(fd2, self->buf, BUFSZ, 500));
	close(fd2);
}

TEST_F_TIMEOUT(restart, attach_by_other_user, 60)
{
	int status, fd2;
	pid_t pid;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	kill_server(self);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(100);
		fd2 = dev_open();
		if (fd2 < 0)
			_exit(101);
		_exit(-attach(fd2, self->mntfd, 0));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(EPERM, WEXITSTATUS(status));
}

TEST_F_TIMEOUT(restart, busy_and_replace, 120)
{
	const struct fuse_in_header *ih = (void *)self->buf;
	struct server srv2;
	struct caller c;
	uint64_t unique;
	struct stat st;
	int fd2;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EBUSY, attach(fd2, self->mntfd, 0));

	/* The live server holds a LOOKUP when it is replaced. */
	server_stop(&self->srv);
	ASSERT_EQ(0, caller_start(&c, self->mnt));
	for (;;) {
		ASSERT_LT(0, rd(self->fd, self->buf, BUFSZ, 10000));
		if (ih->opcode == FUSE_LOOKUP)
			break;
		ASSERT_LE(0, answer(self->fd, self->buf, NULL));
	}
	unique = ih->unique;
	ASSERT_EQ(0, attach(fd2, self->mntfd, FUSEX_ATTACH_REPLACE));
	/* The old one is out: it reads and writes nothing more. */
	EXPECT_EQ(-ENODEV, rd(self->fd, self->buf, BUFSZ, 1000));
	EXPECT_EQ(-ENODEV, fx_reply(self->fd, unique, -ENOENT, NULL, 0));
	ASSERT_EQ(0, server_start(&srv2, fd2));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(0, c.err);
	EXPECT_EQ(1, atomic_load(&srv2.reinits));
	EXPECT_LE(1, atomic_load(&srv2.resent));
	/* Closing the replaced fd changes nothing. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, stat(c.path, &st));
	server_stop(&srv2);
	close(fd2);
}

TEST_F_TIMEOUT(restart, timeout_aborts, 120)
{
	struct caller c;
	struct stat st;
	double t0, secs;
	int fd2;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=2");
	kill_server(self);
	t0 = now_s();
	ASSERT_EQ(0, caller_start(&c, self->mnt));
	pthread_join(c.thread, NULL);
	secs = now_s() - t0;
	/* The waiting caller, and every later one, gets ENOTCONN. */
	EXPECT_EQ(ENOTCONN, c.err);
	EXPECT_LT(1.0, secs);
	EXPECT_GT(30.0, secs);
	EXPECT_EQ(-1, stat(self->mnt, &st));
	EXPECT_EQ(ENOTCONN, errno);
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-ENOTCONN, attach(fd2, self->mntfd, 0));
	close(fd2);
	close(self->mntfd);
	self->mntfd = -1;
	EXPECT_EQ(0, umount2(self->mnt, 0));
	self->mounted = false;
}

TEST_F_TIMEOUT(restart, reinit_mismatch_refused, 120)
{
	const struct fuse_in_header *ih = (void *)self->buf;
	struct server srv3;
	struct stat st;
	int kfd, fd2, fd3;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	kill_server(self);
	kfd = kmsg_open();
	ASSERT_LE(0, kfd);

	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	ASSERT_LT(0, rd(fd2, self->buf, BUFSZ, 10000));
	ASSERT_EQ(FUSE_INIT, ih->opcode);
	/* The writeback cache cannot be turned on under a live mount. */
	ASSERT_EQ(0, answer_init(fd2, self->buf, FUSE_WRITEBACK_CACHE));
	EXPECT_EQ(-ENODEV, rd(fd2, self->buf, BUFSZ, 5000));
	EXPECT_TRUE(kmsg_has(kfd, "re-INIT reply refused: writeback_cache"));
	close(kfd);

	/* Detached again: the next server may attach, and works. */
	fd3 = dev_open();
	ASSERT_LE(0, fd3);
	ASSERT_EQ(0, attach(fd3, self->mntfd, 0));
	close(fd2);
	ASSERT_EQ(0, server_start(&srv3, fd3));
	snprintf((char *)self->buf, 128, "%s/file", self->mnt);
	EXPECT_EQ(0, stat((char *)self->buf, &st));
	EXPECT_EQ(1, atomic_load(&srv3.reinits));
	server_stop(&srv3);
	close(fd3);
}

TEST_F_TIMEOUT(restart, signal_while_waiting, 60)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct server srv2;
	struct caller c;
	struct stat st;
	int fd2;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	mount_served(_metadata, self, ",restart_timeout=60");
	kill_server(self);
	ASSERT_EQ(0, caller_start(&c, self->mnt));
	fx_msleep(300);
	EXPECT_FALSE(atomic_load(&c.done));
	ASSERT_EQ(0, pthread_kill(c.thread, SIGUSR1));
	pthread_join(c.thread, NULL);
	EXPECT_EQ(EINTR, c.err);

	/* Nothing was sent for it; the mount goes on with the next server. */
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	ASSERT_EQ(0, server_start(&srv2, fd2));
	EXPECT_EQ(0, stat(c.path, &st));
	EXPECT_EQ(0, atomic_load(&srv2.resent));
	server_stop(&srv2);
	close(fd2);
}

TEST_F_TIMEOUT(restart, umount_while_detached, 60)
{
	double t0;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=600");
	kill_server(self);
	close(self->mntfd);
	self->mntfd = -1;
	t0 = now_s();
	EXPECT_EQ(0, umount2(self->mnt, 0));
	/* No DESTROY to wait for: nobody would answer it. */
	EXPECT_GT(5.0, now_s() - t0);
	self->mounted = false;
}

TEST_F_TIMEOUT(restart, no_restart_timeout_is_fuse, 60)
{
	struct fusex_notify_restarted_out nr = { .instance_id = 1 };
	struct stat st;
	int fd2;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, NULL);
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	/* Nothing to attach to, and no RESTARTED to say. */
	EXPECT_EQ(-EINVAL, attach(fd2, self->mntfd, 0));
	EXPECT_EQ(-EINVAL, fx_reply(self->fd, 0, FUSE_NOTIFY_RESTARTED, &nr,
				 sizeof(nr)));
	EXPECT_EQ(0, self->srv.init_flags & FUSE_HAS_RESEND);
	kill_server(self);
	/* The last close aborts, as on fuse. */
	EXPECT_EQ(-1, stat(self->mnt, &st));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-EINVAL, attach(fd2, self->mntfd, 0));
	close(fd2);
}

TEST_F_TIMEOUT(restart, bad_attach_arguments, 60)
{
	struct fusex_attach a = { .mount_fd = -1 };
	int kfd, fd2, tmpfd;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	kill_server(self);
	kfd = kmsg_open();
	ASSERT_LE(0, kfd);
	fd2 = dev_open();
	ASSERT_LE(0, fd2);

	a.mount_fd = self->mntfd;
	a.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(fd2, FUSEX_DEV_IOC_ATTACH, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(kmsg_has(kfd, "FUSEX_DEV_IOC_ATTACH"));
	EXPECT_EQ(-EINVAL, attach(fd2, self->mntfd, 0x80));
	EXPECT_EQ(-EBADF, attach(fd2, -1, 0));
	tmpfd = open("/tmp", O_PATH | O_CLOEXEC);
	ASSERT_LE(0, tmpfd);
	EXPECT_EQ(-EINVAL, attach(fd2, tmpfd, 0));
	close(tmpfd);
	close(kfd);

	/* After all that, a good attach still works; a second one is busy. */
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	EXPECT_EQ(-EINVAL, attach(fd2, self->mntfd, FUSEX_ATTACH_REPLACE));
	close(fd2);
}

TEST_F_TIMEOUT(restart, notify_restarted, 60)
{
	struct fusex_notify_restarted_out nr = { .instance_id = 4242 };
	struct server srv2;
	struct stat st;
	int kfd, fd2;

	FX_RETURN_IF_SKIPPED();
	mount_served(_metadata, self, ",restart_timeout=60");
	kill_server(self);
	kfd = kmsg_open();
	ASSERT_LE(0, kfd);
	fd2 = dev_open();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, attach(fd2, self->mntfd, 0));
	ASSERT_EQ(0, server_start(&srv2, fd2));
	ASSERT_EQ(0, stat(self->mnt, &st));
	EXPECT_EQ(0, fx_reply(fd2, 0, FUSE_NOTIFY_RESTARTED, &nr, sizeof(nr)));
	EXPECT_TRUE(kmsg_has(kfd, "server instance 4242 took over"));
	/* The wrong size, or padding that is not zero, is refused. */
	EXPECT_EQ(-EINVAL, fx_reply(fd2, 0, FUSE_NOTIFY_RESTARTED, &nr, 8));
	nr.padding = 1;
	EXPECT_EQ(-EINVAL, fx_reply(fd2, 0, FUSE_NOTIFY_RESTARTED, &nr,
				 sizeof(nr)));
	close(kfd);
	server_stop(&srv2);
	close(fd2);
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/* Wait up to @ms for @path to name a pid other than @old. */
static pid_t wait_new_pid(const char *path, pid_t old, int ms)
{
	pid_t pid;

	for (; ms > 0; ms -= 20) {
		pid = read_pid(path);
		if (pid > 0 && pid != old)
			return pid;
		fx_msleep(20);
	}
	return 0;
}

static bool file_has(const char *path, const char *needle)
{
	char buf[8192];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, needle) != NULL;
}

TEST_F_TIMEOUT(restart, fusexctl_run_restarts, 180)
{
	char fusexctl[PATH_MAX], me[PATH_MAX], pidfile[64], logfile[64];
	char path[128], needle[64];
	pid_t pid1, pid2;
	int kfd, logfd, status, waited;
	struct stat st;
	ssize_t n;

	FX_RETURN_IF_SKIPPED();
	if (fx_build_path(fusexctl, sizeof(fusexctl), "fusexctl"))
		SKIP(return, "fusexctl not found");
	n = readlink("/proc/self/exe", me, sizeof(me) - 1);
	ASSERT_LT(0, n);
	me[n] = '\0';
	strcpy(pidfile, "/tmp/fusex-restart-pid.XXXXXX");
	ASSERT_LE(0, (n = mkstemp(pidfile)));
	close(n);
	unlink(pidfile);
	strcpy(logfile, "/tmp/fusex-restart-log.XXXXXX");
	logfd = mkstemp(logfile);
	ASSERT_LE(0, logfd);
	kfd = kmsg_open();
	ASSERT_LE(0, kfd);

	fflush(stdout);
	fflush(stderr);
	self->ctl = fork();
	ASSERT_LE(0, self->ctl);
	if (self->ctl == 0) {
		setenv("FUSEX_RESTART_SERVE", pidfile, 1);
		dup2(logfd, STDERR_FILENO);
		dup2(logfd, STDOUT_FILENO);
		execl(fusexctl, "fusexctl", "run", "--restart=always",
		      "--max-restarts=3", "-o", "restart_timeout=60",
		      self->mnt, "--", me, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	for (waited = 0; !fx_is_mounted(self->mnt, "fusex"); waited += 20) {
		ASSERT_GT(30000, waited);
		ASSERT_EQ(-ETIMEDOUT, fx_wait_exit(self->ctl, 0));
		fx_msleep(20);
	}
	self->mounted = true;
	snprintf(path, sizeof(path), "%s/file", self->mnt);
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(FILE_SIZE, st.st_size);
	pid1 = wait_new_pid(pidfile, 0, 10000);
	ASSERT_LT(0, pid1);

	/* The server dies; fusexctl attaches and starts another. */
	ASSERT_EQ(0, kill(pid1, SIGKILL));
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(FILE_SIZE, st.st_size);
	pid2 = wait_new_pid(pidfile, pid1, 10000);
	ASSERT_LT(0, pid2);
	snprintf(needle, sizeof(needle), "server instance %d took over", pid2);
	EXPECT_TRUE(kmsg_has(kfd, needle));
	close(kfd);

	/* SIGTERM: the server gets it, fusexctl unmounts and exits. */
	ASSERT_EQ(0, kill(self->ctl, SIGTERM));
	status = fx_wait_exit(self->ctl, 30000);
	ASSERT_LE(0, status);
	self->ctl = 0;
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(128 + SIGTERM, WEXITSTATUS(status));
	EXPECT_FALSE(fx_is_mounted(self->mnt, "fusex"));
	self->mounted = false;
	EXPECT_TRUE(file_has(logfile, "restart 1, down for"));
	unlink(logfile);
	unlink(pidfile);
}

/* The first child of @parent found in /proc, or 0. */

/*
 * Debian's hello_ll, unmodified, is a libfuse server whose nodeids are
 * fixed (the root 1, "hello" 2) and whose READ ignores the file handle:
 * restart phase 1 serves it completely, an open file included.
 */
TEST_F_TIMEOUT(restart, fusexctl_run_hello_ll, 180)
{
	char fusexctl[PATH_MAX], hello[PATH_MAX], logfile[64], path[128];
	char data[64];
	pid_t pid1, pid2;
	int logfd, fd, status, waited;
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	if (fx_build_path(fusexctl, sizeof(fusexctl), "fusexctl"))
		SKIP(return, "fusexctl not found");
	if (fx_build_path(hello, sizeof(hello), "hello_ll"))
		SKIP(return, "hello_ll not built");
	strcpy(logfile, "/tmp/fusex-restart-log.XXXXXX");
	logfd = mkstemp(logfile);
	ASSERT_LE(0, logfd);

	fflush(stdout);
	fflush(stderr);
	self->ctl = fork();
	ASSERT_LE(0, self->ctl);
	if (self->ctl == 0) {
		dup2(logfd, STDERR_FILENO);
		dup2(logfd, STDOUT_FILENO);
		execl(fusexctl, "fusexctl", "run", "--restart=always",
		      "--max-restarts=3", self->mnt, "--", hello, "-f",
		      (char *)NULL);
		_exit(127);
	}
	close(logfd);
	for (waited = 0; !fx_is_mounted(self->mnt, "fusex"); waited += 20) {
		ASSERT_GT(30000, waited);
		ASSERT_EQ(-ETIMEDOUT, fx_wait_exit(self->ctl, 0));
		fx_msleep(20);
	}
	self->mounted = true;
	snprintf(path, sizeof(path), "%s/hello", self->mnt);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	memset(data, 0, sizeof(data));
	ASSERT_EQ(13, pread(fd, data, sizeof(data), 0));
	EXPECT_STREQ("Hello World!\n", data);
	pid1 = fx_child_of(self->ctl);
	ASSERT_LT(0, pid1);

	/* kill -9 the server: the open file and the mount go on. */
	ASSERT_EQ(0, kill(pid1, SIGKILL));
	/* Past hello_ll's 1 s timeouts: the kernel must ask again. */
	fx_msleep(1500);
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(13, st.st_size);
	memset(data, 0, sizeof(data));
	EXPECT_EQ(13, pread(fd, data, sizeof(data), 0));
	EXPECT_STREQ("Hello World!\n", data);
	pid2 = fx_child_of(self->ctl);
	EXPECT_LT(0, pid2);
	EXPECT_NE(pid1, pid2);
	close(fd);

	ASSERT_EQ(0, kill(self->ctl, SIGTERM));
	status = fx_wait_exit(self->ctl, 30000);
	ASSERT_LE(0, status);
	self->ctl = 0;
	EXPECT_FALSE(fx_is_mounted(self->mnt, "fusex"));
	self->mounted = false;
	EXPECT_TRUE(file_has(logfile, "restart 1, down for"));
	unlink(logfile);
}

TEST_HARNESS_MAIN
