// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: persistent server handles (FUSE_HAS_LOOKUP_HANDLE).
 *
 * A server that opts in sends, with every entry it returns, an opaque
 * handle for the object that stays valid across its restarts.  The kernel
 * keeps it with the inode (inline when small), never looks inside, and
 * compares it byte for byte.  FUSE_LOOKUP_HANDLE turns a handle back into
 * an entry.  Export operations build on it, so name_to_handle_at() and
 * open_by_handle_at() (and knfsd) work after the inode has been evicted.
 */

#include <linux/slab.h>
#include <linux/exportfs.h>
#include <linux/namei.h>

#include "fusex_i.h"

/*
 * File handle types (struct fid) fusex hands to the VFS.  A server handle
 * fills the file handle alone, padded with zeros to a whole word; the type
 * says how many bytes of the last word are padding, so a 128-byte server
 * handle fits MAX_HANDLE_SZ.
 */
#define FUSEX_FILEID_HANDLE	0xf4	/* + 0..3 padding bytes */
#define FUSEX_FILEID_HANDLE_MAX	(FUSEX_FILEID_HANDLE + 3)
#define FUSEX_FILEID_NODEID	0xf2	/* nodeid (2 words), generation */

static const u8 *fusex_fh_data(struct fusex_inode *fi, unsigned int size)
{
	return size > FUSEX_FH_INLINE ? fi->fh_ext : fi->fh_inline;
}

void fusex_free_handle(struct fusex_inode *fi)
{
	if (fi->fh_size > FUSEX_FH_INLINE)
		kfree(fi->fh_ext);
}

/**
 * fusex_check_handle - check a handle a server sent
 * @fc: the connection
 * @h: the handle
 * @len: the bytes the server sent for it
 *
 * Return: 0, or -EIO (logged) for a missing, oversized or ill-sized one.
 */
int fusex_check_handle(struct fusex_conn *fc, const struct fusex_handle *h,
		       size_t len)
{
	if (len < sizeof(*h)) {
		fusex_bad_reply("entry without its handle\n");
		return -EIO;
	}
	if (!h->size || h->size > fc->max_handle_sz) {
		fusex_bad_reply("handle of %u bytes (negotiated 1..%u)\n",
				h->size, fc->max_handle_sz);
		return -EIO;
	}
	if (len != FUSEX_HANDLE_SIZE(h->size)) {
		fusex_bad_reply("handle of %u bytes sent in %zu\n", h->size,
				len);
		return -EIO;
	}
	return 0;
}

/* Entry replies end with the object's handle when the server opted in. */
void fusex_entry_handle_arg(struct fusex_conn *fc, struct fusex_args *args,
			    struct fusex_handle_buf *hb)
{
	if (!fc->lookup_handle)
		return;
	args->out_args[args->out_numargs].size =
		FUSEX_HANDLE_SIZE(fc->max_handle_sz);
	args->out_args[args->out_numargs].value = hb;
	args->out_numargs++;
	args->out_argvar = true;
}

/**
 * fusex_entry_handle - the handle an entry reply carried
 * @fc: the connection
 * @args: the request, answered
 * @hb: where fusex_entry_handle_arg() had it put
 * @nodeid: the entry's nodeid
 *
 * Return: the handle, NULL when there is none to have (no handles, or a
 * negative entry), or ERR_PTR(-EIO) when one is missing or malformed.
 */
const struct fusex_handle *fusex_entry_handle(struct fusex_conn *fc,
					      struct fusex_args *args,
					      struct fusex_handle_buf *hb,
					      u64 nodeid)
{
	if (!fc->lookup_handle || !nodeid)
		return NULL;
	if (fusex_check_handle(fc, &hb->h, args->out_size))
		return ERR_PTR(-EIO);
	return &hb->h;
}

/**
 * fusex_set_handle - give an inode its handle, or check it has this one
 * @inode: the inode
 * @h: a checked handle
 *
 * Return: 0; -EIO (logged) if the inode has another handle: a server must
 * give one object one handle; -ENOMEM.
 */
