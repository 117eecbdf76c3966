// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: open files, and reading them through the page cache or directly.
 */

#include <linux/slab.h>
#include <linux/pagemap.h>
#include <linux/highmem.h>
#include <linux/uio.h>
#include <linux/mm.h>
#include <linux/file.h>
#include <linux/writeback.h>
#include <linux/falloc.h>
#include <linux/pid_namespace.h>

#include "fusex_i.h"

/* RELEASE outlives the file it is sent for. */
struct fusex_release_args {
	struct fusex_args args;
	struct fuse_release_in inarg;
	/* Held so that no FORGET overtakes the RELEASE. */
	struct inode *inode;
};

static bool fusex_no_open(struct fusex_conn *fc, bool isdir)
{
	return isdir ? READ_ONCE(fc->no_opendir) : READ_ONCE(fc->no_open);
}

static int fusex_send_open(struct fusex_conn *fc, struct inode *inode,
			   struct file *file, bool isdir,
			   struct fuse_open_out *outarg, struct fusex_file *ff)
{
	int err;

	struct fuse_open_in inarg = {};
	struct fusex_args args = {};

	/*
	 * The VFS has done creation and exclusivity; truncation is the
	 * server's with FUSE_ATOMIC_O_TRUNC, else a SETATTR that follows.
	 */
	inarg.flags = file->f_flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	if (!fc->atomic_o_trunc)
		inarg.flags &= ~O_TRUNC;
	args.opcode = isdir ? FUSE_OPENDIR : FUSE_OPEN;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(*outarg);
	args.out_args[0].value = outarg;
	err = fusex_simple_request(fc, &args);
	/* The server instance the handle is of. */
	ff->nodeid = args.nodeid;
	ff->epoch = args.epoch;
	return err;
}

struct fusex_file *fusex_file_alloc(struct fusex_conn *fc)
{
	struct fusex_file *ff;

	ff = kzalloc(sizeof(*ff), GFP_KERNEL_ACCOUNT);
	if (!ff)
		return NULL;
	ff->release_args = kzalloc(sizeof(*ff->release_args),
				   GFP_KERNEL_ACCOUNT);
	if (!ff->release_args) {
		kfree(ff);
		return NULL;
	}
	ff->fc = fc;
	mutex_init(&ff->reopen_lock);
	refcount_set(&ff->count, 1);
	INIT_LIST_HEAD(&ff->write_entry);
	return ff;
}

void fusex_file_free(struct fusex_file *ff)
{
	kfree(ff->release_args);
	kfree(ff);
}

/**
 * fusex_finish_open - bind an opened server file to a struct file
 * @inode: the inode opened
 * @file: the file
 * @ff: the fusex file, ours from now on
 * @outarg: the server's OPEN (or CREATE) reply
 * @isdir: a directory
 *
 * The file remembers its flags, so that a new server can open it again.
 * The caller has set @ff->nodeid and @ff->epoch from the request.
 */
void fusex_finish_open(struct inode *inode, struct file *file,
		       struct fusex_file *ff, struct fuse_open_out *outarg,
		       bool isdir)
{
	ff->fh = outarg->fh;
	ff->open_flags = outarg->open_flags;
	ff->inode = inode;
	ff->flags = file->f_flags;
	ff->isdir = isdir;
	file->private_data = ff;

	if (isdir)
		return;
	if (file->f_mode & FMODE_WRITE) {
		struct fusex_inode *fi = get_fusex_inode(inode);

		spin_lock(&fi->lock);
		list_add_tail(&ff->write_entry, &fi->write_files);
		spin_unlock(&fi->lock);
	}
	if (ff->open_flags & FOPEN_STREAM)
		stream_open(inode, file);
	else if (ff->open_flags & FOPEN_NONSEEKABLE)
		nonseekable_open(inode, file);
	if ((file->f_flags & O_TRUNC) && get_fusex_conn(inode)->atomic_o_trunc) {
		/*
		 * The server truncated in OPEN or CREATE (of a file that was
		 * there): what is cached is gone, dirty or not.  Writing it
		 * back first, as invalidating would, would undo the truncation.
		 */
		struct fusex_inode *fi = get_fusex_inode(inode);

		spin_lock(&fi->lock);
		fi->attr_version = atomic64_inc_return(&ff->fc->attr_version);
		i_size_write(inode, 0);
		spin_unlock(&fi->lock);
		truncate_pagecache(inode, 0);
		fusex_invalidate_attr(inode);
	} else if (!(ff->open_flags & FOPEN_KEEP_CACHE)) {
		invalidate_inode_pages2(inode->i_mapping);
	}
}

/**
 * fusex_open_common - open a file or directory on the server
 * @inode: what to open
 * @file: the file being opened
 * @isdir: OPENDIR rather than OPEN
 */
int fusex_open_common(struct inode *inode, struct file *file, bool isdir)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_open_out outarg = {};
	struct fusex_file *ff;
	int err;

	if (fusex_is_bad(inode))
		return -EIO;

	err = generic_file_open(inode, file);
	if (err)
		return err;

	ff = fusex_file_alloc(fc);
	if (!ff)
		return -ENOMEM;

	if (!fusex_no_open(fc, isdir)) {
		err = fusex_send_open(fc, inode, file, isdir, &outarg, ff);
		if (err == -ENOSYS &&
		    (isdir ? fc->no_opendir_support : fc->no_open_support)) {
			/* The server has no state per open file. */
			if (isdir)
				WRITE_ONCE(fc->no_opendir, true);
			else
				WRITE_ONCE(fc->no_open, true);
			err = 0;
		}
		if (err) {
			fusex_file_free(ff);
			return err;
		}
	}
	if (fusex_no_open(fc, isdir)) {
		/* No server state: the file is of whatever instance serves. */
		ff->epoch = READ_ONCE(fc->epoch);
		outarg.fh = 0;
		outarg.open_flags = FOPEN_KEEP_CACHE;
	}
	fusex_finish_open(inode, file, ff, &outarg, isdir);
	return 0;
}

