// SPDX-License-Identifier: GPL-2.0
/*
 * Mounting a FUSE-protocol filesystem the way fusermount does, for fusex or
 * for the stock fuse: open the device, stat the mountpoint for rootmode,
 * and hand mount(2) "fd=N,rootmode=M,user_id=U,group_id=G" plus the
 * filesystem options of -o.  Generic options (ro, nosuid, noatime...)
 * become MS_* flags, as mount(8) does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fusexctl.h"

struct fx_flag_opt {
	const char *name;
	unsigned long set;
	unsigned long clear;
};

static const struct fx_flag_opt fx_flag_opts[] = {
	{ "defaults",	 0, 0 },
	{ "ro",		 MS_RDONLY, 0 },
	{ "rw",		 0, MS_RDONLY },
	{ "nosuid",	 MS_NOSUID, 0 },
	{ "suid",	 0, MS_NOSUID },
	{ "nodev",	 MS_NODEV, 0 },
	{ "dev",	 0, MS_NODEV },
	{ "noexec",	 MS_NOEXEC, 0 },
	{ "exec",	 0, MS_NOEXEC },
	{ "sync",	 MS_SYNCHRONOUS, 0 },
	{ "async",	 0, MS_SYNCHRONOUS },
	{ "dirsync",	 MS_DIRSYNC, 0 },
	{ "noatime",	 MS_NOATIME, 0 },
	{ "atime",	 0, MS_NOATIME },
	{ "nodiratime",	 MS_NODIRATIME, 0 },
	{ "diratime",	 0, MS_NODIRATIME },
	{ "relatime",	 MS_RELATIME, MS_STRICTATIME },
	{ "norelatime",	 0, MS_RELATIME },
	{ "strictatime", MS_STRICTATIME, MS_RELATIME },
	{ "lazytime",	 MS_LAZYTIME, 0 },
	{ "nolazytime",	 0, MS_LAZYTIME },
	{ "silent",	 MS_SILENT, 0 },
	{ "loud",	 0, MS_SILENT },
};

void fx_mnt_init(struct fx_mnt *m, const char *type, const char *dir)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->source = type;
	m->dir = dir;
	m->uid = getuid();
	m->gid = getgid();
	m->fd = -1;
}

static int parse_id(const char *opt, const char *val, unsigned int *id)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (!*val || *end || errno || v > (unsigned int)-2) {
		fx_err("option '%s': not a user or group number", opt);
		return -EINVAL;
	}
	*id = v;
	return 0;
}

static int append_kopt(struct fx_mnt *m, const char *opt)
{
	size_t used = strlen(m->kopts), len = strlen(opt);

	if (used + !!used + len + 1 > sizeof(m->kopts)) {
		fx_err("options too long (the kernel takes one page)");
		return -EINVAL;
	}
	if (used)
		m->kopts[used++] = ',';
	memcpy(m->kopts + used, opt, len + 1);
	return 0;
}

/* One option of a -o list; @opt is NUL-terminated and may be modified. */
static int parse_one(struct fx_mnt *m, char *opt)
{
	char *val = strchr(opt, '=');
	size_t i;

	for (i = 0; i < sizeof(fx_flag_opts) / sizeof(fx_flag_opts[0]); i++) {
		if (!strcmp(opt, fx_flag_opts[i].name)) {
			m->flags &= ~fx_flag_opts[i].clear;
			m->flags |= fx_flag_opts[i].set;
			return 0;
		}
	}
	if (val) {
		size_t klen = val - opt;

		if ((klen == 2 && !strncmp(opt, "fd", 2)) ||
		    (klen == 8 && !strncmp(opt, "rootmode", 8))) {
			fx_err("option '%s': fusexctl sets fd= and rootmode= itself",
			       opt);
			return -EINVAL;
		}
		if (klen == 7 && !strncmp(opt, "user_id", 7))
			return parse_id(opt, val + 1, &m->uid);
		if (klen == 8 && !strncmp(opt, "group_id", 8))
			return parse_id(opt, val + 1, &m->gid);
		if (klen == 6 && !strncmp(opt, "fsname", 6)) {
			if (!val[1]) {
				fx_err("option 'fsname=' needs a name");
				return -EINVAL;
			}
			m->source = val + 1;
			return 0;
		}
	}
	/* Everything else is the filesystem's: let the kernel judge it. */
	return append_kopt(m, opt);
}

