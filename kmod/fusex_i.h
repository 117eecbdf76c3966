/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fusex: a FUSE protocol client whose mounts are built to survive the death
 * of their server.  This is the one internal header of the module.
 *
 * Locking, outermost first:
 *   inode->i_rwsem (VFS)  >  fi->lock  and  fc->lock  (spinlocks, leaves:
 *   never taken together, never held across anything that sleeps).
 *
 * Restart is designed in from the start:
 *   - a request keeps its arguments (struct fusex_args) until it is answered,
 *     so it can be queued again for another server instance;
 *   - an inode's nodeid is per server instance and may be replaced
 *     (fusex_inode.nodeid is read with READ_ONCE, written under fi->lock);
 *   - an open file remembers how it was opened (fusex_file.open_flags);
 *   - the connection (struct fusex_conn) is reference counted on its own and
 *     is not owned by the device file that serves it.
 */
#ifndef _FUSEX_I_H
#define _FUSEX_I_H

#include <linux/fuse.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/wait.h>
#include <linux/refcount.h>
#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/ratelimit.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>
#include <linux/fusex.h>

#if FUSE_KERNEL_MINOR_VERSION < FUSEX_KERNEL_MINOR_VERSION
#error "fusex needs <linux/fuse.h> of protocol 7.38 or newer"
#endif

/* Root of every mount; the server's nodeid for it is fixed by the protocol. */
#define FUSEX_ROOT_ID		FUSE_ROOT_ID

/* Longest name the protocol carries (fuse.ko's limit). */
#define FUSEX_NAME_MAX		1024

/* Smallest read buffer a server may offer to read(2) on /dev/fusex. */
#define FUSEX_MIN_READ_BUFFER	8192

/* Pages in one READ unless INIT negotiates FUSE_MAX_PAGES. */
#define FUSEX_DEFAULT_MAX_PAGES	32
#define FUSEX_MAX_MAX_PAGES	256

/* Buckets of the table of requests a server has read and not answered. */
#define FUSEX_PQ_HASH_BITS	8
#define FUSEX_PQ_HASH_SIZE	(1 << FUSEX_PQ_HASH_BITS)

/* Unique ids step by two: bit 0 marks FUSE_INTERRUPT and its reply. */
#define FUSEX_INT_REQ_BIT	(1ULL << 0)
#define FUSEX_REQ_ID_STEP	2

/* Forgets sent in a row before a waiting request gets its turn. */
#define FUSEX_FORGET_BATCH	16

/* Handles up to this size live in the inode; longer ones are allocated. */
#define FUSEX_FH_INLINE		16

/* Room for any handle a reply may carry. */
struct fusex_handle_buf {
	struct fusex_handle h;
	u8 data[FUSEX_MAX_HANDLE_SZ];
};

