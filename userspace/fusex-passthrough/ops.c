// SPDX-License-Identifier: GPL-2.0
/*
 * fusex-passthrough: the lowlevel operations, each done on the backing
 * object through the inode's O_PATH fd (or /proc/self/fd/N where a call
 * needs a path), or on the open file's fd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fxpt.h"

static void fxpt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* No export support: nodeids are pointers, valid until forgotten. */
	conn->want &= ~FUSE_CAP_EXPORT_SUPPORT;
}

static void fxpt_lookup_op(fuse_req_t req, fuse_ino_t parent,
			   const char *name)
{
	struct fuse_entry_param e;
	int err;

	fxpt_count(false);
	err = fxpt_lookup(fxpt_inode(parent), name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void fxpt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fxpt_forget_one(ino, nlookup);
	fuse_reply_none(req);
}

static void fxpt_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		fxpt_forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fxpt_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (fstatat(fxpt_inode(ino)->fd, "", &st,
		    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, fxpt.timeout);
}

static void fxpt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int valid, struct fuse_file_info *fi)
{
	struct fxpt_inode *inode = fxpt_inode(ino);
	char path[32];
	int ret = 0;

	fxpt_proc_path(path, inode->fd);
	if (valid & FUSE_SET_ATTR_MODE)
		ret = fi ? fchmod(fi->fh, attr->st_mode) :
			   chmod(path, attr->st_mode);
	if (!ret && (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = fchownat(inode->fd, "",
			       (valid & FUSE_SET_ATTR_UID) ? attr->st_uid :
							     (uid_t)-1,
			       (valid & FUSE_SET_ATTR_GID) ? attr->st_gid :
							     (gid_t)-1,
			       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (!ret && (valid & FUSE_SET_ATTR_SIZE))
		ret = fi ? ftruncate(fi->fh, attr->st_size) :
			   truncate(path, attr->st_size);
	if (!ret && (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
		};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		ret = fi ? futimens(fi->fh, tv) : utimensat(AT_FDCWD, path, tv, 0);
	}
	if (ret)
		fuse_reply_err(req, errno);
	else
		fxpt_getattr(req, ino, fi);
}

static void fxpt_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n;

	n = readlinkat(fxpt_inode(ino)->fd, "", buf, sizeof(buf));
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (n == sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

/*
 * After making @name in @parent: its entry, or the error.  A request the
 * kernel resent after a restart may find it made by the instance that
 * died before answering: that EEXIST is the success it would have been.
 */
static void reply_made(fuse_req_t req, fuse_ino_t parent, const char *name,
		       int ret)
{
	struct fuse_entry_param e;
	int err;

	if (ret && !(errno == EEXIST && fusex_request_resent())) {
		fuse_reply_err(req, errno);
		return;
	}
	err = fxpt_lookup(fxpt_inode(parent), name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void fxpt_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	reply_made(req, parent, name,
		   mknodat(fxpt_inode(parent)->fd, name, mode, rdev));
}

static void fxpt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	reply_made(req, parent, name,
		   mkdirat(fxpt_inode(parent)->fd, name, mode));
}

static void fxpt_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	reply_made(req, parent, name,
		   symlinkat(link, fxpt_inode(parent)->fd, name));
}

static void fxpt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	char path[32];

	fxpt_proc_path(path, fxpt_inode(ino)->fd);
	reply_made(req, newparent, newname,
		   linkat(AT_FDCWD, path, fxpt_inode(newparent)->fd, newname,
			  AT_SYMLINK_FOLLOW));
}

/* The error of a removal; ENOENT on a resent one means done before. */
static int removed(int ret)
{
	if (!ret || (errno == ENOENT && fusex_request_resent()))
		return 0;
	return errno;
}

static void fxpt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, removed(unlinkat(fxpt_inode(parent)->fd, name, 0)));
}

static void fxpt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, removed(unlinkat(fxpt_inode(parent)->fd, name,
					     AT_REMOVEDIR)));
}

