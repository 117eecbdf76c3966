/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libfusex: persistent handles for libfuse 3 lowlevel servers.
 *
 * A libfuse lowlevel server opts into fusex's persistent handles with two
 * callbacks and two calls, and without changing any of its operations:
 *
 *	static const struct fusex_bridge_ops bops = {
 *		.encode  = my_encode,	// inode -> handle bytes
 *		.resolve = my_resolve,	// handle (+ name) -> entry
 *	};
 *
 *	se = fuse_session_new(&args, &ops, sizeof(ops), data);
 *	fuse_session_mount(se, mountpoint);
 *	br = fusex_bridge_new(&bops, sizeof(bops), 64, 0, data);
 *	fusex_bridge_attach(br, se, -1);
 *	fuse_session_loop(se);	// or fuse_session_loop_mt()
 *	fuse_session_unmount(se);
 *	fuse_session_destroy(se);
 *	fusex_bridge_destroy(br);
 *
 * The bridge sits between libfuse and the device, through libfuse's
 * public custom I/O hooks (fuse_session_custom_io()), and does the
 * protocol work:
 *  - it accepts FUSE_HAS_LOOKUP_HANDLE in the INIT reply, when the kernel
 *    offers it (fusex does, fuse.ko does not: on fuse.ko the bridge passes
 *    everything through untouched and the server runs as it always did);
 *  - it appends the handle (from @encode) to every successful LOOKUP,
 *    MKNOD, MKDIR, SYMLINK, LINK, CREATE and TMPFILE reply with a nonzero
 *    nodeid, and to every READDIRPLUS record with a nonzero nodeid; for
 *    READDIRPLUS it asks libfuse for less than the kernel did, so that the
 *    records still fit once their handles are in;
 *  - it answers FUSE_LOOKUP_HANDLE itself (libfuse does not know it),
 *    through @resolve;
 *  - with the optional @tmpfile, it answers FUSE_TMPFILE (libfuse 3.14
 *    does not know it either), on fuse.ko too.
 *
 * Limits: splice is not used for requests or replies once a bridge is
 * attached (libfuse falls back to read and writev), and clone_fd is not
 * supported.  fuse_session_custom_io() appeared in libfuse 3.14.
 *
 * Errors are positive errno values, as in fuse_reply_err().
 */
#ifndef FUSEX_LOWLEVEL_H
#define FUSEX_LOWLEVEL_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif

#include <stdbool.h>
#include <stddef.h>
#include <fuse_lowlevel.h>

#include "fusex.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fusex_bridge;

/**
 * struct fusex_bridge_ops - what the server tells the bridge
 *
 * They are called from the threads of libfuse's session loop, possibly
 * several at once: they must be thread-safe.  None gets a fuse_req_t
 * (no fuse_req_ctx(), no reply functions).
 */
struct fusex_bridge_ops {
	/**
	 * encode - the handle of an inode the server has handed out
	 * @userdata: as given to fusex_bridge_new()
	 * @ino: an inode number from an entry the server is replying with
	 *	(or FUSE_ROOT_ID)
	 * @buf: where to put the handle's bytes
	 * @size: in: room at @buf (max_handle_sz); out: the handle's size,
	 *	1..max_handle_sz
	 *
	 * Called inside the server's own fuse_reply_entry(),
	 * fuse_reply_create() and fuse_reply_buf() for READDIRPLUS (from
	 * libfuse's write to the device), so it must not wait for locks the
	 * server holds while replying.  The inode is alive: the server has
	 * counted the lookup it is replying with.  The same object must always
	 * give the same bytes.
	 *
	 * Valid replies: 0; a positive errno if the inode has no handle (the
	 * kernel then refuses that entry with EIO, and forgets it).
	 */
	int (*encode)(void *userdata, fuse_ino_t ino, void *buf,
		      size_t *size);

	/**
	 * resolve - find an object by its handle, for FUSE_LOOKUP_HANDLE
	 * @userdata: as given to fusex_bridge_new()
	 * @handle: a handle from @encode, possibly of a previous instance
	 *	of the server
	 * @size: its size
	 * @name: NULL for the object itself; else the name to look up in
	 *	the directory the handle names
	 * @e: the entry found, as for fuse_reply_entry()
	 *
	 * Counts a lookup of the inode in @e, exactly as a LOOKUP reply does
	 * (the kernel sends FORGET for it later).  The bridge adds the
	 * handle, from @encode.
	 *
	 * Valid replies: 0 with @e filled (e->ino nonzero); ESTALE when the
	 * object is gone (or the handle was never valid); ENOENT when @name
	 * is not in the directory; ENOTDIR; another positive errno.
	 */
	int (*resolve)(void *userdata, const void *handle, size_t size,
		       const char *name, struct fuse_entry_param *e);

