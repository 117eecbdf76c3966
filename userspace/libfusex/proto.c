// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libfusex: encoders and decoders for what fusex adds to the FUSE wire
 * protocol.  See fusex.h.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fusex.h"

/* fuse_init_out and fusex_init_out are the same 64 bytes. */
_Static_assert(sizeof(struct fusex_init_out) == sizeof(struct fuse_init_out),
	       "fusex_init_out is fuse_init_out");
_Static_assert(offsetof(struct fusex_init_out, flags2) ==
	       offsetof(struct fuse_init_out, flags2), "flags2 moved");

/* fuse_init_in: flags2 follows flags since 7.36. */
#define INIT_IN_FLAGS2_END (offsetof(struct fuse_init_in, flags2) + 4)

bool fusex_init_offers_handles(const struct fuse_init_in *in, size_t len)
{
	uint64_t flags;

	if (len < INIT_IN_FLAGS2_END || !(in->flags & FUSE_INIT_EXT))
		return false;
	flags = (uint64_t)in->flags2 << 32;
	return flags & FUSE_HAS_LOOKUP_HANDLE;
}

int fusex_init_accept_handles(struct fuse_init_out *out, size_t len,
			      unsigned int max_handle_sz)
{
	struct fusex_init_out *x = (struct fusex_init_out *)out;

	if (len < sizeof(*x) || !max_handle_sz ||
	    max_handle_sz > FUSEX_MAX_HANDLE_SZ)
		return EINVAL;
	x->flags |= FUSE_INIT_EXT;
	x->flags2 |= (uint32_t)(FUSE_HAS_LOOKUP_HANDLE >> 32);
	x->max_handle_sz = max_handle_sz;
	return 0;
}

size_t fusex_handle_put(void *buf, size_t bufsize, const void *data,
			size_t size)
{
	struct fusex_handle h = { .size = (uint16_t)size };
	size_t need = FUSEX_HANDLE_SIZE(size);

	if (!size || size > FUSEX_MAX_HANDLE_SZ || !data)
		return 0;
	if (!buf || bufsize < need)
		return need;
	memcpy(buf, &h, sizeof(h));
	memcpy((char *)buf + sizeof(h), data, size);
	memset((char *)buf + sizeof(h) + size, 0, need - sizeof(h) - size);
	return need;
}

size_t fusex_handle_get(const void *buf, size_t len, const void **data,
			size_t *size)
{
	struct fusex_handle h;
	size_t need;

	if (len < sizeof(h))
		return 0;
	memcpy(&h, buf, sizeof(h));
	if (h.size > FUSEX_MAX_HANDLE_SZ)
		return 0;
	need = FUSEX_HANDLE_SIZE(h.size);
	if (need > len)
		return 0;
	*data = (const char *)buf + sizeof(h);
	*size = h.size;
	return need;
}

/* @fixed bytes of payload, then the handle when @nodeid is not 0. */
static size_t fill_with_handle(void *buf, size_t bufsize,
			       const struct iovec *parts, int nparts,
			       uint64_t nodeid, const void *h, size_t hsz)
{
	size_t fixed = 0, hlen = 0, off = 0;
	int i;

	for (i = 0; i < nparts; i++)
		fixed += parts[i].iov_len;
	if (nodeid) {
		hlen = fusex_handle_put(NULL, 0, h, hsz);
		if (!hlen)
			return 0;
	}
	if (!buf || bufsize < fixed + hlen)
		return fixed + hlen;
	for (i = 0; i < nparts; i++) {
		memcpy((char *)buf + off, parts[i].iov_base, parts[i].iov_len);
		off += parts[i].iov_len;
	}
	if (hlen)
		fusex_handle_put((char *)buf + off, hlen, h, hsz);
	return fixed + hlen;
}

size_t fusex_entry_fill(void *buf, size_t bufsize,
			const struct fuse_entry_out *e, const void *h,
			size_t hsz)
{
	struct iovec part = { (void *)e, sizeof(*e) };

	return fill_with_handle(buf, bufsize, &part, 1, e->nodeid, h, hsz);
}

size_t fusex_create_fill(void *buf, size_t bufsize,
			 const struct fuse_entry_out *e,
			 const struct fuse_open_out *o, const void *h,
			 size_t hsz)
{
	struct iovec parts[2] = {
		{ (void *)e, sizeof(*e) }, { (void *)o, sizeof(*o) },
	};

	if (!e->nodeid)
		return 0;
	return fill_with_handle(buf, bufsize, parts, 2, e->nodeid, h, hsz);
}

size_t fusex_add_direntplus(void *buf, size_t bufsize, const char *name,
			    const struct fuse_entry_out *e, uint64_t off,
			    const void *h, size_t hsz)
{
	size_t namelen = strlen(name), reclen, hlen = 0;
	struct fuse_direntplus *dp = buf;

	if (!namelen || namelen > 1024 || strchr(name, '/'))
		return 0;
	reclen = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + namelen);
	if (e->nodeid) {
		hlen = fusex_handle_put(NULL, 0, h, hsz);
		if (!hlen)
			return 0;
	}
	if (!buf || bufsize < reclen + hlen)
		return reclen + hlen;
	memset(dp, 0, reclen);
	dp->entry_out = *e;
	dp->dirent.ino = e->attr.ino;
	dp->dirent.off = off;
	dp->dirent.namelen = namelen;
	dp->dirent.type = (e->attr.mode & 0170000) >> 12;
	memcpy(dp->dirent.name, name, namelen);
	if (hlen)
		fusex_handle_put((char *)buf + reclen, hlen, h, hsz);
	return reclen + hlen;
}

int fusex_parse_lookup_handle(const void *arg, size_t len,
			      struct fusex_lookup_handle_req *req)
{
	struct fusex_lookup_handle_in in;
	const char *p = arg, *name;
	size_t hlen, left;

	if (len < sizeof(in))
		return EINVAL;
	memcpy(&in, p, sizeof(in));
	p += sizeof(in);
	left = len - sizeof(in);
	hlen = fusex_handle_get(p, left, &req->handle, &req->handle_size);
	if (!hlen)
		return EINVAL;
	p += hlen;
	left -= hlen;
	req->flags = in.flags;
	req->nodeid = in.nodeid;
	req->name = NULL;
	if (in.flags & FUSEX_LH_NAME) {
		name = p;
		if (!left || !memchr(name, '\0', left) || !*name ||
		    !req->handle_size)
			return EINVAL;
		req->name = name;
	}
	if (!req->handle_size && !req->nodeid)
		return EINVAL;
	return 0;
}

int fusex_send_reply(int fd, uint64_t unique, int error, const void *payload,
		     size_t len)
{
	struct fuse_out_header oh = {
		.unique = unique,
		.error = error ? -error : 0,
	};
	struct iovec iov[2] = {
		{ &oh, sizeof(oh) }, { (void *)payload, len },
	};
	int n = 1;

	if (!error && len)
		n = 2;
	oh.len = sizeof(oh) + (n == 2 ? len : 0);
	if (writev(fd, iov, n) < 0)
		return errno;
	return 0;
}
