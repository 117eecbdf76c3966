// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libfusex: the bridge that gives a libfuse 3 lowlevel server persistent
 * handles, through libfuse's custom I/O hooks.  See fusex_lowlevel.h.
 *
 * Requests go kernel -> br_read() -> libfuse, replies libfuse ->
 * br_writev() -> kernel.  On the way in, the bridge notes the unique of
 * every request whose reply it must extend (INIT, the entry replies,
 * READDIRPLUS), lowers the size of READDIRPLUS so that the records still
 * fit with their handles, and answers FUSE_LOOKUP_HANDLE itself (and
 * FUSE_TMPFILE, when the server gives a tmpfile callback).  On the way out
 * it finds the note by unique and rewrites the reply.
 *
 * When a lookup the server counted cannot reach the kernel (an entry
 * without a handle in READDIRPLUS, a record that does not fit), the bridge
 * gives the server a FUSE_BATCH_FORGET of its own making the next time
 * libfuse reads, so the server's lookup counts stay right.
 *
 * libfuse calls the hooks from several threads at once (the multithreaded
 * loop); one mutex per bridge guards its notes and forgets.  The hooks are
 * given the device fd (the userdata libfuse passes is the server's), so
 * bridges are found by fd in a small global list.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fusex_lowlevel.h"

/* A request whose reply the bridge rewrites. */
struct note {
	struct note *next;
	uint64_t unique;
	uint32_t opcode;
	/* READDIRPLUS: the size the kernel asked for */
	uint32_t size;
};

#define NOTE_BUCKETS 256

/* Smallest READDIRPLUS record: the entry, the dirent, a 1-byte name. */
#define MIN_DIRENTPLUS FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + 1)

struct fusex_bridge {
	struct fusex_bridge_ops ops;
	void *userdata;
	unsigned int max_handle_sz;
	unsigned int flags;
	int fd;
	/* The kernel offered handles in INIT; they were accepted. */
	atomic_bool offered;
	atomic_bool active;

	pthread_mutex_t lock;
	struct note *notes[NOTE_BUCKETS];
	struct note *free_notes;
	/* Lookups to give back to the server, as a BATCH_FORGET. */
	struct fuse_forget_one *forgets;
	size_t nforgets, forgets_cap;
	atomic_size_t nforgets_hint;

	struct fusex_bridge *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fusex_bridge *registry;

static struct fusex_bridge *bridge_of(int fd)
{
	struct fusex_bridge *br;

	pthread_mutex_lock(&registry_lock);
	for (br = registry; br; br = br->next)
		if (br->fd == fd)
			break;
	pthread_mutex_unlock(&registry_lock);
	return br;
}

#define DBG(br, ...) do {						\
	if ((br)->flags & FUSEX_BRIDGE_DEBUG)				\
		fuse_log(FUSE_LOG_DEBUG, "fusex: " __VA_ARGS__);	\
} while (0)

/* ---- notes: unique -> what the reply needs --------------------------- */

static int note_add(struct fusex_bridge *br, uint64_t unique, uint32_t opcode,
		    uint32_t size)
{
	struct note *n;

	pthread_mutex_lock(&br->lock);
	n = br->free_notes;
	if (n)
		br->free_notes = n->next;
	else
		n = malloc(sizeof(*n));
	if (n) {
		n->unique = unique;
		n->opcode = opcode;
		n->size = size;
		n->next = br->notes[unique % NOTE_BUCKETS];
		br->notes[unique % NOTE_BUCKETS] = n;
	}
	pthread_mutex_unlock(&br->lock);
	return n ? 0 : ENOMEM;
}

/* Take the note for @unique out; returns false if there is none. */
static bool note_take(struct fusex_bridge *br, uint64_t unique,
		      struct note *out)
{
	struct note **pp, *n;

	pthread_mutex_lock(&br->lock);
	for (pp = &br->notes[unique % NOTE_BUCKETS]; (n = *pp);
	     pp = &n->next) {
		if (n->unique == unique) {
			*pp = n->next;
			*out = *n;
			n->next = br->free_notes;
			br->free_notes = n;
			break;
		}
	}
	pthread_mutex_unlock(&br->lock);
	return n != NULL;
}

/* ---- forgets the bridge owes the server ------------------------------ */

static void owe_forget(struct fusex_bridge *br, uint64_t nodeid)
{
	struct fuse_forget_one *f;
	size_t cap;

	pthread_mutex_lock(&br->lock);
	if (br->nforgets == br->forgets_cap) {
		cap = br->forgets_cap ? 2 * br->forgets_cap : 16;
		f = realloc(br->forgets, cap * sizeof(*f));
		if (!f) {
			/* The server keeps one lookup too many: a leak only. */
			pthread_mutex_unlock(&br->lock);
			return;
		}
		br->forgets = f;
		br->forgets_cap = cap;
	}
	br->forgets[br->nforgets].nodeid = nodeid;
	br->forgets[br->nforgets].nlookup = 1;
	br->nforgets++;
	atomic_store(&br->nforgets_hint, br->nforgets);
	pthread_mutex_unlock(&br->lock);
}

/* A FUSE_BATCH_FORGET for libfuse in @buf, if forgets are owed. */
static ssize_t give_forgets(struct fusex_bridge *br, void *buf, size_t len)
{
	struct fuse_in_header ih = { .opcode = FUSE_BATCH_FORGET };
	struct fuse_batch_forget_in bi = { 0 };
	size_t room, n;
	char *p = buf;

	if (!atomic_load(&br->nforgets_hint))
		return 0;
	if (len < sizeof(ih) + sizeof(bi) + sizeof(struct fuse_forget_one))
		return 0;
	room = (len - sizeof(ih) - sizeof(bi)) /
	       sizeof(struct fuse_forget_one);

	pthread_mutex_lock(&br->lock);
	n = br->nforgets < room ? br->nforgets : room;
	if (n) {
		bi.count = n;
		ih.len = sizeof(ih) + sizeof(bi) + n * sizeof(br->forgets[0]);
		memcpy(p, &ih, sizeof(ih));
		memcpy(p + sizeof(ih), &bi, sizeof(bi));
		memcpy(p + sizeof(ih) + sizeof(bi),
		       br->forgets + br->nforgets - n,
		       n * sizeof(br->forgets[0]));
		br->nforgets -= n;
		atomic_store(&br->nforgets_hint, br->nforgets);
	}
	pthread_mutex_unlock(&br->lock);
	if (n)
		DBG(br, "giving the server %zu forgets of its own\n", n);
	return n ? (ssize_t)ih.len : 0;
}

/* ---- entries --------------------------------------------------------- */

static unsigned long timeout_sec(double t)
{
	if (t <= 0)
		return 0;
	if (t > (double)ULONG_MAX)
		return ULONG_MAX;
	return (unsigned long)t;
}

static unsigned int timeout_nsec(double t)
{
	double f = t - (double)timeout_sec(t);

	if (f <= 0)
		return 0;
	if (f >= 0.999999999)
		return 999999999;
	return (unsigned int)(f * 1.0e9);
}

/* struct fuse_entry_out from a fuse_entry_param, as libfuse makes it. */
static void entry_out(struct fuse_entry_out *o, const struct fuse_entry_param *e)
{
	const struct stat *st = &e->attr;

	memset(o, 0, sizeof(*o));
	o->nodeid = e->ino;
	o->generation = e->generation;
	o->entry_valid = timeout_sec(e->entry_timeout);
	o->entry_valid_nsec = timeout_nsec(e->entry_timeout);
	o->attr_valid = timeout_sec(e->attr_timeout);
	o->attr_valid_nsec = timeout_nsec(e->attr_timeout);
	o->attr.ino = st->st_ino;
	o->attr.mode = st->st_mode;
	o->attr.nlink = st->st_nlink;
	o->attr.uid = st->st_uid;
	o->attr.gid = st->st_gid;
	o->attr.rdev = st->st_rdev;
	o->attr.size = st->st_size;
	o->attr.blksize = st->st_blksize;
	o->attr.blocks = st->st_blocks;
	o->attr.atime = st->st_atim.tv_sec;
	o->attr.mtime = st->st_mtim.tv_sec;
	o->attr.ctime = st->st_ctim.tv_sec;
	o->attr.atimensec = st->st_atim.tv_nsec;
	o->attr.mtimensec = st->st_mtim.tv_nsec;
	o->attr.ctimensec = st->st_ctim.tv_nsec;
}

/* The handle of @nodeid into @buf (max_handle_sz bytes); 0 or errno. */
static int encode(struct fusex_bridge *br, uint64_t nodeid, void *buf,
		  size_t *size)
{
	int err;

	*size = br->max_handle_sz;
	err = br->ops.encode(br->userdata, nodeid, buf, size);
	if (!err && (!*size || *size > br->max_handle_sz)) {
		fuse_log(FUSE_LOG_ERR,
			 "fusex: encode(%llu) gave a handle of %zu bytes, not 1..%u\n",
			 (unsigned long long)nodeid, *size, br->max_handle_sz);
		err = EOVERFLOW;
	}
	if (err)
		DBG(br, "no handle for nodeid %llu: %s\n",
		    (unsigned long long)nodeid, strerror(err));
	return err;
}

/* Answer FUSE_LOOKUP_HANDLE: libfuse never sees it. */
static void lookup_handle(struct fusex_bridge *br,
			  const struct fuse_in_header *ih)
{
	unsigned char hbuf[FUSEX_MAX_HANDLE_SZ], obuf[FUSEX_MAX_HANDLE_SZ];
	unsigned char reply[sizeof(struct fuse_entry_out) +
			    FUSEX_HANDLE_SIZE(FUSEX_MAX_HANDLE_SZ)];
	struct fusex_lookup_handle_req req;
	struct fuse_entry_param e;
	struct fuse_entry_out eo;
	const void *h;
	size_t hsz, osz, len;
	int err;

	err = fusex_parse_lookup_handle(ih + 1, ih->len - sizeof(*ih), &req);
	if (err) {
		err = EIO;
		goto out_err;
	}
	h = req.handle;
	hsz = req.handle_size;
	if (!hsz) {
		/* The handle of a nodeid the kernel has (the root). */
		err = encode(br, req.nodeid, hbuf, &hsz);
		if (err)
			goto out_err;
		h = hbuf;
	}
	memset(&e, 0, sizeof(e));
	err = br->ops.resolve(br->userdata, h, hsz, req.name, &e);
	if (!err && !e.ino)
		err = req.name ? ENOENT : ESTALE;
	if (err)
		goto out_err;
	err = encode(br, e.ino, obuf, &osz);
	if (err) {
		owe_forget(br, e.ino);
		err = EIO;
		goto out_err;
	}
	entry_out(&eo, &e);
	len = fusex_entry_fill(reply, sizeof(reply), &eo, obuf, osz);
	DBG(br, "LOOKUP_HANDLE unique %llu: nodeid %llu\n",
	    (unsigned long long)ih->unique, (unsigned long long)e.ino);
	fusex_send_reply(br->fd, ih->unique, 0, reply, len);
	return;

out_err:
	DBG(br, "LOOKUP_HANDLE unique %llu: %s\n",
	    (unsigned long long)ih->unique, strerror(err));
	fusex_send_reply(br->fd, ih->unique, err, NULL, 0);
}

/*
 * Answer FUSE_TMPFILE through the server's tmpfile callback: libfuse 3.14
 * does not know the opcode.  The reply is CREATE's: the entry, the open
 * file, and the handle when handles are on.
 */
static void answer_tmpfile(struct fusex_bridge *br,
			   const struct fuse_in_header *ih)
{
	unsigned char reply[sizeof(struct fuse_entry_out) +
			    sizeof(struct fuse_open_out) +
			    FUSEX_HANDLE_SIZE(FUSEX_MAX_HANDLE_SZ)];
	unsigned char h[FUSEX_MAX_HANDLE_SZ];
	const struct fuse_create_in *ci = (const void *)(ih + 1);
	struct fuse_open_out oo = { 0 };
	struct fuse_entry_param e;
	struct fuse_entry_out eo;
	size_t len, hsz;
	uint64_t fh = 0;
	int err;

	if (ih->len < sizeof(*ih) + sizeof(*ci)) {
		fusex_send_reply(br->fd, ih->unique, EIO, NULL, 0);
		return;
	}
	memset(&e, 0, sizeof(e));
	err = br->ops.tmpfile(br->userdata, ih->nodeid, ci->mode,
			      (int)ci->flags, &e, &fh);
	if (!err && !e.ino)
		err = EIO;
	if (err) {
		DBG(br, "TMPFILE unique %llu: %s\n",
		    (unsigned long long)ih->unique, strerror(err));
		fusex_send_reply(br->fd, ih->unique, err, NULL, 0);
		return;
	}
	entry_out(&eo, &e);
	oo.fh = fh;
	memcpy(reply, &eo, sizeof(eo));
	memcpy(reply + sizeof(eo), &oo, sizeof(oo));
	len = sizeof(eo) + sizeof(oo);
	/* Without a handle the kernel refuses it (EIO) and releases it. */
	if (atomic_load(&br->active) && !encode(br, e.ino, h, &hsz))
		len += fusex_handle_put(reply + len, sizeof(reply) - len, h,
					hsz);
	DBG(br, "TMPFILE unique %llu: nodeid %llu\n",
	    (unsigned long long)ih->unique, (unsigned long long)e.ino);
	if (fusex_send_reply(br->fd, ih->unique, 0, reply, len) == ENOENT)
		owe_forget(br, e.ino);
}

/* ---- requests -------------------------------------------------------- */

static bool is_entry_op(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		return true;
	}
	return false;
}