/* Rate-limited complaint about what a server sent. */
#define fusex_bad_reply(fmt, ...) \
	pr_warn_ratelimited("bad reply from server: " fmt, ##__VA_ARGS__)

struct fusex_conn;
struct fusex_release_args;

/* Dentry expiry times (jiffies64) live in d_fsdata. */
static_assert(sizeof(unsigned long) == sizeof(u64));

/** One argument of a request, in or out. */
struct fusex_arg {
	unsigned int size;
	void *value;
};

/**
 * struct fusex_bind - the server's ids a request carries, by their owners
 *
 * Nodeids and file handles belong to one server instance.  A request names
 * the inodes and open files they come from, and the ids are filled in when
 * the request is queued, after the owners have been revalidated on the
 * current instance (restart.c).  @nodeid[0] is normally &args->nodeid.
 */
struct fusex_bind {
	struct inode *inode[2];
	u64 *nodeid[2];
	struct fusex_file *file[2];
	u64 *fh[2];
};

/**
 * struct fusex_args - what a request carries and where its reply goes
 *
 * Owned by the caller until the request ends, so that the request can be
 * sent again as it was (restart).  Nothing in here is changed by the reply
 * except the buffers the out args point to and @out_size.
 */
struct fusex_args {
	u64 nodeid;
	u32 opcode;
	u8 in_numargs;
	u8 out_numargs;
	/* Not interruptible; sent even before INIT is answered. */
	bool force:1;
	/* No reply expected (FORGET). */
	bool noreply:1;
	/* Do not fill uid/gid/pid from current. */
	bool nocreds:1;
	/* The last out argument may be shorter than its size. */
	bool out_argvar:1;
	/* The last out argument is the page array in fusex_args_pages. */
	bool out_pages:1;
	/* Not worth a reopen: drop it if its file is a dead instance's. */
	bool drop_stale:1;
	/* The server instance (fc->epoch) it was queued for. */
	u32 epoch;
	/* Whose ids it carries; see fusex_bind. */
	struct fusex_bind bind;
	struct fusex_arg in_args[3];
	struct fusex_arg out_args[3];
	/* Bytes the reply put in the last out argument. */
	unsigned int out_size;
	/* FUSE_NOTIFY_REPLY: the unique the server chose. */
	u64 notify_unique;
	/* A dead server read it: its unique, FUSE_UNIQUE_RESEND set. */
	u64 resend_unique;
	/* Background requests: called once when the request has ended. */
	void (*end)(struct fusex_conn *fc, struct fusex_args *args, int error);
};

/** Arguments whose last out argument is a run of pages. */
struct fusex_args_pages {
	struct fusex_args args;
	struct page **pages;
	unsigned int num_pages;
};

/* Request flags (fusex_req.flags), set and tested with atomic bitops. */
enum fusex_req_flag {
	FR_ISREPLY,		/* a reply is expected */
	FR_FORCE,		/* see fusex_args.force */
	FR_BACKGROUND,		/* no caller waits; args->end runs at the end */
	FR_PENDING,		/* on fc->pending, not yet read by the server */
	FR_SENT,		/* read by the server */
	FR_INTERRUPTED,		/* the caller was signalled */
	FR_FINISHED,		/* ended; the caller may go on */
	FR_REINIT,		/* the INIT sent again to a new server */
	FR_REBIND,		/* its ids are a dead instance's: bind again */
};

/**
 * struct fusex_req - one request on its way to the server and back
 */
struct fusex_req {
	/* Entry on fc->pending or a processing bucket.  Protected by fc->lock */
	struct list_head list;
	/* Entry on fc->interrupts.  Protected by fc->lock */
	struct list_head intr_entry;
	refcount_t count;
	unsigned long flags;
	struct fuse_in_header in_h;
	/* Filled by the reply before FR_FINISHED is set. */
	struct fuse_out_header out_h;
	struct fusex_args *args;
	struct fusex_conn *fc;
	wait_queue_head_t waitq;
};

/** A FORGET waiting to be sent; preallocated per inode. */
struct fusex_forget {
	struct list_head list;
	u64 nodeid;
	u64 nlookup;
};

/**
 * struct fusex_conn - one connection to a server (one per mount)
 *
 * Lives as long as the super block or any device file that refers to it.
 */
struct fusex_conn {
	/* Protects the queues and state marked "fc->lock" below. */
	spinlock_t lock;
	refcount_t count;

	/* Requests not yet read by the server.  Protected by fc->lock */
	struct list_head pending;
	/* Read, not answered, hashed by unique.  Protected by fc->lock */
	struct list_head processing[FUSEX_PQ_HASH_SIZE];
	/* Requests whose caller wants FUSE_INTERRUPT sent.  fc->lock */
	struct list_head interrupts;
	/* FORGETs to send.  Protected by fc->lock */
	struct list_head forgets;
	/* Forgets sent since the last request.  Protected by fc->lock */
	unsigned int forget_batch;
	/* Last unique id handed out.  Protected by fc->lock */
	u64 reqctr;
	/* Device files serving this connection.  Protected by fc->lock */
	struct list_head devices;
	/* False once aborted: no new request is queued.  fc->lock */
	bool connected;
	/*
	 * Restart (restart_timeout= mounts only).  No server serves the
	 * connection: requests wait on fc->pending for one to attach.
	 * Protected by fc->lock
	 */
	bool detached;
	/* When a detached connection gives up (jiffies).  fc->lock */
	unsigned long detach_deadline;
	/*
	 * The INIT sent again to a newly attached server, until answered;
	 * nothing else is handed to the server meanwhile.  fc->lock
	 */
	struct fusex_req *reinit_req;
	/* Aborts a connection detached for too long; holds a reference. */
	struct delayed_work restart_work;
	/* Servers attached by FUSEX_DEV_IOC_ATTACH.  Protected by fc->lock */
	unsigned int attaches;
	/* FUSE_NOTIFY_RESTARTED: how many, the last id.  fc->lock */
	unsigned int restarts;
	u64 instance_id;
	/*
	 * Server instance: bumped when a new server attaches to a live
	 * mount.  Nodeids and file handles of an older instance are stale
	 * until revalidated.  Written under fc->lock, read with READ_ONCE.
	 */
	u32 epoch;
	/* When the last server died and the next attached.  fc->lock */
	ktime_t detached_at;
	ktime_t attached_at;
	/* The last restart's timings (fusex_status).  fc->lock */
	u64 down_ns;
	u64 startup_ns;
	/* FUSEX_IOC_STATUS counters (struct fusex_status). */
	atomic64_t resent;
	atomic64_t reval_handle;
	atomic64_t reval_name;
	atomic64_t reopens;
	atomic64_t stale;
	atomic64_t locks_lost;

	/* Server readers sleep here. */
	wait_queue_head_t waitq;
	struct fasync_struct *fasync;

	/* Callers wait here for INIT to be answered. */
	wait_queue_head_t blocked_waitq;
	/* INIT has been answered (or the connection aborted). */
	bool initialized;
	/* INIT failed: requests get ECONNREFUSED.  Set once before initialized */
	bool conn_error;

	/* Requests allocated and not yet freed; unmount waits for zero. */
	atomic_t num_waiting;

	/* Mount options, set once at mount. */
	kuid_t user_id;
	kgid_t group_id;
	bool default_permissions:1;
	bool allow_other:1;
	unsigned int max_read;
	unsigned int blksize;
	/* Seconds a detached connection waits for a server; 0: no restart */
	unsigned int restart_timeout;
	struct user_namespace *user_ns;
	struct pid_namespace *pid_ns;

	/* Negotiated by INIT; set once before initialized becomes true. */
	u64 init_flags;
	unsigned int minor;
	unsigned int max_write;
	unsigned int max_pages;
	bool async_read:1;
	bool auto_inval_data:1;
	bool do_readdirplus:1;
	bool readdirplus_auto:1;
	bool no_open_support:1;
	bool no_opendir_support:1;
	bool parallel_dirops:1;
	bool dont_mask:1;
	bool atomic_o_trunc:1;
	bool writeback_cache:1;
	bool posix_locks:1;
	bool flock_locks:1;
	/* The server sends persistent handles (FUSE_HAS_LOOKUP_HANDLE). */
	bool lookup_handle:1;
	unsigned int max_handle_sz;

	/* The server said ENOSYS to these: READ_ONCE/WRITE_ONCE, no lock. */
	bool no_open;
	bool no_opendir;
	bool no_access;
	bool no_flush;
	bool no_getxattr;
	bool no_listxattr;
	bool no_interrupt;
	bool no_create;
	bool no_rename2;
	bool no_fsync;
	bool no_fsyncdir;
	bool no_setxattr;
	bool no_removexattr;
	bool no_fallocate;
	bool no_lseek;
	bool no_copy_file_range;
	bool no_tmpfile;

	/* Version of attributes, to drop replies older than a cached copy. */
	atomic64_t attr_version;
	/* Mixed into lock owner ids sent to the server. */
	u64 scramble_key;

	/* Set once the super block is set up, cleared at unmount (killsb). */
	struct super_block *sb;
	/* Notifications hold it for reading while they use sb. */
	struct rw_semaphore killsb;
};

/** One open /dev/fusex file that serves (or will serve) a connection. */
struct fusex_dev {
	/* Set once by mount, clone or attach.  Protected by fusex_dev_mutex */
	struct fusex_conn *fc;
	/* Entry on fc->devices.  Protected by fc->lock */
	struct list_head entry;
	/*
	 * Replaced or refused: no longer serves fc (off fc->devices).
	 * Written under fc->lock (WRITE_ONCE), read under it or READ_ONCE.
	 */
	bool disconnected;
	/*
	 * Attached by FUSEX_DEV_IOC_ATTACH and has not said RESTARTED yet:
	 * its RESTARTED names the instance the attach started.  Otherwise a
	 * RESTARTED on it is a new instance taking the fd over (fd passing).
	 * Protected by fc->lock
	 */
	bool attached_new;
};

/* fusex_inode.state bits. */
enum {
	/* The server broke the contract for this inode: every op gets EIO. */
	FUSEX_I_BAD,
	/* A lookup happened in this directory: READDIRPLUS pays off. */
	FUSEX_I_ADVISE_RDPLUS,
	/*
	 * READDIRPLUS made this inode and nobody has used it yet; its first
	 * use advises READDIRPLUS for the rest of its directory.
	 */
	FUSEX_I_INIT_RDPLUS,
	/*
	 * Cached pages may be stale (found on revalidation after a restart,
	 * maybe from writeback): dropped before the next read.
	 */
	FUSEX_I_INVAL_DATA,
	/* Gone, or another object, on a restarted server: ESTALE. */
	FUSEX_I_STALE,
};

/** struct fusex_inode - a fusex inode */
struct fusex_inode {
	struct inode inode;
	/* Protects the fields marked "fi->lock". */
	spinlock_t lock;
	/* The server's id for it, per server instance.  Written under fi->lock */
	u64 nodeid;
	/*
	 * The instance (fc->epoch) @nodeid belongs to.  Written under
	 * fi->lock with smp_store_release() after @nodeid; read with
	 * smp_load_acquire() before it.
	 */
	u32 epoch;
	/* Lookups the server has counted for it.  Protected by fi->lock */
	u64 nlookup;
	/* Preallocated, so eviction can always queue a FORGET.  fi->lock */
	struct fusex_forget *forget;
	/* Attributes are valid until then (jiffies64).  Protected by fi->lock */
	u64 i_time;
	/* Version of the cached attributes.  Protected by fi->lock */
	u64 attr_version;
	/* The server's st_ino (i_ino may be squashed).  Set once */
	u64 orig_ino;
	/* FUSEX_I_* bits, atomic bitops. */
	unsigned long state;
	/* Files open for writing, for writeback.  Protected by fi->lock */
	struct list_head write_files;
	/*
	 * The server's persistent handle, 0 bytes if none.  Set once (when
	 * the inode is made, or when the root's is first learned): writers
	 * store the bytes, then the size with smp_store_release().
	 */
	u8 fh_size;
	union {
		u8 fh_inline[FUSEX_FH_INLINE];
		u8 *fh_ext;
	};
};

/** struct fusex_file - an open file or directory */
struct fusex_file {
	struct fusex_conn *fc;
	/* The struct file's reference and writeback's; RELEASE at zero. */
	refcount_t count;
	/* Entry on fi->write_files.  Protected by fi->lock */
	struct list_head write_entry;
	/* The inode it was opened on (the struct file's reference). */
	struct inode *inode;
	/* Serializes reopening it on a new server instance. */
	struct mutex reopen_lock;
	/*
	 * The server's handle from OPEN/OPENDIR and the nodeid the file was
	 * opened on, of instance @epoch.  Written under reopen_lock, @epoch
	 * last with smp_store_release(); read after smp_load_acquire(@epoch).
	 */
	u64 fh;
	u64 nodeid;
	u32 epoch;
	/* Could not be reopened on the current instance: ESTALE. */
	bool stale;
	/* FOPEN_* flags of the OPEN reply.  Set once */
	u32 open_flags;
	/* The file's flags as opened, to open it again on a new server. */
	u32 flags;
	bool isdir;
	/* flock() was used: RELEASE unlocks it. */
	bool flock;
	/* The server granted a POSIX lock through it (a hint, WRITE_ONCE). */
	bool locked;
	/*
	 * Reopened on a new server while it may have held locks there: the
	 * next lock operation fails with ENOLCK.  Under reopen_lock.
	 */
	bool locks_lost;
	/* For RELEASE, allocated with the file so release cannot fail. */
	struct fusex_release_args *release_args;
};

static inline struct fusex_inode *get_fusex_inode(struct inode *inode)
{
	return container_of(inode, struct fusex_inode, inode);
}

static inline struct fusex_conn *get_fusex_conn_sb(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct fusex_conn *get_fusex_conn(struct inode *inode)
{
	return get_fusex_conn_sb(inode->i_sb);
}

static inline u64 get_node_id(struct inode *inode)
{
	return READ_ONCE(get_fusex_inode(inode)->nodeid);
}

/* The instance @inode's nodeid is of; read before the nodeid. */
static inline u32 fusex_inode_epoch(struct inode *inode)
{
	/* Pairs with smp_store_release() in fusex_set_nodeid(). */
	return smp_load_acquire(&get_fusex_inode(inode)->epoch);
}

/* The instance an open file's handle is of; read before the handle. */
static inline u32 fusex_file_epoch(struct fusex_file *ff)
{
	/* Pairs with smp_store_release() in fusex_reopen(). */
	return smp_load_acquire(&ff->epoch);
}

/* Name the inode whose nodeid goes in the request's header. */
static inline void fusex_args_inode(struct fusex_args *args,
				    struct inode *inode)
{
	args->nodeid = get_node_id(inode);
	args->bind.inode[0] = inode;
	args->bind.nodeid[0] = &args->nodeid;
}

/* Name the inode whose nodeid goes in an in argument at @where. */
static inline void fusex_args_inode2(struct fusex_args *args,
				     struct inode *inode, u64 *where)
{
	*where = get_node_id(inode);
	args->bind.inode[1] = inode;
	args->bind.nodeid[1] = where;
}

/* Name an open file whose server handle goes in an in argument. */
static inline void fusex_args_file(struct fusex_args *args,
				   struct fusex_file *ff, u64 *where)
{
	int i = args->bind.file[0] ? 1 : 0;

	*where = ff->fh;
	args->bind.file[i] = ff;
	args->bind.fh[i] = where;
}

static inline bool fusex_is_bad(struct inode *inode)
{
	return unlikely(test_bit(FUSEX_I_BAD, &get_fusex_inode(inode)->state));
}

static inline void fusex_make_bad(struct inode *inode)
{
	set_bit(FUSEX_I_BAD, &get_fusex_inode(inode)->state);
}

static inline bool fusex_valid_type(u32 mode)
{
	return S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode) ||
	       S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode) ||
	       S_ISSOCK(mode);
}

