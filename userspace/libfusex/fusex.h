/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libfusex: the daemon side of the fusex protocol extensions.
 *
 * This header is the part that needs no libfuse: encoders and decoders for
 * what fusex adds to the FUSE wire protocol (see <linux/fusex.h>), for a
 * server that reads and writes the device itself.  A libfuse 3 lowlevel
 * server uses <fusex_lowlevel.h> instead, which does all of this for it.
 *
 * Conventions, as in libfuse:
 *  - functions that can fail return 0 or a positive errno value;
 *  - functions that fill a buffer return the bytes they need, whether or
 *    not that fitted (so a NULL buffer asks for the size), and 0 when the
 *    arguments are invalid;
 *  - nothing here exits, prints or keeps state: every function is safe to
 *    call from any thread.
 *
 * Persistent handles in short: the kernel offers FUSE_HAS_LOOKUP_HANDLE in
 * FUSE_INIT; a server that accepts it (fusex_init_accept_handles()) must
 * then append the object's handle to every reply that makes or finds an
 * inode (fusex_entry_fill(), fusex_create_fill(), fusex_add_direntplus())
 * and answer FUSE_LOOKUP_HANDLE (fusex_parse_lookup_handle()).  A handle
 * is 1 to max_handle_sz opaque bytes that name the object for as long as
 * it exists, across restarts of the server; a handle whose object is gone
 * is answered with ESTALE.
 */
#ifndef FUSEX_H
#define FUSEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/fuse.h>
#include <linux/fusex.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this library's interface. */
#define FUSEX_LIB_VERSION	3

/* ------------------------------------------------------------------ */
/* INIT                                                               */
/* ------------------------------------------------------------------ */

/**
 * fusex_init_offers_handles - does this FUSE_INIT offer persistent handles?
 * @in: the INIT request's argument (after struct fuse_in_header)
 * @len: its length in bytes
 *
 * Return: true if the kernel is fusex with FUSE_HAS_LOOKUP_HANDLE (in
 * flags2, which counts only with FUSE_INIT_EXT in flags).  fuse.ko never
 * offers it.
 */
bool fusex_init_offers_handles(const struct fuse_init_in *in, size_t len);

/**
 * fusex_init_accept_handles - accept persistent handles in an INIT reply
 * @out: the INIT reply's argument, as the server would send it
 * @len: its length in bytes: must be sizeof(struct fuse_init_out) (64)
 * @max_handle_sz: the largest handle the server will send,
 *	1..FUSEX_MAX_HANDLE_SZ
 *
 * Sets FUSE_INIT_EXT in flags, FUSE_HAS_LOOKUP_HANDLE in flags2 and
 * max_handle_sz (struct fusex_init_out).  Only call it when
 * fusex_init_offers_handles() said yes.
 *
 * Return: 0, or EINVAL for a short reply or a size out of range.
 */
int fusex_init_accept_handles(struct fuse_init_out *out, size_t len,
			      unsigned int max_handle_sz);

/* ------------------------------------------------------------------ */
/* Handles and the replies that carry them                            */
/* ------------------------------------------------------------------ */

/**
 * fusex_handle_put - write a handle as it goes on the wire
 * @buf: where to write, or NULL to ask for the size
 * @bufsize: bytes at @buf
 * @data: the handle's bytes
 * @size: how many, 1..FUSEX_MAX_HANDLE_SZ
 *
 * Writes a struct fusex_handle followed by @data padded with zeros to a
 * multiple of 8 bytes.
 *
 * Return: FUSEX_HANDLE_SIZE(@size), written only if it fits in @bufsize;
 * 0 if @size is out of range.
 */
size_t fusex_handle_put(void *buf, size_t bufsize, const void *data,
			size_t size);