int fusex_set_handle(struct inode *inode, const struct fusex_handle *h)
{
	struct fusex_inode *fi = get_fusex_inode(inode);
	/* Pairs with the smp_store_release() below. */
	unsigned int size = smp_load_acquire(&fi->fh_size);
	u8 *ext = NULL;

	if (!size && h->size > FUSEX_FH_INLINE) {
		ext = kmemdup(h->data, h->size, GFP_KERNEL_ACCOUNT);
		if (!ext)
			return -ENOMEM;
	}

	spin_lock(&fi->lock);
	size = fi->fh_size;
	if (!size) {
		if (ext)
			fi->fh_ext = ext;
		else
			memcpy(fi->fh_inline, h->data, h->size);
		/* Pairs with smp_load_acquire() of readers. */
		smp_store_release(&fi->fh_size, h->size);
		ext = NULL;
	}
	spin_unlock(&fi->lock);
	kfree(ext);

	if (size && (size != h->size ||
		     memcmp(fusex_fh_data(fi, size), h->data, size))) {
		fusex_bad_reply("nodeid %llu: its handle changed\n",
				get_node_id(inode));
		return -EIO;
	}
	return 0;
}

/* The handle of @inode, with its size in @size; NULL if it has none. */
static const u8 *fusex_inode_handle(struct inode *inode, unsigned int *size)
{
	struct fusex_inode *fi = get_fusex_inode(inode);

	/* Pairs with smp_store_release() in fusex_set_handle(). */
	*size = smp_load_acquire(&fi->fh_size);
	return *size ? fusex_fh_data(fi, *size) : NULL;
}

struct fusex_lookup_handle_args {
	struct fusex_args args;
	struct fusex_lookup_handle_in in;
	struct fusex_handle_buf req;
	struct fuse_entry_out out;
	struct fusex_handle_buf hb;
};

static void fusex_lookup_handle_init(struct fusex_conn *fc,
				     struct fusex_lookup_handle_args *la,
				     const u8 *data, unsigned int size,
				     u64 nodeid)
{
	la->in.nodeid = nodeid;
	la->req.h.size = size;
	memcpy(la->req.data, data, size);
	la->args.opcode = FUSE_LOOKUP_HANDLE;
	la->args.nodeid = 0;
	la->args.in_numargs = 2;
	la->args.in_args[0].size = sizeof(la->in);
	la->args.in_args[0].value = &la->in;
	la->args.in_args[1].size = FUSEX_HANDLE_SIZE(size);
	la->args.in_args[1].value = &la->req;
	la->args.out_numargs = 1;
	la->args.out_args[0].size = sizeof(la->out);
	la->args.out_args[0].value = &la->out;
	fusex_entry_handle_arg(fc, &la->args, &la->hb);
}

/*
 * Check a LOOKUP_HANDLE answer: an entry, with a handle, equal to the one
 * asked for when one was.  Returns the handle or an ERR_PTR.
 */
static const struct fusex_handle *
fusex_lookup_handle_check(struct fusex_conn *fc,
			  struct fusex_lookup_handle_args *la, u64 nodeid)
{
	const struct fusex_handle *h;

	if (!la->out.nodeid)
		return ERR_PTR(-ESTALE);
	if (fusex_invalid_attr(&la->out.attr)) {
		fusex_bad_reply("LOOKUP_HANDLE: impossible mode %o\n",
				la->out.attr.mode);
		return ERR_PTR(-EIO);
	}
	h = fusex_entry_handle(fc, &la->args, &la->hb, la->out.nodeid);
	if (IS_ERR(h))
		return h;
	if (la->req.h.size ? (h->size != la->req.h.size ||
			      memcmp(h->data, la->req.data, h->size)) :
			     la->out.nodeid != nodeid) {
		fusex_bad_reply("LOOKUP_HANDLE: answered for another object\n");
		return ERR_PTR(-EIO);
	}
	return h;
}

