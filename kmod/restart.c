// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: revalidation after a server restart.
 *
 * When a new server attaches to a live mount, fc->epoch moves on and every
 * nodeid and file handle the kernel holds belongs to a dead instance.
 * Nothing is done at once.  A request names the inodes and open files
 * whose ids it carries (struct fusex_bind), and before it is queued
 * fusex_bind_args() brings each of them to the current instance:
 *
 *   - the root keeps nodeid 1: a GETATTR checks it is still a directory;
 *   - an inode with a persistent handle: one FUSE_LOOKUP_HANDLE;
 *   - an inode without one: a LOOKUP of its name in its parent (parents
 *     first, from the topmost one not yet revalidated), which must find
 *     the same type and st_ino;
 *   - an open file or directory: OPEN or OPENDIR again, with the flags
 *     it was opened with (less O_CREAT, O_EXCL and O_TRUNC).
 *
 * An inode the new server says is gone, or that turned out to be another
 * object, becomes stale: requests on it get ESTALE and its dentries are
 * invalid, so a path walk looks the name up again.  A file that cannot be
 * reopened is stale too.  Untouched inodes cost nothing.
 */

#include <linux/slab.h>
#include <linux/dcache.h>
#include <linux/namei.h>
#include <linux/pagemap.h>

#include "fusex_i.h"

/* Is @a an older instance than @b?  Epochs wrap. */
static bool fusex_epoch_before(u32 a, u32 b)
{
	return (s32)(a - b) < 0;
}

static bool fusex_inode_current(struct fusex_conn *fc, struct inode *inode)
{
	return fusex_inode_epoch(inode) == READ_ONCE(fc->epoch);
}

void fusex_make_stale(struct inode *inode)
{
	if (!test_and_set_bit(FUSEX_I_STALE, &get_fusex_inode(inode)->state))
		atomic64_inc(&get_fusex_conn(inode)->stale);

}

/**
 * fusex_count_lookup - account a lookup the server counted for @inode
 * @inode: the inode
 * @epoch: the instance that counted it
 *
 * Return: false if @inode has moved on to a newer instance meanwhile
 * (the lookup was the dead instance's and is not kept).
 */
bool fusex_count_lookup(struct inode *inode, u32 epoch)
{
	struct fusex_inode *fi = get_fusex_inode(inode);
	bool ok;

	spin_lock(&fi->lock);
	ok = fi->epoch == epoch;
	if (ok)
		fi->nlookup++;
	spin_unlock(&fi->lock);
	return ok;
}

/* The new server counted a lookup the kernel will not keep. */
static void fusex_forget_one(struct fusex_conn *fc, u64 nodeid, u32 epoch)
{
	struct fusex_forget *forget;

	if (!nodeid)
		return;
	forget = fusex_alloc_forget();
	if (forget)
		fusex_queue_forget(fc, forget, nodeid, 1, epoch);
}

/*
 * Give @inode the nodeid it has on instance @epoch.  @counted: the server
 * counted a lookup for it.  False if it already has another nodeid of that
 * instance or of a newer one (a concurrent revalidation won).
 */
static bool fusex_set_nodeid(struct inode *inode, u64 nodeid, u32 epoch,
			     bool counted)
{
	struct fusex_inode *fi = get_fusex_inode(inode);
	bool rehash, ret = true;

	spin_lock(&fi->lock);
	if (fi->epoch == epoch || fusex_epoch_before(epoch, fi->epoch)) {
		ret = fi->epoch == epoch && fi->nodeid == nodeid;
		if (ret && counted)
			fi->nlookup++;
		spin_unlock(&fi->lock);
		return ret;
	}
	rehash = fi->nodeid != nodeid;
	WRITE_ONCE(fi->nodeid, nodeid);
	fi->nlookup = counted ? 1 : 0;
	/* Pairs with smp_load_acquire() in fusex_inode_epoch(). */
	smp_store_release(&fi->epoch, epoch);
	spin_unlock(&fi->lock);

	/*
	 * Inodes are hashed by nodeid: notifications and lookups find it.
	 * A newer revalidation racing this one rehashes after it; if it
	 * went first, hash again by the nodeid that won.
	 */
	while (rehash) {
		remove_inode_hash(inode);
		__insert_inode_hash(inode, nodeid);
		spin_lock(&fi->lock);
		rehash = fi->nodeid != nodeid;
		nodeid = fi->nodeid;
		spin_unlock(&fi->lock);
	}
	return ret;
}