static void fusex_release_end(struct fusex_conn *fc, struct fusex_args *args,
			      int error)
{
	struct fusex_release_args *ra = container_of(args, typeof(*ra), args);

	iput(ra->inode);
	kfree(ra);
}

/**
 * fusex_file_release - send RELEASE or RELEASEDIR; nobody waits for it
 * @inode: the inode the file was opened on
 * @ff: the fusex file, freed here
 * @flags: the file's flags
 * @isdir: a directory
 */
void fusex_file_release(struct inode *inode, struct fusex_file *ff,
			unsigned int flags, bool isdir)
{
	struct fusex_conn *fc = ff->fc;
	struct fusex_release_args *ra = ff->release_args;

	if (fusex_no_open(fc, isdir)) {
		fusex_file_free(ff);
		return;
	}

	/* A file never reopened on the current server has nothing to close. */
	fusex_args_file(&ra->args, ff, &ra->inarg.fh);
	ra->args.drop_stale = true;
	ra->inarg.flags = flags;
	if (ff->flock) {
		/* flock() locks go with the open file. */
		ra->inarg.release_flags |= FUSE_RELEASE_FLOCK_UNLOCK;
		ra->inarg.lock_owner = fusex_lock_owner_id(fc,
							   (fl_owner_t)ff);
	}
	ra->inode = igrab(inode);
	ra->args.opcode = isdir ? FUSE_RELEASEDIR : FUSE_RELEASE;
	ra->args.nodeid = ff->nodeid;
	ra->args.force = true;
	ra->args.in_numargs = 1;
	ra->args.in_args[0].size = sizeof(ra->inarg);
	ra->args.in_args[0].value = &ra->inarg;
	ra->args.end = fusex_release_end;
	if (fusex_simple_background(fc, &ra->args, GFP_KERNEL | __GFP_NOFAIL))
		fusex_release_end(fc, &ra->args, -ENOTCONN);
	kfree(ff);
}

/* Drop a reference; the last one sends RELEASE. */
static void fusex_file_put(struct inode *inode, struct fusex_file *ff)
{
	if (refcount_dec_and_test(&ff->count))
		fusex_file_release(inode, ff, ff->flags, ff->isdir);
}

/* A file open for writing, with a reference, for writeback; or NULL. */
static struct fusex_file *fusex_write_file_get(struct inode *inode)
{
	struct fusex_inode *fi = get_fusex_inode(inode);
	struct fusex_file *ff;

	spin_lock(&fi->lock);
	ff = list_first_entry_or_null(&fi->write_files, struct fusex_file,
				      write_entry);
	if (ff)
		refcount_inc(&ff->count);
	spin_unlock(&fi->lock);
	return ff;
}

int fusex_release_common(struct inode *inode, struct file *file, bool isdir)
{
	struct fusex_file *ff = file->private_data;
	struct fusex_inode *fi = get_fusex_inode(inode);

	file->private_data = NULL;
	if (!list_empty(&ff->write_entry)) {
		/* Writeback may still need a file to write with. */
		filemap_write_and_wait(inode->i_mapping);
		spin_lock(&fi->lock);
		list_del_init(&ff->write_entry);
		spin_unlock(&fi->lock);
	}
	fusex_file_put(inode, ff);
	return 0;
}

/*
 * open(O_TRUNC) with the writeback cache: the server truncates in OPEN, so
 * no cached write may reach it afterwards.  Hold off writers, write back
 * what is dirty (waiting for writeback already under way), open, and
 * fusex_finish_open() drops the cache before anyone can dirty it again;
 * fuse holds writeback off the same way.  A page dirtied through a shared mapping meanwhile is a race
 * its writer loses either way.
 */
static int fusex_open_trunc(struct inode *inode, struct file *file)
{
	int err;

	inode_lock(inode);
	err = filemap_write_and_wait(inode->i_mapping);
	if (!err)
		err = fusex_open_common(inode, file, false);
	inode_unlock(inode);
	return err;
}

static int fusex_open(struct inode *inode, struct file *file)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	int err;

	if ((file->f_flags & O_TRUNC) && fc->atomic_o_trunc &&
	    fc->writeback_cache)
		err = fusex_open_trunc(inode, file);
	else
		err = fusex_open_common(inode, file, false);

#ifdef FMODE_CAN_ODIRECT
	if (!err)
		file->f_mode |= FMODE_CAN_ODIRECT;
#endif
	return err;
}

static int fusex_release(struct inode *inode, struct file *file)
{
	return fusex_release_common(inode, file, false);
}

static int fusex_flush(struct file *file, fl_owner_t id)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	struct fuse_flush_in inarg = {};
	struct fusex_args args = {};
	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	/* close(2) reports what writeback of this file's data says. */
	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		return err;
	if ((ff->open_flags & FOPEN_NOFLUSH) || READ_ONCE(fc->no_flush))
		return 0;

	/* Nothing to flush to a server that never had the file open. */
	fusex_args_file(&args, ff, &inarg.fh);
	args.drop_stale = true;
	inarg.lock_owner = fusex_lock_owner_id(fc, id);
	args.opcode = FUSE_FLUSH;
	fusex_args_inode(&args, inode);
	args.force = true;
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_flush, true);
		err = 0;
	}
	return err;
}