/*
 * What libfuse may put in a READDIRPLUS reply so that, with a handle of
 * max_handle_sz after each record, it still fits in @size: records are at
 * least MIN_DIRENTPLUS bytes, so n records with handles of H bytes take
 * at most size' * (MIN + H) / MIN.
 */
static uint32_t dirplus_budget(struct fusex_bridge *br, uint32_t size)
{
	uint64_t h = FUSEX_HANDLE_SIZE(br->max_handle_sz);
	uint32_t budget;

	budget = (uint32_t)((uint64_t)size * MIN_DIRENTPLUS /
			    (MIN_DIRENTPLUS + h)) & ~7U;
	/*
	 * Too small for one record: ask for what the kernel asked; records
	 * that do not fit with their handles are left out (reply_dirplus()).
	 */
	return budget < MIN_DIRENTPLUS ? size : budget;
}

/*
 * Look at a request on its way to libfuse.  Returns true if libfuse
 * should have it, false if the bridge has dealt with it.
 */
static bool request_in(struct fusex_bridge *br, void *buf, size_t len)
{
	struct fuse_in_header *ih = buf;
	struct fuse_read_in *ri;
	bool active = atomic_load(&br->active);

	if (len < sizeof(*ih) || ih->len != len)
		return true;
	switch (ih->opcode) {
	case FUSE_INIT:
		atomic_store(&br->offered,
			     fusex_init_offers_handles((void *)(ih + 1),
						       len - sizeof(*ih)));
		atomic_store(&br->active, false);
		if (note_add(br, ih->unique, FUSE_INIT, 0))
			atomic_store(&br->offered, false);
		DBG(br, "INIT: the kernel %s handles\n",
		    atomic_load(&br->offered) ? "offers" : "does not offer");
		return true;
	case FUSE_LOOKUP_HANDLE:
		if (active)
			lookup_handle(br, ih);
		else
			fusex_send_reply(br->fd, ih->unique, ENOSYS, NULL, 0);
		return false;
	case FUSE_TMPFILE:
		/* Without the callback libfuse answers ENOSYS. */
		if (!br->ops.tmpfile)
			return true;
		answer_tmpfile(br, ih);
		return false;
	case FUSE_READDIRPLUS:
		if (!active || len < sizeof(*ih) + sizeof(*ri))
			return true;
		ri = (void *)(ih + 1);
		if (note_add(br, ih->unique, FUSE_READDIRPLUS, ri->size)) {
			fusex_send_reply(br->fd, ih->unique, ENOMEM, NULL, 0);
			return false;
		}
		ri->size = dirplus_budget(br, ri->size);
		return true;
	default:
		if (!active || !is_entry_op(ih->opcode))
			return true;
		if (note_add(br, ih->unique, ih->opcode, 0)) {
			fusex_send_reply(br->fd, ih->unique, ENOMEM, NULL, 0);
			return false;
		}
		return true;
	}
}