static inline bool fusex_invalid_attr(const struct fuse_attr *attr)
{
	return !fusex_valid_type(attr->mode) || attr->size > LLONG_MAX;
}

static inline u64 fusex_get_attr_version(struct fusex_conn *fc)
{
	return atomic64_read(&fc->attr_version);
}

/* Bytes one WRITE (or NOTIFY_REPLY) may carry. */
static inline size_t fusex_max_write(struct fusex_conn *fc)
{
	size_t max = (size_t)fc->max_pages << PAGE_SHIFT;

	return clamp_t(size_t, fc->max_write, PAGE_SIZE, max);
}

/* Turn a server's "valid for sec.nsec" into an expiry time in jiffies64. */
u64 fusex_time_to_jiffies(u64 sec, u32 nsec);

/* dev.c */
extern const struct file_operations fusex_dev_operations;
int fusex_dev_init(void);
void fusex_dev_cleanup(void);
struct fusex_conn *fusex_conn_get(struct fusex_conn *fc);
void fusex_conn_put(struct fusex_conn *fc);
void fusex_conn_init(struct fusex_conn *fc, struct user_namespace *user_ns);
int fusex_dev_attach(struct file *file, struct fusex_conn *fc);
ssize_t fusex_simple_request(struct fusex_conn *fc, struct fusex_args *args);
int fusex_simple_background(struct fusex_conn *fc, struct fusex_args *args,
			    gfp_t gfp);