/**
 * fusex_handle_get - read a handle off the wire
 * @buf: the struct fusex_handle
 * @len: bytes available at @buf (the handle may be followed by more)
 * @data: set to the handle's bytes
 * @size: set to their number
 *
 * A handle of size 0 is accepted here (FUSE_LOOKUP_HANDLE uses it to ask
 * for a nodeid's handle); replies never carry one.
 *
 * Return: the bytes the handle takes (FUSEX_HANDLE_SIZE(*@size)), or 0 if
 * it is malformed (runs past @len, or is larger than FUSEX_MAX_HANDLE_SZ).
 */
size_t fusex_handle_get(const void *buf, size_t len, const void **data,
			size_t *size);

/**
 * fusex_entry_fill - the payload of an entry reply with its handle
 * @buf: where to write, or NULL to ask for the size
 * @bufsize: bytes at @buf
 * @e: the entry (struct fuse_entry_out, as for FUSE_LOOKUP)
 * @h: the object's handle, or NULL when @e->nodeid is 0
 * @hsz: its size, 1..the negotiated max_handle_sz
 *
 * For LOOKUP, MKNOD, MKDIR, SYMLINK, LINK and FUSE_LOOKUP_HANDLE replies:
 * the entry, then (unless @e->nodeid is 0, a negative entry) the handle.
 *
 * Return: the payload's size, written only if it fits; 0 if a handle is
 * needed and @h/@hsz is not one.
 */
size_t fusex_entry_fill(void *buf, size_t bufsize,
			const struct fuse_entry_out *e, const void *h,
			size_t hsz);

/**
 * fusex_create_fill - the payload of a CREATE or TMPFILE reply
 * @buf: where to write, or NULL to ask for the size
 * @bufsize: bytes at @buf
 * @e: the entry
 * @o: the open file
 * @h: the object's handle
 * @hsz: its size
 *
 * Return: as fusex_entry_fill(); the handle comes after @o.
 */
size_t fusex_create_fill(void *buf, size_t bufsize,
			 const struct fuse_entry_out *e,
			 const struct fuse_open_out *o, const void *h,
			 size_t hsz);

/**
 * fusex_add_direntplus - add a READDIRPLUS record with its handle
 * @buf: where to write, or NULL to ask for the size
 * @bufsize: bytes left at @buf
 * @name: the entry's name
 * @e: its entry; nodeid 0 gives the name only (no lookup counted)
 * @off: the offset of the next entry
 * @h: the handle, or NULL when @e->nodeid is 0
 * @hsz: its size
 *
 * Like libfuse's fuse_add_direntry_plus(), followed by the handle.  The
 * dirent's ino and type come from @e->attr.
 *
 * Return: the record's size, written only if it fits in @bufsize; 0 for an
 * invalid name or handle.
 */
size_t fusex_add_direntplus(void *buf, size_t bufsize, const char *name,
			    const struct fuse_entry_out *e, uint64_t off,
			    const void *h, size_t hsz);

/* ------------------------------------------------------------------ */
/* FUSE_LOOKUP_HANDLE                                                 */
/* ------------------------------------------------------------------ */

/* A FUSE_LOOKUP_HANDLE request, taken apart. */
struct fusex_lookup_handle_req {
	/* FUSEX_LH_* */
	uint32_t flags;
	/* With a handle of size 0: the nodeid whose handle is asked for. */
	uint64_t nodeid;
	/* The handle (pointing into the request), and its size (0..128). */
	const void *handle;
	size_t handle_size;
	/* With FUSEX_LH_NAME: the name to look up in the handle's directory. */
	const char *name;
};

/**
 * fusex_parse_lookup_handle - take a FUSE_LOOKUP_HANDLE request apart
 * @arg: the request's argument (after struct fuse_in_header)
 * @len: its length in bytes
 * @req: filled in
 *
 * What the request asks, and what its reply must be:
 *  - handle_size 0: the entry of the object whose nodeid is @req->nodeid,
 *    with its handle (the kernel learns the root's handle so);
 *  - no FUSEX_LH_NAME: the entry of the object the handle names;
 *  - FUSEX_LH_NAME: the entry of @req->name in the directory the handle
 *    names.
 * Valid replies: an entry with its handle (fusex_entry_fill()), counting a
 * lookup as FUSE_LOOKUP does; ESTALE when the object is gone; ENOENT when
 * the name is not there; another error.
 *
 * Return: 0, or EINVAL for a malformed request.
 */
