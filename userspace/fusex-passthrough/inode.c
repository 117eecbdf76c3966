// SPDX-License-Identifier: GPL-2.0
/*
 * fusex-passthrough: the inode table, the handles, and the two callbacks
 * libfusex's bridge needs (encode: inode -> handle, resolve: handle ->
 * entry).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fxpt.h"

struct fxpt fxpt;

struct fxpt_inode *fxpt_inode(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fxpt.root;
	return (struct fxpt_inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(struct fxpt_inode *inode)
{
	return inode == &fxpt.root ? FUSE_ROOT_ID : (uintptr_t)inode;
}

const char *fxpt_proc_path(char *buf, int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

static unsigned int hash_of(dev_t dev, ino_t ino)
{
	uint64_t k = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (unsigned int)(k >> 40) % FXPT_HASH_SIZE;
}

/* Under fxpt.lock. */
static void hash_add(struct fxpt_inode *inode)
{
	unsigned int b = hash_of(inode->dev, inode->ino);

	inode->hnext = fxpt.table[b];
	fxpt.table[b] = inode;
	inode->hashed = true;
}

static void hash_del(struct fxpt_inode *inode)
{
	struct fxpt_inode **pp;

	if (!inode->hashed)
		return;
	for (pp = &fxpt.table[hash_of(inode->dev, inode->ino)]; *pp;
	     pp = &(*pp)->hnext) {
		if (*pp == inode) {
			*pp = inode->hnext;
			break;
		}
	}
	inode->hashed = false;
}

static struct fxpt_inode *hash_find(dev_t dev, ino_t ino)
{
	struct fxpt_inode *inode;

	for (inode = fxpt.table[hash_of(dev, ino)]; inode;
	     inode = inode->hnext)
		if (inode->dev == dev && inode->ino == ino)
			return inode;
	return NULL;
}

/*
 * The fusex handle of the object @fd is open on: its handle_type (4 bytes,
 * little endian), then its f_handle.  Returns 0 or a positive errno
 * (EOPNOTSUPP: the filesystem gives no handles; EOVERFLOW: too large;
 * EXDEV: not on the source's filesystem).
 */
int fxpt_handle_of(int fd, unsigned char *h, unsigned int *hsz)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[FXPT_MAX_HANDLE - 4];
	} buf;
	struct stat st;
	uint32_t type;
	int mnt_id;

	if (fstat(fd, &st))
		return errno;
	if (st.st_dev != fxpt.root.dev)
		return EXDEV;
	buf.fh.handle_bytes = sizeof(buf.bytes);
	if (name_to_handle_at(fd, "", &buf.fh, &mnt_id, AT_EMPTY_PATH))
		return errno;
	type = (uint32_t)buf.fh.handle_type;
	h[0] = type;
	h[1] = type >> 8;
	h[2] = type >> 16;
	h[3] = type >> 24;
	memcpy(h + 4, buf.fh.f_handle, buf.fh.handle_bytes);
	*hsz = 4 + buf.fh.handle_bytes;
	return 0;
}

int fxpt_init_root(void)
{
	struct fxpt_inode *root = &fxpt.root;
	struct stat st;
	int err;

	root->fd = open(fxpt.source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0)
		return errno;
	fxpt.mount_fd = open(fxpt.source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fxpt.mount_fd < 0)
		return errno;
	if (fstat(root->fd, &st))
		return errno;
	root->dev = st.st_dev;
	root->ino = st.st_ino;
	root->nlookup = 2;	/* never forgotten */
	if (fxpt.handles) {
		err = fxpt_handle_of(root->fd, root->h, &root->hsz);
		if (err) {
			fuse_log(FUSE_LOG_WARNING,
				 "fusex-passthrough: %s gives no file handles (%s): running without persistent handles\n",
				 fxpt.source, strerror(err));
			fxpt.handles = false;
		}
	}
	hash_add(root);
	return 0;
}

