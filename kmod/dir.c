// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: lookup, dentry revalidation, attributes, permissions, symlinks.
 */

#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/xattr.h>
#include <linux/iversion.h>
#include <linux/pagemap.h>

#include "fusex_i.h"

static inline void fusex_dentry_settime(struct dentry *entry, u64 time)
{
	entry->d_fsdata = (void *)(unsigned long)time;
}

static inline u64 fusex_dentry_time(const struct dentry *entry)
{
	return (u64)(unsigned long)entry->d_fsdata;
}

void fusex_change_entry_timeout(struct dentry *entry, struct fuse_entry_out *o)
{
	fusex_dentry_settime(entry, fusex_time_to_jiffies(o->entry_valid,
							  o->entry_valid_nsec));
}

/* Make the next use of @entry ask the server again. */
void fusex_invalidate_entry_cache(struct dentry *entry)
{
	fusex_dentry_settime(entry, 0);
}

static u64 fusex_attr_timeout(struct fuse_entry_out *o)
{
	return fusex_time_to_jiffies(o->attr_valid, o->attr_valid_nsec);
}

void fusex_lookup_init(struct fusex_args *args, u64 nodeid,
		       const struct qstr *name,
		       struct fuse_entry_out *outarg)
{
	memset(outarg, 0, sizeof(*outarg));
	args->opcode = FUSE_LOOKUP;
	args->nodeid = nodeid;
	args->in_numargs = 1;
	args->in_args[0].size = name->len + 1;
	args->in_args[0].value = (void *)name->name;
	args->out_numargs = 1;
	args->out_args[0].size = sizeof(*outarg);
	args->out_args[0].value = outarg;
}

/**
 * fusex_check_entry - check an entry the server says it found
 * @fc: the connection
 * @dir: the directory it was looked up in
 * @outarg: the entry
 * @name: its name
 *
 * Return: 0, or -EIO (logged) if the entry cannot be right.
 */
int fusex_check_entry(struct fusex_conn *fc, struct inode *dir,
		      struct fuse_entry_out *outarg, const struct qstr *name)
{
	if (fusex_invalid_attr(&outarg->attr)) {
		fusex_bad_reply("entry '%.*s' in nodeid %llu: impossible mode %o or size %llu\n",
				name->len, name->name, get_node_id(dir),
				outarg->attr.mode, outarg->attr.size);
		return -EIO;
	}
	if (outarg->nodeid == FUSEX_ROOT_ID &&
	    !(name->len == 2 && !memcmp(name->name, "..", 2))) {
		fusex_bad_reply("entry '%.*s' in nodeid %llu: is the root\n",
				name->len, name->name, get_node_id(dir));
		return -EIO;
	}
	return 0;
}

/*
 * Room for the handle an entry reply carries, or NULL when replies carry
 * none.  Which it is, INIT says: a request built before INIT is answered
 * (the first one on a new mount) must wait for it, or it would expect a
 * reply of the wrong size.  Returns 0, -EINTR (killed) or -ENOMEM.
 */
static int fusex_handle_buf_alloc(struct fusex_conn *fc,
				  struct fusex_handle_buf **hb)
{
	*hb = NULL;
	if (wait_event_killable(fc->blocked_waitq, READ_ONCE(fc->initialized)))
		return -EINTR;
	/* Pairs with smp_wmb() in fusex_set_initialized(). */
	smp_rmb();
	if (!fc->lookup_handle)
		return 0;
	*hb = kmalloc(sizeof(**hb), GFP_KERNEL);
	return *hb ? 0 : -ENOMEM;
}

/*
 * Send the LOOKUP fusex_lookup_init() put in @args: under @dir's handle
 * when @dir is an older server instance's (fusex_lookup_under_handle();
 * ESTALE then means @dir is gone), else bound to @dir.  Returns what
 * fusex_simple_request() does.
 */
static int fusex_send_lookup(struct fusex_conn *fc, struct fusex_args *args,
			     struct inode *dir, const struct qstr *name,
			     struct fusex_handle_buf *hb)
{
	struct fusex_lh_name *ln;
	int err;

	ln = fusex_lookup_under_handle(fc, args, dir, name);
	if (IS_ERR(ln))
		return PTR_ERR(ln);
	if (!ln)
		fusex_args_inode(args, dir);
	fusex_entry_handle_arg(fc, args, hb);
	err = fusex_simple_request(fc, args);
	if (ln && err == -ESTALE)
		fusex_make_stale(dir);
	kfree(ln);
	return err;
}

/**
 * fusex_lookup_name - ask the server for a name in a directory
 * @sb: the super block
 * @dir: the directory
 * @name: the name
 * @outarg: the server's entry
 * @inode: the inode found, with a reference, or NULL for a negative entry
 *
 * Return: 0 with *@inode set (NULL if the server returned nodeid 0, a
 * negative entry to cache), or a negative errno (-ENOENT included).
 */
