/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fusex-passthrough: a libfuse 3 lowlevel server that mirrors a directory
 * (source=DIR) and opts into fusex's persistent handles through libfusex.
 *
 * Each inode is keyed by its backing (st_dev, st_ino) and holds an O_PATH
 * fd of the backing object.  Its fusex handle is the backing filesystem's
 * own handle (name_to_handle_at()), so it survives a restart of this
 * server by construction: a new instance turns it back into the object
 * with open_by_handle_at() on the source directory, and gets ESTALE from
 * the backing filesystem once the object is gone.
 *
 * Handle bytes: the backing handle_type (4 bytes, little endian) and the
 * backing f_handle (at most FXPT_MAX_HANDLE - 4 bytes).  The source must
 * be one filesystem: objects on other filesystems (mounts inside the
 * source) have no handle, and the kernel refuses their entries when
 * handles are on.
 */
#ifndef FXPT_H
#define FXPT_H

#define FUSE_USE_VERSION 312

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <fuse_lowlevel.h>

#include "fusex_lowlevel.h"

/* The largest fusex handle the server sends (the kernel's limit). */
#define FXPT_MAX_HANDLE		FUSEX_MAX_HANDLE_SZ

struct fxpt_inode {
	struct fxpt_inode *hnext;	/* hash chain, under fxpt.lock */
	int fd;				/* O_PATH, of the backing object */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;		/* under fxpt.lock */
	bool hashed;			/* in the table, under fxpt.lock */
	/* The handle, fixed at creation: 0 bytes if the object has none. */
	unsigned int hsz;
	unsigned char h[FXPT_MAX_HANDLE];
};

#define FXPT_HASH_SIZE 4096

struct fxpt {
	/* options */
	char *source;
	double timeout;
	int nohandles;
	char *stats;
	int debug;

	/* Handles are offered (the source can give them, not nohandles). */
	bool handles;
	/* The source opened for reading: open_by_handle_at() needs one. */
	int mount_fd;
	pthread_mutex_t lock;
	/* -o stats=FILE: open, and the counts (under lock) */
	int stats_fd;
	uint64_t nlookup;
	uint64_t nresolve;
	struct fxpt_inode root;
	struct fxpt_inode *table[FXPT_HASH_SIZE];
};

extern struct fxpt fxpt;
extern const struct fuse_lowlevel_ops fxpt_ops;
extern const struct fusex_bridge_ops fxpt_bridge_ops;

/* inode.c */
struct fxpt_inode *fxpt_inode(fuse_ino_t ino);
int fxpt_init_root(void);
int fxpt_handle_of(int fd, unsigned char *h, unsigned int *hsz);
int fxpt_lookup(struct fxpt_inode *dir, const char *name,
		struct fuse_entry_param *e);
void fxpt_forget_one(fuse_ino_t ino, uint64_t nlookup);
/* Count a LOOKUP (or a FUSE_LOOKUP_HANDLE) for -o stats=FILE. */
void fxpt_count(bool by_handle);
/* "/proc/self/fd/N" for an inode's fd, into @buf (32 bytes). */
const char *fxpt_proc_path(char *buf, int fd);

#endif /* FXPT_H */