/*
 * Take the attributes a revalidation brought.  The object may have been
 * written while no server ran: a new size or mtime drops cached pages
 * before the next read (not here: revalidation may run from writeback,
 * under pages it would wait for), unless they are the kernel's own
 * (writeback cache).
 */
static void fusex_reval_attributes(struct inode *inode, struct fuse_attr *attr,
				   u64 attr_valid, u64 attr_version)
{
	__fusex_change_attributes(inode, attr, attr_valid, attr_version, true);
}

/**
 * fusex_adopt - make @inode the object an entry of a new instance names
 * @inode: an inode of an older instance, known to be that object
 * @out: the entry; the server counted a lookup for it
 * @epoch: the instance that sent it
 * @attr_version: read before the request was sent
 *
 * Return: 0.
 */
int fusex_adopt(struct inode *inode, struct fuse_entry_out *out, u32 epoch,
		u64 attr_version)
{
	if (!fusex_set_nodeid(inode, out->nodeid, epoch, true)) {
		fusex_forget_one(get_fusex_conn(inode), out->nodeid, epoch);
		return 0;
	}
	fusex_reval_attributes(inode, &out->attr,
			       fusex_time_to_jiffies(out->attr_valid,
						     out->attr_valid_nsec),
			       attr_version);
	return 0;
}

/**
 * fusex_try_adopt - revalidate @inode with an entry found by its name
 * @inode: the inode a cached dentry points to
 * @out: what LOOKUP or READDIRPLUS returned for that name
 * @h: the entry's handle, or NULL
 * @epoch: the instance that sent it
 * @attr_version: read before the request was sent
 *
 * A lookup by name after a restart revalidates for free an inode that is
 * the same object: same type, and the same handle (or, without handles,
 * the same st_ino).  On true the entry's lookup is the inode's.
 */
bool fusex_try_adopt(struct inode *inode, struct fuse_entry_out *out,
		     const struct fusex_handle *h, u32 epoch,
		     u64 attr_version)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	if (fusex_inode_epoch(inode) == epoch || fusex_is_stale(inode) ||
	    fusex_is_bad(inode) || inode_wrong_type(inode, out->attr.mode))
		return false;
	/* Pairs with the release in fusex_set_handle(). */
	if (smp_load_acquire(&fi->fh_size)) {
		if (!h || !fusex_same_handle(inode, h))
			return false;
	} else if (out->attr.ino != fi->orig_ino) {
		return false;
	}
	atomic64_inc(&get_fusex_conn(inode)->reval_name);
	fusex_adopt(inode, out, epoch, attr_version);
	return true;
}

/* The root keeps FUSE_ROOT_ID on every instance: check it, take its attrs. */
static int fusex_reval_root(struct inode *inode)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_getattr_in in = {};
	struct fuse_attr_out out = {};
	struct fusex_args args = {};
	u64 attr_version;
	int err;

	attr_version = fusex_get_attr_version(fc);
	args.opcode = FUSE_GETATTR;
	args.nodeid = FUSEX_ROOT_ID;
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(out);
	args.out_args[0].value = &out;
	err = fusex_simple_request(fc, &args);
	if (err)
		return err;
	if (!S_ISDIR(out.attr.mode) || fusex_invalid_attr(&out.attr)) {
		fusex_bad_reply("restarted server's root has mode %o\n",
				out.attr.mode);
		return -EIO;
	}
	if (fusex_set_nodeid(inode, FUSEX_ROOT_ID, args.epoch, false))
		fusex_reval_attributes(inode, &out.attr,
				       fusex_time_to_jiffies(out.attr_valid,
							     out.attr_valid_nsec),
				       attr_version);
	return 0;
}