int fusex_lookup_name(struct super_block *sb, struct inode *dir,
		      const struct qstr *name, struct fuse_entry_out *outarg,
		      struct inode **inode)
{
	struct fusex_conn *fc = get_fusex_conn_sb(sb);
	const struct fusex_handle *fh = NULL;
	struct fusex_handle_buf *hb = NULL;
	struct fusex_forget *forget;
	struct fusex_args args = {};
	u64 attr_version;
	int err;

	*inode = NULL;
	if (name->len > FUSEX_NAME_MAX)
		return -ENAMETOOLONG;

	forget = fusex_alloc_forget();
	if (!forget)
		return -ENOMEM;
	err = fusex_handle_buf_alloc(fc, &hb);
	if (err)
		goto out_free;

	attr_version = fusex_get_attr_version(fc);
	fusex_lookup_init(&args, 0, name, outarg);
	err = fusex_send_lookup(fc, &args, dir, name, hb);
	if (err > 0)
		err = 0;
	if (err || !outarg->nodeid)
		goto out_free;

	err = fusex_check_entry(fc, d_inode(sb->s_root), outarg, name);
	if (!err) {
		fh = fusex_entry_handle(fc, &args, hb, outarg->nodeid);
		err = PTR_ERR_OR_ZERO(fh);
	}
	if (!err) {
		*inode = fusex_iget(sb, outarg->nodeid, args.epoch,
				    outarg->generation, &outarg->attr,
				    fusex_attr_timeout(outarg), attr_version,
				    fh);
		if (!IS_ERR(*inode))
			goto out_free;
		err = PTR_ERR(*inode);
		*inode = NULL;
	}
	/* The server counted a lookup we will not use. */
	fusex_queue_forget(fc, forget, outarg->nodeid, 1, args.epoch);
	kfree(hb);
	return err;

out_free:
	kfree(forget);
	kfree(hb);
	return err;
}

static struct dentry *fusex_lookup(struct inode *dir, struct dentry *entry,
				   unsigned int flags)
{
	struct fuse_entry_out outarg;
	bool outarg_valid = true;
	struct dentry *newent;
	struct inode *inode;
	int err;

	if (fusex_is_bad(dir))
		return ERR_PTR(-EIO);

	err = fusex_lookup_name(dir->i_sb, dir, &entry->d_name,
				&outarg, &inode);
	if (err == -ENOENT) {
		outarg_valid = false;
		err = 0;
	}
	if (err)
		return ERR_PTR(err);

	newent = d_splice_alias(inode, entry);
	if (IS_ERR(newent))
		return newent;

	entry = newent ? newent : entry;
	if (outarg_valid)
		fusex_change_entry_timeout(entry, &outarg);
	else
		fusex_invalidate_entry_cache(entry);
	if (inode)
		set_bit(FUSEX_I_ADVISE_RDPLUS, &get_fusex_inode(dir)->state);
	return newent;
}

/*
 * A dentry is good until its entry timeout; after that the name is looked
 * up again, and the dentry stays only if it still names the same nodeid.
 */
static int fusex_dentry_revalidate(struct dentry *entry, unsigned int flags)
{
	const struct fusex_handle *fh;
	struct fusex_handle_buf *hb = NULL;
	struct fuse_entry_out outarg;
	struct fusex_args args = {};
	struct fusex_forget *forget;
	struct fusex_inode *fi;
	struct fusex_conn *fc;
	struct dentry *parent;
	struct inode *inode;
	u64 attr_version;
	int ret;

	inode = d_inode_rcu(entry);
	if (inode && (fusex_is_bad(inode) || fusex_is_stale(inode)))
		return 0;
	/*
	 * A name cached from a server that has died since is looked up
	 * again on the new one; the lookup revalidates the inode with it.
	 */
	if (!time_before64(fusex_dentry_time(entry), get_jiffies_64()) &&
	    !(flags & (LOOKUP_EXCL | LOOKUP_REVAL | LOOKUP_RENAME_TARGET)) &&
	    (!inode || fusex_inode_epoch(inode) ==
		       READ_ONCE(get_fusex_conn_sb(entry->d_sb)->epoch))) {
		/*
		 * Someone walks what READDIRPLUS brought in (ls -l, find):
		 * the next READDIR of the directory had better be PLUS too.
		 */
		if (inode && test_bit(FUSEX_I_INIT_RDPLUS,
				      &get_fusex_inode(inode)->state)) {
			if (flags & LOOKUP_RCU)
				return -ECHILD;
			if (test_and_clear_bit(FUSEX_I_INIT_RDPLUS,
					       &get_fusex_inode(inode)->state)) {
				parent = dget_parent(entry);
				set_bit(FUSEX_I_ADVISE_RDPLUS,
					&get_fusex_inode(d_inode(parent))->state);
				dput(parent);
			}
		}
		return 1;
	}
	if (!inode)
		return 0;
	if (flags & LOOKUP_RCU)
		return -ECHILD;

	fc = get_fusex_conn(inode);
	fi = get_fusex_inode(inode);
	forget = fusex_alloc_forget();
	if (!forget)
		return -ENOMEM;
	ret = fusex_handle_buf_alloc(fc, &hb);
	if (ret) {
		kfree(forget);
		return ret;
	}

	attr_version = fusex_get_attr_version(fc);
	parent = dget_parent(entry);
	fusex_lookup_init(&args, 0, &entry->d_name, &outarg);
	ret = fusex_send_lookup(fc, &args, d_inode(parent), &entry->d_name,
				hb);
	dput(parent);
	if (ret > 0)
		ret = 0;

	if (!ret && !outarg.nodeid)
		ret = -ENOENT;
	if (ret) {
		kfree(forget);
		kfree(hb);
		if (ret == -ENOMEM || ret == -EINTR)
			return ret;
		return 0;
	}
	fh = fusex_entry_handle(fc, &args, hb, outarg.nodeid);
	if (!IS_ERR(fh) && !fusex_invalid_attr(&outarg.attr) &&
	    fusex_try_adopt(inode, &outarg, fh, args.epoch, attr_version)) {
		/* The same object on a restarted server: it is current now. */
		kfree(forget);
		kfree(hb);
		fusex_change_entry_timeout(entry, &outarg);
		return 1;
	}
	if (IS_ERR(fh) || outarg.nodeid != get_node_id(inode) ||
	    fusex_inode_epoch(inode) != args.epoch ||
	    fusex_invalid_attr(&outarg.attr) ||
	    inode_wrong_type(inode, outarg.attr.mode)) {
		/* Another object has the name now. */
		fusex_queue_forget(fc, forget, outarg.nodeid, 1, args.epoch);
		kfree(hb);
		return 0;
	}
	kfree(forget);
	/* Same nodeid: it must be the same object. */
	ret = fh ? fusex_set_handle(inode, fh) : 0;
	kfree(hb);

	fusex_count_lookup(inode, args.epoch);
	if (ret)
		return ret;
	fusex_change_attributes(inode, &outarg.attr, fusex_attr_timeout(&outarg),
				attr_version);
	fusex_change_entry_timeout(entry, &outarg);
	return 1;
}

