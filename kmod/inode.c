// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: super block, mount options, INIT negotiation, inodes, and the
 * module's entry points.
 */

#include <linux/module.h>
#include <linux/slab.h>
#include <linux/file.h>
#include <linux/seq_file.h>
#include <linux/statfs.h>
#include <linux/fs_parser.h>
#include <linux/backing-dev.h>
#include <linux/pagemap.h>
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/user_namespace.h>
#include <linux/magic.h>
#include <linux/completion.h>
#include <linux/moduleparam.h>

#include "fusex_i.h"

MODULE_AUTHOR("The fusex developers");
MODULE_DESCRIPTION("FUSE protocol client whose mounts survive server restarts");
MODULE_LICENSE("GPL");
MODULE_ALIAS_FS(FUSEX_FS_TYPE);

static struct kmem_cache *fusex_inode_cachep;

u64 fusex_time_to_jiffies(u64 sec, u32 nsec)
{
	struct timespec64 ts;

	if (!sec && !nsec)
		return 0;
	/* timespec64_to_jiffies() saturates; keep tv_sec positive. */
	ts.tv_sec = min_t(u64, sec, 1ULL << 40);
	ts.tv_nsec = min_t(u32, nsec, NSEC_PER_SEC - 1);
	return get_jiffies_64() + timespec64_to_jiffies(&ts);
}

static struct inode *fusex_alloc_inode(struct super_block *sb)
{
	struct fusex_inode *fi;

	fi = alloc_inode_sb(sb, fusex_inode_cachep, GFP_KERNEL);
	if (!fi)
		return NULL;

	fi->forget = fusex_alloc_forget();
	if (!fi->forget) {
		kmem_cache_free(fusex_inode_cachep, fi);
		return NULL;
	}
	fi->nodeid = 0;
	fi->epoch = 0;
	fi->nlookup = 0;
	fi->i_time = 0;
	fi->attr_version = 0;
	fi->orig_ino = 0;
	fi->state = 0;
	fi->fh_size = 0;
	INIT_LIST_HEAD(&fi->write_files);
	return &fi->inode;
}

static void fusex_free_inode(struct inode *inode)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	kfree(fi->forget);
	fusex_free_handle(fi);
	kmem_cache_free(fusex_inode_cachep, fi);
}

static void fusex_evict_inode(struct inode *inode)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	if ((inode->i_sb->s_flags & SB_ACTIVE) && fi->nlookup &&
	    !fusex_is_bad(inode)) {
		fusex_queue_forget(get_fusex_conn(inode), fi->forget,
				   fi->nodeid, fi->nlookup, fi->epoch);
		fi->forget = NULL;
	}
}

bool fusex_allow_current_process(struct fusex_conn *fc)
{
	const struct cred *cred;

	if (fc->allow_other)
		return current_in_userns(fc->user_ns);

	cred = current_cred();
	return uid_eq(cred->euid, fc->user_id) &&
	       uid_eq(cred->suid, fc->user_id) &&
	       uid_eq(cred->uid, fc->user_id) &&
	       gid_eq(cred->egid, fc->group_id) &&
	       gid_eq(cred->sgid, fc->group_id) &&
	       gid_eq(cred->gid, fc->group_id);
}

u64 fusex_lock_owner_id(struct fusex_conn *fc, fl_owner_t id)
{
	/* Do not hand kernel pointers to the server. */
	return hash_64((u64)(unsigned long)id ^ fc->scramble_key, 64);
}

static struct timespec64 fusex_attr_time(u64 sec, u32 nsec)
{
	return (struct timespec64){
		.tv_sec = sec,
		.tv_nsec = min_t(u32, nsec, NSEC_PER_SEC - 1),
	};
}

void fusex_invalidate_attr(struct inode *inode)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	spin_lock(&fi->lock);
	fi->i_time = 0;
	spin_unlock(&fi->lock);
}

/*
 * The server's attributes of @inode changed behind every reply now on its
 * way: mark them stale, and make those replies too old to be applied.
 */
void fusex_attrs_changed(struct inode *inode)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	spin_lock(&fi->lock);
	fi->attr_version = atomic64_inc_return(&get_fusex_conn(inode)->attr_version);
	fi->i_time = 0;
	spin_unlock(&fi->lock);
}

/**
 * fusex_change_attributes - take attributes the server sent
 * @inode: the inode
 * @attr: the attributes
 * @attr_valid: expiry time in jiffies64
 * @attr_version: version read before the request was sent
 *
 * Attributes from a request sent before the cached ones were taken are
 * older than what we have and are dropped.  A change of size, or of mtime
 * when the server asked for FUSE_AUTO_INVAL_DATA, drops cached pages.
 */
void fusex_change_attributes(struct inode *inode, struct fuse_attr *attr,
			     u64 attr_valid, u64 attr_version)
{
	__fusex_change_attributes(inode, attr, attr_valid, attr_version, false);
}