/* The request this thread reads and libfuse then processes was resent. */
static _Thread_local bool br_resent;

bool fusex_request_resent(void)
{
	return br_resent;
}

static ssize_t br_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fusex_bridge *br = bridge_of(fd);
	ssize_t n;

	(void)userdata;
	if (!br)
		return read(fd, buf, len);
	for (;;) {
		/*
		 * Owed forgets go first, handles on or not: without them a
		 * TMPFILE reply that found its caller gone still owes one.
		 */
		n = give_forgets(br, buf, len);
		if (n)
			return n;
		n = read(fd, buf, len);
		br_resent = n >= (ssize_t)sizeof(struct fuse_in_header) &&
			    (((struct fuse_in_header *)buf)->unique &
			     FUSE_UNIQUE_RESEND);
		if (n < 0 || request_in(br, buf, n))
			return n;
	}
}

/* ---- replies --------------------------------------------------------- */

/* Copy the payload (iov[1..]) into @buf; returns its length. */
static size_t gather(const struct iovec *iov, int count, void *buf,
		     size_t len)
{
	size_t off = 0, n;
	int i;

	for (i = 1; i < count && off < len; i++) {
		n = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;
		memcpy((char *)buf + off, iov[i].iov_base, n);
		off += n;
	}
	return off;
}