/*
 * An expired dentry stays in the dcache, as on fuse: its next use asks the
 * server again, and the inode (with the server's lookup count) is kept
 * rather than forgotten and looked up anew every time.
 */
const struct dentry_operations fusex_dentry_operations = {
	.d_revalidate	= fusex_dentry_revalidate,
};

static int fusex_do_getattr(struct inode *inode, struct file *file)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_getattr_in inarg = {};
	struct fuse_attr_out outarg = {};
	struct fusex_args args = {};
	u64 attr_version;
	int err;

	attr_version = fusex_get_attr_version(fc);
	if (file && S_ISREG(inode->i_mode)) {
		struct fusex_file *ff = file->private_data;

		inarg.getattr_flags |= FUSE_GETATTR_FH;
		fusex_args_file(&args, ff, &inarg.fh);
	}
	args.opcode = FUSE_GETATTR;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err)
		return err;

	if (fusex_invalid_attr(&outarg.attr) ||
	    inode_wrong_type(inode, outarg.attr.mode)) {
		fusex_bad_reply("GETATTR of nodeid %llu: mode %o for a %o inode\n",
				get_node_id(inode), outarg.attr.mode,
				inode->i_mode & S_IFMT);
		fusex_make_bad(inode);
		return -EIO;
	}
	fusex_change_attributes(inode, &outarg.attr,
				fusex_time_to_jiffies(outarg.attr_valid,
						      outarg.attr_valid_nsec),
				attr_version);
	return 0;
}

static bool fusex_attr_expired(struct inode *inode)
{
	return time_before64(READ_ONCE(get_fusex_inode(inode)->i_time),
			     get_jiffies_64());
}

/* Refresh the attributes if they have expired. */
int fusex_update_attributes(struct inode *inode, struct file *file, u32 mask)
{
	struct fusex_conn *fc = get_fusex_conn(inode);

	if (fusex_is_bad(inode))
		return -EIO;
	/* After a restart nothing cached is trusted before revalidation. */
	if (fusex_inode_epoch(inode) != READ_ONCE(fc->epoch)) {
		int err = fusex_revalidate(inode);

		if (err)
			return err;
	}
	if (fusex_attr_expired(inode))
		return fusex_do_getattr(inode, file);
	return 0;
}

static int fusex_getattr(fusex_idmap_t *idmap, const struct path *path,
			 struct kstat *stat, u32 request_mask,
			 unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct fusex_conn *fc = get_fusex_conn(inode);
	int err = 0;

	if (fusex_is_bad(inode))
		return -EIO;
	if (!fusex_allow_current_process(fc))
		return -EACCES;

	/*
	 * With the writeback cache, the server's mtime moves when cached
	 * writes reach it: write them first, and wait for those on their
	 * way.
	 */
	if (fc->writeback_cache && S_ISREG(inode->i_mode) &&
	    !(flags & AT_STATX_DONT_SYNC) &&
	    (mapping_tagged(inode->i_mapping, PAGECACHE_TAG_DIRTY) ||
	     mapping_tagged(inode->i_mapping, PAGECACHE_TAG_WRITEBACK))) {
		err = filemap_write_and_wait(inode->i_mapping);
		if (err)
			return err;
		flags |= AT_STATX_FORCE_SYNC;
	}
	if (flags & AT_STATX_FORCE_SYNC)
		err = fusex_do_getattr(inode, NULL);
	else if (!(flags & AT_STATX_DONT_SYNC))
		err = fusex_update_attributes(inode, NULL, request_mask);
	if (err)
		return err;

	fusex_fillattr(idmap, request_mask, inode, stat);
	stat->ino = get_fusex_inode(inode)->orig_ino;
	return 0;
}

