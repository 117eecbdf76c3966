// SPDX-License-Identifier: GPL-2.0
/*
 * fusex: extended attributes.  Every name goes to the server as it is;
 * setting and removing come with the write path.
 */

#include <linux/xattr.h>
#include <linux/string.h>

#include "fusex_i.h"

static void fusex_xattr_args(struct fusex_args *args, u32 opcode,
			     struct inode *inode,
			     struct fuse_getxattr_in *inarg,
			     struct fuse_getxattr_out *outarg,
			     void *value, size_t size)
{
	args->opcode = opcode;
	fusex_args_inode(args, inode);
	args->in_numargs = 1;
	args->in_args[0].size = sizeof(*inarg);
	args->in_args[0].value = inarg;
	args->out_numargs = 1;
	if (size) {
		/* The value itself, up to the caller's buffer. */
		args->out_argvar = true;
		args->out_args[0].size = size;
		args->out_args[0].value = value;
	} else {
		/* Only the size the value would need. */
		args->out_args[0].size = sizeof(*outarg);
		args->out_args[0].value = outarg;
	}
}

static ssize_t fusex_getxattr(struct inode *inode, const char *name,
			      void *value, size_t size)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_getxattr_out outarg = {};
	struct fuse_getxattr_in inarg = {};
	struct fusex_args args = {};
	ssize_t ret;

	if (fusex_is_bad(inode))
		return -EIO;
	if (READ_ONCE(fc->no_getxattr))
		return -EOPNOTSUPP;

	inarg.size = size;
	fusex_xattr_args(&args, FUSE_GETXATTR, inode, &inarg,
			 &outarg, value, size);
	args.in_numargs = 2;
	args.in_args[1].size = strlen(name) + 1;
	args.in_args[1].value = (void *)name;
	ret = fusex_simple_request(fc, &args);
	if (!ret && !size) {
		if (outarg.size > XATTR_SIZE_MAX) {
			fusex_bad_reply("GETXATTR of nodeid %llu: size %u is over the limit\n",
					get_node_id(inode), outarg.size);
			return -EIO;
		}
		ret = outarg.size;
	}
	if (ret == -ENOSYS) {
		WRITE_ONCE(fc->no_getxattr, true);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

/* A list is names, each non-empty and NUL-terminated. */
static ssize_t fusex_verify_xattr_list(const char *list, size_t size)
{
	size_t left = size;

	while (left) {
		size_t len = strnlen(list, left);

		if (!len || len == left)
			return -EIO;
		list += len + 1;
		left -= len + 1;
	}
	return size;
}

ssize_t fusex_listxattr(struct dentry *entry, char *list, size_t size)
{
	struct inode *inode = d_inode(entry);
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_getxattr_out outarg = {};
	struct fuse_getxattr_in inarg = {};
	struct fusex_args args = {};
	ssize_t ret;

	if (fusex_is_bad(inode))
		return -EIO;
	if (!fusex_allow_current_process(fc))
		return -EACCES;
	if (READ_ONCE(fc->no_listxattr))
		return -EOPNOTSUPP;

	inarg.size = size;
	fusex_xattr_args(&args, FUSE_LISTXATTR, inode, &inarg,
			 &outarg, list, size);
	ret = fusex_simple_request(fc, &args);
	if (!ret && !size) {
		if (outarg.size > XATTR_LIST_MAX) {
			fusex_bad_reply("LISTXATTR of nodeid %llu: size %u is over the limit\n",
					get_node_id(inode), outarg.size);
			return -EIO;
		}
		ret = outarg.size;
	}
	if (ret > 0 && size) {
		ret = fusex_verify_xattr_list(list, ret);
		if (ret < 0)
			fusex_bad_reply("LISTXATTR of nodeid %llu: malformed list\n",
					get_node_id(inode));
	}
	if (ret == -ENOSYS) {
		WRITE_ONCE(fc->no_listxattr, true);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

static int fusex_xattr_get(const struct xattr_handler *handler,
			   struct dentry *dentry, struct inode *inode,
			   const char *name, void *value, size_t size)
{
	return fusex_getxattr(inode, name, value, size);
}

static int fusex_setxattr(struct inode *inode, const char *name,
			  const void *value, size_t size, int flags)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fuse_setxattr_in inarg = {};
	struct fusex_args args = {};
	int err;

	if (READ_ONCE(fc->no_setxattr))
		return -EOPNOTSUPP;

	inarg.size = size;
	inarg.flags = flags;
	args.opcode = FUSE_SETXATTR;
	fusex_args_inode(&args, inode);
	args.in_numargs = 3;
	/* Without FUSE_SETXATTR_EXT the argument is the old, short one. */
	args.in_args[0].size = FUSE_COMPAT_SETXATTR_IN_SIZE;
	args.in_args[0].value = &inarg;
	args.in_args[1].size = strlen(name) + 1;
	args.in_args[1].value = (void *)name;
	args.in_args[2].size = size;
	args.in_args[2].value = (void *)value;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_setxattr, true);
		err = -EOPNOTSUPP;
	}
	if (!err)
		fusex_invalidate_attr(inode);
	return err;
}

static int fusex_removexattr(struct inode *inode, const char *name)
{
	struct fusex_conn *fc = get_fusex_conn(inode);
	struct fusex_args args = {};
	int err;

	if (READ_ONCE(fc->no_removexattr))
		return -EOPNOTSUPP;

	args.opcode = FUSE_REMOVEXATTR;
	fusex_args_inode(&args, inode);
	args.in_numargs = 1;
	args.in_args[0].size = strlen(name) + 1;
	args.in_args[0].value = (void *)name;
	err = fusex_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_removexattr, true);
		err = -EOPNOTSUPP;
	}
	if (!err)
		fusex_invalidate_attr(inode);
	return err;
}

static int fusex_xattr_set(const struct xattr_handler *handler,
			   fusex_idmap_t *idmap, struct dentry *dentry,
			   struct inode *inode, const char *name,
			   const void *value, size_t size, int flags)
{
	if (fusex_is_bad(inode))
		return -EIO;
	if (!value)
		return fusex_removexattr(inode, name);
	return fusex_setxattr(inode, name, value, size, flags);
}

/* The empty prefix takes every name: the server knows which it has. */
static const struct xattr_handler fusex_xattr_handler = {
	.prefix	= "",
	.get	= fusex_xattr_get,
	.set	= fusex_xattr_set,
};

const struct xattr_handler *fusex_xattr_handlers[] = {
	&fusex_xattr_handler,
	NULL,
};