int fusex_parse_lookup_handle(const void *arg, size_t len,
			      struct fusex_lookup_handle_req *req);

/* ------------------------------------------------------------------ */
/* Writing replies                                                    */
/* ------------------------------------------------------------------ */

/**
 * fusex_send_reply - write a reply to the device
 * @fd: the device
 * @unique: the request's unique
 * @error: 0, or a positive errno value
 * @payload: the reply's argument (ignored with @error)
 * @len: its length
 *
 * Return: 0, or the positive errno of the write (ENOENT: the request was
 * interrupted and is gone; EINVAL: the kernel refused the reply).
 */
int fusex_send_reply(int fd, uint64_t unique, int error, const void *payload,
		     size_t len);

/* ------------------------------------------------------------------ */
/* Restart: starting as a new instance of a dead server                */
/* ------------------------------------------------------------------ */

/* The name of the device fd in systemd's fd store (FDNAME=). */
#define FUSEX_FDSTORE_NAME	"fusex"

/* fusex_session_fd(): replace a server that is still attached. */
#define FUSEX_SESSION_REPLACE	(1U << 0)

/**
 * fusex_session_fd - the device fd a restartable server is to serve
 * @mountpoint: the mountpoint the server was given
 * @flags: FUSEX_SESSION_*
 * @restarted: set to true when the fd carries on a mount another
 *	instance served: say so with fusex_send_restarted() once the
 *	session is set up on it
 *
 * Looks, in this order, for:
 *  1. a /dev/fusex fd passed by systemd's fd store, by sd_listen_fds(3)
 *     conventions ($LISTEN_PID is this process, $LISTEN_FDS fds from 3,
 *     named FUSEX_FDSTORE_NAME if $LISTEN_FDNAMES is set); the variables
 *     are unset, as sd_listen_fds(1) does;
 *  2. @mountpoint "/dev/fd/N", as fusexctl run and attach give it: N;
 *  3. @mountpoint a live fusex mount with restart_timeout=: a new
 *     /dev/fusex fd attached to it (FUSEX_DEV_IOC_ATTACH).
 * Give the fd to fuse_session_mount() as "/dev/fd/N".
 *
 * Return: the fd, or -1 with errno: ENOENT when there is nothing to take
 * over (mount as usual), EPERM or EBUSY from the attach, EBADF for a
 * "/dev/fd/N" that is not open, EINVAL for bad flags.
 */
int fusex_session_fd(const char *mountpoint, unsigned int flags,
		     bool *restarted);

/**
 * fusex_send_restarted - say FUSE_NOTIFY_RESTARTED on the device
 * @fd: the device fd
 * @instance_id: any value that names this instance
 *
 * On an fd this instance attached, it names the instance; on an fd passed
 * down (fd store) it tells the kernel that a new instance has taken over,
 * and the kernel sends INIT again, revalidates what is cached and resends
 * what the old instance did not answer (Documentation/restart.rst).
 *
 * Return: 0, or the positive errno of the write.
 */
int fusex_send_restarted(int fd, uint64_t instance_id);

/**
 * fusex_fdstore - keep the device fd in systemd's fd store
 * @fd: the device fd
 *
 * Sends FDSTORE=1 with FDNAME=FUSEX_FDSTORE_NAME and @fd to
 * $NOTIFY_SOCKET (sd_pid_notify_with_fds(3) conventions, without
 * libsystemd), so that the next instance of the service gets it back
 * (FileDescriptorStoreMax= must allow it).
 *
 * Return: 0; ENOENT if there is no $NOTIFY_SOCKET; the positive errno of
 * the send.
 */
int fusex_fdstore(int fd);

#ifdef __cplusplus
}
#endif

#endif /* FUSEX_H */