static int fusex_access(struct inode *inode, int mask)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_access_in inarg = {};
	struct fusex_args args = {};
	int err;

	if (READ_ONCE(fc->no_access))
		return 0;

	inarg.mask = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
	args.opcode = FUSE_ACCESS;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_access, true);
		err = 0;
	}
	return err;
}

/*
 * With default_permissions the kernel checks the mode bits, as any local
 * filesystem does.  Without, the server decides: access(2) and chdir(2)
 * ask it with FUSE_ACCESS, and everything else is left to the operation
 * itself, except that a regular file needs an execute bit to be run.
 */
static int fusex_permission(fusex_idmap_t *idmap, struct inode *inode,
			    int mask)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	bool refreshed = false;
	int err = 0;

	if (fusex_is_bad(inode))
		return -EIO;
	if (!fusex_allow_current_process(fc))
		return -EACCES;

	if ((fc->default_permissions ||
	     ((mask & MAY_EXEC) && S_ISREG(inode->i_mode))) &&
	    fusex_attr_expired(inode)) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		refreshed = true;
		err = fusex_do_getattr(inode, NULL);
		if (err)
			return err;
	}

	if (fc->default_permissions) {
		err = generic_permission(idmap, inode, mask);
		/* The attributes may be old; the root's are at first. */
		if (err == -EACCES && !refreshed) {
			if (mask & MAY_NOT_BLOCK)
				return -ECHILD;
			err = fusex_do_getattr(inode, NULL);
			if (!err)
				err = generic_permission(idmap, inode, mask);
		}
	} else if (mask & (MAY_ACCESS | MAY_CHDIR)) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		err = fusex_access(inode, mask);
	} else if ((mask & MAY_EXEC) && S_ISREG(inode->i_mode) &&
		   !(inode->i_mode & 0111)) {
		if (refreshed)
			return -EACCES;
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		err = fusex_do_getattr(inode, NULL);
		if (!err && !(inode->i_mode & 0111))
			err = -EACCES;
	}
	return err;
}

static void fusex_iattr_to_fattr(struct fusex_conn *fc, struct iattr *iattr,
				 struct fuse_setattr_in *arg)
{
	unsigned int ivalid = iattr->ia_valid;

	if (ivalid & ATTR_MODE) {
		arg->valid |= FATTR_MODE;
		arg->mode = iattr->ia_mode;
	}
	if (ivalid & ATTR_UID) {
		arg->valid |= FATTR_UID;
		arg->uid = from_kuid(fc->user_ns, iattr->ia_uid);
	}
	if (ivalid & ATTR_GID) {
		arg->valid |= FATTR_GID;
		arg->gid = from_kgid(fc->user_ns, iattr->ia_gid);
	}
	if (ivalid & ATTR_SIZE) {
		arg->valid |= FATTR_SIZE;
		arg->size = iattr->ia_size;
	}
	if (ivalid & ATTR_ATIME) {
		arg->valid |= FATTR_ATIME;
		arg->atime = iattr->ia_atime.tv_sec;
		arg->atimensec = iattr->ia_atime.tv_nsec;
		/* UTIME_NOW: the server's clock decides. */
		if (!(ivalid & ATTR_ATIME_SET))
			arg->valid |= FATTR_ATIME_NOW;
	}
	if (ivalid & ATTR_MTIME) {
		arg->valid |= FATTR_MTIME;
		arg->mtime = iattr->ia_mtime.tv_sec;
		arg->mtimensec = iattr->ia_mtime.tv_nsec;
		if (!(ivalid & ATTR_MTIME_SET))
			arg->valid |= FATTR_MTIME_NOW;
	}
}

/*
 * SETATTR: mode, owner, size, times; through an open file when there is
 * one (ftruncate, futimens), so the server can use its handle.
 */
static int fusex_setattr(fusex_idmap_t *idmap, struct dentry *entry,
			 struct iattr *attr)
{
	struct inode *inode = d_inode(entry);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_setattr_in inarg = {};
	struct fuse_attr_out outarg = {};
	struct fusex_args args = {};
	struct file *file = NULL;
	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	if (!fusex_allow_current_process(fc))
		return -EACCES;

	/* Without default_permissions the server checks. */
	if (!fc->default_permissions)
		attr->ia_valid |= ATTR_FORCE;
	err = setattr_prepare(idmap, entry, attr);
	if (err)
		return err;