/*
 * Count a lookup of the object @fd is open on (consumed), whose stat is
 * @st, and fill @e.  One object is one inode: found by (st_dev, st_ino)
 * and, with handles, by its handle too, so that an inode number the
 * backing filesystem reused for a new object gets a new inode.
 */
static int make_entry(int fd, const struct stat *st,
		      struct fuse_entry_param *e)
{
	unsigned char h[FXPT_MAX_HANDLE];
	struct fxpt_inode *inode;
	unsigned int hsz = 0;

	if (fxpt.handles && fxpt_handle_of(fd, h, &hsz))
		hsz = 0;

	pthread_mutex_lock(&fxpt.lock);
	inode = hash_find(st->st_dev, st->st_ino);
	if (inode && inode != &fxpt.root && fxpt.handles &&
	    (inode->hsz != hsz || memcmp(inode->h, h, hsz))) {
		/* The old object is gone; its inode lives on until forgotten. */
		hash_del(inode);
		inode = NULL;
	}
	if (inode) {
		inode->nlookup++;
		pthread_mutex_unlock(&fxpt.lock);
		close(fd);
	} else {
		inode = calloc(1, sizeof(*inode));
		if (!inode) {
			pthread_mutex_unlock(&fxpt.lock);
			close(fd);
			return ENOMEM;
		}
		inode->fd = fd;
		inode->dev = st->st_dev;
		inode->ino = st->st_ino;
		inode->nlookup = 1;
		inode->hsz = hsz;
		memcpy(inode->h, h, hsz);
		hash_add(inode);
		pthread_mutex_unlock(&fxpt.lock);
	}

	memset(e, 0, sizeof(*e));
	e->ino = ino_of(inode);
	e->generation = 0;
	e->attr = *st;
	e->attr_timeout = fxpt.timeout;
	e->entry_timeout = fxpt.timeout;
	return 0;
}

static bool is_dotdot(const char *name)
{
	return name[0] == '.' && name[1] == '.' && !name[2];
}

/* Look @name up in the directory @dfd is open on (@dir if known). */
static int lookup_at(int dfd, bool dfd_is_root, const char *name,
		     struct fuse_entry_param *e)
{
	struct stat st;
	int fd;

	/* Never above the source. */
	if (dfd_is_root && is_dotdot(name))
		name = ".";
	fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		int err = errno;

		close(fd);
		return err;
	}
	return make_entry(fd, &st, e);
}

int fxpt_lookup(struct fxpt_inode *dir, const char *name,
		struct fuse_entry_param *e)
{
	return lookup_at(dir->fd, dir == &fxpt.root, name, e);
}

void fxpt_forget_one(fuse_ino_t ino, uint64_t nlookup)
{
	struct fxpt_inode *inode = fxpt_inode(ino);

	pthread_mutex_lock(&fxpt.lock);
	if (inode == &fxpt.root) {
		pthread_mutex_unlock(&fxpt.lock);
		return;
	}
	if (nlookup > inode->nlookup) {
		fuse_log(FUSE_LOG_ERR,
			 "fusex-passthrough: forget %llu of %llu lookups\n",
			 (unsigned long long)nlookup,
			 (unsigned long long)inode->nlookup);
		nlookup = inode->nlookup;
	}
	inode->nlookup -= nlookup;
	if (inode->nlookup) {
		pthread_mutex_unlock(&fxpt.lock);
		return;
	}
	hash_del(inode);
	pthread_mutex_unlock(&fxpt.lock);
	close(inode->fd);
	free(inode);
}

/* ---- the bridge's callbacks ----------------------------------------- */

static int fxpt_encode(void *userdata, fuse_ino_t ino, void *buf,
		       size_t *size)
{
	struct fxpt_inode *inode = fxpt_inode(ino);

	(void)userdata;
	/* The handle never changes once the inode exists: no lock needed. */
	if (!inode->hsz)
		return EOPNOTSUPP;
	if (inode->hsz > *size)
		return EOVERFLOW;
	memcpy(buf, inode->h, inode->hsz);
	*size = inode->hsz;
	return 0;
}

