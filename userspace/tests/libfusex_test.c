// SPDX-License-Identifier: GPL-2.0
/*
 * libfusex_test: libfusex's bridge and wire helpers, on the host, no
 * kernel needed.
 *
 * A real libfuse lowlevel session gets the bridge on one end of a
 * SOCK_SEQPACKET socketpair (one message per read, as the device gives);
 * the test plays the kernel on the other end: it writes requests, steps
 * the session (fuse_session_receive_buf() + fuse_session_process_buf())
 * and checks the replies byte for byte.  This reaches what the VM tests
 * cannot make a real kernel do: a READDIRPLUS record whose inode has no
 * handle (the bridge drops its entry and gives the server a FORGET of its
 * own), LOOKUP_HANDLE with a name, malformed LOOKUP_HANDLE requests.
 *
 * Output is TAP; the exit status is 0 only if every check passed.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fusex_lowlevel.h"

static int failures, checks;

#define CHECK(cond) do {						\
	checks++;							\
	if (!(cond)) {							\
		failures++;						\
		printf("#   %s:%d: failed: %s\n", __FILE__, __LINE__,	\
		       #cond);						\
	}								\
} while (0)

/* ---- the server ------------------------------------------------------ */

enum { INO_A = 100, INO_NOHANDLE = 200, INO_CREATED = 300, INO_DIR = 400,
       INO_TMP = 500 };

static struct {
	bool ignore_size;		/* READDIRPLUS: misbehave */
	size_t readdirplus_size;	/* the size libfuse was asked for */
	uint64_t forgotten[1000];	/* lookups forgotten, by ino / 100 */
	uint64_t looked_up[1000];	/* lookups counted, by ino / 100 */
} srv;

static void fill(struct fuse_entry_param *e, fuse_ino_t ino, mode_t mode)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->generation = 1;
	e->attr.st_ino = ino;
	e->attr.st_mode = mode;
	e->attr.st_nlink = 1;
	e->entry_timeout = 1.5;
	e->attr_timeout = 2.0;
	if (ino)
		srv.looked_up[ino / 100]++;
}

static void t_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	(void)parent;
	if (!strcmp(name, "a"))
		fill(&e, INO_A, S_IFREG | 0644);
	else if (!strcmp(name, "nohandle"))
		fill(&e, INO_NOHANDLE, S_IFREG | 0644);
	else if (!strcmp(name, "neg"))
		fill(&e, 0, 0);
	else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void t_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	srv.forgotten[ino / 100] += nlookup;
	fuse_reply_none(req);
}

static void t_forget_multi(fuse_req_t req, size_t count,
			   struct fuse_forget_data *f)
{
	size_t i;

	for (i = 0; i < count; i++)
		srv.forgotten[f[i].ino / 100] += f[i].nlookup;
	fuse_reply_none(req);
}

static void t_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	struct fuse_entry_param e;

	(void)parent;
	(void)name;
	fill(&e, INO_DIR, S_IFDIR | mode);
	fuse_reply_entry(req, &e);
}

static void t_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;

	(void)parent;
	(void)name;
	fill(&e, INO_CREATED, S_IFREG | mode);
	fi->fh = 7;
	fuse_reply_create(req, &e, fi);
}

static void t_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	char buf[8192];
	size_t pos = 0;

	(void)ino;
	(void)fi;
	srv.readdirplus_size = size;
	if (off) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (srv.ignore_size)
		size = sizeof(buf);
	fill(&e, 0, S_IFDIR);
	e.attr.st_ino = 1;
	pos += fuse_add_direntry_plus(req, buf + pos, size - pos, ".", &e, 1);
	if (srv.ignore_size) {
		/* "b" (no handle) before "a", and more than was asked for. */
		fill(&e, INO_NOHANDLE, S_IFREG | 0644);
		pos += fuse_add_direntry_plus(req, buf + pos, size - pos, "b",
					      &e, 2);
		fill(&e, INO_A, S_IFREG | 0644);
		pos += fuse_add_direntry_plus(req, buf + pos, size - pos, "a",
					      &e, 3);
		fuse_reply_buf(req, buf, pos);
		return;
	}
	fill(&e, INO_A, S_IFREG | 0644);
	pos += fuse_add_direntry_plus(req, buf + pos, size - pos, "a", &e, 2);
	fill(&e, INO_NOHANDLE, S_IFREG | 0644);
	pos += fuse_add_direntry_plus(req, buf + pos, size - pos, "b", &e, 3);
	fuse_reply_buf(req, buf, pos);
}