/* Bytes one READ may ask for. */
static size_t fusex_max_read_size(struct fusex_conn *fc)
{
	size_t max = (size_t)fc->max_pages << PAGE_SHIFT;

	return clamp_t(size_t, fc->max_read, PAGE_SIZE, max);
}

static void fusex_read_init(struct fusex_args *args, struct fuse_read_in *in,
			    struct file *file, loff_t pos, size_t count)
{
	struct fusex_file *ff = file->private_data;

	fusex_args_file(args, ff, &in->fh);
	in->offset = pos;
	in->size = count;
	in->flags = file->f_flags;
	args->opcode = FUSE_READ;
	fusex_args_inode(args, file_inode(file));
	args->in_numargs = 1;
	args->in_args[0].size = sizeof(*in);
	args->in_args[0].value = in;
	args->out_argvar = true;
	args->out_numargs = 1;
	args->out_args[0].size = count;
}

/* Read without the page cache, through a bounce buffer. */
static ssize_t fusex_direct_read(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct fusex_conn *fc = get_fusex_conn(file_inode(file));
	size_t chunk = fusex_max_read_size(fc);
	loff_t pos = iocb->ki_pos;
	ssize_t total = 0, ret = 0;
	void *buf;

	if (!iov_iter_count(to))
		return 0;
	/* Data still in the cache (writeback cache, mmap) goes first. */
	ret = filemap_write_and_wait_range(file->f_mapping, pos,
					   pos + iov_iter_count(to) - 1);
	if (ret)
		return ret;
	chunk = min(chunk, iov_iter_count(to));
	buf = kvmalloc(chunk, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	while (iov_iter_count(to)) {
		size_t n = min(chunk, iov_iter_count(to));
		struct fusex_args args = {};
		struct fuse_read_in in = {};

		fusex_read_init(&args, &in, file, pos, n);
		args.out_args[0].value = buf;
		ret = fusex_simple_request(fc, &args);
		if (ret < 0)
			break;
		if (copy_to_iter(buf, ret, to) != ret) {
			ret = -EFAULT;
			break;
		}
		pos += ret;
		total += ret;
		if (ret < n)
			break;
	}
	kvfree(buf);
	iocb->ki_pos = pos;
	if (total)
		return total;
	return ret;
}

/* Zero what the server did not fill, and hand the pages to the reader. */
static void fusex_finish_read_pages(struct page **pages, unsigned int nr,
				    size_t count, int err)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct folio *folio = page_folio(pages[i]);
		size_t start = (size_t)i << PAGE_SHIFT;

		if (!err) {
			if (count < start + PAGE_SIZE)
				zero_user_segment(pages[i],
						  count > start ? count - start : 0,
						  PAGE_SIZE);
			folio_mark_uptodate(folio);
		}
		folio_unlock(folio);
	}
}

/* Read a locked folio from the server; it stays locked. */
static int fusex_read_folio_locked(struct file *file, struct folio *folio)
{
	struct inode *inode = folio->mapping->host;
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct page *page = folio_page(folio, 0);
	struct fusex_args_pages ap = {};
	struct fuse_read_in in = {};
	size_t count;
	ssize_t ret;

	if (fusex_is_bad(inode) || !file)
		return -EIO;

	fusex_read_init(&ap.args, &in, file, folio_pos(folio), PAGE_SIZE);
	ap.args.out_pages = true;
	ap.pages = &page;
	ap.num_pages = 1;
	ret = fusex_simple_request(fc, &ap.args);
	if (ret < 0)
		return ret;
	count = ret;
	if (count < PAGE_SIZE)
		zero_user_segment(page, count, PAGE_SIZE);
	folio_mark_uptodate(folio);
	return 0;
}

static int fusex_read_folio(struct file *file, struct folio *folio)
{
	int err = fusex_read_folio_locked(file, folio);

	folio_unlock(folio);
	return err;
}

/* One READ of readahead in flight. */
struct fusex_io_args {
	struct fusex_args_pages ap;
	struct fuse_read_in in;
	struct file *file;
	struct page *pages[];
};

static void fusex_readpages_end(struct fusex_conn *fc, struct fusex_args *args,
				int error)
{
	struct fusex_io_args *ia = container_of(args, typeof(*ia), ap.args);

	fusex_finish_read_pages(ia->pages, ia->ap.num_pages,
				error ? 0 : args->out_size, error);
	fput(ia->file);
	kfree(ia);
}

static void fusex_readahead(struct readahead_control *rac)
{
	struct inode *inode = rac->mapping->host;
	struct fusex_conn *fc = get_fusex_conn(inode);
	unsigned int max_pages = fusex_max_read_size(fc) >> PAGE_SHIFT;
	/* Counted once: readahead_count() lags behind readahead_folio(). */
	unsigned int left = readahead_count(rac);

	if (fusex_is_bad(inode))
		return;

	while (left) {
		unsigned int nr = min(left, max_pages);
		struct fusex_io_args *ia;
		loff_t pos = 0;
		unsigned int i;

		ia = kzalloc(struct_size(ia, pages, nr), GFP_KERNEL);
		if (!ia)
			return;
		/* The VFS unlocks what we do not take. */
		for (i = 0; i < nr; i++) {
			struct folio *folio = readahead_folio(rac);

			if (!folio)
				break;
			if (!i)
				pos = folio_pos(folio);
			ia->pages[i] = folio_page(folio, 0);
		}
		if (!i) {
			kfree(ia);
			return;
		}
		left -= i;
		ia->file = get_file(rac->file);
		ia->ap.pages = ia->pages;
		ia->ap.num_pages = i;
		fusex_read_init(&ia->ap.args, &ia->in, rac->file, pos,
				(size_t)i << PAGE_SHIFT);
		ia->ap.args.out_pages = true;
		ia->ap.args.end = fusex_readpages_end;
		if (fusex_simple_background(fc, &ia->ap.args, GFP_KERNEL))
			fusex_readpages_end(fc, &ia->ap.args, -ENOTCONN);
		if (i < nr)
			return;
	}
}