/*
 * With @defer, cached pages are not dropped here but marked to be
 * (FUSEX_I_INVAL_DATA): the caller may be writing some back.
 */
void __fusex_change_attributes(struct inode *inode, struct fuse_attr *attr,
			       u64 attr_valid, u64 attr_version, bool defer)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_inode *fi = get_fusex_inode(inode);
	struct timespec64 old_mtime, new_mtime;
	bool inval = false, wb;
	loff_t oldsize;

	spin_lock(&fi->lock);
	if (attr_version && fi->attr_version > attr_version) {
		spin_unlock(&fi->lock);
		return;
	}
	old_mtime = fusex_get_mtime(inode);
	oldsize = i_size_read(inode);

	fi->attr_version = atomic64_inc_return(&fc->attr_version);
	fi->i_time = attr_valid;
	/* As fuse: stat shows the server's latest ino (the root's too). */
	fi->orig_ino = attr->ino;
	inode->i_mode = (inode->i_mode & S_IFMT) | (attr->mode & 07777);
	set_nlink(inode, attr->nlink);
	inode->i_uid = make_kuid(fc->user_ns, attr->uid);
	inode->i_gid = make_kgid(fc->user_ns, attr->gid);
	inode->i_blocks = attr->blocks;
	wb = fc->writeback_cache && S_ISREG(inode->i_mode);
	new_mtime = fusex_attr_time(attr->mtime, attr->mtimensec);
	fusex_set_times(inode, fusex_attr_time(attr->atime, attr->atimensec),
			new_mtime, fusex_attr_time(attr->ctime, attr->ctimensec));
	if (attr->blksize && is_power_of_2(attr->blksize) &&
	    attr->blksize >= 512 && attr->blksize <= SZ_1M)
		inode->i_blkbits = ilog2(attr->blksize);
	else
		inode->i_blkbits = inode->i_sb->s_blocksize_bits;
	/*
	 * With the writeback cache the size is the kernel's: writes beyond
	 * the end that are not written back yet make the server's stale.
	 */
	if (!wb)
		i_size_write(inode, attr->size);
	spin_unlock(&fi->lock);

	if (!S_ISREG(inode->i_mode) || wb)
		return;
	if (defer) {
		if (oldsize != attr->size ||
		    !timespec64_equal(&old_mtime, &new_mtime))
			set_bit(FUSEX_I_INVAL_DATA, &fi->state);
		return;
	}
	if (oldsize != attr->size) {
		truncate_pagecache(inode, attr->size);
		inval = true;
	} else if (fc->auto_inval_data &&
		   !timespec64_equal(&old_mtime, &new_mtime)) {
		inval = true;
	}
	if (inval)
		invalidate_inode_pages2(inode->i_mapping);
}

static void fusex_init_inode(struct inode *inode, struct fuse_attr *attr)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	inode->i_mode = attr->mode & S_IFMT;
	inode->i_size = attr->size;
	inode->i_ino = attr->ino;
	fi->orig_ino = attr->ino;
	/* The server keeps the times; the kernel does not stamp them. */
	inode->i_flags |= S_NOATIME | S_NOCMTIME;

	if (S_ISREG(inode->i_mode)) {
		inode->i_op = &fusex_common_inode_operations;
		inode->i_fop = &fusex_file_operations;
		inode->i_data.a_ops = &fusex_file_aops;
	} else if (S_ISDIR(inode->i_mode)) {
		inode->i_op = &fusex_dir_inode_operations;
		inode->i_fop = &fusex_dir_operations;
	} else if (S_ISLNK(inode->i_mode)) {
		inode->i_op = &fusex_symlink_inode_operations;
	} else {
		inode->i_op = &fusex_common_inode_operations;
		init_special_inode(inode, inode->i_mode,
				   new_decode_dev(attr->rdev));
	}
}

/* An inode is found by its nodeid on one server instance. */
struct fusex_iget_key {
	u64 nodeid;
	u32 epoch;
};

static int fusex_inode_eq(struct inode *inode, void *data)
{
	struct fusex_iget_key *key = data;
	struct fusex_inode *fi = get_fusex_inode(inode);

	return READ_ONCE(fi->nodeid) == key->nodeid &&
	       READ_ONCE(fi->epoch) == key->epoch;
}

/**
 * fusex_ilookup - the cached inode of a nodeid of the current server
 * @sb: the super block
 * @nodeid: the nodeid
 *
 * Return: the inode with a reference, or NULL.
 */
struct inode *fusex_ilookup(struct super_block *sb, u64 nodeid)
{
	struct fusex_iget_key key = {
		.nodeid = nodeid,
		.epoch = READ_ONCE(get_fusex_conn_sb(sb)->epoch),
	};

	return ilookup5(sb, nodeid, fusex_inode_eq, &key);
}

