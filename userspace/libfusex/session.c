// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libfusex: starting a server that may be a new instance of a dead one.
 *
 * A restartable server gets its device fd in one of three ways: handed
 * down by systemd's fd store (sd_listen_fds(3) conventions, without
 * linking libsystemd), as "/dev/fd/N" from fusexctl run or attach, or by
 * attaching a new /dev/fusex fd to a live mount itself.  It may also put
 * its fd in the fd store, so that the next instance gets it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fusex.h"

/* The first fd sd_listen_fds() hands over. */
#define FUSEX_LISTEN_FDS_START	3

/* Is @fd an open /dev/fusex? */
static bool is_fusex_dev(int fd)
{
	struct stat st, dev;

	return !fstat(fd, &st) && S_ISCHR(st.st_mode) &&
	       !stat("/dev/" FUSEX_DEVICE_NAME, &dev) &&
	       st.st_rdev == dev.st_rdev;
}

/* The n-th (from 0) name of $LISTEN_FDNAMES, or "" if there is none. */
static void fd_name(const char *names, int n, char *buf, size_t len)
{
	const char *p = names, *end;

	buf[0] = '\0';
	while (p && n--) {
		p = strchr(p, ':');
		if (p)
			p++;
	}
	if (!p)
		return;
	end = strchr(p, ':');
	snprintf(buf, len, "%.*s", (int)(end ? (size_t)(end - p) : strlen(p)),
		 p);
}

/* A /dev/fusex fd systemd passed (named "fusex" if names are given). */
static int listen_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char name[64];
	int n, i, fd = -1;

	if (!pid || !fds || strtol(pid, NULL, 10) != getpid())
		return -1;
	n = (int)strtol(fds, NULL, 10);
	for (i = 0; i < n && fd < 0; i++) {
		if (names) {
			fd_name(names, i, name, sizeof(name));
			if (strcmp(name, FUSEX_FDSTORE_NAME))
				continue;
		}
		if (is_fusex_dev(FUSEX_LISTEN_FDS_START + i))
			fd = FUSEX_LISTEN_FDS_START + i;
	}
	/* As sd_listen_fds(1): the variables are for this process only. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

int fusex_session_fd(const char *mountpoint, unsigned int flags,
		     bool *restarted)
{
	struct fusex_attach at = { 0 };
	int fd, mfd, err;
	char *end;
	long n;

	*restarted = false;
	if (flags & ~FUSEX_SESSION_REPLACE) {
		errno = EINVAL;
		return -1;
	}
	fd = listen_fd();
	if (fd >= 0) {
		*restarted = true;
		return fd;
	}
	if (!mountpoint) {
		errno = EINVAL;
		return -1;
	}
	if (!strncmp(mountpoint, "/dev/fd/", 8)) {
		n = strtol(mountpoint + 8, &end, 10);
		if (*end || n < 0 || n > INT32_MAX ||
		    fcntl((int)n, F_GETFD) < 0) {
			errno = EBADF;
			return -1;
		}
		return (int)n;
	}

	mfd = open(mountpoint, O_PATH | O_CLOEXEC);
	if (mfd < 0)
		return -1;
	fd = open("/dev/" FUSEX_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		close(mfd);
		/* No fusex here: nothing to take over. */
		errno = err == ENOENT || err == ENODEV ? ENOENT : err;
		return -1;
	}
	at.mount_fd = mfd;
	at.flags = (flags & FUSEX_SESSION_REPLACE) ? FUSEX_ATTACH_REPLACE : 0;
	err = ioctl(fd, FUSEX_DEV_IOC_ATTACH, &at) ? errno : 0;
	close(mfd);
	if (err) {
		close(fd);
		/* Not a fusex mount with restart_timeout=: mount it anew. */
		errno = err == EINVAL ? ENOENT : err;
		return -1;
	}
	*restarted = true;
	return fd;
}

int fusex_send_restarted(int fd, uint64_t instance_id)
{
	struct {
		struct fuse_out_header oh;
		struct fusex_notify_restarted_out out;
	} msg;

	memset(&msg, 0, sizeof(msg));
	msg.oh.len = sizeof(msg);
	msg.oh.error = FUSE_NOTIFY_RESTARTED;
	msg.out.instance_id = instance_id;
	if (write(fd, &msg, sizeof(msg)) != (ssize_t)sizeof(msg))
		return errno ? errno : EIO;
	return 0;
}

int fusex_fdstore(int fd)
{
	const char *path = getenv("NOTIFY_SOCKET");
	static const char state[] = "FDSTORE=1\nFDNAME=" FUSEX_FDSTORE_NAME;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct iovec iov = { (void *)state, sizeof(state) - 1 };
	struct msghdr mh = {
		.msg_name = &sa, .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	size_t len;
	int s, err = 0;

	if (!path || !*path)
		return ENOENT;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path))
		return EINVAL;
	memcpy(sa.sun_path, path, len);
	/* An abstract socket: '@' stands for the leading NUL. */
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	mh.msg_namelen = offsetof(struct sockaddr_un, sun_path) + len;
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));

	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	if (sendmsg(s, &mh, MSG_NOSIGNAL) < 0)
		err = errno;
	close(s);
	return err;
}
