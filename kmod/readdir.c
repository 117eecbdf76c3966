// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR.
 *
 * Each getdents(2) asks the server for a page of records from the file
 * position on, checks every record, and emits it.  READDIRPLUS records also
 * carry an entry, which is linked into the dcache as a lookup would.
 */

#include <linux/slab.h>
#include <linux/namei.h>
#include <linux/dcache.h>

#include "fusex_i.h"

static int fusex_dir_open(struct inode *inode, struct file *file)
{
	return fusex_open_common(inode, file, true);
}

static int fusex_dir_release(struct inode *inode, struct file *file)
{
	return fusex_release_common(inode, file, true);
}

/* READDIRPLUS pays off on the first read, or after lookups in the dir. */
static bool fusex_use_readdirplus(struct inode *dir, struct dir_context *ctx)
{
	struct fusex_conn *fc = get_fusex_conn(dir);

	if (!fc->do_readdirplus)
		return false;
	if (!fc->readdirplus_auto)
		return true;
	if (test_and_clear_bit(FUSEX_I_ADVISE_RDPLUS,
			       &get_fusex_inode(dir)->state))
		return true;
	return ctx->pos == 0;
}

/* Check the name of a record: what a path component may be. */
static bool fusex_valid_dirent_name(const char *name, u32 namelen)
{
	if (!namelen || namelen > FUSEX_NAME_MAX)
		return false;
	return !memchr(name, '/', namelen) && !memchr(name, '\0', namelen);
}

static bool fusex_emit(struct dir_context *ctx, struct fuse_dirent *dirent)
{
	return dir_emit(ctx, dirent->name, dirent->namelen, dirent->ino,
			dirent->type);
}

/*
 * Put a READDIRPLUS entry into the dcache.  The server counted a lookup for
 * every record with a nodeid; it is accounted in the inode or forgotten.
 */
static int fusex_direntplus_link(struct file *file,
				 struct fuse_direntplus *direntplus,
				 u64 attr_version, u32 epoch,
				 const struct fusex_handle *fh)
{
	struct fuse_entry_out *o = &direntplus->entry_out;
	struct fuse_dirent *dirent = &direntplus->dirent;
	struct dentry *parent = file->f_path.dentry;
	struct inode *dir = d_inode(parent);
	struct fusex_conn *fc = get_fusex_conn(dir);
	DECLARE_WAIT_QUEUE_HEAD_ONSTACK(wq);
	struct qstr name = QSTR_INIT(dirent->name, dirent->namelen);
	struct dentry *dentry, *alias;
	struct inode *inode;
	int err;

	/* No entry: the server only gave the name. */
	if (!o->nodeid)
		return 0;
	if (name.name[0] == '.' &&
	    (name.len == 1 || (name.len == 2 && name.name[1] == '.')))
		return 0;

	err = fusex_check_entry(fc, dir, o, &name);
	if (err)
		return err;

	name.hash = full_name_hash(parent, name.name, name.len);
	dentry = d_lookup(parent, &name);
	if (dentry) {
		inode = d_inode(dentry);
		if (inode && fusex_try_adopt(inode, o, fh, epoch, attr_version)) {
			/* Revalidated on a restarted server by its name. */
			fusex_change_entry_timeout(dentry, o);
			dput(dentry);
			return 0;
		}
		if (inode && get_node_id(inode) == o->nodeid &&
		    fusex_inode_epoch(inode) == epoch &&
		    !inode_wrong_type(inode, o->attr.mode) &&
		    !fusex_is_bad(inode)) {
			fusex_count_lookup(inode, epoch);
			err = fh ? fusex_set_handle(inode, fh) : 0;
			if (err) {
				dput(dentry);
				/* Accounted in the inode: no forget. */
				return 0;
			}
			fusex_change_attributes(inode, &o->attr,
						fusex_time_to_jiffies(o->attr_valid,
								      o->attr_valid_nsec),
						attr_version);
			fusex_change_entry_timeout(dentry, o);
			dput(dentry);
			return 0;
		}
		/* The name now stands for something else. */
		d_invalidate(dentry);
		dput(dentry);
	}

	dentry = d_alloc_parallel(parent, &name, &wq);
	if (IS_ERR(dentry))
		return PTR_ERR(dentry);
	if (!d_in_lookup(dentry)) {
		/* Someone else is looking it up; leave it to them. */
		dput(dentry);
		return -EAGAIN;
	}

	inode = fusex_iget(dir->i_sb, o->nodeid, epoch, o->generation,
			   &o->attr,
			   fusex_time_to_jiffies(o->attr_valid,
						 o->attr_valid_nsec),
			   attr_version, fh);
	if (IS_ERR(inode)) {
		d_lookup_done(dentry);
		dput(dentry);
		return PTR_ERR(inode);
	}

	if (fc->readdirplus_auto)
		set_bit(FUSEX_I_INIT_RDPLUS, &get_fusex_inode(inode)->state);
	alias = d_splice_alias(inode, dentry);
	d_lookup_done(dentry);
	if (alias) {
		dput(dentry);
		/* The inode has the lookup even if it has no dentry. */
		if (IS_ERR(alias))
			return 0;
		dentry = alias;
	}
	fusex_change_entry_timeout(dentry, o);
	dput(dentry);
	return 0;
}

/* Tell the server we did not take a READDIRPLUS entry's lookup. */
static void fusex_force_forget(struct fusex_conn *fc, u64 nodeid, u32 epoch)
{
	struct fusex_forget *forget = fusex_alloc_forget();

	if (forget)
		fusex_queue_forget(fc, forget, nodeid, 1, epoch);
}