void fusex_queue_forget(struct fusex_conn *fc, struct fusex_forget *forget,
			u64 nodeid, u64 nlookup, u32 epoch);
struct fusex_forget *fusex_alloc_forget(void);
void fusex_abort_conn(struct fusex_conn *fc);
void fusex_wait_aborted(struct fusex_conn *fc);
void fusex_set_initialized(struct fusex_conn *fc);
const char *fusex_opname(u32 opcode);
bool fusex_conn_detached(struct fusex_conn *fc);
void fusex_restart_stop(struct fusex_conn *fc);
void fusex_reinit_end(struct fusex_conn *fc, struct fusex_args *args,
		      bool ok);
int fusex_notify_restarted(struct fusex_dev *fud, size_t size,
			   struct iov_iter *from);

/* inode.c */
struct inode *fusex_iget(struct super_block *sb, u64 nodeid, u32 epoch,
			 u64 generation, struct fuse_attr *attr,
			 u64 attr_valid, u64 attr_version,
			 const struct fusex_handle *fh);
struct inode *fusex_ilookup(struct super_block *sb, u64 nodeid);
void fusex_change_attributes(struct inode *inode, struct fuse_attr *attr,
			     u64 attr_valid, u64 attr_version);
void __fusex_change_attributes(struct inode *inode, struct fuse_attr *attr,
			       u64 attr_valid, u64 attr_version, bool defer);