	if (attr->ia_valid & ATTR_FILE)
		file = attr->ia_file;
	if (attr->ia_valid & ATTR_OPEN) {
		/* open(O_TRUNC): with atomic_o_trunc OPEN truncated. */
		if (fc->atomic_o_trunc) {
			i_size_write(inode, 0);
			truncate_pagecache(inode, 0);
			fusex_invalidate_attr(inode);
			return 0;
		}
		file = NULL;
	}

	fusex_iattr_to_fattr(fc, attr, &inarg);
	if (file && S_ISREG(inode->i_mode)) {
		struct fusex_file *ff = file->private_data;

		inarg.valid |= FATTR_FH;
		fusex_args_file(&args, ff, &inarg.fh);
	}
	if (attr->ia_valid & ATTR_SIZE) {
		inarg.valid |= FATTR_LOCKOWNER;
		inarg.lock_owner = fusex_lock_owner_id(fc, current->files);
	}
	/*
	 * Cached writes reach the server before it truncates; with the
	 * writeback cache, before it sets times or mode too, or a later
	 * writeback would move the mtime it was told (or write through a
	 * mode that no longer allows it).  As fuse does.
	 */
	if (S_ISREG(inode->i_mode) &&
	    ((attr->ia_valid & ATTR_SIZE) ||
	     (fc->writeback_cache &&
	      (attr->ia_valid & (ATTR_MODE | ATTR_UID | ATTR_GID |
				 ATTR_MTIME | ATTR_ATIME))))) {
		err = filemap_write_and_wait(inode->i_mapping);
		if (err)
			return err;
	}

	args.opcode = FUSE_SETATTR;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err) {
		if (err == -EINTR)
			fusex_invalidate_attr(inode);
		return err;
	}

	if (fusex_invalid_attr(&outarg.attr) ||
	    inode_wrong_type(inode, outarg.attr.mode)) {
		fusex_bad_reply("SETATTR of nodeid %llu: mode %o for a %o inode\n",
				get_node_id(inode), outarg.attr.mode,
				inode->i_mode & S_IFMT);
		fusex_make_bad(inode);
		return -EIO;
	}
	/* Newer than anything cached: the server just applied it. */
	fusex_change_attributes(inode, &outarg.attr,
				fusex_time_to_jiffies(outarg.attr_valid,
						      outarg.attr_valid_nsec),
				0);
	if ((attr->ia_valid & ATTR_SIZE) &&
	    i_size_read(inode) != outarg.attr.size) {
		/* The writeback cache keeps its own size: set it here. */
		i_size_write(inode, outarg.attr.size);
		truncate_pagecache(inode, outarg.attr.size);
	}
	return 0;
}

static const char *fusex_get_link(struct dentry *dentry, struct inode *inode,
				  struct delayed_call *callback)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_args args = {};
	ssize_t ret;
	char *link;

	if (fusex_is_bad(inode))
		return ERR_PTR(-EIO);
	if (!dentry)
		return ERR_PTR(-ECHILD);

	link = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!link)
		return ERR_PTR(-ENOMEM);

	args.opcode = FUSE_READLINK;
	fusex_args_inode(&args, inode);
	args.out_argvar = true;
	args.out_numargs = 1;
	args.out_args[0].size = PAGE_SIZE - 1;
	args.out_args[0].value = link;
	ret = fusex_simple_request(fc, &args);
	if (ret < 0)
		goto err_free;
	if (memchr(link, 0, ret)) {
		fusex_bad_reply("READLINK of nodeid %llu: NUL inside the target\n",
				get_node_id(inode));
		ret = -EIO;
		goto err_free;
	}
	link[ret] = '\0';
	set_delayed_call(callback, kfree_link, link);
	return link;

err_free:
	kfree(link);
	return ERR_PTR(ret);
}

/* A change in a directory changes its mtime, size, link count. */
static void fusex_dir_changed(struct inode *dir)
{
	fusex_invalidate_attr(dir);
	inode_maybe_inc_iversion(dir, false);
}

/*
 * MKNOD, MKDIR, SYMLINK, LINK: the server made (or linked) an entry; make
 * its inode and dentry.  @mode is the type the server must have made.
 */
static int fusex_create_new_entry(struct fusex_args *args, struct inode *dir,
				  struct dentry *entry, umode_t mode)
{
	struct fusex_conn *fc = get_fusex_conn(dir);
	struct fusex_handle_buf *hb = NULL;
	const struct fusex_handle *fh;
	struct fuse_entry_out outarg;
	struct fusex_forget *forget;
	struct inode *inode;
	struct dentry *d;
	int err;

	if (fusex_is_bad(dir))
		return -EIO;
	forget = fusex_alloc_forget();
	if (!forget)
		return -ENOMEM;
	err = fusex_handle_buf_alloc(fc, &hb);
	if (err) {
		kfree(forget);
		return err;
	}

	memset(&outarg, 0, sizeof(outarg));
	fusex_args_inode(args, dir);
	args->out_numargs = 1;
	args->out_args[0].size = sizeof(outarg);
	args->out_args[0].value = &outarg;
	fusex_entry_handle_arg(fc, args, hb);
	err = fusex_simple_request(fc, args);
	if (err > 0)
		err = 0;
	if (err)
		goto out_free;