/* Cached pages a revalidation found stale go before a read. */
static void fusex_drop_stale_pages(struct inode *inode)
{
	if (!test_and_clear_bit(FUSEX_I_INVAL_DATA,
				&get_fusex_inode(inode)->state))
		return;
	truncate_pagecache(inode, i_size_read(inode));
	invalidate_inode_pages2(inode->i_mapping);
}

static ssize_t fusex_file_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct fusex_file *ff = file->private_data;
	struct fusex_conn *fc = get_fusex_conn(inode);
	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	err = fusex_file_current(file);
	if (err)
		return err;
	fusex_drop_stale_pages(inode);
	if ((ff->open_flags & FOPEN_DIRECT_IO) ||
	    (iocb->ki_flags & IOCB_DIRECT))
		return fusex_direct_read(iocb, to);

	/*
	 * The size must be fresh to read up to the end; with
	 * FUSE_AUTO_INVAL_DATA so must the mtime, which tells stale pages.
	 */
	if (fc->auto_inval_data ||
	    iocb->ki_pos + iov_iter_count(to) > i_size_read(inode)) {
		err = fusex_update_attributes(inode, file, STATX_SIZE);
		if (err)
			return err;
	}
	return generic_file_read_iter(iocb, to);
}

/*
 * The writeback cache (FUSE_WRITEBACK_CACHE): writes go to the page cache
 * and reach the server with writeback.  A partial write of a page that is
 * not cached reads it first, unless it lies beyond the end of the file.
 */
static int fusex_write_begin(struct file *file, struct address_space *mapping,
			     loff_t pos, unsigned int len,
			     FUSEX_WB_PAGE **pagep, void **fsdata)
{
	struct page *page;
	struct folio *folio;
	loff_t fsize;
	int err;

	page = grab_cache_page_write_begin(mapping, pos >> PAGE_SHIFT);
	if (!page)
		return -ENOMEM;
	folio = page_folio(page);
	*pagep = fusex_folio_to_wb(folio);

	if (folio_test_uptodate(folio) || len == PAGE_SIZE)
		return 0;
	fsize = i_size_read(mapping->host);
	if (fsize <= (pos & PAGE_MASK)) {
		size_t off = pos & ~PAGE_MASK;

		if (off)
			zero_user_segment(page, 0, off);
		return 0;
	}
	err = fusex_read_folio_locked(file, folio);
	if (err) {
		folio_unlock(folio);
		folio_put(folio);
	}
	return err;
}

static int fusex_write_end(struct file *file, struct address_space *mapping,
			   loff_t pos, unsigned int len, unsigned int copied,
			   FUSEX_WB_PAGE *wbpage, void *fsdata)
{
	struct folio *folio = fusex_wb_to_folio(wbpage);
	struct inode *inode = mapping->host;

	if (!copied)
		goto unlock;
	pos += copied;
	if (!folio_test_uptodate(folio)) {
		/* What was not written and not read is zero. */
		size_t endoff = pos & ~PAGE_MASK;

		if (endoff)
			zero_user_segment(folio_page(folio, 0), endoff,
					  PAGE_SIZE);
		folio_mark_uptodate(folio);
	}
	if (pos > i_size_read(inode)) {
		struct fusex_inode *fi = get_fusex_inode(inode);

		spin_lock(&fi->lock);
		i_size_write(inode, pos);
		spin_unlock(&fi->lock);
	}
	folio_mark_dirty(folio);
unlock:
	folio_unlock(folio);
	folio_put(folio);
	return copied;
}

/* One WRITE; returns the bytes the server took, or -errno. */
static ssize_t fusex_send_write(struct fusex_file *ff, struct inode *inode,
				loff_t pos, const void *buf, size_t count,
				u32 write_flags)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_write_out outarg = {};
	struct fuse_write_in inarg = {};
	struct fusex_args args = {};
	ssize_t err;

	fusex_args_file(&args, ff, &inarg.fh);
	inarg.offset = pos;
	inarg.size = count;
	inarg.write_flags = write_flags;
	inarg.flags = ff->flags;
	args.opcode = FUSE_WRITE;
	fusex_args_inode(&args, inode);
	args.in_numargs = 2;
	args.in_args[0].size = fc->minor < 9 ? FUSE_COMPAT_WRITE_IN_SIZE :
					       sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.in_args[1].size = count;
	args.in_args[1].value = (void *)buf;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err)
		return err;
	if (outarg.size > count) {
		fusex_bad_reply("WRITE of nodeid %llu: %u bytes written of %zu\n",
				get_node_id(inode), outarg.size, count);
		return -EIO;
	}
	return outarg.size;
}

/*
 * The server's file grew to @pos (at least) by something the kernel did.
 * Attributes asked for before are older than this: they must not shrink
 * the size back (as fuse does, by moving attr_version on).
 */
static void fusex_write_size(struct inode *inode, loff_t pos)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	spin_lock(&fi->lock);
	fi->attr_version = atomic64_inc_return(&get_fusex_conn(inode)->attr_version);
	if (pos > i_size_read(inode))
		i_size_write(inode, pos);
	spin_unlock(&fi->lock);
}

