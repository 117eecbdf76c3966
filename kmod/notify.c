// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: notifications from the server (a write with unique 0, the code in
 * the error field): invalidate an inode's attributes and pages, a name, or
 * a deleted entry; store data into the page cache; retrieve it.
 *
 * They run in the server's write(2).  A server must not send one that
 * needs a directory lock from inside the handler of a request that holds
 * it (as with fuse).
 */

#include <linux/slab.h>
#include <linux/pagemap.h>
#include <linux/highmem.h>
#include <linux/uio.h>
#include <linux/namei.h>

#include "fusex_i.h"

/* The inode for a nodeid, if cached, with a reference.  Under killsb. */
static struct inode *fusex_notify_ilookup(struct fusex_conn *fc, u64 nodeid)
{
	if (!fc->sb)
		return NULL;
	return fusex_ilookup(fc->sb, nodeid);
}

/* Read a fixed-size notification header; the rest must be @extra bytes. */
static int fusex_notify_arg(struct iov_iter *from, size_t size, void *arg,
			    size_t argsize)
{
	if (size < argsize)
		return -EINVAL;
	if (copy_from_iter(arg, argsize, from) != argsize)
		return -EFAULT;
	return 0;
}

static int fusex_notify_inval_inode(struct fusex_conn *fc,
				    struct iov_iter *from, size_t size)
{
	struct fuse_notify_inval_inode_out outarg;
	struct inode *inode;
	pgoff_t pg_start, pg_end;
	int err;

	err = fusex_notify_arg(from, size, &outarg, sizeof(outarg));
	if (err)
		return err;
	if (size != sizeof(outarg))
		return -EINVAL;

	down_read(&fc->killsb);
	err = -ENOENT;
	inode = fusex_notify_ilookup(fc, outarg.ino);
	if (!inode)
		goto out;

	/* Attributes in a reply already on its way are older: drop them. */
	fusex_attrs_changed(inode);
	/* A negative offset invalidates the attributes only. */
	if (outarg.off >= 0) {
		pg_start = outarg.off >> PAGE_SHIFT;
		pg_end = outarg.len <= 0 ? -1 :
			 (outarg.off + outarg.len - 1) >> PAGE_SHIFT;
		invalidate_inode_pages2_range(inode->i_mapping, pg_start,
					      pg_end);
	}
	iput(inode);
	err = 0;
out:
	up_read(&fc->killsb);
	return err;
}

/* Read the NUL-terminated name that follows a notification. */
static char *fusex_notify_name(struct iov_iter *from, size_t left, u32 namelen)
{
	char *name;

	if (namelen > FUSEX_NAME_MAX)
		return ERR_PTR(-ENAMETOOLONG);
	if (left != namelen + 1)
		return ERR_PTR(-EINVAL);
	name = kmalloc(namelen + 1, GFP_KERNEL);
	if (!name)
		return ERR_PTR(-ENOMEM);
	if (copy_from_iter(name, namelen + 1, from) != namelen + 1) {
		kfree(name);
		return ERR_PTR(-EFAULT);
	}
	if (name[namelen] || memchr(name, '\0', namelen)) {
		kfree(name);
		return ERR_PTR(-EINVAL);
	}
	return name;
}

/*
 * Drop (or, with FUSE_EXPIRE_ONLY, only expire) the dentry for @name in
 * @parent, and the parent's attributes with it; with @child, only if it
 * names that nodeid, and then it was deleted.  As fuse, the dentry is
 * dropped even when @child does not match.
 */
static int fusex_reverse_inval_entry(struct fusex_conn *fc, u64 parent,
				     u64 child, const char *name, u32 namelen,
				     u32 flags)
{
	struct qstr qname = QSTR_INIT(name, namelen);
	struct dentry *dir, *entry;
	struct inode *pinode, *inode;
	int err = -ENOTDIR;

	pinode = fusex_notify_ilookup(fc, parent);
	if (!pinode)
		return -ENOENT;

	inode_lock_nested(pinode, I_MUTEX_PARENT);
	if (!S_ISDIR(pinode->i_mode))
		goto unlock;

	err = -ENOENT;
	dir = d_find_alias(pinode);
	if (!dir)
		goto unlock;
	qname.hash = full_name_hash(dir, qname.name, qname.len);
	entry = d_lookup(dir, &qname);
	dput(dir);
	if (!entry)
		goto unlock;

	fusex_invalidate_attr(pinode);
	if (!(flags & FUSE_EXPIRE_ONLY))
		d_invalidate(entry);
	fusex_invalidate_entry_cache(entry);

	err = 0;
	if (child && d_really_is_positive(entry)) {
		/* Its attributes stay: the link count is all that changes. */
		inode = d_inode(entry);
		inode_lock(inode);
		/* A nodeid of this instance, not one a dead one reused. */
		if (get_node_id(inode) != child ||
		    fusex_inode_epoch(inode) != READ_ONCE(fc->epoch)) {
			err = -ENOENT;
		} else if (d_mountpoint(entry)) {
			err = -EBUSY;
		} else if (S_ISDIR(inode->i_mode)) {
			/* A directory with entries in use is not gone. */
			shrink_dcache_parent(entry);
			if (!simple_empty(entry))
				err = -ENOTEMPTY;
			else
				inode->i_flags |= S_DEAD;
		}
		if (!err) {
			dont_mount(entry);
			clear_nlink(inode);
		}
		inode_unlock(inode);
		if (!err)
			d_delete(entry);
	}
	dput(entry);
unlock:
	inode_unlock(pinode);
	iput(pinode);
	return err;
}