static const struct fuse_lowlevel_ops t_ops = {
	.lookup = t_lookup,
	.forget = t_forget,
	.forget_multi = t_forget_multi,
	.mkdir = t_mkdir,
	.create = t_create,
	.readdirplus = t_readdirplus,
};

/* ---- its handles ----------------------------------------------------- */

static const char *handle_of(fuse_ino_t ino)
{
	switch (ino) {
	case FUSE_ROOT_ID:
		return "ROOT";
	case INO_A:
		return "H100";
	case INO_CREATED:
		return "H300-longer-than-eight";
	case INO_DIR:
		return "H400";
	case INO_TMP:
		return "H500";
	}
	return NULL;
}

static int t_encode(void *userdata, fuse_ino_t ino, void *buf, size_t *size)
{
	const char *h = handle_of(ino);

	(void)userdata;
	if (!h)
		return EIO;
	if (strlen(h) > *size)
		return EOVERFLOW;
	memcpy(buf, h, strlen(h));
	*size = strlen(h);
	return 0;
}

static int t_resolve(void *userdata, const void *handle, size_t size,
		     const char *name, struct fuse_entry_param *e)
{
	(void)userdata;
	if (size == 4 && !memcmp(handle, "H100", 4) && !name) {
		fill(e, INO_A, S_IFREG | 0644);
		return 0;
	}
	if (size == 4 && !memcmp(handle, "ROOT", 4)) {
		if (!name) {
			fill(e, FUSE_ROOT_ID, S_IFDIR | 0755);
			return 0;
		}
		if (!strcmp(name, "a")) {
			fill(e, INO_A, S_IFREG | 0644);
			return 0;
		}
		return ENOENT;
	}
	return ESTALE;
}

/* O_TMPFILE in the root only, read-write only: the arguments arrive. */
static int t_tmpfile(void *userdata, fuse_ino_t parent, mode_t mode,
		     int flags, struct fuse_entry_param *e, uint64_t *fh)
{
	(void)userdata;
	if (parent != FUSE_ROOT_ID)
		return ENOTDIR;
	if ((flags & O_ACCMODE) != O_RDWR)
		return EINVAL;
	fill(e, INO_TMP, mode);
	e->attr.st_nlink = 0;
	*fh = 77;
	return 0;
}

static const struct fusex_bridge_ops t_bops = {
	.encode = t_encode,
	.resolve = t_resolve,
	.tmpfile = t_tmpfile,
};

/* ---- the kernel's side ----------------------------------------------- */

struct rig {
	struct fuse_session *se;
	struct fusex_bridge *br;
	int kfd;			/* the "kernel" end */
	struct fuse_buf fbuf;
	uint64_t unique;
	char reply[65536];
	size_t reply_len;
};

/* Write a request; returns its unique. */
static uint64_t send_req(struct rig *r, uint32_t opcode, uint64_t nodeid,
			 const void *a1, size_t l1, const void *a2, size_t l2)
{
	struct fuse_in_header ih = {
		.len = sizeof(ih) + l1 + l2,
		.opcode = opcode,
		.unique = r->unique += 2,
		.nodeid = nodeid,
	};
	struct iovec iov[3] = {
		{ &ih, sizeof(ih) }, { (void *)a1, l1 }, { (void *)a2, l2 },
	};

	if (writev(r->kfd, iov, 3) != (ssize_t)ih.len)
		perror("writev");
	return ih.unique;
}

/* libfuse reads one request (through the bridge) and handles it. */
static void step(struct rig *r)
{
	int n = fuse_session_receive_buf(r->se, &r->fbuf);

	if (n > 0)
		fuse_session_process_buf(r->se, &r->fbuf);
	else
		printf("# receive: %d\n", n);
}

/* Read the next reply; returns its error (0 or -errno). */
static int get_reply(struct rig *r, uint64_t unique)
{
	struct fuse_out_header oh;
	ssize_t n = read(r->kfd, r->reply, sizeof(r->reply));

	r->reply_len = 0;
	if (n < (ssize_t)sizeof(oh))
		return -1000;
	memcpy(&oh, r->reply, sizeof(oh));
	CHECK(oh.len == n);
	CHECK(oh.unique == unique);
	r->reply_len = n - sizeof(oh);
	memmove(r->reply, r->reply + sizeof(oh), r->reply_len);
	return oh.error;
}