/*
 * What was just written through goes into the pages cached over it too,
 * before the size moves: a reader that got a page when the file was
 * shorter (zeros past the old end) must not see those zeros under the new
 * size.  fuse writes through its pages for the same reason.  Pages not
 * cached are left to be read; the range has no dirty pages (written back
 * before), so none is overwritten with older data.
 */
static void fusex_write_cached(struct inode *inode, loff_t pos,
			       const char *buf, size_t len)
{
	while (len) {
		size_t off = offset_in_page(pos);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		struct folio *folio;

		folio = filemap_lock_folio(inode->i_mapping, pos >> PAGE_SHIFT);
		if (!IS_ERR_OR_NULL(folio)) {
			if (folio_test_uptodate(folio)) {
				void *kaddr = kmap_local_folio(folio,
					offset_in_folio(folio, pos));

				memcpy(kaddr, buf, n);
				kunmap_local(kaddr);
				flush_dcache_folio(folio);
			}
			folio_unlock(folio);
			folio_put(folio);
		}
		pos += n;
		buf += n;
		len -= n;
	}
}

/*
 * Write through to the server; the cached pages of the range get the same
 * bytes.  Called with the inode locked.
 */
static ssize_t fusex_write_through(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	size_t chunk = min(fusex_max_write(fc), iov_iter_count(from));
	loff_t start = iocb->ki_pos, pos = start;
	ssize_t total = 0, ret = 0;
	void *buf;

	/* Pages dirtied through mmap go first, not over this write. */
	ret = filemap_write_and_wait_range(inode->i_mapping, start,
					   start + iov_iter_count(from) - 1);
	if (ret)
		return ret;

	buf = kvmalloc(chunk, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	while (iov_iter_count(from)) {
		size_t n = min(chunk, iov_iter_count(from));
		size_t got = copy_from_iter(buf, n, from);

		if (!got) {
			ret = -EFAULT;
			break;
		}
		ret = fusex_send_write(file->private_data, inode, pos, buf, got,
				       0);
		if (ret < 0) {
			iov_iter_revert(from, got);
			break;
		}
		fusex_write_cached(inode, pos, buf, ret);
		pos += ret;
		total += ret;
		if (ret < got) {
			iov_iter_revert(from, got - ret);
			break;
		}
	}
	kvfree(buf);

	if (total) {
		/* Only now: a reader may see the size once the pages agree. */
		fusex_write_size(inode, pos);
		/* mtime, ctime, blocks are the server's now. */
		fusex_invalidate_attr(inode);
	}
	iocb->ki_pos = pos;
	return total ? total : ret;
}

static ssize_t fusex_file_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct fusex_file *ff = file->private_data;
	ssize_t ret;

	if (fusex_is_bad(inode))
		return -EIO;
	ret = fusex_file_current(file);
	if (ret)
		return ret;
	if (get_fusex_conn(inode)->writeback_cache &&
	    !(ff->open_flags & FOPEN_DIRECT_IO) &&
	    !(iocb->ki_flags & IOCB_DIRECT)) {
		/* The mode matters for dropping setuid bits. */
		ret = fusex_update_attributes(inode, file, STATX_MODE);
		if (ret)
			return ret;
		return generic_file_write_iter(iocb, from);
	}

	/*
	 * Appending takes the offset from the cached size, as fuse does: the
	 * server opened the file O_APPEND and appends wherever the end is.
	 */
	inode_lock(inode);
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out;
	ret = file_remove_privs(file);
	if (ret)
		goto out;
	ret = fusex_write_through(iocb, from);
out:
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

/* FSYNC or FSYNCDIR, once cached data is written. */
int fusex_fsync_common(struct file *file, loff_t start, loff_t end,
		       int datasync, bool isdir)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	bool *no = isdir ? &fc->no_fsyncdir : &fc->no_fsync;
	struct fuse_fsync_in inarg = {};
	struct fusex_args args = {};
	int err;

	if (fusex_is_bad(inode))
		return -EIO;

	inode_lock(inode);
	err = file_write_and_wait_range(file, start, end);
	if (err || READ_ONCE(*no))
		goto out;

	fusex_args_file(&args, ff, &inarg.fh);
	inarg.fsync_flags = datasync ? FUSE_FSYNC_FDATASYNC : 0;
	args.opcode = isdir ? FUSE_FSYNCDIR : FUSE_FSYNC;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(*no, true);
		err = 0;
	}
out:
	inode_unlock(inode);
	return err;
}

static int fusex_fsync(struct file *file, loff_t start, loff_t end,
		       int datasync)
{
	return fusex_fsync_common(file, start, end, datasync, false);
}

/*
 * Writeback of pages dirtied through a shared writable mapping: runs of
 * contiguous pages go out as one WRITE each, through any file of the
 * inode that is open for writing.
 */
struct fusex_wb {
	struct fusex_file *ff;
	struct inode *inode;
	char *buf;
	size_t max;
	loff_t pos;
	size_t len;
	unsigned int nr;
	int err;
	struct folio *folios[FUSEX_MAX_MAX_PAGES];
};

static void fusex_wb_send(struct fusex_wb *wb)
{
	unsigned int i;
	ssize_t ret;

	if (!wb->nr)
		return;
	ret = fusex_send_write(wb->ff, wb->inode, wb->pos, wb->buf, wb->len,
			       FUSE_WRITE_CACHE);
	if (ret >= 0 && ret < wb->len)
		ret = -EIO;
	/*
	 * The server's mtime and ctime moved: before the pages leave
	 * writeback, since a stat that finds none does not flush and asks
	 * the server only if the attributes are stale; and a GETATTR sent
	 * before this WRITE must not bring the old times back.
	 */
	fusex_attrs_changed(wb->inode);
	for (i = 0; i < wb->nr; i++) {
		if (ret < 0)
			mapping_set_error(wb->inode->i_mapping, ret);
		folio_end_writeback(wb->folios[i]);
	}
	if (ret < 0 && !wb->err)
		wb->err = ret;
	wb->nr = 0;
	wb->len = 0;
}