static int fusex_notify_inval_entry(struct fusex_conn *fc,
				    struct iov_iter *from, size_t size)
{
	struct fuse_notify_inval_entry_out outarg;
	char *name;
	int err;

	err = fusex_notify_arg(from, size, &outarg, sizeof(outarg));
	if (err)
		return err;
	if (outarg.flags & ~FUSE_EXPIRE_ONLY)
		return -EINVAL;
	name = fusex_notify_name(from, size - sizeof(outarg), outarg.namelen);
	if (IS_ERR(name))
		return PTR_ERR(name);

	down_read(&fc->killsb);
	err = -ENOENT;
	if (fc->sb)
		err = fusex_reverse_inval_entry(fc, outarg.parent, 0, name,
						outarg.namelen, outarg.flags);
	up_read(&fc->killsb);
	kfree(name);
	return err;
}

static int fusex_notify_delete(struct fusex_conn *fc, struct iov_iter *from,
			       size_t size)
{
	struct fuse_notify_delete_out outarg;
	char *name;
	int err;

	err = fusex_notify_arg(from, size, &outarg, sizeof(outarg));
	if (err)
		return err;
	name = fusex_notify_name(from, size - sizeof(outarg), outarg.namelen);
	if (IS_ERR(name))
		return PTR_ERR(name);

	down_read(&fc->killsb);
	err = -ENOENT;
	if (fc->sb)
		err = fusex_reverse_inval_entry(fc, outarg.parent, outarg.child,
						name, outarg.namelen, 0);
	up_read(&fc->killsb);
	kfree(name);
	return err;
}

/* Put data the server sends into the page cache. */
static int fusex_notify_store(struct fusex_conn *fc, struct iov_iter *from,
			      size_t size)
{
	struct fuse_notify_store_out outarg;
	struct address_space *mapping;
	struct inode *inode;
	unsigned int off;
	loff_t end, file_size;
	pgoff_t index;
	size_t num;
	int err;

	err = fusex_notify_arg(from, size, &outarg, sizeof(outarg));
	if (err)
		return err;
	if (size - sizeof(outarg) != outarg.size)
		return -EINVAL;
	end = outarg.offset + outarg.size;
	if (outarg.offset > MAX_LFS_FILESIZE || end > MAX_LFS_FILESIZE)
		return -EINVAL;

	down_read(&fc->killsb);
	err = -ENOENT;
	inode = fusex_notify_ilookup(fc, outarg.nodeid);
	if (!inode)
		goto out_up;
	err = -EINVAL;
	if (!S_ISREG(inode->i_mode))
		goto out_iput;

	mapping = inode->i_mapping;
	index = outarg.offset >> PAGE_SHIFT;
	off = outarg.offset & ~PAGE_MASK;
	file_size = i_size_read(inode);
	if (end > file_size) {
		struct fusex_inode *fi = get_fusex_inode(inode);

		spin_lock(&fi->lock);
		i_size_write(inode, end);
		fi->i_time = 0;
		spin_unlock(&fi->lock);
		file_size = end;
	}

	err = 0;
	num = outarg.size;
	while (num) {
		size_t this_num = min_t(size_t, num, PAGE_SIZE - off);
		struct page *page;
		size_t got;
		void *addr;

		page = find_or_create_page(mapping, index,
					   mapping_gfp_mask(mapping));
		if (!page) {
			err = -ENOMEM;
			break;
		}
		addr = kmap_local_page(page);
		got = copy_from_iter(addr + off, this_num, from);
		kunmap_local(addr);
		if (got != this_num) {
			err = -EFAULT;
		} else if (!off && (this_num == PAGE_SIZE ||
				    file_size == end)) {
			/* A whole page, or the last one of the file. */
			zero_user_segment(page, this_num, PAGE_SIZE);
			SetPageUptodate(page);
		}
		unlock_page(page);
		put_page(page);
		if (err)
			break;
		num -= this_num;
		off = 0;
		index++;
	}
out_iput:
	iput(inode);
out_up:
	up_read(&fc->killsb);
	return err;
}