/* The handle at @off in the reply is @want (size-prefixed, padded). */
static bool handle_at(struct rig *r, size_t off, const char *want)
{
	size_t len = strlen(want), size;
	const void *data;

	if (fusex_handle_get(r->reply + off, r->reply_len - off, &data,
			     &size) != FUSEX_HANDLE_SIZE(len))
		return false;
	return size == len && !memcmp(data, want, len);
}

/* The callbacks rig_init() gives the bridge. */
static const struct fusex_bridge_ops *rig_bops = &t_bops;
static size_t rig_bops_size = sizeof(t_bops);

static int rig_init(struct rig *r, bool offer, size_t max_handle_sz)
{
	char *argv[] = { "libfusex_test", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct fuse_init_in in = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.flags = FUSE_INIT_EXT | FUSE_DO_READDIRPLUS |
			 FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_READ,
	};
	struct fusex_init_out out;
	int sv[2];
	uint64_t u;

	memset(r, 0, sizeof(*r));
	if (offer)
		in.flags2 = FUSE_HAS_LOOKUP_HANDLE >> 32;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	r->kfd = sv[1];
	r->se = fuse_session_new(&args, &t_ops, sizeof(t_ops), NULL);
	r->br = fusex_bridge_new(rig_bops, rig_bops_size, max_handle_sz, 0,
				 NULL);
	if (!r->se || !r->br || fusex_bridge_attach(r->br, r->se, sv[0]))
		return -1;
	CHECK(!fusex_bridge_active(r->br));

	u = send_req(r, FUSE_INIT, 0, &in, sizeof(in), NULL, 0);
	step(r);
	CHECK(get_reply(r, u) == 0);
	CHECK(r->reply_len == sizeof(out));
	memcpy(&out, r->reply, sizeof(out));
	if (offer) {
		CHECK(out.flags & FUSE_INIT_EXT);
		CHECK(out.flags2 & (FUSE_HAS_LOOKUP_HANDLE >> 32));
		CHECK(out.max_handle_sz == max_handle_sz);
		CHECK(fusex_bridge_active(r->br));
	} else {
		CHECK(!(out.flags2 & (FUSE_HAS_LOOKUP_HANDLE >> 32)));
		CHECK(out.max_handle_sz == 0);
		CHECK(!fusex_bridge_active(r->br));
	}
	return 0;
}

static void rig_fini(struct rig *r)
{
	fuse_session_destroy(r->se);	/* closes the bridge's end */
	fusex_bridge_destroy(r->br);
	close(r->kfd);
	free(r->fbuf.mem);
}

static uint64_t lookup(struct rig *r, const char *name)
{
	return send_req(r, FUSE_LOOKUP, 1, name, strlen(name) + 1, NULL, 0);
}

/* ---- the tests ------------------------------------------------------- */

static void test_not_offered(void)
{
	struct rig r;
	struct fuse_read_in ri = { .size = 4096 };
	uint64_t u;

	if (rig_init(&r, false, 32)) {
		CHECK(!"rig");
		return;
	}
	/* fuse.ko: nothing added, nothing shrunk. */
	u = lookup(&r, "a");
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(r.reply_len == sizeof(struct fuse_entry_out));
	u = send_req(&r, FUSE_READDIRPLUS, 1, &ri, sizeof(ri), NULL, 0);
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(srv.readdirplus_size == 4096);
	rig_fini(&r);
}

static void test_entries(void)
{
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_create_in ci = { .flags = 2, .mode = 0644 };
	const size_t eo = sizeof(struct fuse_entry_out);
	struct fuse_entry_out e;
	struct rig r;
	uint64_t u;

	if (rig_init(&r, true, 32)) {
		CHECK(!"rig");
		return;
	}
	u = lookup(&r, "a");
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(r.reply_len == eo + FUSEX_HANDLE_SIZE(4));
	memcpy(&e, r.reply, sizeof(e));
	CHECK(e.nodeid == INO_A);
	CHECK(e.entry_valid == 1 && e.entry_valid_nsec == 500000000);
	CHECK(handle_at(&r, eo, "H100"));

	/* Negative entries and errors carry nothing. */
	u = lookup(&r, "neg");
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(r.reply_len == eo);
	u = lookup(&r, "nothing");
	step(&r);
	CHECK(get_reply(&r, u) == -ENOENT);
	CHECK(r.reply_len == 0);

	/* No handle: the entry goes as it is, for the kernel to refuse. */
	u = lookup(&r, "nohandle");
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(r.reply_len == eo);

	u = send_req(&r, FUSE_MKDIR, 1, &mi, sizeof(mi), "d", 2);
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(r.reply_len == eo + FUSEX_HANDLE_SIZE(4));
	CHECK(handle_at(&r, eo, "H400"));

	/* CREATE: the handle after fuse_open_out; 22 bytes, padded to 24. */
	u = send_req(&r, FUSE_CREATE, 1, &ci, sizeof(ci), "c", 2);
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	CHECK(r.reply_len == eo + sizeof(struct fuse_open_out) +
			     FUSEX_HANDLE_SIZE(22));
	CHECK(FUSEX_HANDLE_SIZE(22) == 32);
	CHECK(handle_at(&r, eo + sizeof(struct fuse_open_out),
			"H300-longer-than-eight"));
	rig_fini(&r);
}