/**
 * fusex_lookup_handle - turn a handle into an inode
 * @sb: the super block
 * @data: the handle
 * @size: its size (1..max_handle_sz)
 *
 * Return: the inode with a reference; ERR_PTR(-ESTALE) when the object is
 * gone (or the server cannot resolve handles); other ERR_PTRs.
 */
static struct inode *fusex_lookup_handle(struct super_block *sb,
					 const u8 *data, unsigned int size)
{
	struct fusex_conn *fc = get_fusex_conn_sb(sb);
	struct fusex_lookup_handle_args *la;
	const struct fusex_handle *h;
	struct fusex_forget *forget;
	struct inode *inode;
	u64 attr_version;
	int err;

	la = kzalloc(sizeof(*la), GFP_KERNEL);
	forget = fusex_alloc_forget();
	if (!la || !forget) {
		inode = ERR_PTR(-ENOMEM);
		goto out_free;
	}

	attr_version = fusex_get_attr_version(fc);
	fusex_lookup_handle_init(fc, la, data, size, 0);
	err = fusex_simple_request(fc, &la->args);
	if (err > 0)
		err = 0;
	if (err == -ENOENT || err == -ENOSYS)
		err = -ESTALE;
	if (err) {
		inode = ERR_PTR(err);
		goto out_free;
	}

	h = fusex_lookup_handle_check(fc, la, 0);
	if (IS_ERR(h)) {
		inode = ERR_CAST(h);
		goto out_forget;
	}
	inode = fusex_iget(sb, la->out.nodeid, la->args.epoch,
			   la->out.generation,
			   &la->out.attr,
			   fusex_time_to_jiffies(la->out.attr_valid,
						 la->out.attr_valid_nsec),
			   attr_version, h);
	if (IS_ERR(inode))
		goto out_forget;
	goto out_free;

out_forget:
	if (la->out.nodeid) {
		fusex_queue_forget(fc, forget, la->out.nodeid, 1,
				   la->args.epoch);
		forget = NULL;
	}
out_free:
	kfree(forget);
	kfree(la);
	return inode;
}

/* Does @inode have handle @h? */
bool fusex_same_handle(struct inode *inode, const struct fusex_handle *h)
{
	unsigned int size;
	const u8 *data = fusex_inode_handle(inode, &size);

	return data && size == h->size && !memcmp(data, h->data, size);
}

/**
 * fusex_reval_by_handle - revalidate @inode on a restarted server
 * @inode: an inode with a handle, of an older server instance
 *
 * One FUSE_LOOKUP_HANDLE gives the object's nodeid on the new instance and
 * its attributes.  The object is gone (ESTALE, ENOENT) or of another type:
 * the inode is stale.
 *
 * Return: 0, -ESTALE, or the request's error.
 */
int fusex_reval_by_handle(struct inode *inode)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_lookup_handle_args *la;
	const struct fusex_handle *h;
	unsigned int size;
	const u8 *data;
	u64 attr_version;
	int err;

	la = kzalloc(sizeof(*la), GFP_KERNEL);
	if (!la)
		return -ENOMEM;
	data = fusex_inode_handle(inode, &size);
	attr_version = fusex_get_attr_version(fc);
	fusex_lookup_handle_init(fc, la, data, size, 0);
	err = fusex_simple_request(fc, &la->args);
	if (err > 0)
		err = 0;
	if (err == -ENOENT || err == -ESTALE) {
		fusex_make_stale(inode);
		err = -ESTALE;
	}
	if (err)
		goto out;
	h = fusex_lookup_handle_check(fc, la, 0);
	if (IS_ERR(h)) {
		err = PTR_ERR(h);
		if (err == -ESTALE)
			fusex_make_stale(inode);
		goto out_forget;
	}
	if (inode_wrong_type(inode, la->out.attr.mode)) {
		fusex_bad_reply("LOOKUP_HANDLE: type %o for an object of type %o\n",
				la->out.attr.mode & S_IFMT,
				inode->i_mode & S_IFMT);
		fusex_make_stale(inode);
		err = -ESTALE;
		goto out_forget;
	}
	atomic64_inc(&fc->reval_handle);
	err = fusex_adopt(inode, &la->out, la->args.epoch, attr_version);
	goto out;

