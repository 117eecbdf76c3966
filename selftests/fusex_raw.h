/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fusex selftests that speak the protocol by hand share: replies
 * on a device file (fx_reply(), for fuse and fusex alike), and a server
 * thread of the test's own on /dev/fusex (fusex_hostile_test,
 * fusex_handle_test).  The test embeds a struct fx_raw in its server,
 * gives it the function that answers a request, and spoils what it wants
 * to spoil; this file mounts, reads requests, sends replies, counts the
 * spoiled ones and stops.
 *
 * A test's fixture calls fx_raw_setup() in its FIXTURE_SETUP (followed by
 * FX_RETURN_IF_SKIPPED()), fx_raw_start() in each test and
 * fx_raw_teardown() in its FIXTURE_TEARDOWN.
 */
#ifndef FUSEX_RAW_H
#define FUSEX_RAW_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/fuse.h>

#include "fusex_util.h"

/* The struct of type @type whose member @member is at @ptr. */
#define fx_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

struct fx_raw;

/* Answers one request; the server thread calls it with each it reads. */
typedef void (*fx_raw_handler)(struct fx_raw *r, struct fuse_in_header *ih);

struct fx_raw {
	int fd;				/* /dev/fusex */
	int stop[2];			/* a byte in stop[1] ends the thread */
	char mnt[64];
	pthread_t thread;
	bool running;
	fx_raw_handler handle;
	/* Called when nothing came for 3 s (may be NULL). */
	void (*idle)(struct fx_raw *r);
	/* What writing the last spoiled reply returned (0 or -errno). */
	atomic_int write_err;
	atomic_int spoiled;		/* how many replies were spoiled */
	char *buf;			/* one request */
	size_t bufsz;
};

/*
 * Reply on the device file @fd to @unique with @error and @len bytes of
 * @data; the header says @len_adjust bytes more than are sent.  0 or
 * -errno from the write.
 */
static inline int fx_reply_adjusted(int fd, uint64_t unique, int error,
				    const void *data, size_t len,
				    int len_adjust)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh) + len + len_adjust,
		.error = error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ &oh, sizeof(oh) }, { (void *)data, len },
	};

	return writev(fd, iov, len ? 2 : 1) < 0 ? -errno : 0;
}

/* The same, with a header that tells the truth. */
static inline int fx_reply(int fd, uint64_t unique, int error,
			   const void *data, size_t len)
{
	return fx_reply_adjusted(fd, unique, error, data, len, 0);
}

/* fx_reply_adjusted() on the raw server's device file. */
static inline int fx_raw_send(struct fx_raw *r, uint64_t unique, int error,
			      const void *data, size_t len, int len_adjust)
{
	return fx_reply_adjusted(r->fd, unique, error, data, len, len_adjust);
}

/* Send a reply that is spoiled, and remember what the kernel said. */
static inline void fx_raw_send_spoiled(struct fx_raw *r, uint64_t unique,
				       int error, const void *data,
				       size_t len, int len_adjust)
{
	atomic_store(&r->write_err,
		     fx_raw_send(r, unique, error, data, len, len_adjust));
	atomic_fetch_add(&r->spoiled, 1);
}

/*
 * What every raw server answers alike: OPEN and OPENDIR with fh 1, nothing
 * to FORGET, BATCH_FORGET and INTERRUPT, an empty reply to FLUSH, RELEASE,
 * RELEASEDIR and DESTROY, and ENOSYS to anything else.
 */
static inline void fx_raw_default(struct fx_raw *r, struct fuse_in_header *ih)
{
	struct fuse_open_out oo = { .fh = 1 };

	switch (ih->opcode) {
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		fx_raw_send(r, ih->unique, 0, &oo, sizeof(oo), 0);
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_DESTROY:
		fx_raw_send(r, ih->unique, 0, NULL, 0, 0);
		break;
	default:
		fx_raw_send(r, ih->unique, -ENOSYS, NULL, 0, 0);
		break;
	}
}