	err = -EIO;
	if (!outarg.nodeid) {
		fusex_bad_reply("%s '%pd': no nodeid\n",
				fusex_opname(args->opcode), entry);
		goto out_free;
	}
	if (fusex_check_entry(fc, dir, &outarg, &entry->d_name))
		goto out_forget;
	if ((outarg.attr.mode ^ mode) & S_IFMT) {
		fusex_bad_reply("%s '%pd': made mode %o, not %o\n",
				fusex_opname(args->opcode), entry,
				outarg.attr.mode, mode);
		goto out_forget;
	}
	fh = fusex_entry_handle(fc, args, hb, outarg.nodeid);
	if (IS_ERR(fh)) {
		err = PTR_ERR(fh);
		goto out_forget;
	}

	inode = fusex_iget(dir->i_sb, outarg.nodeid, args->epoch,
			   outarg.generation, &outarg.attr,
			   fusex_attr_timeout(&outarg), 0, fh);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_forget;
	}
	kfree(forget);
	kfree(hb);

	d_drop(entry);
	d = d_splice_alias(inode, entry);
	if (IS_ERR(d))
		return PTR_ERR(d);
	if (d) {
		fusex_change_entry_timeout(d, &outarg);
		dput(d);
	} else {
		fusex_change_entry_timeout(entry, &outarg);
	}
	fusex_dir_changed(dir);
	return 0;

out_forget:
	fusex_queue_forget(fc, forget, outarg.nodeid, 1, args->epoch);
	kfree(hb);
	return err;
out_free:
	kfree(forget);
	kfree(hb);
	return err;
}

static int fusex_mknod(fusex_idmap_t *idmap, struct inode *dir,
		       struct dentry *entry, umode_t mode, dev_t rdev)
{
	struct fusex_conn *fc = get_fusex_conn(dir);
	struct fuse_mknod_in inarg = {};
	struct fusex_args args = {};

	if (!fc->dont_mask)
		mode &= ~current_umask();
	inarg.mode = mode;
	inarg.rdev = new_encode_dev(rdev);
	inarg.umask = current_umask();
	args.opcode = FUSE_MKNOD;
	args.in_numargs = 2;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.in_args[1].size = entry->d_name.len + 1;
	args.in_args[1].value = (void *)entry->d_name.name;
	return fusex_create_new_entry(&args, dir, entry, mode);
}

static int fusex_create(fusex_idmap_t *idmap, struct inode *dir,
			struct dentry *entry, umode_t mode, bool excl)
{
	return fusex_mknod(idmap, dir, entry, mode, 0);
}

static int fusex_mkdir(fusex_idmap_t *idmap, struct inode *dir,
		       struct dentry *entry, umode_t mode)
{
	struct fusex_conn *fc = get_fusex_conn(dir);
	struct fuse_mkdir_in inarg = {};
	struct fusex_args args = {};

	if (!fc->dont_mask)
		mode &= ~current_umask();
	inarg.mode = mode;
	inarg.umask = current_umask();
	args.opcode = FUSE_MKDIR;
	args.in_numargs = 2;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.in_args[1].size = entry->d_name.len + 1;
	args.in_args[1].value = (void *)entry->d_name.name;
	return fusex_create_new_entry(&args, dir, entry, S_IFDIR);
}

static int fusex_symlink(fusex_idmap_t *idmap, struct inode *dir,
			 struct dentry *entry, const char *link)
{
	struct fusex_args args = {};

	args.opcode = FUSE_SYMLINK;
	args.in_numargs = 2;
	args.in_args[0].size = entry->d_name.len + 1;
	args.in_args[0].value = (void *)entry->d_name.name;
	args.in_args[1].size = strlen(link) + 1;
	args.in_args[1].value = (void *)link;
	return fusex_create_new_entry(&args, dir, entry, S_IFLNK);
}

static int fusex_link(struct dentry *old, struct inode *dir,
		      struct dentry *entry)
{
	struct inode *inode = d_inode(old);
	struct fuse_link_in inarg = {};
	struct fusex_args args = {};
	int err;

	fusex_args_inode2(&args, inode, &inarg.oldnodeid);
	args.opcode = FUSE_LINK;
	args.in_numargs = 2;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.in_args[1].size = entry->d_name.len + 1;
	args.in_args[1].value = (void *)entry->d_name.name;
	err = fusex_create_new_entry(&args, dir, entry, inode->i_mode);
	/* Its link count and ctime changed. */
	if (!err || err == -EINTR)
		fusex_invalidate_attr(inode);
	return err;
}

/* The name is gone: so is one link of the inode, as far as we know. */
static void fusex_entry_unlinked(struct dentry *entry)
{
	struct inode *inode = d_inode(entry);
	struct fusex_inode *fi = get_fusex_inode(inode);

	spin_lock(&fi->lock);
	fi->i_time = 0;
	if (S_ISDIR(inode->i_mode))
		clear_nlink(inode);
	else if (inode->i_nlink > 0)
		drop_nlink(inode);
	spin_unlock(&fi->lock);
	fusex_invalidate_entry_cache(entry);
}

