/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * fusex: extensions to the FUSE protocol, shared by the fusex kernel module
 * and its userspace (libfusex, fusexctl, servers).
 *
 * The base protocol is FUSE's own, from <linux/fuse.h>: fusex speaks it as
 * Linux 6.1 does (7.38), so an unmodified libfuse 3 server runs on fusex
 * exactly as on fuse.ko.  Only what fusex adds is defined here.
 *
 * Changelog
 * ---------
 * fusex 1 (protocol 7.38):
 *  - base FUSE 7.38 client: device /dev/fusex, filesystem type "fusex",
 *    fuse's mount options; nothing added on the wire yet
 *
 * fusex 2 (protocol 7.38 + persistent handles):
 *  - INIT flag FUSE_HAS_LOOKUP_HANDLE and fusex_init_out.max_handle_sz
 *  - a struct fusex_handle after every reply that makes or finds an inode
 *    (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK, LINK, TMPFILE) and after each
 *    READDIRPLUS record
 *  - opcode FUSE_LOOKUP_HANDLE
 *
 * fusex 3 (restart, phase 1):
 *  - mount option restart_timeout=SECONDS: the connection outlives its
 *    device fd and waits for a new server (Documentation/restart.rst)
 *  - device ioctl FUSEX_DEV_IOC_ATTACH (struct fusex_attach,
 *    FUSEX_ATTACH_REPLACE)
 *  - INIT flag FUSEX_INIT_REINIT (kernel to server, flags2 bit 31): this
 *    INIT is sent again to a server attached to a live mount
 *  - FUSE_UNIQUE_RESEND (bit 63 of the unique, as upstream 7.40) on
 *    requests sent again to a new server, and FUSE_HAS_RESEND offered in
 *    INIT on restart mounts
 *  - notification FUSE_NOTIFY_RESTARTED (code 10) with struct
 *    fusex_notify_restarted_out
 *
 * fusex 4 (restart, phase 2):
 *  - after a new server attaches, cached inodes are revalidated lazily
 *    (FUSE_LOOKUP_HANDLE, or LOOKUP by name) and open files reopened
 *    (OPEN/OPENDIR with their original flags) on first use
 *  - ioctl FUSEX_IOC_STATUS (struct fusex_status) on files of the mount
 *
 * Version negotiation
 * -------------------
 * The kernel sends FUSE_INIT with major FUSEX_KERNEL_VERSION and minor
 * FUSEX_KERNEL_MINOR_VERSION and the flags it supports (flags2 through
 * FUSE_INIT_EXT).  The server answers with its own major (which must be
 * equal) and minor, and the subset of flags it accepts; fusex then uses the
 * smaller minor.  A server that sets no fusex-specific flag sees a plain
 * FUSE 7.38 kernel.
 */
#ifndef _UAPI_LINUX_FUSEX_H
#define _UAPI_LINUX_FUSEX_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdint.h>
#endif
#include <linux/ioctl.h>

/* Protocol version fusex speaks: FUSE 7.38, as Linux 6.1. */
#define FUSEX_KERNEL_VERSION		7
#define FUSEX_KERNEL_MINOR_VERSION	38

/* The misc device a server opens, and the filesystem type it mounts. */
#define FUSEX_DEVICE_NAME		"fusex"
#define FUSEX_FS_TYPE			"fusex"

/*
 * Persistent handles
 * ------------------
 * The kernel offers FUSE_HAS_LOOKUP_HANDLE in INIT (flags2).  A server
 * accepts by setting it in its reply and giving max_handle_sz (1 to
 * FUSEX_MAX_HANDLE_SZ) in struct fusex_init_out; a server that does not
 * sees nothing else change.
 *
 * Once accepted, every reply that makes or finds an inode ends with the
 * object's handle, a struct fusex_handle whose data is padded with zeros
 * to a multiple of 8 bytes: after fuse_entry_out (LOOKUP, MKNOD, MKDIR,
 * SYMLINK, LINK, FUSE_LOOKUP_HANDLE), after fuse_open_out (CREATE,
 * TMPFILE), and after each READDIRPLUS record (so a record is
 * FUSE_DIRENTPLUS_SIZE() + FUSEX_HANDLE_SIZE() bytes).  An entry with
 * nodeid 0 carries no handle.  The kernel never looks inside a handle; it
 * keeps it with the inode and compares it byte for byte.
 *
 * By accepting, the server promises that a handle stays valid across its
 * own restarts for as long as the object exists, that it always gives the
 * same handle for the same object, and that a handle whose object is gone
 * gets ESTALE.
 */

/* INIT flag (flags2 bit 11): the kernel can store and send handles. */
#define FUSE_HAS_LOOKUP_HANDLE		(1ULL << 43)