int fx_mnt_parse_opts(struct fx_mnt *m, const char *opts)
{
	/* Kept for the life of the process: fsname= points into it. */
	char *copy = strdup(opts), *opt, *next;
	int err = 0;

	if (!copy) {
		fx_perr(ENOMEM, "options");
		return -ENOMEM;
	}
	for (opt = copy; opt && !err; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (*opt)
			err = parse_one(m, opt);
	}
	return err;
}

/*
 * mount(2) answers a bad option with a bare EINVAL; the new mount API says
 * which option and why.  Replay the options one by one on a filesystem
 * context that is never created (so nothing is mounted and the device fd
 * is not touched) and keep the kernel's message for the first refused one.
 */
static int explain_einval(const struct fx_mnt *m, const char *data,
			  char *why, size_t whylen)
{
	char *copy = strdup(data), *opt, *next, *val, msg[512];
	int fsfd, found = 0;
	ssize_t n;

	if (!copy)
		return 0;
	fsfd = fsopen(m->type, FSOPEN_CLOEXEC);
	if (fsfd < 0) {
		free(copy);
		return 0;
	}
	for (opt = copy; opt && !found; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		val = strchr(opt, '=');
		if (val)
			*val++ = '\0';
		if (!fsconfig(fsfd, val ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG,
			      opt, val, 0))
			continue;
		found = 1;
		snprintf(why, whylen, "option '%s%s%s': %s", opt,
			 val ? "=" : "", val ? val : "", strerror(errno));
		/* The log holds "e <message>" lines; keep the last error. */
		while ((n = read(fsfd, msg, sizeof(msg) - 1)) > 0) {
			msg[n] = '\0';
			if (n > 2 && msg[0] == 'e' && msg[1] == ' ')
				snprintf(why, whylen, "option '%s%s%s': %s",
					 opt, val ? "=" : "", val ? val : "",
					 msg + 2);
		}
	}
	close(fsfd);
	free(copy);
	return found;
}

int fx_mnt_mount(struct fx_mnt *m)
{
	char dev[32], data[FX_MNT_OPTS_MAX + 128], why[640];
	struct stat st;
	int err, n;

	if (stat(m->dir, &st)) {
		err = errno;
		fx_perr(err, "%s", m->dir);
		return -err;
	}
	snprintf(dev, sizeof(dev), "/dev/%s", m->type);
	m->fd = open(dev, O_RDWR | O_CLOEXEC);
	if (m->fd < 0) {
		err = errno;
		if (err == ENOENT || err == ENODEV || err == ENXIO)
			fx_err("%s: %s (is %s.ko loaded?)", dev, strerror(err),
			       m->type);
		else
			fx_perr(err, "%s", dev);
		return -err;
	}
	n = snprintf(data, sizeof(data),
		     "fd=%d,rootmode=%o,user_id=%u,group_id=%u%s%s", m->fd,
		     (unsigned int)(st.st_mode & S_IFMT), (unsigned int)m->uid,
		     (unsigned int)m->gid, m->kopts[0] ? "," : "", m->kopts);
	if (n < 0 || (size_t)n >= sizeof(data) ||
	    (size_t)n >= FX_MNT_OPTS_MAX) {
		fx_err("options too long (the kernel takes one page)");
		err = EINVAL;
		goto err_close;
	}
	if (mount(m->source, m->dir, m->type, m->flags, data) == 0)
		return 0;

	err = errno;
	switch (err) {
	case EINVAL:
		if (explain_einval(m, data, why, sizeof(why)))
			fx_err("the kernel refused %s", why);
		else
			fx_perr(err, "mount %s on %s with \"%s\" (the kernel log may say why)",
				m->type, m->dir, data);
		break;
	case ENODEV:
		fx_err("mount %s on %s: %s (is %s.ko loaded?)", m->type,
		       m->dir, strerror(err), m->type);
		break;
	default:
		fx_perr(err, "mount %s on %s", m->type, m->dir);
		break;
	}
err_close:
	close(m->fd);
	m->fd = -1;
	return -err;
}

void fx_mnt_undo(struct fx_mnt *m)
{
	if (m->fd < 0)
		return;
	if (umount2(m->dir, MNT_DETACH))
		fx_perr(errno, "unmount %s", m->dir);
	close(m->fd);
	m->fd = -1;
}