static int fusex_inode_set(struct inode *inode, void *data)
{
	struct fusex_iget_key *key = data;

	get_fusex_inode(inode)->nodeid = key->nodeid;
	get_fusex_inode(inode)->epoch = key->epoch;
	return 0;
}

/**
 * fusex_iget - find or make the inode for a nodeid the server returned
 * @sb: the super block
 * @nodeid: the server's id; the server counted one lookup for it
 * @epoch: the server instance that gave it (fusex_args.epoch)
 * @generation: the server's generation for it
 * @attr: its attributes
 * @attr_valid: their expiry time in jiffies64
 * @attr_version: version read before the request was sent
 * @fh: the server's handle for it, or NULL
 *
 * The lookup the server counted is accounted in the inode on success; on
 * error it is the caller's to forget.
 *
 * Return: the inode with a reference, or ERR_PTR(-EIO) if the server gave
 * the nodeid of a live inode of another type or with another handle, or
 * ERR_PTR(-ENOMEM).
 */
struct inode *fusex_iget(struct super_block *sb, u64 nodeid, u32 epoch,
			 u64 generation, struct fuse_attr *attr,
			 u64 attr_valid, u64 attr_version,
			 const struct fusex_handle *fh)
{
	struct fusex_iget_key key = { .nodeid = nodeid, .epoch = epoch };
	struct inode *inode;
	int err;

	inode = iget5_locked(sb, nodeid, fusex_inode_eq, fusex_inode_set,
			     &key);
	if (!inode)
		return ERR_PTR(-ENOMEM);

	if (inode->i_state & I_NEW) {
		inode->i_generation = generation;
		fusex_init_inode(inode, attr);
		err = fh ? fusex_set_handle(inode, fh) : 0;
		if (err) {
			iget_failed(inode);
			return ERR_PTR(err);
		}
		unlock_new_inode(inode);
	} else if (inode_wrong_type(inode, attr->mode)) {
		fusex_bad_reply("nodeid %llu reused for a different type (%o, was %o)\n",
				nodeid, attr->mode & S_IFMT,
				inode->i_mode & S_IFMT);
		iput(inode);
		return ERR_PTR(-EIO);
	} else if (fh) {
		err = fusex_set_handle(inode, fh);
		if (err) {
			iput(inode);
			return ERR_PTR(err);
		}
	}

	/* A revalidation may have moved it on meanwhile: then not ours. */
	fusex_count_lookup(inode, epoch);
	fusex_change_attributes(inode, attr, attr_valid, attr_version);
	return inode;
}

static int fusex_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct fusex_conn *fc = get_fusex_conn_sb(sb);
	struct fuse_statfs_out outarg;
	struct fusex_args args = {};
	int err;

	buf->f_type = FUSE_SUPER_MAGIC;
	if (!fusex_allow_current_process(fc))
		return 0;

	memset(&outarg, 0, sizeof(outarg));
	args.opcode = FUSE_STATFS;
	fusex_args_inode(&args, d_inode(dentry));
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err)
		return err;

	buf->f_bsize = outarg.st.bsize;
	buf->f_frsize = outarg.st.frsize;
	buf->f_blocks = outarg.st.blocks;
	buf->f_bfree = outarg.st.bfree;
	buf->f_bavail = outarg.st.bavail;
	buf->f_files = outarg.st.files;
	buf->f_ffree = outarg.st.ffree;
	buf->f_namelen = outarg.st.namelen;
	return 0;
}

static int fusex_show_options(struct seq_file *m, struct dentry *root)
{
	struct fusex_conn *fc = get_fusex_conn_sb(root->d_sb);

	seq_printf(m, ",user_id=%u", from_kuid_munged(fc->user_ns, fc->user_id));
	seq_printf(m, ",group_id=%u",
		   from_kgid_munged(fc->user_ns, fc->group_id));
	if (fc->default_permissions)
		seq_puts(m, ",default_permissions");
	if (fc->allow_other)
		seq_puts(m, ",allow_other");
	if (fc->max_read != ~0U)
		seq_printf(m, ",max_read=%u", fc->max_read);
	if (fc->blksize)
		seq_printf(m, ",blksize=%u", fc->blksize);
	if (fc->restart_timeout)
		seq_printf(m, ",restart_timeout=%u", fc->restart_timeout);
	return 0;
}

static unsigned int destroy_timeout = 10;
module_param(destroy_timeout, uint, 0644);
MODULE_PARM_DESC(destroy_timeout,
		 "Seconds unmount waits for the server to answer DESTROY (0: send none)");

struct fusex_destroy_args {
	struct fusex_args args;
	struct completion done;
};

static void fusex_destroy_end(struct fusex_conn *fc, struct fusex_args *args,
			      int error)
{
	struct fusex_destroy_args *da = container_of(args, typeof(*da), args);

	complete(&da->done);
}