/* Largest handle a server may use, in bytes. */
#define FUSEX_MAX_HANDLE_SZ		128

/* Resolve a handle (and optionally a name under it) to an entry. */
#define FUSE_LOOKUP_HANDLE		54

/*
 * fuse_init_out as fusex reads it: the same 64 bytes, with max_handle_sz
 * after the fields upstream FUSE has taken since 7.38 (max_stack_depth in
 * 7.40, request_timeout in 7.43), so the two never overlap.
 */
struct fusex_init_out {
	uint32_t	major;
	uint32_t	minor;
	uint32_t	max_readahead;
	uint32_t	flags;
	uint16_t	max_background;
	uint16_t	congestion_threshold;
	uint32_t	max_write;
	uint32_t	time_gran;
	uint16_t	max_pages;
	uint16_t	map_alignment;
	uint32_t	flags2;
	uint32_t	reserved_max_stack_depth;
	uint16_t	reserved_request_timeout;
	/* Largest handle the server will send, 1..FUSEX_MAX_HANDLE_SZ. */
	uint16_t	max_handle_sz;
	uint32_t	unused[5];
};

/* An object's handle on the wire; data[] is padded to 8 bytes. */
struct fusex_handle {
	/* Bytes of data, 1..max_handle_sz (0 only where said below). */
	uint16_t	size;
	uint16_t	padding[3];
	uint8_t		data[];
};

/* Bytes a handle of @sz data bytes takes on the wire. */
#define FUSEX_HANDLE_SIZE(sz)	(sizeof(struct fusex_handle) + \
				 (((sz) + 7) & ~(size_t)7))

/*
 * FUSE_LOOKUP_HANDLE request: fusex_lookup_handle_in, then a struct
 * fusex_handle (with its data), then, with FUSEX_LH_NAME, a NUL-terminated
 * name.  The header's nodeid is 0: the handle says what it is about.
 * Reply: fuse_entry_out and the handle of the object found, like LOOKUP.
 * The lookup counts like any other (the kernel sends FORGET for it).
 *
 * Without FUSEX_LH_NAME the object is the one the handle names; with it,
 * the child of that directory with that name.  A handle of size 0 asks for
 * the object whose nodeid is in fusex_lookup_handle_in.nodeid (the kernel
 * uses it to learn the root's handle, which no reply carries).
 */
struct fusex_lookup_handle_in {
	/* FUSEX_LH_* */
	uint32_t	flags;
	uint32_t	padding;
	/* With a handle of size 0: the nodeid to give the handle of. */
	uint64_t	nodeid;
};

/* A name follows the handle: look it up in that directory. */
#define FUSEX_LH_NAME			(1 << 0)

/*
 * Restart (Documentation/restart.rst)
 * -----------------------------------
 * A mount with restart_timeout=SECONDS (not 0) does not abort when its last
 * device fd closes: it is "detached", its requests wait for a new server
 * for up to that long, then fail with ENOTCONN as on an aborted mount.
 *
 * A new server opens /dev/fusex and attaches it with FUSEX_DEV_IOC_ATTACH
 * (or is handed a still-open device fd, which needs nothing from the
 * kernel).  Only the mount's owner (user_id=) or CAP_SYS_ADMIN may attach.
 * The kernel then sends INIT again with FUSEX_INIT_REINIT set in flags2 and
 * holds every other request until the reply, which must negotiate what the
 * first INIT did: the same major and minor, the same accepted flags, and no
 * smaller max_write, max_pages or max_handle_sz.  A reply that differs is
 * refused (the kernel log names what differs) and the connection is
 * detached again, waiting for another server.
 *
 * An attach to a live mount starts a new server instance: the nodeids
 * and file handles the kernel holds are the dead one's.  Each cached
 * inode is revalidated on its first use: FUSE_LOOKUP_HANDLE with its
 * handle, or (no handles) a LOOKUP of its name in its revalidated parent;
 * the root by GETATTR of FUSE_ROOT_ID, which every instance keeps.  Open
 * files are opened again (OPEN/OPENDIR with their original flags, less
 * O_CREAT, O_EXCL and O_TRUNC) on first use.  Requests the old server
 * read and did not answer are sent again after that, with
 * FUSE_UNIQUE_RESEND set in their unique (the reply carries the unique as
 * read, bit included).  FORGETs are never sent for an old instance's
 * nodeids.
 */

/* INIT flag, kernel to server (flags2 bit 31): this is a re-INIT. */
#define FUSEX_INIT_REINIT		(1ULL << 63)