void fusex_invalidate_attr(struct inode *inode);
void fusex_attrs_changed(struct inode *inode);
bool fusex_allow_current_process(struct fusex_conn *fc);
struct fusex_conn *fusex_conn_of_file(struct file *file);
struct fusex_args *fusex_alloc_reinit(struct fusex_conn *fc);
void fusex_free_init(struct fusex_args *args);
u64 fusex_lock_owner_id(struct fusex_conn *fc, fl_owner_t id);

/* dir.c */
int fusex_create_open(struct inode *dir, struct dentry *entry,
		      struct file *file, unsigned int flags, umode_t mode,
		      u32 opcode);
extern const struct inode_operations fusex_dir_inode_operations;
extern const struct inode_operations fusex_symlink_inode_operations;
extern const struct inode_operations fusex_common_inode_operations;
extern const struct dentry_operations fusex_dentry_operations;
void fusex_lookup_init(struct fusex_args *args, u64 nodeid,
		       const struct qstr *name,
		       struct fuse_entry_out *outarg);
int fusex_lookup_name(struct super_block *sb, struct inode *dir,
		      const struct qstr *name, struct fuse_entry_out *outarg,
		      struct inode **inode);
void fusex_change_entry_timeout(struct dentry *entry,
				struct fuse_entry_out *o);