/* Add a locked folio to the run; it is unlocked under writeback. */
static void fusex_wb_add(struct fusex_wb *wb, struct folio *folio)
{
	loff_t isize = i_size_read(wb->inode);
	loff_t pos = folio_pos(folio);
	size_t len;

	if (pos >= isize) {
		/* Truncated meanwhile: nothing to write. */
		folio_unlock(folio);
		return;
	}
	len = min_t(loff_t, folio_size(folio), isize - pos);
	if (wb->nr && (pos != wb->pos + wb->len || wb->len + len > wb->max ||
		       wb->nr == ARRAY_SIZE(wb->folios)))
		fusex_wb_send(wb);
	if (!wb->nr)
		wb->pos = pos;
	memcpy_from_page(wb->buf + wb->len, folio_page(folio, 0), 0, len);
	folio_start_writeback(folio);
	folio_unlock(folio);
	wb->folios[wb->nr++] = folio;
	wb->len += len;
}

static int fusex_writepage_cb(FUSEX_WRITEPAGE_ARG arg,
			      struct writeback_control *wbc, void *data)
{
	fusex_wb_add(data, fusex_wp_folio(arg));
	return 0;
}

static int fusex_writepages(struct address_space *mapping,
			    struct writeback_control *wbc)
{
	struct inode *inode = mapping->host;
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_wb *wb;
	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	wb = kzalloc(sizeof(*wb), GFP_NOFS);
	if (!wb)
		return -ENOMEM;
	wb->inode = inode;
	wb->max = fusex_max_write(fc);
	wb->buf = kvmalloc(wb->max, GFP_NOFS);
	err = -ENOMEM;
	if (!wb->buf)
		goto out_free;
	/* Dirty pages without a writable file cannot be written. */
	err = -EIO;
	wb->ff = fusex_write_file_get(inode);
	if (!wb->ff)
		goto out_free;

	err = write_cache_pages(mapping, wbc, fusex_writepage_cb, wb);
	fusex_wb_send(wb);
	if (!err)
		err = wb->err;
	fusex_file_put(inode, wb->ff);
out_free:
	kvfree(wb->buf);
	kfree(wb);
	return err;
}

/* Write one dirty folio before it is dropped from the cache. */
static int fusex_launder_folio(struct folio *folio)
{
	struct inode *inode = folio->mapping->host;
	struct fusex_wb *wb;
	int err = -ENOMEM;

	if (!folio_test_dirty(folio))
		return 0;
	wb = kzalloc(sizeof(*wb), GFP_NOFS);
	if (!wb)
		return -ENOMEM;
	wb->inode = inode;
	wb->max = folio_size(folio);
	wb->buf = kmalloc(wb->max, GFP_NOFS);
	if (!wb->buf)
		goto out_free;
	err = -EIO;
	wb->ff = fusex_write_file_get(inode);
	if (!wb->ff)
		goto out_free;
	if (folio_clear_dirty_for_io(folio)) {
		/* Adding unlocks it; the caller expects it locked. */
		fusex_wb_add(wb, folio);
		fusex_wb_send(wb);
		folio_lock(folio);
	}
	err = wb->err;
	fusex_file_put(inode, wb->ff);
out_free:
	kfree(wb->buf);
	kfree(wb);
	return err;
}

static vm_fault_t fusex_page_mkwrite(struct vm_fault *vmf)
{
	struct folio *folio = page_folio(vmf->page);
	struct inode *inode = file_inode(vmf->vma->vm_file);

	folio_lock(folio);
	if (folio->mapping != inode->i_mapping) {
		folio_unlock(folio);
		return VM_FAULT_NOPAGE;
	}
	folio_wait_writeback(folio);
	return VM_FAULT_LOCKED;
}

/* A shared mapping going away writes what it dirtied. */
static void fusex_vma_close(struct vm_area_struct *vma)
{
	filemap_write_and_wait(vma->vm_file->f_mapping);
}

static const struct vm_operations_struct fusex_file_vm_ops = {
	.close		= fusex_vma_close,
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= fusex_page_mkwrite,
};

static int fusex_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct fusex_file *ff = file->private_data;

	/* Direct I/O files have no cache to keep coherent with a mapping. */
	if ((ff->open_flags & FOPEN_DIRECT_IO) &&
	    (vma->vm_flags & VM_MAYSHARE))
		return -ENODEV;
	file_accessed(file);
	vma->vm_ops = &fusex_file_vm_ops;
	return 0;
}

static long fusex_file_fallocate(struct file *file, int mode, loff_t offset,
				 loff_t length)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	struct fuse_fallocate_in inarg = {};
	struct fusex_args args = {};
	loff_t end = offset + length;
	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (READ_ONCE(fc->no_fallocate))
		return -EOPNOTSUPP;

	inode_lock(inode);
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > i_size_read(inode)) {
		err = inode_newsize_ok(inode, end);
		if (err)
			goto out;
	}
	err = file_modified(file);
	if (err)
		goto out;
	/* Dirty pages of a hole would fill it again. */
	err = filemap_write_and_wait_range(inode->i_mapping, offset, end - 1);
	if (err)
		goto out;

	fusex_args_file(&args, ff, &inarg.fh);
	inarg.offset = offset;
	inarg.length = length;
	inarg.mode = mode;
	args.opcode = FUSE_FALLOCATE;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_fallocate, true);
		err = -EOPNOTSUPP;
	}
	if (err)
		goto out;

	if (!(mode & FALLOC_FL_KEEP_SIZE))
		fusex_write_size(inode, end);
	if (mode & FALLOC_FL_PUNCH_HOLE)
		truncate_pagecache_range(inode, offset, end - 1);
	fusex_invalidate_attr(inode);