/* Revalidate @dentry's inode by its name; its parent is current. */
static int fusex_reval_dentry(struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	struct fusex_inode *fi = get_fusex_inode(inode);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_handle_buf *hb = NULL;
	struct fuse_entry_out out;
	struct fusex_args args = {};
	struct name_snapshot name;
	struct dentry *parent;
	u64 attr_version;
	int err;

	if (fc->lookup_handle) {
		hb = kmalloc(sizeof(*hb), GFP_KERNEL);
		if (!hb)
			return -ENOMEM;
	}
	parent = dget_parent(dentry);
	take_dentry_name_snapshot(&name, dentry);
	attr_version = fusex_get_attr_version(fc);
	fusex_lookup_init(&args, 0, &name.name, &out);
	fusex_args_inode(&args, d_inode(parent));
	fusex_entry_handle_arg(fc, &args, hb);
	err = fusex_simple_request(fc, &args);
	release_dentry_name_snapshot(&name);
	dput(parent);
	kfree(hb);
	if (err > 0)
		err = 0;
	if (err == -ENOENT || err == -ESTALE || (!err && !out.nodeid)) {
		fusex_make_stale(inode);
		return -ESTALE;
	}
	if (err)
		return err;
	if (fusex_invalid_attr(&out.attr) ||
	    inode_wrong_type(inode, out.attr.mode) ||
	    out.attr.ino != fi->orig_ino) {
		/* Another object has the name now. */
		fusex_forget_one(fc, out.nodeid, args.epoch);
		fusex_make_stale(inode);
		return -ESTALE;
	}
	atomic64_inc(&fc->reval_name);
	return fusex_adopt(inode, &out, args.epoch, attr_version);
}

/*
 * An inode without a handle is found again by name, parents first: each
 * pass revalidates the topmost ancestor that is not current, so that the
 * LOOKUP it sends is bound to a current parent and does not recurse.
 */
static int fusex_reval_by_name(struct inode *inode)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct super_block *sb = inode->i_sb;
	struct dentry *dentry, *d, *parent;
	int err;

	for (;;) {
		if (fusex_is_stale(inode))
			return -ESTALE;
		if (fusex_inode_current(fc, inode))
			return 0;
		if (fatal_signal_pending(current))
			return -EINTR;
		dentry = d_find_alias(inode);
		if (!dentry) {
			/* Unlinked, or never had a name: nothing to look up. */
			fusex_make_stale(inode);
			return -ESTALE;
		}
		d = dentry;
		for (;;) {
			parent = dget_parent(d);
			if (parent == d ||
			    fusex_inode_current(fc, d_inode(parent))) {
				dput(parent);
				break;
			}
			dput(d);
			d = parent;
		}
		if (d == sb->s_root) {
			err = fusex_reval_root(d_inode(d));
		} else if (IS_ROOT(d) || d_inode(d) != inode) {
			/*
			 * An ancestor goes its own way (by handle if it has
			 * one); a disconnected dentry has no name to look up.
			 */
			err = IS_ROOT(d) && !smp_load_acquire(
				&get_fusex_inode(d_inode(d))->fh_size) ?
			      -ESTALE : fusex_revalidate(d_inode(d));
			if (err == -ESTALE)
				fusex_make_stale(d_inode(d));
		} else {
			err = fusex_reval_dentry(d);
		}
		dput(d);
		if (err)
			return err;
	}
}

/**
 * fusex_revalidate - bring @inode to the current server instance
 * @inode: an inode whose nodeid is an older instance's
 *
 * Return: 0, -ESTALE if the object is gone or is another one now, or the
 * error of the request that failed.
 */