static int fusex_remove(struct inode *dir, struct dentry *entry, u32 opcode)
{
	struct fusex_args args = {};
	int err;

	if (fusex_is_bad(dir))
		return -EIO;
	args.opcode = opcode;
	fusex_args_inode(&args, dir);
	args.in_numargs = 1;
	args.in_args[0].size = entry->d_name.len + 1;
	args.in_args[0].value = (void *)entry->d_name.name;
	err = fusex_simple_request(get_fusex_conn(dir), &args);
	if (!err) {
		fusex_dir_changed(dir);
		fusex_entry_unlinked(entry);
	} else if (err == -EINTR) {
		/* It may or may not have happened. */
		fusex_invalidate_entry_cache(entry);
	}
	return err;
}

static int fusex_unlink(struct inode *dir, struct dentry *entry)
{
	return fusex_remove(dir, entry, FUSE_UNLINK);
}

static int fusex_rmdir(struct inode *dir, struct dentry *entry)
{
	return fusex_remove(dir, entry, FUSE_RMDIR);
}

static int fusex_rename(fusex_idmap_t *idmap, struct inode *olddir,
			struct dentry *oldent, struct inode *newdir,
			struct dentry *newent, unsigned int flags)
{
	struct fusex_conn *fc = get_fusex_conn(olddir);
	struct fuse_rename2_in inarg = {};
	struct fusex_args args = {};
	int err;

	if (fusex_is_bad(olddir))
		return -EIO;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (flags && READ_ONCE(fc->no_rename2))
		return -EINVAL;

	fusex_args_inode2(&args, newdir, &inarg.newdir);
	inarg.flags = flags;
	args.opcode = flags ? FUSE_RENAME2 : FUSE_RENAME;
	fusex_args_inode(&args, olddir);
	args.in_numargs = 3;
	/* RENAME's argument is the head of RENAME2's. */
	args.in_args[0].size = flags ? sizeof(inarg) :
				       sizeof(struct fuse_rename_in);
	args.in_args[0].value = &inarg;
	args.in_args[1].size = oldent->d_name.len + 1;
	args.in_args[1].value = (void *)oldent->d_name.name;
	args.in_args[2].size = newent->d_name.len + 1;
	args.in_args[2].value = (void *)newent->d_name.name;
	err = fusex_simple_request(fc, &args);
	if (!err) {
		/* ctime changes */
		fusex_invalidate_attr(d_inode(oldent));
		if (flags & RENAME_EXCHANGE)
			fusex_invalidate_attr(d_inode(newent));
		fusex_dir_changed(olddir);
		if (olddir != newdir)
			fusex_dir_changed(newdir);
		/* newent will end up negative */
		if (!(flags & RENAME_EXCHANGE) && d_really_is_positive(newent))
			fusex_entry_unlinked(newent);
	} else if (err == -EINTR) {
		/* It may or may not have happened. */
		fusex_invalidate_entry_cache(oldent);
		if (d_really_is_positive(newent))
			fusex_invalidate_entry_cache(newent);
	} else if (err == -ENOSYS && flags) {
		WRITE_ONCE(fc->no_rename2, true);
		err = -EINVAL;
	}
	return err;
}

/*
 * CREATE: make and open a regular file in one round trip.  The dentry is
 * negative (the VFS looked it up or will let us).
 */