out_forget:
	if (la->out.nodeid) {
		struct fusex_forget *forget = fusex_alloc_forget();

		if (forget)
			fusex_queue_forget(fc, forget, la->out.nodeid, 1,
					   la->args.epoch);
	}
out:
	kfree(la);
	return err;
}

/* The arguments of a FUSE_LOOKUP_HANDLE of a name under a handle. */
struct fusex_lh_name {
	struct fusex_lookup_handle_in in;
	struct fusex_handle_buf req;
};

/**
 * fusex_lookup_under_handle - make a LOOKUP of a name ask by handle
 * @fc: the connection
 * @args: a LOOKUP of @name in @dir, from fusex_lookup_init(), not bound
 * @dir: the directory
 * @name: the name (NUL-terminated, as a dentry's)
 *
 * After a restart, @dir may still be an older server instance's.  A LOOKUP
 * in it must first revalidate it (one round trip, to learn its nodeid on
 * the new instance); when it has a handle, FUSE_LOOKUP_HANDLE with
 * FUSEX_LH_NAME asks the new instance for @name under that handle in one.
 * @dir itself is revalidated only when it is used itself.  Otherwise
 * @args stays a LOOKUP, for the caller to bind to @dir.
 *
 * Return: the arguments to kfree() after the request when @args became a
 * FUSE_LOOKUP_HANDLE, NULL when it is still a LOOKUP, or ERR_PTR(-ENOMEM).
 */
struct fusex_lh_name *fusex_lookup_under_handle(struct fusex_conn *fc,
						struct fusex_args *args,
						struct inode *dir,
						const struct qstr *name)
{
	struct fusex_lh_name *ln;
	unsigned int size;
	const u8 *data;

	if (!fc->lookup_handle || fusex_is_stale(dir) ||
	    fusex_inode_epoch(dir) == READ_ONCE(fc->epoch))
		return NULL;
	data = fusex_inode_handle(dir, &size);
	if (!data)
		return NULL;
	ln = kzalloc(sizeof(*ln), GFP_KERNEL);
	if (!ln)
		return ERR_PTR(-ENOMEM);
	ln->in.flags = FUSEX_LH_NAME;
	ln->req.h.size = size;
	memcpy(ln->req.data, data, size);
	args->opcode = FUSE_LOOKUP_HANDLE;
	args->nodeid = 0;
	args->in_numargs = 3;
	args->in_args[0].size = sizeof(ln->in);
	args->in_args[0].value = &ln->in;
	args->in_args[1].size = FUSEX_HANDLE_SIZE(size);
	args->in_args[1].value = &ln->req;
	args->in_args[2].size = name->len + 1;
	args->in_args[2].value = (void *)name->name;
	return ln;
}

/* The root's handle comes from no reply: ask for it right after INIT. */
static void fusex_root_handle_end(struct fusex_conn *fc,
				  struct fusex_args *args, int error)
{
	struct fusex_lookup_handle_args *la =
		container_of(args, typeof(*la), args);
	struct inode *root = d_inode(fc->sb->s_root);
	const struct fusex_handle *h;

	if (error)
		goto out;
	h = fusex_lookup_handle_check(fc, la, FUSEX_ROOT_ID);
	if (IS_ERR(h)) {
		if (la->out.nodeid && la->out.nodeid != FUSEX_ROOT_ID) {
			struct fusex_forget *forget = fusex_alloc_forget();

			if (forget)
				fusex_queue_forget(fc, forget, la->out.nodeid,
						   1, la->args.epoch);
		}
		goto out;
	}
	/* The server counted a lookup of the root. */
	fusex_count_lookup(root, la->args.epoch);
	fusex_set_handle(root, h);
out:
	kfree(la);
}