static size_t payload_len(const struct iovec *iov, int count)
{
	size_t len = 0;
	int i;

	for (i = 1; i < count; i++)
		len += iov[i].iov_len;
	return len;
}

static ssize_t send_payload(int fd, const struct fuse_out_header *oh0,
			    const void *payload, size_t len)
{
	struct fuse_out_header oh = *oh0;
	struct iovec iov[2] = {
		{ &oh, sizeof(oh) }, { (void *)payload, len },
	};

	oh.len = sizeof(oh) + len;
	return writev(fd, iov, len ? 2 : 1);
}

static ssize_t reply_init(struct fusex_bridge *br, int fd,
			  struct iovec *iov, int count)
{
	struct fuse_out_header *oh = iov[0].iov_base;
	struct fuse_init_out out;
	ssize_t ret;

	if (!atomic_load(&br->offered) ||
	    payload_len(iov, count) != sizeof(out))
		return writev(fd, iov, count);
	gather(iov, count, &out, sizeof(out));
	if (fusex_init_accept_handles(&out, sizeof(out), br->max_handle_sz))
		return writev(fd, iov, count);
	/* Before the write: the kernel asks for the root's handle at once. */
	atomic_store(&br->active, true);
	ret = send_payload(fd, oh, &out, sizeof(out));
	if (ret < 0)
		atomic_store(&br->active, false);
	DBG(br, "INIT: handles of up to %u bytes accepted\n",
	    br->max_handle_sz);
	return ret;
}