/*
 * Tell the server goodbye, then end the connection and wait it out.  A
 * server that does not answer DESTROY in time (or is not reading at all)
 * does not hold the unmount forever: the connection is aborted anyway.
 */
static void fusex_conn_destroy(struct fusex_conn *fc)
{
	struct fusex_destroy_args da = {
		.args = {
			.opcode = FUSE_DESTROY,
			.force = true,
			.end = fusex_destroy_end,
		},
	};
	unsigned int timeout = READ_ONCE(destroy_timeout);

	init_completion(&da.done);
	/* A detached connection has nobody to say goodbye to. */
	if (timeout && READ_ONCE(fc->initialized) && !fc->conn_error &&
	    !fusex_conn_detached(fc) &&
	    !fusex_simple_background(fc, &da.args, GFP_KERNEL))
		wait_for_completion_killable_timeout(&da.done, timeout * HZ);
	fusex_abort_conn(fc);
	/* Also waits for DESTROY to end: da lives until then. */
	fusex_wait_aborted(fc);
}

static void fusex_kill_sb(struct super_block *sb)
{
	struct fusex_conn *fc = get_fusex_conn_sb(sb);

	if (fc && sb->s_root)
		fusex_conn_destroy(fc);
	else if (fc)
		fusex_abort_conn(fc);
	if (fc) {
		/* Aborted: the restart work is not queued again. */
		fusex_restart_stop(fc);
		/* No notification may use the super block from here on. */
		down_write(&fc->killsb);
		fc->sb = NULL;
		up_write(&fc->killsb);
	}
	kill_anon_super(sb);
	if (fc)
		fusex_conn_put(fc);
}

static const struct super_operations fusex_super_operations = {
	.alloc_inode	= fusex_alloc_inode,
	.free_inode	= fusex_free_inode,
	.evict_inode	= fusex_evict_inode,
	.drop_inode	= generic_delete_inode,
	.statfs		= fusex_statfs,
	.show_options	= fusex_show_options,
};

/* INIT: what the kernel offers, and what it makes of the server's answer. */
/* fusex reads the server's INIT reply with its own names for the tail. */
static_assert(sizeof(struct fusex_init_out) == sizeof(struct fuse_init_out));

struct fusex_init_args {
	struct fusex_args args;
	struct fuse_init_in in;
	struct fusex_init_out out;
	/* Sent again to a server attached to a live mount. */
	bool reinit;
};

#define FUSEX_INIT_FLAGS (FUSE_ASYNC_READ | FUSE_AUTO_INVAL_DATA | \
			  FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | \
			  FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | \
			  FUSE_NO_OPEN_SUPPORT | FUSE_NO_OPENDIR_SUPPORT | \
			  FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | \
			  FUSE_DONT_MASK | FUSE_POSIX_LOCKS | \
			  FUSE_FLOCK_LOCKS | FUSE_WRITEBACK_CACHE | \
			  FUSE_INIT_EXT | FUSE_HAS_EXPIRE_ONLY | \
			  FUSE_HAS_LOOKUP_HANDLE)

/* Flags a server accepts, as the kernel reads them from an INIT reply. */
static u64 fusex_init_reply_flags(const struct fusex_init_out *arg)
{
	u64 flags = arg->flags;

	if (flags & FUSE_INIT_EXT)
		flags |= (u64)arg->flags2 << 32;
	return flags & FUSEX_INIT_FLAGS;
}

static u32 fusex_init_max_write(const struct fusex_init_out *arg, size_t size)
{
	u32 max_write = 4096;

	if (size >= FUSE_COMPAT_22_INIT_OUT_SIZE && arg->minor >= 5)
		max_write = max_t(u32, 4096, arg->max_write);
	/* WRITE data must fit the server's buffer, as READ replies do. */
	return min_t(u32, max_write, FUSEX_MAX_MAX_PAGES * PAGE_SIZE);
}

static u32 fusex_init_max_pages(const struct fusex_init_out *arg, size_t size,
				u64 flags)
{
	if ((flags & FUSE_MAX_PAGES) && size == sizeof(*arg))
		return clamp_t(u32, arg->max_pages, 1, FUSEX_MAX_MAX_PAGES);
	return FUSEX_DEFAULT_MAX_PAGES;
}

/*
 * A re-INIT reply must negotiate what the live mount already uses (see
 * fusex.h).  Returns what differs, NULL if nothing; @was and @now say how.
 */