static void fxpt_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	int err = 0;

	if (renameat2(fxpt_inode(parent)->fd, name, fxpt_inode(newparent)->fd,
		      newname, flags)) {
		err = errno;
		/* Resent, and done before: the source is gone, the target there. */
		if (err == ENOENT && fusex_request_resent() &&
		    !faccessat(fxpt_inode(newparent)->fd, newname, F_OK,
			       AT_SYMLINK_NOFOLLOW))
			err = 0;
	}
	fuse_reply_err(req, err);
}

static void fxpt_open(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	char path[32];
	int fd;

	fxpt_proc_path(path, fxpt_inode(ino)->fd);
	/*
	 * Without O_APPEND: the kernel gives every WRITE its offset, so a
	 * WRITE sent again after a restart lands where it did, not twice.
	 */
	fd = open(path, (fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY |
				       O_NOFOLLOW | O_APPEND)) | O_CLOEXEC);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = fd;
	if (fuse_reply_open(req, fi) == -ENOENT)
		close(fd);
}

static void fxpt_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, err;

	fd = openat(fxpt_inode(parent)->fd, name,
		    (fi->flags | O_CREAT | O_CLOEXEC) &
		    ~(O_NOCTTY | O_NOFOLLOW | O_APPEND), mode);
	/* Resent after the dead instance made it: open what it made. */
	if (fd < 0 && errno == EEXIST && fusex_request_resent())
		fd = openat(fxpt_inode(parent)->fd, name,
			    (fi->flags | O_CLOEXEC) &
			    ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW |
			      O_APPEND | O_TRUNC));
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = fxpt_lookup(fxpt_inode(parent), name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = fd;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* Interrupted: the kernel has neither file nor lookup. */
		close(fd);
		fxpt_forget_one(e.ino, 1);
	}
}

static void fxpt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void)ino;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void fxpt_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)ino;
	n = pwrite(fi->fh, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static void fxpt_flush(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	int fd;

	(void)ino;
	/* close() of a duplicate: what close() would report, now. */
	fd = dup(fi->fh);
	fuse_reply_err(req, fd < 0 || close(fd) ? errno : 0);
}

static void fxpt_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	(void)ino;
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void fxpt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, (datasync ? fdatasync(fi->fh) : fsync(fi->fh)) ?
		       errno : 0);
}

/* An open directory: where the stream is, and an entry read too far. */
struct fxpt_dir {
	DIR *dp;
	off_t offset;
	struct dirent *entry;
};

static void fxpt_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct fxpt_dir *d;
	int fd, err;

	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(fxpt_inode(ino)->fd, ".",
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out_err;
	d->dp = fdopendir(fd);
	if (!d->dp) {
		err = errno;
		close(fd);
		errno = err;
		goto out_err;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		closedir(d->dp);
		free(d);
	}
	return;

out_err:
	err = errno;
	free(d);
	fuse_reply_err(req, err);
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (!name[1] || (name[1] == '.' && !name[2]));
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fxpt_dir *d = (struct fxpt_dir *)(uintptr_t)fi->fh;
	struct fxpt_inode *dir = fxpt_inode(ino);
	size_t pos = 0, n;
	char *buf;
	int err = 0;

	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		struct fuse_entry_param e;
		const char *name;
		off_t next;
		bool counted = false;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		name = d->entry->d_name;
		next = d->entry->d_off;
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->entry->d_ino;
		e.attr.st_mode = (mode_t)d->entry->d_type << 12;
		if (plus && !is_dot_or_dotdot(name)) {
			err = fxpt_lookup(dir, name, &e);
			if (err == ENOENT) {
				/* Gone since readdir saw it: skip it. */
				err = 0;
				d->entry = NULL;
				d->offset = next;
				continue;
			}
			if (err)
				break;
			counted = true;
		}
		if (plus)
			n = fuse_add_direntry_plus(req, buf + pos, size - pos,
						   name, &e, next);
		else
			n = fuse_add_direntry(req, buf + pos, size - pos,
					      name, &e.attr, next);
		if (n > size - pos) {
			if (counted)
				fxpt_forget_one(e.ino, 1);
			break;
		}
		pos += n;
		d->entry = NULL;
		d->offset = next;
	}
	/* An error after some entries: give those, the error comes again. */
	if (err && !pos)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void fxpt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void fxpt_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void fxpt_releasedir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct fxpt_dir *d = (struct fxpt_dir *)(uintptr_t)fi->fh;

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void fxpt_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	struct fxpt_dir *d = (struct fxpt_dir *)(uintptr_t)fi->fh;
	int fd = dirfd(d->dp);

	(void)ino;
	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) ?
		       errno : 0);
}