static int fusex_parse_dirfile(char *buf, size_t nbytes,
			       struct dir_context *ctx, u64 nodeid)
{
	while (nbytes >= FUSE_NAME_OFFSET) {
		struct fuse_dirent *dirent = (struct fuse_dirent *)buf;
		size_t reclen = FUSE_DIRENT_SIZE(dirent);

		if (reclen > nbytes ||
		    !fusex_valid_dirent_name(dirent->name, dirent->namelen)) {
			fusex_bad_reply("READDIR of nodeid %llu: bad record (namelen %u, %zu of %zu bytes)\n",
					nodeid, dirent->namelen, reclen, nbytes);
			return -EIO;
		}
		if (!fusex_emit(ctx, dirent))
			return 0;
		ctx->pos = dirent->off;
		buf += reclen;
		nbytes -= reclen;
	}
	if (nbytes) {
		fusex_bad_reply("READDIR of nodeid %llu: %zu bytes left over\n",
				nodeid, nbytes);
		return -EIO;
	}
	return 0;
}

/*
 * With handles, a record with a nodeid is followed by its handle.  Returns
 * the record's whole length, or 0 if it runs past @nbytes or the handle is
 * bad; *@fh is set to the handle or NULL.
 */
static size_t fusex_direntplus_len(struct fusex_conn *fc,
				   struct fuse_direntplus *direntplus,
				   size_t nbytes,
				   const struct fusex_handle **fh)
{
	size_t reclen = FUSE_DIRENTPLUS_SIZE(direntplus);
	const struct fusex_handle *h;

	*fh = NULL;
	if (reclen > nbytes)
		return 0;
	if (!fc->lookup_handle || !direntplus->entry_out.nodeid)
		return reclen;
	if (nbytes - reclen < sizeof(*h))
		return 0;
	h = (const void *)direntplus + reclen;
	if (FUSEX_HANDLE_SIZE(h->size) > nbytes - reclen ||
	    fusex_check_handle(fc, h, FUSEX_HANDLE_SIZE(h->size)))
		return 0;
	*fh = h;
	return reclen + FUSEX_HANDLE_SIZE(h->size);
}

static int fusex_parse_dirplusfile(char *buf, size_t nbytes, struct file *file,
				   struct dir_context *ctx, u64 attr_version,
				   u32 epoch)
{
	struct fusex_conn *fc = get_fusex_conn(file_inode(file));
	u64 nodeid = get_node_id(file_inode(file));
	bool over = false;
	int err;

	while (nbytes >= FUSE_NAME_OFFSET_DIRENTPLUS) {
		struct fuse_direntplus *direntplus = (void *)buf;
		struct fuse_dirent *dirent = &direntplus->dirent;
		const struct fusex_handle *fh;
		size_t reclen;

		reclen = fusex_direntplus_len(fc, direntplus, nbytes, &fh);
		if (!reclen ||
		    !fusex_valid_dirent_name(dirent->name, dirent->namelen)) {
			fusex_bad_reply("READDIRPLUS of nodeid %llu: bad record (namelen %u, %zu bytes left)\n",
					nodeid, dirent->namelen, nbytes);
			return -EIO;
		}
		if (!over) {
			/*
			 * Emit even when the entry cannot be linked: the
			 * name is what getdents wants.
			 */
			over = !fusex_emit(ctx, dirent);
			if (!over)
				ctx->pos = dirent->off;
		}
		buf += reclen;
		nbytes -= reclen;

		/*
		 * As fuse does: an entry that cannot be cached (impossible
		 * attributes, a live nodeid of another type) is left out of
		 * the dcache and logged; its name stays in the listing, and
		 * a later lookup of it fails on its own.
		 */
		err = fusex_direntplus_link(file, direntplus, attr_version,
					    epoch, fh);
		if (err && direntplus->entry_out.nodeid)
			fusex_force_forget(fc, direntplus->entry_out.nodeid,
					   epoch);
	}
	if (nbytes) {
		fusex_bad_reply("READDIRPLUS of nodeid %llu: %zu bytes left over\n",
				nodeid, nbytes);
		return -EIO;
	}
	return 0;
}

/* One READDIR or READDIRPLUS per call, as much as a page holds. */
static int fusex_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	struct fusex_args args = {};
	struct fuse_read_in in = {};
	u64 attr_version = 0;
	bool plus;
	ssize_t res;
	char *buf;
	int err;

	if (fusex_is_bad(inode))
		return -EIO;

	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	plus = fusex_use_readdirplus(inode, ctx);
	fusex_args_file(&args, ff, &in.fh);
	in.offset = ctx->pos;
	in.size = PAGE_SIZE;
	in.flags = file->f_flags;
	args.opcode = plus ? FUSE_READDIRPLUS : FUSE_READDIR;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;
	args.out_argvar = true;
	args.out_numargs = 1;
	args.out_args[0].size = PAGE_SIZE;
	args.out_args[0].value = buf;
	if (plus)
		attr_version = fusex_get_attr_version(fc);

	res = fusex_simple_request(fc, &args);
	if (res < 0)
		err = res;
	else if (plus)
		err = fusex_parse_dirplusfile(buf, res, file, ctx,
					      attr_version, args.epoch);
	else
		err = fusex_parse_dirfile(buf, res, ctx, get_node_id(inode));
	kfree(buf);
	return err;
}

static int fusex_dir_fsync(struct file *file, loff_t start, loff_t end,
			   int datasync)
{
	return fusex_fsync_common(file, start, end, datasync, true);
}

const struct file_operations fusex_dir_operations = {
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= fusex_readdir,
	.open		= fusex_dir_open,
	.release	= fusex_dir_release,
	.fsync		= fusex_dir_fsync,
	.unlocked_ioctl	= fusex_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