int fusex_create_open(struct inode *dir, struct dentry *entry,
		      struct file *file, unsigned int flags, umode_t mode,
		      u32 opcode)
{
	struct fusex_conn *fc = get_fusex_conn(dir);
	struct fuse_create_in inarg = {};
	struct fuse_entry_out outentry = {};
	struct fuse_open_out outopen = {};
	struct fusex_handle_buf *hb = NULL;
	const struct fusex_handle *fh;
	struct fusex_args args = {};
	struct fusex_forget *forget;
	struct fusex_file *ff;
	struct inode *inode;
	int err;

	forget = fusex_alloc_forget();
	if (!forget)
		return -ENOMEM;
	err = fusex_handle_buf_alloc(fc, &hb);
	if (err)
		goto out_free_forget;
	err = -ENOMEM;
	ff = fusex_file_alloc(fc);
	if (!ff)
		goto out_free_forget;

	if (!fc->dont_mask)
		mode &= ~current_umask();
	flags &= ~O_NOCTTY;
	if (!fc->atomic_o_trunc)
		flags &= ~O_TRUNC;
	inarg.flags = flags;
	inarg.mode = mode;
	inarg.umask = current_umask();
	args.opcode = opcode;
	fusex_args_inode(&args, dir);
	args.in_numargs = 2;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.in_args[1].size = entry->d_name.len + 1;
	args.in_args[1].value = (void *)entry->d_name.name;
	args.out_numargs = 2;
	args.out_args[0].size = sizeof(outentry);
	args.out_args[0].value = &outentry;
	args.out_args[1].size = sizeof(outopen);
	args.out_args[1].value = &outopen;
	fusex_entry_handle_arg(fc, &args, hb);
	err = fusex_simple_request(fc, &args);
	if (err > 0)
		err = 0;
	if (err)
		goto out_free_ff;
	ff->nodeid = outentry.nodeid;
	ff->fh = outopen.fh;
	ff->epoch = args.epoch;

	err = -EIO;
	if (!outentry.nodeid || !S_ISREG(outentry.attr.mode) ||
	    fusex_check_entry(fc, dir, &outentry, &entry->d_name)) {
		fusex_bad_reply("%s '%pd': nodeid %llu mode %o\n",
				fusex_opname(opcode), entry, outentry.nodeid,
				outentry.attr.mode);
		goto out_release;
	}
	fh = fusex_entry_handle(fc, &args, hb, outentry.nodeid);
	if (IS_ERR(fh)) {
		err = PTR_ERR(fh);
		goto out_release;
	}

	inode = fusex_iget(dir->i_sb, outentry.nodeid, args.epoch,
			   outentry.generation, &outentry.attr,
			   fusex_attr_timeout(&outentry), 0, fh);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_release;
	}
	kfree(forget);
	kfree(hb);
	d_instantiate(entry, inode);
	fusex_change_entry_timeout(entry, &outentry);
	fusex_dir_changed(dir);

	/*
	 * The reply opened the file: generic_file_open(), not ->open(),
	 * which would send OPEN (with O_TMPFILE's O_DIRECTORY in its flags).
	 */
	err = finish_open(file, entry, generic_file_open);
	if (err) {
		fusex_file_release(inode, ff, flags, false);
		return err;
	}
	if (opcode == FUSE_CREATE)
		file->f_mode |= FMODE_CREATED;
	fusex_finish_open(inode, file, ff, &outopen, false);
	return 0;

out_release:
	/* The server opened it: close it again and forget it. */
	if (outentry.nodeid) {
		fusex_file_release(dir, ff, flags, false);
		fusex_queue_forget(fc, forget, outentry.nodeid, 1,
				   args.epoch);
		kfree(hb);
		return err;
	}
out_free_ff:
	fusex_file_free(ff);
out_free_forget:
	kfree(forget);
	kfree(hb);
	return err;
}

static int fusex_atomic_open(struct inode *dir, struct dentry *entry,
			     struct file *file, unsigned int flags,
			     umode_t mode)
{
	struct fusex_conn *fc = get_fusex_conn(dir);
	struct dentry *res = NULL;
	int err;

	if (fusex_is_bad(dir))
		return -EIO;

	if (d_in_lookup(entry)) {
		res = fusex_lookup(dir, entry, 0);
		if (IS_ERR(res))
			return PTR_ERR(res);
		if (res)
			entry = res;
	}

	if (!(flags & O_CREAT) || d_really_is_positive(entry))
		goto no_open;

	if (READ_ONCE(fc->no_create))
		goto mknod;
	err = fusex_create_open(dir, entry, file, flags, mode, FUSE_CREATE);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_create, true);
		goto mknod;
	}
	dput(res);
	return err;

mknod:
	err = fusex_mknod(fusex_nop_idmap, dir, entry, mode, 0);
	if (err) {
		dput(res);
		return err;
	}
no_open:
	return finish_no_open(file, res);
}

/* O_TMPFILE, where the server has FUSE_TMPFILE. */
static int fusex_tmpfile(fusex_idmap_t *idmap, struct inode *dir,
			 struct file *file, umode_t mode)
{
	struct fusex_conn *fc = get_fusex_conn(dir);
	int err;

	if (fusex_is_bad(dir))
		return -EIO;
	if (READ_ONCE(fc->no_tmpfile))
		return -EOPNOTSUPP;
	err = fusex_create_open(dir, file->f_path.dentry, file, file->f_flags,
				mode, FUSE_TMPFILE);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_tmpfile, true);
		err = -EOPNOTSUPP;
	}
	return err;
}

const struct inode_operations fusex_dir_inode_operations = {
	.lookup		= fusex_lookup,
	.atomic_open	= fusex_atomic_open,
	.create		= fusex_create,
	.mknod		= fusex_mknod,
	.mkdir		= fusex_mkdir,
	.symlink	= fusex_symlink,
	.link		= fusex_link,
	.unlink		= fusex_unlink,
	.rmdir		= fusex_rmdir,
	.rename		= fusex_rename,
	.tmpfile	= fusex_tmpfile,
	.permission	= fusex_permission,
	.getattr	= fusex_getattr,
	.setattr	= fusex_setattr,
	.listxattr	= fusex_listxattr,
};

const struct inode_operations fusex_common_inode_operations = {
	.permission	= fusex_permission,
	.getattr	= fusex_getattr,
	.setattr	= fusex_setattr,
	.listxattr	= fusex_listxattr,
};

const struct inode_operations fusex_symlink_inode_operations = {
	.get_link	= fusex_get_link,
	.getattr	= fusex_getattr,
	.setattr	= fusex_setattr,
	.listxattr	= fusex_listxattr,
};