static ssize_t reply_entry(struct fusex_bridge *br, int fd, uint32_t opcode,
			   struct iovec *iov, int count)
{
	unsigned char buf[sizeof(struct fuse_entry_out) +
			  sizeof(struct fuse_open_out) +
			  FUSEX_HANDLE_SIZE(FUSEX_MAX_HANDLE_SZ)];
	unsigned char h[FUSEX_MAX_HANDLE_SZ];
	size_t fixed = sizeof(struct fuse_entry_out), hsz;
	struct fuse_entry_out e;

	if (opcode == FUSE_CREATE || opcode == FUSE_TMPFILE)
		fixed += sizeof(struct fuse_open_out);
	if (payload_len(iov, count) != fixed)
		return writev(fd, iov, count);
	gather(iov, count, buf, fixed);
	memcpy(&e, buf, sizeof(e));
	/* A negative entry carries no handle. */
	if (!e.nodeid)
		return writev(fd, iov, count);
	/*
	 * Without a handle the kernel refuses the entry (EIO) and forgets
	 * it (and releases a created file), so the reply goes as it is.
	 */
	if (encode(br, e.nodeid, h, &hsz))
		return writev(fd, iov, count);
	fixed += fusex_handle_put(buf + fixed, sizeof(buf) - fixed, h, hsz);
	return send_payload(fd, iov[0].iov_base, buf, fixed);
}