out:
	inode_unlock(inode);
	return err;
}

/* SEEK_DATA and SEEK_HOLE ask the server; without FUSE_LSEEK all is data. */
static loff_t fusex_lseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	struct fuse_lseek_out outarg = {};
	struct fuse_lseek_in inarg = {};
	struct fusex_args args = {};
	int err;

	if (READ_ONCE(fc->no_lseek))
		goto fallback;

	/* The server must see the data. */
	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		return err;
	fusex_args_file(&args, ff, &inarg.fh);
	inarg.offset = offset;
	inarg.whence = whence;
	args.opcode = FUSE_LSEEK;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_lseek, true);
		goto fallback;
	}
	if (err)
		return err;
	return vfs_setpos(file, outarg.offset, inode->i_sb->s_maxbytes);

fallback:
	err = fusex_update_attributes(inode, file, STATX_SIZE);
	if (err)
		return err;
	return generic_file_llseek(file, offset, whence);
}

static loff_t fusex_file_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	int err;

	switch (whence) {
	case SEEK_DATA:
	case SEEK_HOLE:
		return fusex_lseek(file, offset, whence);
	case SEEK_END:
		err = fusex_update_attributes(inode, file, STATX_SIZE);
		if (err)
			return err;
		fallthrough;
	default:
		return generic_file_llseek(file, offset, whence);
	}
}

static ssize_t fusex_do_copy_file_range(struct file *file_in, loff_t pos_in,
					struct file *file_out, loff_t pos_out,
					size_t len, unsigned int flags)
{
	struct inode *inode_in = file_inode(file_in);
	struct inode *inode_out = file_inode(file_out);
	struct fusex_conn *fc = get_fusex_conn(inode_in);
	struct fusex_file *ff_in = file_in->private_data;
	struct fusex_file *ff_out = file_out->private_data;
	struct fuse_copy_file_range_in inarg = {};
	struct fuse_write_out outarg = {};
	struct fusex_args args = {};
	ssize_t err;

	if (file_in->f_op != file_out->f_op ||
	    inode_in->i_sb != inode_out->i_sb)
		return -EXDEV;
	if (fusex_is_bad(inode_in) || fusex_is_bad(inode_out))
		return -EIO;
	if (READ_ONCE(fc->no_copy_file_range))
		return -EOPNOTSUPP;

	/* The server copies what it has: give it our dirty pages first. */
	err = filemap_write_and_wait_range(inode_in->i_mapping, pos_in,
					   pos_in + len - 1);
	if (err)
		return err;

	inode_lock(inode_out);
	err = file_modified(file_out);
	if (err)
		goto out;
	err = filemap_write_and_wait_range(inode_out->i_mapping, pos_out,
					   pos_out + len - 1);
	if (err)
		goto out;

	fusex_args_file(&args, ff_in, &inarg.fh_in);
	inarg.off_in = pos_in;
	fusex_args_inode2(&args, inode_out, &inarg.nodeid_out);
	fusex_args_file(&args, ff_out, &inarg.fh_out);
	inarg.off_out = pos_out;
	inarg.len = len;
	inarg.flags = flags;
	args.opcode = FUSE_COPY_FILE_RANGE;
	fusex_args_inode(&args, inode_in);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(inarg);
	args.in_args[0].value = &inarg;
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_copy_file_range, true);
		err = -EOPNOTSUPP;
	}
	if (err)
		goto out;
	if (outarg.size > len) {
		fusex_bad_reply("COPY_FILE_RANGE: %u bytes copied of %zu\n",
				outarg.size, len);
		err = -EIO;
		goto out;
	}

	/* Drop whole cached pages over the copy; truncating would zero. */
	if (outarg.size)
		invalidate_inode_pages2_range(inode_out->i_mapping,
				pos_out >> PAGE_SHIFT,
				(pos_out + outarg.size - 1) >> PAGE_SHIFT);
	fusex_write_size(inode_out, pos_out + outarg.size);
	fusex_invalidate_attr(inode_out);
	err = outarg.size;
out:
	inode_unlock(inode_out);
	return err;
}

/* Without the server's help (or across filesystems), copy by splice. */
static ssize_t fusex_copy_file_range(struct file *file_in, loff_t pos_in,
				     struct file *file_out, loff_t pos_out,
				     size_t len, unsigned int flags)
{
	ssize_t ret = fusex_do_copy_file_range(file_in, pos_in, file_out,
					       pos_out, len, flags);

	if (ret == -EOPNOTSUPP || ret == -EXDEV)
		ret = fusex_splice_copy(file_in, pos_in, file_out, pos_out,
					len, flags);
	return ret;
}

static void fusex_lk_fill(struct fusex_args *args, struct file *file,
			  const struct file_lock *fl, u32 opcode, pid_t pid,
			  bool flock, struct fuse_lk_in *inarg)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;

	fusex_args_file(args, ff, &inarg->fh);
	inarg->owner = fusex_lock_owner_id(fc, fusex_fl_owner(fl));
	inarg->lk.start = fl->fl_start;
	inarg->lk.end = fl->fl_end;
	inarg->lk.type = fusex_fl_type(fl);
	inarg->lk.pid = pid;
	if (flock)
		inarg->lk_flags |= FUSE_LK_FLOCK;
	args->opcode = opcode;
	fusex_args_inode(args, inode);
	args->in_numargs = 1;
	args->in_args[0].size = sizeof(*inarg);
	args->in_args[0].value = inarg;
}