static void test_readdirplus(void)
{
	struct fuse_read_in ri = { .size = 4096 };
	const struct fuse_direntplus *dp;
	struct rig r;
	size_t off = 0;
	uint64_t u, forgotten;
	int n = 0;

	if (rig_init(&r, true, 32)) {
		CHECK(!"rig");
		return;
	}
	u = send_req(&r, FUSE_READDIRPLUS, 1, &ri, sizeof(ri), NULL, 0);
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	/* Room for the smallest records, each with a 32-byte handle. */
	CHECK(srv.readdirplus_size == (4096 * 160 / (160 + 40)) / 8 * 8);
	while (off < r.reply_len) {
		dp = (const void *)(r.reply + off);
		off += FUSE_DIRENTPLUS_SIZE(dp);
		n++;
		if (!strncmp(dp->dirent.name, "a", dp->dirent.namelen)) {
			CHECK(dp->entry_out.nodeid == INO_A);
			CHECK(handle_at(&r, off, "H100"));
			off += FUSEX_HANDLE_SIZE(4);
		} else {
			/* "." never had an entry, "b" has lost its own. */
			CHECK(dp->entry_out.nodeid == 0);
		}
	}
	CHECK(n == 3);
	CHECK(off == r.reply_len);

	/* The lookup of "b" that never reached the kernel is forgotten. */
	forgotten = srv.forgotten[INO_NOHANDLE / 100];
	step(&r);
	CHECK(srv.forgotten[INO_NOHANDLE / 100] == forgotten + 1);
	rig_fini(&r);
}

/*
 * A server that gives more than it was asked for: what does not fit in
 * what the kernel asked for, with handles, is left out and forgotten.
 */
static void test_readdirplus_overflow(void)
{
	struct fuse_read_in ri = { .size = 400 };
	const struct fuse_direntplus *dp;
	uint64_t u, fa, fb;
	struct rig r;

	if (rig_init(&r, true, 8)) {
		CHECK(!"rig");
		return;
	}
	srv.ignore_size = true;
	fa = srv.forgotten[INO_A / 100];
	fb = srv.forgotten[INO_NOHANDLE / 100];
	u = send_req(&r, FUSE_READDIRPLUS, 1, &ri, sizeof(ri), NULL, 0);
	step(&r);
	CHECK(get_reply(&r, u) == 0);
	/* ".", then "b" without its entry: 320 bytes; "a" did not fit. */
	CHECK(r.reply_len == 320);
	dp = (const void *)(r.reply + 160);
	CHECK(dp->dirent.namelen == 1 && dp->dirent.name[0] == 'b');
	CHECK(dp->entry_out.nodeid == 0);
	CHECK(dp->dirent.off == 2);
	step(&r);
	CHECK(srv.forgotten[INO_A / 100] == fa + 1);
	CHECK(srv.forgotten[INO_NOHANDLE / 100] == fb + 1);
	srv.ignore_size = false;
	rig_fini(&r);
}

static uint64_t lookup_handle(struct rig *r, uint64_t nodeid,
			      const char *h, const char *name)
{
	struct fusex_lookup_handle_in in = { .nodeid = nodeid };
	char buf[256];
	size_t len;

	len = h ? fusex_handle_put(buf, sizeof(buf), h, strlen(h)) :
		  sizeof(struct fusex_handle);
	if (!h)
		memset(buf, 0, len);
	if (name) {
		in.flags = FUSEX_LH_NAME;
		strcpy(buf + len, name);
		len += strlen(name) + 1;
	}
	return send_req(r, FUSE_LOOKUP_HANDLE, 0, &in, sizeof(in), buf, len);
}