/* FUSE_NOTIFY_REPLY: what the page cache holds, sent back to the server. */
struct fusex_retrieve_args {
	struct fusex_args args;
	struct fuse_notify_retrieve_in inarg;
	void *data;
};

static void fusex_retrieve_end(struct fusex_conn *fc, struct fusex_args *args,
			       int error)
{
	struct fusex_retrieve_args *ra = container_of(args, typeof(*ra), args);

	kvfree(ra->data);
	kfree(ra);
}

static int fusex_retrieve(struct fusex_conn *fc, struct inode *inode,
			  struct fuse_notify_retrieve_out *outarg)
{
	struct address_space *mapping = inode->i_mapping;
	loff_t file_size = i_size_read(inode);
	struct fusex_retrieve_args *ra;
	size_t num, total = 0;
	unsigned int off;
	pgoff_t index;
	int err;

	num = min_t(u64, outarg->size, fusex_max_write(fc));
	if (outarg->offset > file_size)
		num = 0;
	else if (outarg->offset + num > file_size)
		num = file_size - outarg->offset;

	ra = kzalloc(sizeof(*ra), GFP_KERNEL);
	if (!ra)
		return -ENOMEM;
	ra->data = num ? kvmalloc(num, GFP_KERNEL) : NULL;
	if (num && !ra->data) {
		kfree(ra);
		return -ENOMEM;
	}

	/*
	 * Only what is cached, from the offset up to the first gap: a page
	 * missing, or not up to date (a STORE that filled part of it).
	 */
	index = outarg->offset >> PAGE_SHIFT;
	off = outarg->offset & ~PAGE_MASK;
	while (total < num) {
		size_t this_num = min_t(size_t, num - total, PAGE_SIZE - off);
		struct page *page = find_get_page(mapping, index);

		if (!page)
			break;
		if (!PageUptodate(page)) {
			put_page(page);
			break;
		}
		memcpy_from_page(ra->data + total, page, off, this_num);
		put_page(page);
		total += this_num;
		off = 0;
		index++;
	}

	ra->inarg.offset = outarg->offset;
	ra->inarg.size = total;
	ra->args.opcode = FUSE_NOTIFY_REPLY;
	ra->args.nodeid = outarg->nodeid;
	ra->args.notify_unique = outarg->notify_unique;
	ra->args.noreply = true;
	ra->args.force = true;
	ra->args.in_numargs = 2;
	ra->args.in_args[0].size = sizeof(ra->inarg);
	ra->args.in_args[0].value = &ra->inarg;
	ra->args.in_args[1].size = total;
	ra->args.in_args[1].value = ra->data;
	ra->args.end = fusex_retrieve_end;
	err = fusex_simple_background(fc, &ra->args, GFP_KERNEL);
	if (err)
		fusex_retrieve_end(fc, &ra->args, err);
	return err;
}

static int fusex_notify_retrieve(struct fusex_conn *fc, struct iov_iter *from,
				 size_t size)
{
	struct fuse_notify_retrieve_out outarg;
	struct inode *inode;
	int err;

	err = fusex_notify_arg(from, size, &outarg, sizeof(outarg));
	if (err)
		return err;
	if (size != sizeof(outarg))
		return -EINVAL;

	down_read(&fc->killsb);
	err = -ENOENT;
	inode = fusex_notify_ilookup(fc, outarg.nodeid);
	if (inode) {
		err = fusex_retrieve(fc, inode, &outarg);
		iput(inode);
	}
	up_read(&fc->killsb);
	return err;
}

/**
 * fusex_notify - handle a notification from the server
 * @fud: the device it was written to
 * @code: the notification code (the error field of the header)
 * @size: bytes after the header
 * @from: those bytes
 *
 * Return: 0, or a negative errno for the server's write.
 */
int fusex_notify(struct fusex_dev *fud, int code, size_t size,
		 struct iov_iter *from)
{
	struct fusex_conn *fc = fud->fc;

	switch (code) {
	case FUSE_NOTIFY_INVAL_INODE:
		return fusex_notify_inval_inode(fc, from, size);
	case FUSE_NOTIFY_INVAL_ENTRY:
		return fusex_notify_inval_entry(fc, from, size);
	case FUSE_NOTIFY_DELETE:
		return fusex_notify_delete(fc, from, size);
	case FUSE_NOTIFY_STORE:
		return fusex_notify_store(fc, from, size);
	case FUSE_NOTIFY_RETRIEVE:
		return fusex_notify_retrieve(fc, from, size);
	case FUSE_NOTIFY_RESTARTED:
		return fusex_notify_restarted(fud, size, from);
	default:
		fusex_bad_reply("notification %d not supported\n", code);
		return -EINVAL;
	}
}