static void fxpt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(fxpt_inode(ino)->fd, &sv))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void fxpt_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  const char *value, size_t size, int flags)
{
	char path[32];

	fxpt_proc_path(path, fxpt_inode(ino)->fd);
	fuse_reply_err(req, setxattr(path, name, value, size, flags) ?
		       errno : 0);
}

/* getxattr and listxattr: the size, or the value if it fits in @size. */
static void reply_xattr(fuse_req_t req, size_t size, char *buf, ssize_t n)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (!size)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, buf, n);
}

static void fxpt_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	char path[32], *buf = NULL;
	ssize_t n;

	fxpt_proc_path(path, fxpt_inode(ino)->fd);
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = getxattr(path, name, buf, size);
	reply_xattr(req, size, buf, n);
	free(buf);
}

static void fxpt_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[32], *buf = NULL;
	ssize_t n;

	fxpt_proc_path(path, fxpt_inode(ino)->fd);
	if (size) {
		buf = malloc(size);
		if (!buf) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	n = listxattr(path, buf, size);
	reply_xattr(req, size, buf, n);
	free(buf);
}

static void fxpt_removexattr(fuse_req_t req, fuse_ino_t ino,
			     const char *name)
{
	char path[32];

	fxpt_proc_path(path, fxpt_inode(ino)->fd);
	fuse_reply_err(req, removexattr(path, name) ? errno : 0);
}

static void fxpt_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			   off_t offset, off_t length,
			   struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, fallocate(fi->fh, mode, offset, length) ?
		       errno : 0);
}

static void fxpt_flock(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi, int op)
{
	(void)ino;
	fuse_reply_err(req, flock(fi->fh, op) ? errno : 0);
}

static void fxpt_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		       struct fuse_file_info *fi)
{
	off_t res;

	(void)ino;
	res = lseek(fi->fh, off, whence);
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

const struct fuse_lowlevel_ops fxpt_ops = {
	.init		= fxpt_init,
	.lookup		= fxpt_lookup_op,
	.forget		= fxpt_forget,
	.forget_multi	= fxpt_forget_multi,
	.getattr	= fxpt_getattr,
	.setattr	= fxpt_setattr,
	.readlink	= fxpt_readlink,
	.mknod		= fxpt_mknod,
	.mkdir		= fxpt_mkdir,
	.symlink	= fxpt_symlink,
	.link		= fxpt_link,
	.unlink		= fxpt_unlink,
	.rmdir		= fxpt_rmdir,
	.rename		= fxpt_rename,
	.open		= fxpt_open,
	.create		= fxpt_create,
	.read		= fxpt_read,
	.write		= fxpt_write,
	.flush		= fxpt_flush,
	.release	= fxpt_release,
	.fsync		= fxpt_fsync,
	.opendir	= fxpt_opendir,
	.readdir	= fxpt_readdir,
	.readdirplus	= fxpt_readdirplus,
	.releasedir	= fxpt_releasedir,
	.fsyncdir	= fxpt_fsyncdir,
	.statfs		= fxpt_statfs,
	.setxattr	= fxpt_setxattr,
	.getxattr	= fxpt_getxattr,
	.listxattr	= fxpt_listxattr,
	.removexattr	= fxpt_removexattr,
	.fallocate	= fxpt_fallocate,
	.flock		= fxpt_flock,
	.lseek		= fxpt_lseek,
};