static int fusex_getlk(struct file *file, struct file_lock *fl)
{
	struct fusex_conn *fc = get_fusex_conn(file_inode(file));
	struct fuse_lk_out outarg = {};
	struct fuse_lk_in inarg = {};
	struct fusex_args args = {};
	struct fuse_file_lock *ffl = &outarg.lk;
	int err;

	fusex_lk_fill(&args, file, fl, FUSE_GETLK, 0, false, &inarg);
	args.out_numargs = 1;
	args.out_args[0].size = sizeof(outarg);
	args.out_args[0].value = &outarg;
	err = fusex_simple_request(fc, &args);
	if (err)
		return err;

	switch (ffl->type) {
	case F_UNLCK:
		break;
	case F_RDLCK:
	case F_WRLCK:
		if (ffl->start > OFFSET_MAX || ffl->end > OFFSET_MAX ||
		    ffl->end < ffl->start) {
			fusex_bad_reply("GETLK: range %llu-%llu\n", ffl->start,
					ffl->end);
			return -EIO;
		}
		fl->fl_start = ffl->start;
		fl->fl_end = ffl->end;
		/* The holder's pid as the server sees it, made ours. */
		rcu_read_lock();
		fusex_fl_pid(fl) = pid_nr_ns(find_pid_ns(ffl->pid, fc->pid_ns),
					     &init_pid_ns);
		rcu_read_unlock();
		break;
	default:
		fusex_bad_reply("GETLK: lock type %u\n", ffl->type);
		return -EIO;
	}
	fusex_fl_type(fl) = ffl->type;
	return 0;
}

static int fusex_setlk(struct file *file, struct file_lock *fl, bool flock)
{
	struct fusex_conn *fc = get_fusex_conn(file_inode(file));
	int opcode = (fusex_fl_flags(fl) & FL_SLEEP) ? FUSE_SETLKW : FUSE_SETLK;
	pid_t pid = fusex_fl_type(fl) != F_UNLCK ? current->tgid : 0;
	pid_t pid_nr = pid_nr_ns(find_pid_ns(pid, &init_pid_ns), fc->pid_ns);
	struct fuse_lk_in inarg = {};
	struct fusex_args args = {};
	int err;

	/* lockd's asynchronous grants are not supported. */
	if (fl->fl_lmops && fl->fl_lmops->lm_grant)
		return -ENOLCK;
	/* Unlock on close goes with FLUSH. */
	if ((fusex_fl_flags(fl) & FL_CLOSE_POSIX) == FL_CLOSE_POSIX)
		return 0;

	fusex_lk_fill(&args, file, fl, opcode, pid_nr, flock, &inarg);
	err = fusex_simple_request(fc, &args);
	if (!err && fusex_fl_type(fl) != F_UNLCK)
		WRITE_ONCE(((struct fusex_file *)file->private_data)->locked,
			   true);
	/* A signalled SETLKW starts again. */
	if (err == -EINTR)
		err = -ERESTARTSYS;
	return err;
}

static int fusex_file_lock(struct file *file, int cmd, struct file_lock *fl)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);

	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	if (cmd == F_CANCELLK)
		return 0;
	/* A server without FUSE_POSIX_LOCKS leaves locks to the kernel. */
	if (!fc->posix_locks) {
		if (cmd == F_GETLK) {
			posix_test_lock(file, fl);
			return 0;
		}
		return posix_lock_file(file, fl, NULL);
	}
	/* Unlock on close needs nothing from a new server (see setlk). */
	if ((fusex_fl_flags(fl) & FL_CLOSE_POSIX) != FL_CLOSE_POSIX) {
		err = fusex_lock_check(file);
		if (err)
			return err;
	}
	if (cmd == F_GETLK)
		return fusex_getlk(file, fl);
	return fusex_setlk(file, fl, false);
}

static int fusex_file_flock(struct file *file, int cmd, struct file_lock *fl)
{
	struct inode *inode = file_inode(file);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_file *ff = file->private_data;
	int err;

	if (fusex_is_bad(inode))
		return -EIO;
	if (!fc->flock_locks)
		return locks_lock_file_wait(file, fl);
	err = fusex_lock_check(file);
	if (err)
		return err;
	/* The server emulates flock; RELEASE must unlock. */
	ff->flock = true;
	return fusex_setlk(file, fl, true);
}

const struct file_operations fusex_file_operations = {
	.llseek		= fusex_file_llseek,
	.read_iter	= fusex_file_read_iter,
	.write_iter	= fusex_file_write_iter,
	.fsync		= fusex_fsync,
	.mmap		= fusex_file_mmap,
	.open		= fusex_open,
	.flush		= fusex_flush,
	.release	= fusex_release,
	.splice_read	= fusex_splice_read,
	.splice_write	= iter_file_splice_write,
	.fallocate	= fusex_file_fallocate,
	.copy_file_range = fusex_copy_file_range,
	.lock		= fusex_file_lock,
	.flock		= fusex_file_flock,
	.unlocked_ioctl	= fusex_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

const struct address_space_operations fusex_file_aops = {
	.read_folio	= fusex_read_folio,
	.readahead	= fusex_readahead,
	.writepages	= fusex_writepages,
	.dirty_folio	= filemap_dirty_folio,
	.write_begin	= fusex_write_begin,
	.write_end	= fusex_write_end,
	.launder_folio	= fusex_launder_folio,
	/* O_DIRECT reads bypass the page cache in fusex_file_read_iter(). */
	.direct_IO	= noop_direct_IO,
};