static const char *fusex_reinit_mismatch(struct fusex_conn *fc,
					 const struct fusex_init_out *arg,
					 size_t size, u64 *was, u64 *now)
{
	u64 flags = fusex_init_reply_flags(arg);

	*was = FUSEX_KERNEL_VERSION;
	*now = arg->major;
	if (arg->major != FUSEX_KERNEL_VERSION)
		return "protocol major";
	*was = sizeof(*arg);
	*now = size;
	if (size != FUSE_COMPAT_INIT_OUT_SIZE &&
	    size != FUSE_COMPAT_22_INIT_OUT_SIZE && size != sizeof(*arg))
		return "reply size";
	*was = fc->minor;
	*now = min_t(u32, arg->minor, FUSEX_KERNEL_MINOR_VERSION);
	if (*was != *now)
		return "protocol minor";
	*was = fc->init_flags & FUSE_HAS_LOOKUP_HANDLE ? 1 : 0;
	*now = flags & FUSE_HAS_LOOKUP_HANDLE ? 1 : 0;
	if (*was != *now)
		return "persistent handles (FUSE_HAS_LOOKUP_HANDLE)";
	*was = fc->init_flags & FUSE_WRITEBACK_CACHE ? 1 : 0;
	*now = flags & FUSE_WRITEBACK_CACHE ? 1 : 0;
	if (*was != *now)
		return "writeback_cache (FUSE_WRITEBACK_CACHE)";
	*was = fc->init_flags;
	*now = flags;
	if (*was != *now)
		return "accepted INIT flags";
	*was = fc->max_write;
	*now = fusex_init_max_write(arg, size);
	if (*now < *was)
		return "max_write (smaller)";
	*was = fc->max_pages;
	*now = fusex_init_max_pages(arg, size, flags);
	if (*now < *was)
		return "max_pages (smaller)";
	if (fc->lookup_handle) {
		*was = fc->max_handle_sz;
		*now = size == sizeof(*arg) ? arg->max_handle_sz : 0;
		if (*now < *was || *now > FUSEX_MAX_HANDLE_SZ)
			return "max_handle_sz";
	}
	return NULL;
}

/*
 * The answer to a re-INIT.  The mount keeps what the first INIT
 * negotiated; a reply that does not fit it detaches the server again.
 */
static void fusex_process_reinit_reply(struct fusex_conn *fc,
				       struct fusex_init_args *ia, int error)
{
	const char *what;
	u64 was, now;

	/* Dropped at detach, or the connection was aborted. */
	if (error == -ECONNRESET || error == -ECONNABORTED ||
	    error == -ENOTCONN)
		goto out;
	if (error) {
		pr_warn("re-INIT refused by the server: %d\n", error);
		fusex_reinit_end(fc, &ia->args, false);
		goto out;
	}
	what = fusex_reinit_mismatch(fc, &ia->out, ia->args.out_size, &was,
				     &now);
	if (what) {
		pr_warn("re-INIT reply refused: %s differs from the mount's (was %#llx, now %#llx)\n",
			what, was, now);
		fusex_reinit_end(fc, &ia->args, false);
		goto out;
	}
	fusex_reinit_end(fc, &ia->args, true);
out:
	kfree(ia);
}

static void fusex_process_init_reply(struct fusex_conn *fc,
				     struct fusex_args *args, int error)
{
	struct fusex_init_args *ia = container_of(args, typeof(*ia), args);
	struct fusex_init_out *arg = &ia->out;
	struct super_block *sb = fc->sb;
	size_t size = args->out_size;
	u64 flags;

	if (ia->reinit) {
		fusex_process_reinit_reply(fc, ia, error);
		return;
	}
	if (error) {
		if (error != -ECONNABORTED)
			pr_warn("server refused INIT: %d\n", error);
		goto refuse;
	}
	if (arg->major != FUSEX_KERNEL_VERSION) {
		pr_warn("server speaks FUSE %u.%u, not %u.x\n", arg->major,
			arg->minor, FUSEX_KERNEL_VERSION);
		goto refuse;
	}
	if (size != FUSE_COMPAT_INIT_OUT_SIZE &&
	    size != FUSE_COMPAT_22_INIT_OUT_SIZE && size != sizeof(*arg)) {
		fusex_bad_reply("INIT: %zu bytes is no known size\n", size);
		goto refuse;
	}

	flags = fusex_init_reply_flags(arg);
	fc->init_flags = flags;
	fc->minor = min_t(u32, arg->minor, FUSEX_KERNEL_MINOR_VERSION);
	fc->max_write = fusex_init_max_write(arg, size);
	fc->max_pages = fusex_init_max_pages(arg, size, flags);
	if (size == sizeof(*arg) && arg->time_gran &&
	    arg->time_gran <= NSEC_PER_SEC)
		sb->s_time_gran = arg->time_gran;
	sb->s_bdi->ra_pages = min_t(unsigned long, sb->s_bdi->ra_pages,
				    arg->max_readahead / PAGE_SIZE);