static void test_lookup_handle(void)
{
	const size_t eo = sizeof(struct fuse_entry_out);
	struct fusex_lookup_handle_in in = { 0 };
	struct fuse_entry_out e;
	uint64_t u[6], filler, looked;
	unsigned char bad[16] = { 200 };
	struct rig r;

	if (rig_init(&r, true, 32)) {
		CHECK(!"rig");
		return;
	}
	looked = srv.looked_up[INO_A / 100];
	/* The bridge answers these itself, then hands libfuse the next. */
	u[0] = lookup_handle(&r, 0, "H100", NULL);
	u[1] = lookup_handle(&r, FUSE_ROOT_ID, NULL, NULL);
	u[2] = lookup_handle(&r, 0, "ROOT", "a");
	u[3] = lookup_handle(&r, 0, "gone", NULL);
	u[4] = lookup_handle(&r, 0, "ROOT", "missing");
	u[5] = send_req(&r, FUSE_LOOKUP_HANDLE, 0, &in, sizeof(in), bad,
			sizeof(bad));
	filler = lookup(&r, "nothing");
	step(&r);

	CHECK(get_reply(&r, u[0]) == 0);
	CHECK(r.reply_len == eo + FUSEX_HANDLE_SIZE(4));
	memcpy(&e, r.reply, sizeof(e));
	CHECK(e.nodeid == INO_A && e.generation == 1);
	CHECK(e.attr.mode == (S_IFREG | 0644));
	CHECK(e.attr_valid == 2 && e.attr_valid_nsec == 0);
	CHECK(handle_at(&r, eo, "H100"));

	/* Size 0: the nodeid's own handle (the root's, after INIT). */
	CHECK(get_reply(&r, u[1]) == 0);
	memcpy(&e, r.reply, sizeof(e));
	CHECK(e.nodeid == FUSE_ROOT_ID);
	CHECK(handle_at(&r, eo, "ROOT"));

	/* A name under a directory's handle. */
	CHECK(get_reply(&r, u[2]) == 0);
	memcpy(&e, r.reply, sizeof(e));
	CHECK(e.nodeid == INO_A);
	CHECK(handle_at(&r, eo, "H100"));
	CHECK(srv.looked_up[INO_A / 100] == looked + 2);

	CHECK(get_reply(&r, u[3]) == -ESTALE);
	CHECK(get_reply(&r, u[4]) == -ENOENT);
	/* A handle larger than its message: malformed. */
	CHECK(get_reply(&r, u[5]) == -EIO);
	CHECK(get_reply(&r, filler) == -ENOENT);
	rig_fini(&r);
}

static uint64_t tmpfile_req(struct rig *r, uint64_t parent, int flags)
{
	struct fuse_create_in ci = { .flags = flags, .mode = S_IFREG | 0600 };

	return send_req(r, FUSE_TMPFILE, parent, &ci, sizeof(ci), "/", 2);
}

/*
 * FUSE_TMPFILE, which libfuse 3.14 does not know: the bridge answers it
 * through the tmpfile callback, as CREATE is answered (entry, open file,
 * handle when handles are on); errors go back as they are; without the
 * callback libfuse gets it and says ENOSYS.
 */
static void test_tmpfile(void)
{
	const size_t eo = sizeof(struct fuse_entry_out);
	struct fusex_bridge_ops old = { .encode = t_encode,
					.resolve = t_resolve };
	struct fuse_open_out oo;
	struct fuse_entry_out e;
	uint64_t u[3], filler;
	struct rig r;
	int offer;

	for (offer = 1; offer >= 0; offer--) {
		if (rig_init(&r, offer, 32)) {
			CHECK(!"rig");
			return;
		}
		u[0] = tmpfile_req(&r, FUSE_ROOT_ID, O_RDWR);
		u[1] = tmpfile_req(&r, INO_DIR, O_RDWR);
		u[2] = tmpfile_req(&r, FUSE_ROOT_ID, O_RDONLY);
		filler = lookup(&r, "nothing");
		step(&r);
		CHECK(get_reply(&r, u[0]) == 0);
		CHECK(r.reply_len == eo + sizeof(oo) +
				     (offer ? FUSEX_HANDLE_SIZE(4) : 0));
		memcpy(&e, r.reply, sizeof(e));
		memcpy(&oo, r.reply + eo, sizeof(oo));
		CHECK(e.nodeid == INO_TMP && e.attr.nlink == 0);
		CHECK(e.attr.mode == (S_IFREG | 0600));
		CHECK(oo.fh == 77);
		if (offer)
			CHECK(handle_at(&r, eo + sizeof(oo), "H500"));
		CHECK(get_reply(&r, u[1]) == -ENOTDIR);
		CHECK(get_reply(&r, u[2]) == -EINVAL);
		CHECK(get_reply(&r, filler) == -ENOENT);
		rig_fini(&r);
	}

	/* A server built before the callback existed: libfuse answers. */
	CHECK(!fusex_bridge_new(&old,
				offsetof(struct fusex_bridge_ops, tmpfile) - 1,
				16, 0, NULL));
	rig_bops = &old;
	rig_bops_size = offsetof(struct fusex_bridge_ops, tmpfile);
	if (!rig_init(&r, true, 32)) {
		u[0] = tmpfile_req(&r, FUSE_ROOT_ID, O_RDWR);
		step(&r);
		CHECK(get_reply(&r, u[0]) == -ENOSYS);
		rig_fini(&r);
	} else {
		CHECK(!"rig");
	}
	rig_bops = &t_bops;
	rig_bops_size = sizeof(t_bops);
}