/* As upstream FUSE 7.40: the kernel may resend requests... */
#ifndef FUSE_HAS_RESEND
#define FUSE_HAS_RESEND			(1ULL << 39)
#endif
/* ...and marks them with this bit of the unique. */
#ifndef FUSE_UNIQUE_RESEND
#define FUSE_UNIQUE_RESEND		(1ULL << 63)
#endif

/*
 * Notification (fuse_out_header.error == FUSE_NOTIFY_RESTARTED, unique 0):
 * a new server instance has taken over the connection.  Accepted on restart
 * mounts only.  The kernel records the instance id and counts restarts
 * (FUSEX_IOC_STATUS).  On a device fd just attached (FUSEX_DEV_IOC_ATTACH)
 * the first one only names the instance the attach started.  On any other
 * device fd (one handed down: fd passing, systemd's fd store) it starts a
 * new instance: what the old one read and did not answer is resent, cached
 * state is revalidated, and INIT is sent again first (FUSEX_INIT_REINIT).
 */
#define FUSE_NOTIFY_RESTARTED		10

struct fusex_notify_restarted_out {
	/* Chosen by the server; any value. */
	uint64_t	instance_id;
	/* Must be zero. */
	uint64_t	padding;
};

/* Device ioctls (FUSE_DEV_IOC_CLONE is FUSE's own, number 0). */
#define FUSEX_DEV_IOC_MAGIC		229

/*
 * FUSEX_DEV_IOC_ATTACH: make this /dev/fusex fd (open, not yet serving a
 * mount) the server of the mount that @mount_fd is on.
 *   EINVAL   bad flags or reserved fields, @mount_fd not on a fusex mount,
 *            the mount has no restart_timeout, this fd already serves one
 *   EBADF    @mount_fd is not open
 *   EPERM    the caller is neither the mount's owner nor CAP_SYS_ADMIN
 *   EBUSY    a server is attached (see FUSEX_ATTACH_REPLACE), or, even
 *            with FUSEX_ATTACH_REPLACE, has not answered the first INIT
 *   ENOTCONN the connection has been aborted
 */
struct fusex_attach {
	/* FUSEX_ATTACH_* */
	uint32_t	flags;
	/* Any file or directory on the mount; O_PATH is enough. */
	int32_t		mount_fd;
	/* Must be zero. */
	uint64_t	reserved[3];
};

/*
 * Attach even if a server is attached: its device fds stop serving the
 * mount (reads get ENODEV) as if closed, and the requests it read and did
 * not answer are sent again to the new server.
 */
#define FUSEX_ATTACH_REPLACE		(1U << 0)

#define FUSEX_DEV_IOC_ATTACH		_IOW(FUSEX_DEV_IOC_MAGIC, 128, \
					     struct fusex_attach)

/*
 * FUSEX_IOC_STATUS: on any file or directory of a fusex mount (opened, not
 * O_PATH), by anyone who may use the mount: the connection's restart state
 * and what restarts have cost.  Fields only grow; unknown ones read zero.
 */
struct fusex_status {
	/* FUSEX_STATUS_* */
	uint32_t	flags;
	/* Server instances after the first (attaches to a live mount). */
	uint32_t	epoch;
	/* FUSEX_DEV_IOC_ATTACH calls that succeeded. */
	uint32_t	attaches;
	/* FUSE_NOTIFY_RESTARTED received; the last one's instance id. */
	uint32_t	restarts;
	uint64_t	instance_id;
	/* Requests a server read and died on, sent again. */
	uint64_t	resent;
	/* Inodes revalidated by FUSE_LOOKUP_HANDLE, and by name. */
	uint64_t	reval_handle;
	uint64_t	reval_name;
	/* Open files and directories opened again on a new instance. */
	uint64_t	reopens;
	/* Inodes found gone or replaced on a new instance. */
	uint64_t	stale;
	/* Lock owners told their locks were lost (ENOLCK). */
	uint64_t	locks_lost;
	/*
	 * The last restart, in ns: from the old server's death (the
	 * detach) to the new one's answer to INIT, and from the attach to
	 * that answer (the new server's own start-up).  0 before any.
	 */
	uint64_t	down_ns;
	uint64_t	startup_ns;
	uint64_t	reserved[4];
};

/* No server is attached: requests wait for one (restart_timeout=). */
#define FUSEX_STATUS_DETACHED		(1U << 0)
/* The connection is aborted: every request fails with ENOTCONN. */
#define FUSEX_STATUS_ABORTED		(1U << 1)
/* The mount has restart_timeout= set. */
#define FUSEX_STATUS_RESTARTABLE	(1U << 2)

#define FUSEX_IOC_STATUS		_IOR(FUSEX_DEV_IOC_MAGIC, 129, \
					     struct fusex_status)

#endif /* _UAPI_LINUX_FUSEX_H */