	fc->async_read = flags & FUSE_ASYNC_READ;
	fc->auto_inval_data = flags & FUSE_AUTO_INVAL_DATA;
	fc->do_readdirplus = flags & FUSE_DO_READDIRPLUS;
	fc->readdirplus_auto = flags & FUSE_READDIRPLUS_AUTO;
	fc->parallel_dirops = flags & FUSE_PARALLEL_DIROPS;
	fc->no_open_support = flags & FUSE_NO_OPEN_SUPPORT;
	fc->no_opendir_support = flags & FUSE_NO_OPENDIR_SUPPORT;
	fc->atomic_o_trunc = flags & FUSE_ATOMIC_O_TRUNC;
	fc->dont_mask = flags & FUSE_DONT_MASK;
	fc->posix_locks = flags & FUSE_POSIX_LOCKS;
	fc->flock_locks = flags & FUSE_FLOCK_LOCKS;
	fc->writeback_cache = flags & FUSE_WRITEBACK_CACHE;
	if ((flags & FUSE_HAS_LOOKUP_HANDLE) && size == sizeof(*arg)) {
		if (!arg->max_handle_sz ||
		    arg->max_handle_sz > FUSEX_MAX_HANDLE_SZ) {
			fusex_bad_reply("INIT: max_handle_sz %u, not 1..%u\n",
					arg->max_handle_sz,
					FUSEX_MAX_HANDLE_SZ);
			goto refuse;
		}
		fc->max_handle_sz = arg->max_handle_sz;
		fc->lookup_handle = true;
		fusex_fetch_root_handle(fc);
	}
	goto out;

refuse:
	fc->conn_error = true;
out:
	kfree(ia);
	fusex_set_initialized(fc);
}

static struct fusex_init_args *fusex_alloc_init(struct fusex_conn *fc,
					       bool reinit)
{
	struct fusex_init_args *ia;
	u64 flags = FUSEX_INIT_FLAGS;

	ia = kzalloc(sizeof(*ia), GFP_KERNEL);
	if (!ia)
		return NULL;
	/* Restart mounts may resend requests, as fuse 7.40 says it. */
	if (fc->restart_timeout)
		flags |= FUSE_HAS_RESEND;
	if (reinit)
		flags |= FUSEX_INIT_REINIT;
	ia->reinit = reinit;

	ia->in.major = FUSEX_KERNEL_VERSION;
	ia->in.minor = FUSEX_KERNEL_MINOR_VERSION;
	ia->in.max_readahead = fc->sb->s_bdi->ra_pages * PAGE_SIZE;
	ia->in.flags = lower_32_bits(flags);
	ia->in.flags2 = upper_32_bits(flags);

	ia->args.opcode = FUSE_INIT;
	ia->args.force = true;
	ia->args.in_numargs = 1;
	ia->args.in_args[0].size = sizeof(ia->in);
	ia->args.in_args[0].value = &ia->in;
	ia->args.out_numargs = 1;
	/* Older servers answer with one of the compat sizes. */
	ia->args.out_argvar = true;
	ia->args.out_args[0].size = sizeof(ia->out);
	ia->args.out_args[0].value = &ia->out;
	ia->args.end = fusex_process_init_reply;
	return ia;
}

/* INIT again, for a server attached to a live mount; see dev.c. */
struct fusex_args *fusex_alloc_reinit(struct fusex_conn *fc)
{
	struct fusex_init_args *ia = fusex_alloc_init(fc, true);

	return ia ? &ia->args : NULL;
}

void fusex_free_init(struct fusex_args *args)
{
	kfree(container_of(args, struct fusex_init_args, args));
}

static int fusex_send_init(struct fusex_conn *fc)
{
	struct fusex_init_args *ia;
	int err;

	ia = fusex_alloc_init(fc, false);
	if (!ia)
		return -ENOMEM;
	err = fusex_simple_background(fc, &ia->args, GFP_KERNEL);
	if (err)
		kfree(ia);
	return err;
}

/* Mount options: the same as fuse's. */
struct fusex_fs_context {
	int fd;
	unsigned int rootmode;
	kuid_t user_id;
	kgid_t group_id;
	unsigned int max_read;
	unsigned int blksize;
	unsigned int restart_timeout;
	bool fd_present:1;
	bool rootmode_present:1;
	bool user_id_present:1;
	bool group_id_present:1;
	bool default_permissions:1;
	bool allow_other:1;
};

enum {
	OPT_FD,
	OPT_ROOTMODE,
	OPT_USER_ID,
	OPT_GROUP_ID,
	OPT_DEFAULT_PERMISSIONS,
	OPT_ALLOW_OTHER,
	OPT_MAX_READ,
	OPT_BLKSIZE,
	OPT_RESTART_TIMEOUT,
};

/* A day: longer is a mount nobody is coming back for. */
#define FUSEX_MAX_RESTART_TIMEOUT	86400