static ssize_t reply_dirplus(struct fusex_bridge *br, int fd,
			     const struct note *note, struct iovec *iov,
			     int count)
{
	size_t inlen = payload_len(iov, count), in_off = 0, out_off = 0;
	size_t reclen, hlen, hsz, cap = note->size;
	unsigned char h[FUSEX_MAX_HANDLE_SZ];
	char *in, *out;
	bool full = false;
	ssize_t ret;

	if (!inlen)
		return writev(fd, iov, count);
	in = malloc(inlen);
	out = malloc(cap);
	if (!in || !out) {
		free(in);
		free(out);
		/* Nothing can be said right: fail the READDIRPLUS. */
		return fusex_send_reply(fd, note->unique, ENOMEM, NULL, 0) ?
		       -1 : 0;
	}
	gather(iov, count, in, inlen);

	while (inlen - in_off >= FUSE_NAME_OFFSET_DIRENTPLUS) {
		struct fuse_direntplus *dp = (void *)(in + in_off);
		uint64_t nodeid = dp->entry_out.nodeid;

		reclen = FUSE_DIRENTPLUS_SIZE(dp);
		if (reclen > inlen - in_off)
			break;
		in_off += reclen;
		hlen = 0;
		if (!full && nodeid) {
			if (encode(br, nodeid, h, &hsz)) {
				/* The name goes without its entry. */
				dp->entry_out.nodeid = 0;
				owe_forget(br, nodeid);
				nodeid = 0;
			} else {
				hlen = FUSEX_HANDLE_SIZE(hsz);
			}
		}
		if (!full && out_off + reclen + hlen > cap)
			full = true;
		if (full) {
			/* Left out: the kernel asks again from its offset. */
			if (nodeid)
				owe_forget(br, nodeid);
			continue;
		}
		memcpy(out + out_off, dp, reclen);
		out_off += reclen;
		if (hlen)
			out_off += fusex_handle_put(out + out_off,
						    cap - out_off, h, hsz);
	}
	if (full)
		DBG(br, "READDIRPLUS unique %llu: records left out\n",
		    (unsigned long long)note->unique);
	if (in_off < inlen && !full) {
		/* A malformed tail: pass it on for the kernel to refuse. */
		reclen = inlen - in_off;
		if (reclen > cap - out_off)
			reclen = cap - out_off;
		memcpy(out + out_off, in + in_off, reclen);
		out_off += reclen;
	}
	if (!out_off && full)
		ret = fusex_send_reply(fd, note->unique, EOVERFLOW, NULL, 0) ?
		      -1 : 0;
	else
		ret = send_payload(fd, iov[0].iov_base, out, out_off);
	free(in);
	free(out);
	return ret;
}