	/**
	 * tmpfile - make an unnamed file in a directory, for FUSE_TMPFILE
	 *	(optional; FUSEX_LIB_VERSION 3)
	 * @userdata: as given to fusex_bridge_new()
	 * @parent: the directory
	 * @mode: the new file's mode, the caller's umask already applied
	 *	unless the server asked for FUSE_CAP_DONT_MASK
	 * @flags: the open flags (O_RDWR or O_WRONLY, and the rest of
	 *	open(2)'s, O_TMPFILE taken out)
	 * @e: the new inode's entry, as for fuse_reply_create()
	 * @fh: the open file's handle, as fuse_file_info.fh would be
	 *
	 * libfuse 3.14 has no tmpfile operation and answers FUSE_TMPFILE
	 * with ENOSYS (open(2) with O_TMPFILE then fails with EOPNOTSUPP);
	 * with this callback the bridge answers it instead, on fusex and on
	 * fuse.ko alike.  The file is open: READ, WRITE, FSYNC, FLUSH and
	 * RELEASE come to the server's libfuse operations with @fh, LINK
	 * (linkat(2) giving the file a name) and the rest with the inode in
	 * @e.  It counts a lookup of that inode, as a CREATE reply does.  If
	 * the caller is gone by the time the reply is written (interrupted),
	 * the bridge gives the lookup back through the server's forget
	 * operation but cannot close @fh: the server should not mind a file
	 * left open in that case.
	 *
	 * Valid replies: 0 with @e (e->ino nonzero) and @fh filled; a
	 * positive errno.
	 */
	int (*tmpfile)(void *userdata, fuse_ino_t parent, mode_t mode,
		       int flags, struct fuse_entry_param *e, uint64_t *fh);
};

/* fusex_bridge_new() flags */
/* Log what the bridge does through fuse_log(FUSE_LOG_DEBUG, ...). */
#define FUSEX_BRIDGE_DEBUG	(1U << 0)

/**
 * fusex_bridge_new - make a bridge
 * @ops: the callbacks; encode and resolve are required
 * @ops_size: sizeof(*@ops), so that the structure can grow (a server
 *	built before tmpfile existed passes a smaller size)
 * @max_handle_sz: the largest handle @encode gives, 1..FUSEX_MAX_HANDLE_SZ;
 *	the smaller it is, the more READDIRPLUS records fit in a reply
 * @flags: FUSEX_BRIDGE_*
 * @userdata: passed to the callbacks
 *
 * Return: the bridge, or NULL with errno set (EINVAL, ENOMEM).
 */
struct fusex_bridge *fusex_bridge_new(const struct fusex_bridge_ops *ops,
				      size_t ops_size, size_t max_handle_sz,
				      unsigned int flags, void *userdata);

/**
 * fusex_bridge_attach - put the bridge between a session and its device
 * @br: the bridge
 * @se: the session; its loop not started yet
 * @fd: the device fd, or -1 for fuse_session_fd(@se) once
 *	fuse_session_mount() has run
 *
 * Installs the bridge as the session's custom I/O on @fd
 * (fuse_session_custom_io(), which the session's destruction closes).
 * A bridge serves one session.
 *
 * Return: 0; EBADF if there is no fd; EBUSY if the bridge is attached
 * already; the error of fuse_session_custom_io().
 */
int fusex_bridge_attach(struct fusex_bridge *br, struct fuse_session *se,
			int fd);

/**
 * fusex_bridge_active - did the kernel and the server agree on handles?
 * @br: the bridge
 *
 * Return: true once INIT has been answered with FUSE_HAS_LOOKUP_HANDLE
 * (on fusex), false before INIT and on fuse.ko.
 */
bool fusex_bridge_active(const struct fusex_bridge *br);

/**
 * fusex_request_resent - is this thread's request one the kernel resent?
 *
 * After a restart the kernel sends again the requests the dead instance
 * had read and not answered, marked FUSE_UNIQUE_RESEND.  The dead
 * instance may have done them: a resent MKDIR may find its directory made
 * (EEXIST), a resent UNLINK its name gone (ENOENT).  A server that wants
 * nothing to fail that would have succeeded without the restart answers
 * those as done.  Valid in an operation callback, on the thread libfuse
 * called it on, while a bridge is attached (libfuse's session loops read
 * and process a request on one thread).
 *
 * Return: true if the request being processed was resent.
 */
bool fusex_request_resent(void);

/**
 * fusex_bridge_destroy - free a bridge
 * @br: the bridge, or NULL
 *
 * Call it after fuse_session_destroy() (which closes the device): the
 * session uses the bridge until then.
 */
void fusex_bridge_destroy(struct fusex_bridge *br);

#ifdef __cplusplus
}
#endif

#endif /* FUSEX_LOWLEVEL_H */