static void test_wire(void)
{
	struct fuse_entry_out e = { .nodeid = 5, .attr.ino = 5,
				    .attr.mode = S_IFREG | 0600 };
	struct fusex_lookup_handle_req req;
	unsigned char buf[512];
	const void *data;
	size_t size, n;

	CHECK(fusex_handle_put(NULL, 0, "abc", 3) == 16);
	CHECK(fusex_handle_put(buf, 8, "abc", 3) == 16);
	CHECK(fusex_handle_put(buf, sizeof(buf), "abc", 0) == 0);
	CHECK(fusex_handle_put(buf, sizeof(buf), "abc", 129) == 0);
	memset(buf, 0xff, sizeof(buf));
	CHECK(fusex_handle_put(buf, sizeof(buf), "abcdefghi", 9) == 24);
	CHECK(buf[0] == 9 && buf[1] == 0 && !buf[17] && !buf[23]);
	CHECK(fusex_handle_get(buf, 24, &data, &size) == 24);
	CHECK(size == 9 && !memcmp(data, "abcdefghi", 9));
	CHECK(fusex_handle_get(buf, 23, &data, &size) == 0);

	n = fusex_add_direntplus(buf, sizeof(buf), "name", &e, 7, "h", 1);
	CHECK(n == FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + 4) + 16);
	CHECK(fusex_add_direntplus(buf, 10, "name", &e, 7, "h", 1) == n);
	CHECK(fusex_add_direntplus(buf, sizeof(buf), "a/b", &e, 7, "h", 1) ==
	      0);
	CHECK(fusex_entry_fill(NULL, 0, &e, "h", 1) == sizeof(e) + 16);
	CHECK(fusex_entry_fill(NULL, 0, &e, NULL, 0) == 0);
	e.nodeid = 0;
	CHECK(fusex_entry_fill(NULL, 0, &e, NULL, 0) == sizeof(e));

	/* fusex_lookup_handle_in, a handle, a name */
	memset(buf, 0, sizeof(buf));
	buf[0] = FUSEX_LH_NAME;
	n = 16 + fusex_handle_put(buf + 16, 100, "dir", 3);
	strcpy((char *)buf + n, "child");
	CHECK(fusex_parse_lookup_handle(buf, n + 6, &req) == 0);
	CHECK(req.handle_size == 3 && !strcmp(req.name, "child"));
	CHECK(fusex_parse_lookup_handle(buf, n + 5, &req) == EINVAL);
	CHECK(fusex_parse_lookup_handle(buf, 20, &req) == EINVAL);

	CHECK(!fusex_bridge_new(&t_bops, sizeof(t_bops), 0, 0, NULL));
	CHECK(errno == EINVAL);
	CHECK(!fusex_bridge_new(&t_bops, sizeof(t_bops), 129, 0, NULL));
	CHECK(!fusex_bridge_new(&t_bops, 8, 16, 0, NULL));
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} tests[] = {
		{ "wire", test_wire },
		{ "not_offered", test_not_offered },
		{ "entries", test_entries },
		{ "readdirplus", test_readdirplus },
		{ "readdirplus_overflow", test_readdirplus_overflow },
		{ "lookup_handle", test_lookup_handle },
		{ "tmpfile", test_tmpfile },
	};
	size_t i, n = sizeof(tests) / sizeof(tests[0]);
	int before;

	printf("TAP version 13\n1..%zu\n", n);
	for (i = 0; i < n; i++) {
		before = failures;
		tests[i].fn();
		printf("%sok %zu %s\n", failures == before ? "" : "not ",
		       i + 1, tests[i].name);
	}
	printf("# %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