static ssize_t br_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fusex_bridge *br = bridge_of(fd);
	struct fuse_out_header *oh;
	struct note note;

	(void)userdata;
	if (!br || count < 1 || iov[0].iov_len != sizeof(*oh))
		return writev(fd, iov, count);
	oh = iov[0].iov_base;
	/* Notifications have unique 0 and are never noted. */
	if (!oh->unique || !note_take(br, oh->unique, &note))
		return writev(fd, iov, count);
	if (oh->error)
		return writev(fd, iov, count);
	switch (note.opcode) {
	case FUSE_INIT:
		return reply_init(br, fd, iov, count);
	case FUSE_READDIRPLUS:
		return reply_dirplus(br, fd, &note, iov, count);
	default:
		return reply_entry(br, fd, note.opcode, iov, count);
	}
}

/* ---- the bridge ------------------------------------------------------ */

struct fusex_bridge *fusex_bridge_new(const struct fusex_bridge_ops *ops,
				      size_t ops_size, size_t max_handle_sz,
				      unsigned int flags, void *userdata)
{
	struct fusex_bridge *br;

	/* Callers built before tmpfile existed pass a smaller structure. */
	if (!ops || ops_size < offsetof(struct fusex_bridge_ops, tmpfile) ||
	    !ops->encode || !ops->resolve || !max_handle_sz ||
	    max_handle_sz > FUSEX_MAX_HANDLE_SZ ||
	    (flags & ~FUSEX_BRIDGE_DEBUG)) {
		errno = EINVAL;
		return NULL;
	}
	br = calloc(1, sizeof(*br));
	if (!br) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(&br->ops, ops,
	       ops_size < sizeof(*ops) ? ops_size : sizeof(*ops));
	br->userdata = userdata;
	br->max_handle_sz = max_handle_sz;
	br->flags = flags;
	br->fd = -1;
	pthread_mutex_init(&br->lock, NULL);
	return br;
}

int fusex_bridge_attach(struct fusex_bridge *br, struct fuse_session *se,
			int fd)
{
	static const struct fuse_custom_io io = {
		.read = br_read,
		.writev = br_writev,
	};
	int err;

	if (fd < 0)
		fd = fuse_session_fd(se);
	if (fd < 0)
		return EBADF;
	pthread_mutex_lock(&registry_lock);
	if (br->fd >= 0) {
		pthread_mutex_unlock(&registry_lock);
		return EBUSY;
	}
	br->fd = fd;
	br->next = registry;
	registry = br;
	pthread_mutex_unlock(&registry_lock);

	err = fuse_session_custom_io(se, &io, fd);
	if (err) {
		struct fusex_bridge **pp;

		pthread_mutex_lock(&registry_lock);
		for (pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == br) {
				*pp = br->next;
				break;
			}
		br->fd = -1;
		pthread_mutex_unlock(&registry_lock);
		return err < 0 ? -err : err;
	}
	return 0;
}

bool fusex_bridge_active(const struct fusex_bridge *br)
{
	return atomic_load(&((struct fusex_bridge *)br)->active);
}

void fusex_bridge_destroy(struct fusex_bridge *br)
{
	struct fusex_bridge **pp;
	struct note *n;
	size_t i;

	if (!br)
		return;
	pthread_mutex_lock(&registry_lock);
	for (pp = &registry; *pp; pp = &(*pp)->next)
		if (*pp == br) {
			*pp = br->next;
			break;
		}
	pthread_mutex_unlock(&registry_lock);
	for (i = 0; i < NOTE_BUCKETS; i++)
		while ((n = br->notes[i])) {
			br->notes[i] = n->next;
			free(n);
		}
	while ((n = br->free_notes)) {
		br->free_notes = n->next;
		free(n);
	}
	free(br->forgets);
	pthread_mutex_destroy(&br->lock);
	free(br);
}