int fusex_revalidate(struct inode *inode)
{
	if (fusex_is_stale(inode))
		return -ESTALE;
	if (fusex_is_bad(inode))
		return -EIO;
	if (inode == d_inode(inode->i_sb->s_root))
		return fusex_reval_root(inode);
	/* Pairs with the release in fusex_set_handle(). */
	if (smp_load_acquire(&get_fusex_inode(inode)->fh_size))
		return fusex_reval_by_handle(inode);
	return fusex_reval_by_name(inode);
}

/* Open @ff again on the current instance, with the flags it was opened with. */
static int fusex_reopen(struct fusex_conn *fc, struct fusex_file *ff)
{
	struct fuse_open_in in = {};
	struct fuse_open_out out = {};
	struct fusex_args args = {};
	int err = 0;

	mutex_lock(&ff->reopen_lock);
	if (fusex_file_epoch(ff) == READ_ONCE(fc->epoch))
		goto out;
	err = -ESTALE;
	if (ff->stale)
		goto out;
	if (ff->isdir ? READ_ONCE(fc->no_opendir) : READ_ONCE(fc->no_open)) {
		/* The server keeps no open state: nothing to reopen. */
		fusex_args_inode(&args, ff->inode);
		err = fusex_bind_args(fc, &args, true);
		if (err)
			goto out;
		/* Pairs with smp_load_acquire() in fusex_file_epoch(). */
		smp_store_release(&ff->epoch, args.epoch);
		goto out;
	}

	/* Never truncate or create again what was opened before. */
	in.flags = ff->flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
	args.opcode = ff->isdir ? FUSE_OPENDIR : FUSE_OPEN;
	fusex_args_inode(&args, ff->inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(out);
	args.out_args[0].value = &out;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOENT || err == -ESTALE) {
		WRITE_ONCE(ff->stale, true);
		err = -ESTALE;
	}
	if (err)
		goto out;
	WRITE_ONCE(ff->fh, out.fh);
	WRITE_ONCE(ff->nodeid, args.nodeid);
	/* Locks died with the old server; the new one cannot know them. */
	if (READ_ONCE(ff->locked) || ff->flock) {
		ff->locks_lost = true;
		WRITE_ONCE(ff->locked, false);
	}
	/* Pairs with smp_load_acquire() in fusex_file_epoch(). */
	smp_store_release(&ff->epoch, args.epoch);
	atomic64_inc(&fc->reopens);
out:
	mutex_unlock(&ff->reopen_lock);
	return err;
}

/**
 * fusex_bind_args - fill in the server's ids a request carries
 * @fc: the connection
 * @args: the request, with args->bind naming the owners of its ids
 * @may_sleep: revalidate and reopen as needed; else fail with -ESTALE
 *
 * Sets @args->epoch to the instance the ids belong to.
 *
 * Return: 0; 1 if the request is to be dropped (@args->drop_stale and its
 * file is a dead instance's); -ESTALE for a stale inode or file; or the
 * error of a revalidation.
 */