void fusex_invalidate_entry_cache(struct dentry *entry);
int fusex_update_attributes(struct inode *inode, struct file *file, u32 mask);
int fusex_check_entry(struct fusex_conn *fc, struct inode *dir,
		      struct fuse_entry_out *outarg, const struct qstr *name);

/* file.c */
extern const struct file_operations fusex_file_operations;
extern const struct address_space_operations fusex_file_aops;
struct fusex_file *fusex_file_alloc(struct fusex_conn *fc);
void fusex_file_free(struct fusex_file *ff);
void fusex_finish_open(struct inode *inode, struct file *file,
		       struct fusex_file *ff, struct fuse_open_out *outarg,
		       bool isdir);
void fusex_file_release(struct inode *inode, struct fusex_file *ff,
			unsigned int flags, bool isdir);
int fusex_open_common(struct inode *inode, struct file *file, bool isdir);
int fusex_release_common(struct inode *inode, struct file *file, bool isdir);
int fusex_fsync_common(struct file *file, loff_t start, loff_t end,
		       int datasync, bool isdir);

/* handle.c */
extern const struct export_operations fusex_export_operations;
void fusex_entry_handle_arg(struct fusex_conn *fc, struct fusex_args *args,
			    struct fusex_handle_buf *hb);
const struct fusex_handle *fusex_entry_handle(struct fusex_conn *fc,
					      struct fusex_args *args,
					      struct fusex_handle_buf *hb,
					      u64 nodeid);
int fusex_check_handle(struct fusex_conn *fc, const struct fusex_handle *h,
		       size_t len);
int fusex_set_handle(struct inode *inode, const struct fusex_handle *h);
void fusex_free_handle(struct fusex_inode *fi);
void fusex_fetch_root_handle(struct fusex_conn *fc);
int fusex_reval_by_handle(struct inode *inode);
bool fusex_same_handle(struct inode *inode, const struct fusex_handle *h);
struct fusex_lh_name;
struct fusex_lh_name *fusex_lookup_under_handle(struct fusex_conn *fc,
						struct fusex_args *args,
						struct inode *dir,
						const struct qstr *name);

/* restart.c */
int fusex_bind_args(struct fusex_conn *fc, struct fusex_args *args,
		    bool may_sleep);
int fusex_revalidate(struct inode *inode);
long fusex_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int fusex_file_current(struct file *file);
int fusex_lock_check(struct file *file);
int fusex_adopt(struct inode *inode, struct fuse_entry_out *out, u32 epoch,
		u64 attr_version);
bool fusex_try_adopt(struct inode *inode, struct fuse_entry_out *out,
		     const struct fusex_handle *h, u32 epoch,
		     u64 attr_version);
void fusex_make_stale(struct inode *inode);
bool fusex_count_lookup(struct inode *inode, u32 epoch);

static inline bool fusex_is_stale(struct inode *inode)
{
	return unlikely(test_bit(FUSEX_I_STALE,
				 &get_fusex_inode(inode)->state));
}

/* notify.c */
int fusex_notify(struct fusex_dev *fud, int code, size_t size,
		 struct iov_iter *from);

/* readdir.c */
extern const struct file_operations fusex_dir_operations;

/* xattr.c */
extern const struct xattr_handler *fusex_xattr_handlers[];
ssize_t fusex_listxattr(struct dentry *entry, char *list, size_t size);

#endif /* _FUSEX_I_H */