void fusex_fetch_root_handle(struct fusex_conn *fc)
{
	struct fusex_lookup_handle_args *la;

	la = kzalloc(sizeof(*la), GFP_KERNEL);
	if (!la)
		return;
	fusex_lookup_handle_init(fc, la, NULL, 0, FUSEX_ROOT_ID);
	la->args.end = fusex_root_handle_end;
	if (fusex_simple_background(fc, &la->args, GFP_KERNEL))
		kfree(la);
}

static int fusex_encode_fh(struct inode *inode, u32 *fh, int *max_len,
			   struct inode *parent)
{
	unsigned int size, words;
	const u8 *data;

	data = fusex_inode_handle(inode, &size);
	if (data) {
		/* The server's handle: valid after eviction and restarts. */
		words = DIV_ROUND_UP(size, 4);
		if (*max_len < words) {
			*max_len = words;
			return FILEID_INVALID;
		}
		memset(fh, 0, words * 4);
		memcpy(fh, data, size);
		*max_len = words;
		return FUSEX_FILEID_HANDLE + words * 4 - size;
	}

	/* No handle: the nodeid, good while the inode is cached. */
	words = 3;
	if (*max_len < words) {
		*max_len = words;
		return FILEID_INVALID;
	}
	fh[0] = upper_32_bits(get_node_id(inode));
	fh[1] = lower_32_bits(get_node_id(inode));
	fh[2] = inode->i_generation;
	*max_len = words;
	return FUSEX_FILEID_NODEID;
}

static struct dentry *fusex_fh_to_dentry(struct super_block *sb,
					 struct fid *fid, int fh_len,
					 int fh_type)
{
	struct fusex_conn *fc = get_fusex_conn_sb(sb);
	const u8 *data = (const u8 *)fid->raw;
	struct inode *inode;
	unsigned int size;
	u64 nodeid;

	switch (fh_type) {
	case FUSEX_FILEID_HANDLE ... FUSEX_FILEID_HANDLE_MAX:
		if (fh_len < 1)
			return ERR_PTR(-ESTALE);
		size = fh_len * 4 - (fh_type - FUSEX_FILEID_HANDLE);
		/* Only the padding encode_fh writes: one file handle each. */
		if (!fc->lookup_handle || size > fc->max_handle_sz ||
		    memchr_inv(data + size, 0, fh_len * 4 - size))
			return ERR_PTR(-ESTALE);
		inode = fusex_lookup_handle(sb, data, size);
		break;
	case FUSEX_FILEID_NODEID:
		if (fh_len < 3)
			return ERR_PTR(-ESTALE);
		nodeid = (u64)fid->raw[0] << 32 | fid->raw[1];
		inode = fusex_ilookup(sb, nodeid);
		if (!inode)
			return ERR_PTR(-ESTALE);
		if (inode->i_generation != fid->raw[2]) {
			iput(inode);
			return ERR_PTR(-ESTALE);
		}
		break;
	default:
		return NULL;
	}
	if (IS_ERR(inode))
		return ERR_CAST(inode);
	return d_obtain_alias(inode);
}

static struct dentry *fusex_get_parent(struct dentry *child)
{
	static const struct qstr dotdot = QSTR_INIT("..", 2);
	struct inode *child_inode = d_inode(child);
	struct fuse_entry_out outarg;
	struct inode *inode;
	int err;

	err = fusex_lookup_name(child_inode->i_sb, child_inode, &dotdot,
				&outarg, &inode);
	if (err == -ENOENT)
		return ERR_PTR(-ESTALE);
	if (err)
		return ERR_PTR(err);
	if (!inode)
		return ERR_PTR(-ESTALE);
	return d_obtain_alias(inode);
}

const struct export_operations fusex_export_operations = {
	.encode_fh	= fusex_encode_fh,
	.fh_to_dentry	= fusex_fh_to_dentry,
	.get_parent	= fusex_get_parent,
};