int fusex_bind_args(struct fusex_conn *fc, struct fusex_args *args,
		    bool may_sleep)
{
	struct fusex_bind *b = &args->bind;
	unsigned int i;
	u32 epoch;
	int err;

again:
	epoch = READ_ONCE(fc->epoch);
	/*
	 * Dropped, not revalidated for, when its file is a dead server's,
	 * or will be: with no server attached, the next one is a new
	 * instance.  (A process exiting during a restart must not wait for
	 * it to close its files.)
	 */
	if (args->drop_stale) {
		if (fusex_conn_detached(fc))
			return 1;
		for (i = 0; i < ARRAY_SIZE(b->file) && b->file[i]; i++)
			if (fusex_file_epoch(b->file[i]) != epoch)
				return 1;
	}
	for (i = 0; i < ARRAY_SIZE(b->inode) && b->inode[i]; i++) {
		struct inode *inode = b->inode[i];
		struct fusex_inode *fi = get_fusex_inode(inode);

		if (fusex_is_stale(inode))
			return -ESTALE;
		if (fusex_inode_epoch(inode) != epoch) {
			if (!may_sleep)
				return -ESTALE;
			if (fatal_signal_pending(current))
				return -EINTR;
			err = fusex_revalidate(inode);
			if (err)
				return err;
			goto again;
		}
		*b->nodeid[i] = READ_ONCE(fi->nodeid);
	}
	for (i = 0; i < ARRAY_SIZE(b->file) && b->file[i]; i++) {
		struct fusex_file *ff = b->file[i];

		if (READ_ONCE(ff->stale))
			return -ESTALE;
		if (fusex_file_epoch(ff) != epoch) {
			if (!may_sleep)
				return -ESTALE;
			if (fatal_signal_pending(current))
				return -EINTR;
			err = fusex_reopen(fc, ff);
			if (err)
				return err;
			goto again;
		}
		*b->fh[i] = READ_ONCE(ff->fh);
	}
	args->epoch = epoch;
	return 0;
}

/**
 * fusex_file_current - revalidate an open file's inode and reopen it
 * @file: an open file of the mount
 *
 * For paths that may answer from the cache (reads and writes through the
 * page cache): after a restart they first make sure the object still
 * exists and the file is open on the new server.
 *
 * Return: 0, -ESTALE, or the error of revalidating or reopening.
 */
int fusex_file_current(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_args args = {};
	u64 fh;

	fusex_args_inode(&args, inode);
	fusex_args_file(&args, file->private_data, &fh);
	return fusex_bind_args(fc, &args, true);
}

/**
 * fusex_lock_check - before a lock operation the server keeps
 * @file: the file locked through
 *
 * The file is reopened first if a new server has taken over.  If it held
 * locks on the old server, they are gone: this lock operation fails with
 * ENOLCK, once, so that the process learns it (Documentation/restart.rst).
 *
 * Return: 0, -ENOLCK, or the error of reopening the file.
 */
int fusex_lock_check(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	bool lost;
	int err;

	err = fusex_file_current(file);
	if (err)
		return err;
	mutex_lock(&ff->reopen_lock);
	lost = ff->locks_lost;
	ff->locks_lost = false;
	mutex_unlock(&ff->reopen_lock);
	if (!lost)
		return 0;
	atomic64_inc(&fc->locks_lost);
	pr_info_ratelimited("locks held through a file of inode %lu were lost with their server\n",
			    inode->i_ino);
	return -ENOLCK;
}

static long fusex_ioctl_status(struct fusex_conn *fc,
			       struct fusex_status __user *argp)
{
	struct fusex_status st = {};

	spin_lock(&fc->lock);
	if (fc->detached)
		st.flags |= FUSEX_STATUS_DETACHED;
	if (!fc->connected)
		st.flags |= FUSEX_STATUS_ABORTED;
	st.epoch = fc->epoch;
	st.attaches = fc->attaches;
	st.restarts = fc->restarts;
	st.instance_id = fc->instance_id;
	st.down_ns = fc->down_ns;
	st.startup_ns = fc->startup_ns;
	spin_unlock(&fc->lock);
	if (fc->restart_timeout)
		st.flags |= FUSEX_STATUS_RESTARTABLE;
	st.resent = atomic64_read(&fc->resent);
	st.reval_handle = atomic64_read(&fc->reval_handle);
	st.reval_name = atomic64_read(&fc->reval_name);
	st.reopens = atomic64_read(&fc->reopens);
	st.stale = atomic64_read(&fc->stale);
	st.locks_lost = atomic64_read(&fc->locks_lost);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

/* ioctls on files of the mount: answered by the kernel, not the server. */
long fusex_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct fusex_conn *fc = get_fusex_conn(file_inode(file));

	switch (cmd) {
	case FUSEX_IOC_STATUS:
		return fusex_ioctl_status(fc, (void __user *)arg);
	default:
		return -ENOTTY;
	}
}