/*
 * -o stats=FILE: the counts of LOOKUP and FUSE_LOOKUP_HANDLE requests this
 * instance answered, one fixed-width line rewritten in place.
 */
void fxpt_count(bool by_handle)
{
	char line[64];
	int n;

	if (fxpt.stats_fd < 0)
		return;
	pthread_mutex_lock(&fxpt.lock);
	if (by_handle)
		fxpt.nresolve++;
	else
		fxpt.nlookup++;
	n = snprintf(line, sizeof(line), "lookup %12llu lookup_handle %12llu\n",
		     (unsigned long long)fxpt.nlookup,
		     (unsigned long long)fxpt.nresolve);
	if (pwrite(fxpt.stats_fd, line, n, 0) != n && fxpt.debug)
		perror("fusex-passthrough: stats");
	pthread_mutex_unlock(&fxpt.lock);
}

static int fxpt_resolve(void *userdata, const void *handle, size_t size,
			const char *name, struct fuse_entry_param *e)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[FXPT_MAX_HANDLE - 4];
	} buf;
	const unsigned char *h = handle;
	struct stat st;
	int fd, err;

	(void)userdata;
	fxpt_count(true);
	/* Not one of ours (or of an instance with another source). */
	if (size <= 4 || size > FXPT_MAX_HANDLE)
		return ESTALE;
	buf.fh.handle_type = (int)((uint32_t)h[0] | (uint32_t)h[1] << 8 |
				   (uint32_t)h[2] << 16 |
				   (uint32_t)h[3] << 24);
	buf.fh.handle_bytes = size - 4;
	memcpy(buf.fh.f_handle, h + 4, size - 4);
	fd = open_by_handle_at(fxpt.mount_fd, &buf.fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		/* The backing filesystem says the object is gone. */
		if (err == ESTALE || err == ENOENT || err == EINVAL)
			return ESTALE;
		return err;
	}
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		err = errno;
		close(fd);
		return err;
	}
	if (st.st_dev != fxpt.root.dev) {
		close(fd);
		return ESTALE;
	}
	if (!name)
		return make_entry(fd, &st, e);

	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return ENOTDIR;
	}
	err = lookup_at(fd, st.st_ino == fxpt.root.ino, name, e);
	close(fd);
	return err;
}

/*
 * FUSE_TMPFILE, through the bridge (libfuse 3.14 has no tmpfile): an
 * O_TMPFILE file in the backing directory.  The open fd is the file
 * handle, as for CREATE; the inode keeps an O_PATH fd of its own, through
 * which LINK gives it a name.  Without O_APPEND, as in fxpt_open().
 */
static int fxpt_tmpfile(void *userdata, fuse_ino_t parent, mode_t mode,
			int flags, struct fuse_entry_param *e, uint64_t *fh)
{
	char path[64];
	struct stat st;
	int fd, pfd, err;

	(void)userdata;
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_APPEND |
		   O_TRUNC | O_DIRECTORY | O_TMPFILE);
	fd = openat(fxpt_inode(parent)->fd, ".",
		    flags | O_TMPFILE | O_CLOEXEC, mode);
	if (fd < 0)
		return errno;
	pfd = open(fxpt_proc_path(path, fd), O_PATH | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st)) {
		err = errno;
		if (pfd >= 0)
			close(pfd);
		close(fd);
		return err;
	}
	err = make_entry(pfd, &st, e);
	if (err) {
		close(fd);
		return err;
	}
	*fh = (uint64_t)fd;
	return 0;
}

const struct fusex_bridge_ops fxpt_bridge_ops = {
	.encode = fxpt_encode,
	.resolve = fxpt_resolve,
	.tmpfile = fxpt_tmpfile,
};