/* The server thread: reads requests until stopped or the device fails. */
static inline void *fx_raw_thread(void *arg)
{
	struct fx_raw *r = arg;
	struct pollfd p[2] = {
		{ .fd = r->fd, .events = POLLIN },
		{ .fd = r->stop[0], .events = POLLIN },
	};
	ssize_t n;
	int ret;

	for (;;) {
		ret = poll(p, 2, 3000);
		if (ret < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!ret && r->idle)
			r->idle(r);
		if (!(p[0].revents & POLLIN))
			continue;
		n = read(r->fd, r->buf, r->bufsz);
		if (n < 0 && (errno == EINTR || errno == EAGAIN ||
			      errno == ENOENT))
			continue;
		if (n < (ssize_t)sizeof(struct fuse_in_header))
			break;
		r->handle(r, (void *)r->buf);
	}
	return NULL;
}

/*
 * FIXTURE_SETUP: skip without /dev/fusex, else a request buffer of @bufsz
 * bytes, a mount point made from @tmpl and the device opened (non-blocking).
 */
static inline void fx_raw_setup(struct __test_metadata *_metadata,
				struct fx_raw *r, const char *tmpl,
				size_t bufsz)
{
	r->fd = -1;
	r->stop[0] = r->stop[1] = -1;
	if (access("/dev/fusex", F_OK))
		SKIP(return, "/dev/fusex is missing (module not loaded)");
	r->bufsz = bufsz;
	r->buf = malloc(bufsz);
	ASSERT_NE(NULL, r->buf);
	snprintf(r->mnt, sizeof(r->mnt), "%s", tmpl);
	ASSERT_NE(NULL, mkdtemp(r->mnt));
	ASSERT_EQ(0, pipe2(r->stop, O_CLOEXEC));
	r->fd = open("/dev/fusex", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, r->fd);
}

/* Mount on r->mnt and start the thread, which answers with r->handle. */
static inline int fx_raw_start(struct fx_raw *r)
{
	char opts[128];

	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", r->fd);
	if (mount("fusex", r->mnt, "fusex", 0, opts))
		return -errno;
	if (pthread_create(&r->thread, NULL, fx_raw_thread, r))
		return -EAGAIN;
	r->running = true;
	return 0;
}

/* FIXTURE_TEARDOWN: what fx_raw_setup() and fx_raw_start() made. */
static inline void fx_raw_teardown(struct fx_raw *r)
{
	/* The server goes first, so nobody waits for it at unmount. */
	if (r->running) {
		write(r->stop[1], "x", 1);
		pthread_join(r->thread, NULL);
	}
	if (r->fd >= 0)
		close(r->fd);
	if (r->mnt[0]) {
		umount2(r->mnt, MNT_DETACH);
		rmdir(r->mnt);
	}
	if (r->stop[0] >= 0) {
		close(r->stop[0]);
		close(r->stop[1]);
	}
	free(r->buf);
}

/*
 * How many spoiled replies the server has sent.  The caller can wake up
 * before the server thread counts its write: give it a moment.
 */
static inline int fx_raw_spoiled(struct fx_raw *r, int want)
{
	int i, n = 0;

	for (i = 0; i < 500; i++) {
		n = atomic_load(&r->spoiled);
		if (n >= want)
			break;
		fx_msleep(10);
	}
	return n;
}

/*
 * The mount still works after a spoiled reply: "dir" is a directory and
 * "file" reads @size bytes of 'x'.
 */
static inline bool fx_raw_still_works(const char *mnt, ssize_t size)
{
	char path[128], buf[256];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/dir", mnt);
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return false;
	snprintf(path, sizeof(path), "%s/file", mnt);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	return n == size && buf[0] == 'x';
}

/*
 * Read all of directory @path with getdents64 through the raw syscall
 * (readdir(3) would hide the error): 0 or the last -errno.
 */
static inline long fx_list_dir(const char *path)
{
	char buf[8192];
	long n, err = 0;
	int fd;

	fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	do {
		n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n < 0)
			err = -errno;
	} while (n > 0);
	close(fd);
	return err;
}

#endif /* FUSEX_RAW_H */