static const struct fs_parameter_spec fusex_fs_parameters[] = {
	fsparam_u32("fd", OPT_FD),
	fsparam_u32oct("rootmode", OPT_ROOTMODE),
	fsparam_u32("user_id", OPT_USER_ID),
	fsparam_u32("group_id", OPT_GROUP_ID),
	fsparam_flag("default_permissions", OPT_DEFAULT_PERMISSIONS),
	fsparam_flag("allow_other", OPT_ALLOW_OTHER),
	fsparam_u32("max_read", OPT_MAX_READ),
	fsparam_u32("blksize", OPT_BLKSIZE),
	fsparam_u32("restart_timeout", OPT_RESTART_TIMEOUT),
	{}
};

static int fusex_parse_param(struct fs_context *fsc,
			     struct fs_parameter *param)
{
	struct fusex_fs_context *ctx = fsc->fs_private;
	struct fs_parse_result result;
	int opt;

	if (fsc->purpose == FS_CONTEXT_FOR_RECONFIGURE)
		return invalfc(fsc, "mount options cannot change: %s",
			       param->key);

	opt = fs_parse(fsc, fusex_fs_parameters, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case OPT_FD:
		ctx->fd = result.uint_32;
		ctx->fd_present = true;
		break;
	case OPT_ROOTMODE:
		if (!fusex_valid_type(result.uint_32))
			return invalfc(fsc, "rootmode=%o is no file type",
				       result.uint_32);
		ctx->rootmode = result.uint_32;
		ctx->rootmode_present = true;
		break;
	case OPT_USER_ID:
		ctx->user_id = make_kuid(fsc->user_ns, result.uint_32);
		if (!uid_valid(ctx->user_id))
			return invalfc(fsc, "user_id=%u is not mapped",
				       result.uint_32);
		ctx->user_id_present = true;
		break;
	case OPT_GROUP_ID:
		ctx->group_id = make_kgid(fsc->user_ns, result.uint_32);
		if (!gid_valid(ctx->group_id))
			return invalfc(fsc, "group_id=%u is not mapped",
				       result.uint_32);
		ctx->group_id_present = true;
		break;
	case OPT_DEFAULT_PERMISSIONS:
		ctx->default_permissions = true;
		break;
	case OPT_ALLOW_OTHER:
		ctx->allow_other = true;
		break;
	case OPT_MAX_READ:
		if (!result.uint_32)
			return invalfc(fsc, "max_read=0 is too small");
		ctx->max_read = result.uint_32;
		break;
	case OPT_BLKSIZE:
		if (result.uint_32 < 512 || result.uint_32 > PAGE_SIZE ||
		    !is_power_of_2(result.uint_32))
			return invalfc(fsc, "blksize=%u: need a power of two from 512 to %lu",
				       result.uint_32, PAGE_SIZE);
		ctx->blksize = result.uint_32;
		break;
	case OPT_RESTART_TIMEOUT:
		if (result.uint_32 > FUSEX_MAX_RESTART_TIMEOUT)
			return invalfc(fsc, "restart_timeout=%u: at most %u seconds",
				       result.uint_32,
				       FUSEX_MAX_RESTART_TIMEOUT);
		ctx->restart_timeout = result.uint_32;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static struct inode *fusex_get_root_inode(struct super_block *sb,
					  unsigned int mode)
{
	struct fuse_attr attr = {
		.mode = mode,
		.ino = FUSEX_ROOT_ID,
		.nlink = 1,
	};

	return fusex_iget(sb, FUSEX_ROOT_ID, 0, 0, &attr, 0, 0, NULL);
}

static int fusex_fill_super(struct super_block *sb, struct fs_context *fsc)
{
	struct fusex_fs_context *ctx = fsc->fs_private;
	struct fusex_conn *fc;
	struct inode *root;
	struct file *file;
	int err;

	if (!ctx->fd_present || !ctx->rootmode_present ||
	    !ctx->user_id_present || !ctx->group_id_present)
		return invalfc(fsc, "fd, rootmode, user_id and group_id are required");

	file = fget(ctx->fd);
	if (!file)
		return invalfc(fsc, "fd=%d is not open", ctx->fd);
	err = -EINVAL;
	if (file->f_op != &fusex_dev_operations) {
		errorfc(fsc, "fd=%d is not /dev/" FUSEX_DEVICE_NAME, ctx->fd);
		goto err_fput;
	}
	if (file->f_cred->user_ns != fsc->user_ns) {
		errorfc(fsc, "fd=%d was opened in another user namespace",
			ctx->fd);
		goto err_fput;
	}

	err = -ENOMEM;
	fc = kzalloc(sizeof(*fc), GFP_KERNEL);
	if (!fc)
		goto err_fput;
	fusex_conn_init(fc, fsc->user_ns);
	fc->user_id = ctx->user_id;
	fc->group_id = ctx->group_id;
	fc->default_permissions = ctx->default_permissions;
	fc->allow_other = ctx->allow_other;
	fc->max_read = ctx->max_read ? ctx->max_read : ~0U;
	fc->blksize = ctx->blksize;
	fc->restart_timeout = ctx->restart_timeout;
	fc->sb = sb;
	/* From here on fusex_kill_sb() cleans up. */
	sb->s_fs_info = fc;

	sb->s_magic = FUSE_SUPER_MAGIC;
	sb->s_op = &fusex_super_operations;
	sb->s_xattr = fusex_xattr_handlers;
	sb->s_export_op = &fusex_export_operations;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	if (ctx->blksize) {
		sb->s_blocksize = ctx->blksize;
		sb->s_blocksize_bits = ilog2(ctx->blksize);
	} else {
		sb->s_blocksize = PAGE_SIZE;
		sb->s_blocksize_bits = PAGE_SHIFT;
	}

	err = super_setup_bdi(sb);
	if (err)
		goto err_fput;
	/*
	 * As fuse: dirty pages of one mount stay within 1% of the dirty
	 * threshold, even below the global background limit, so that a
	 * server that is slow or gone cannot hold the machine's (or a
	 * memory cgroup's) memory in pages nobody can write back.  Root can
	 * raise it in /sys/class/bdi/<bdi>/max_ratio.
	 */
	sb->s_bdi->capabilities |= BDI_CAP_STRICTLIMIT;
	err = bdi_set_max_ratio(sb->s_bdi, 1);
	if (err)
		goto err_fput;

	root = fusex_get_root_inode(sb, ctx->rootmode);
	if (IS_ERR(root)) {
		err = PTR_ERR(root);
		goto err_fput;
	}
	sb->s_root = d_make_root(root);
	if (!sb->s_root) {
		err = -ENOMEM;
		goto err_fput;
	}
	/* The root has no parent to revalidate against. */
	sb->s_d_op = &fusex_dentry_operations;

	err = fusex_dev_attach(file, fc);
	if (err) {
		errorfc(fsc, "fd=%d already serves a mount", ctx->fd);
		goto err_fput;
	}
	fput(file);
	return fusex_send_init(fc);

err_fput:
	fput(file);
	return err;
}

static struct file_system_type fusex_fs_type;

/*
 * The connection of the fusex mount @file is on, with a reference, or
 * NULL.  @file pins the mount, so the super block lives while it is held.
 */
struct fusex_conn *fusex_conn_of_file(struct file *file)
{
	struct super_block *sb = file_inode(file)->i_sb;

	if (sb->s_type != &fusex_fs_type || !sb->s_fs_info)
		return NULL;
	return fusex_conn_get(get_fusex_conn_sb(sb));
}

static int fusex_get_tree(struct fs_context *fsc)
{
	return get_tree_nodev(fsc, fusex_fill_super);
}

static void fusex_free_fsc(struct fs_context *fsc)
{
	kfree(fsc->fs_private);
}

static const struct fs_context_operations fusex_context_ops = {
	.free		= fusex_free_fsc,
	.parse_param	= fusex_parse_param,
	.get_tree	= fusex_get_tree,
};

static int fusex_init_fs_context(struct fs_context *fsc)
{
	struct fusex_fs_context *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	fsc->fs_private = ctx;
	fsc->ops = &fusex_context_ops;
	return 0;
}

static struct file_system_type fusex_fs_type = {
	.owner			= THIS_MODULE,
	.name			= FUSEX_FS_TYPE,
	.init_fs_context	= fusex_init_fs_context,
	.parameters		= fusex_fs_parameters,
	.kill_sb		= fusex_kill_sb,
};

static void fusex_inode_init_once(void *foo)
{
	struct fusex_inode *fi = foo;

	inode_init_once(&fi->inode);
	spin_lock_init(&fi->lock);
}

static int __init fusex_init(void)
{
	int err;

	fusex_inode_cachep = kmem_cache_create("fusex_inode",
					       sizeof(struct fusex_inode), 0,
					       SLAB_HWCACHE_ALIGN |
					       SLAB_ACCOUNT |
					       SLAB_RECLAIM_ACCOUNT,
					       fusex_inode_init_once);
	if (!fusex_inode_cachep)
		return -ENOMEM;

	err = fusex_dev_init();
	if (err)
		goto err_inode_cache;

	err = register_filesystem(&fusex_fs_type);
	if (err)
		goto err_dev;

	pr_info("FUSE protocol %u.%u client loaded\n", FUSEX_KERNEL_VERSION,
		FUSEX_KERNEL_MINOR_VERSION);
	return 0;

err_dev:
	fusex_dev_cleanup();
err_inode_cache:
	kmem_cache_destroy(fusex_inode_cachep);
	return err;
}

static void __exit fusex_exit(void)
{
	unregister_filesystem(&fusex_fs_type);
	fusex_dev_cleanup();
	/* Inodes are freed after an RCU grace period. */
	rcu_barrier();
	kmem_cache_destroy(fusex_inode_cachep);
}

module_init(fusex_init);
module_exit(fusex_exit);
