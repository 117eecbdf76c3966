// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile server: fusex must survive every kind of malformed reply.
 *
 * The test runs its own server thread on /dev/fusex.  It answers like a
 * small, honest filesystem (a root holding "file", "link" and "dir")
 * except for the one reply each test case spoils: a reply shorter or longer
 * than its request takes, a header whose length lies, an error out of
 * range or with a payload, an unknown or swapped unique, impossible
 * attributes, an entry that names the root or changes a live inode's type,
 * bad directory records, a link target with a NUL, a READ, GETXATTR or
 * WRITE reply larger than asked for, a malformed xattr list, an INIT of
 * another protocol.  The caller of the spoiled request must get EIO (for
 * INIT: every request gets ECONNREFUSED), the server's write of a reply
 * that cannot be parsed at all must fail with EINVAL (ENOENT for an unknown
 * unique), and afterwards the mount must still answer: nothing else is
 * lost.  The VM runner fails the run if the kernel log shows an Oops or a
 * WARNING.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "fusex_raw.h"

#define BUFSZ ((1 << 20) + 4096)
#define FILE_SIZE 100

enum { ROOT = 1, FILE_ID = 2, LINK_ID = 3, DIR_ID = 4, ODD_ID = 9 };

/* What the server spoils. */
enum spoil {
	HONEST,
	SHORT_ENTRY,		/* LOOKUP file: entry_out cut short */
	LONG_ATTR,		/* GETATTR file: attr_out plus 8 bytes */
	LEN_LIES,		/* GETATTR file: header length + 4 */
	ERR_POSITIVE,		/* GETATTR file: error 5 */
	ERR_TOO_NEGATIVE,	/* GETATTR file: error -600 */
	ERR_PAYLOAD,		/* GETATTR file: -ENOENT with 8 bytes */
	UNKNOWN_UNIQUE,		/* GETATTR file: first to a wrong unique */
	SWAPPED,		/* GETATTR and GETXATTR answered crosswise */
	BAD_TYPE,		/* LOOKUP file: mode 0170644 */
	HUGE_SIZE,		/* LOOKUP file: size 2^63 */
	ROOT_ENTRY,		/* LOOKUP file: nodeid 1 */
	TYPE_CHANGE,		/* LOOKUP alias: file's nodeid as a directory */
	GETATTR_TYPE,		/* GETATTR file: a directory's mode */
	DIRENT_NAMELEN,		/* READDIR: namelen beyond the reply */
	DIRENT_SLASH,		/* READDIR: a name with '/' */
	DIRENT_NUL,		/* READDIR: a name with a NUL */
	DIRENT_TAIL,		/* READDIR: 8 bytes after the last record */
	DIRENT_EMPTY,		/* READDIR: namelen 0 */
	DIRENTPLUS_NAMELEN,	/* READDIRPLUS: namelen beyond the reply */
	DIRENTPLUS_BAD_TYPE,	/* READDIRPLUS: an entry with mode 0170644 */
	READLINK_NUL,		/* READLINK: "fi\0le" */
	READ_LONG,		/* READ: one byte more than asked for */
	GETXATTR_LONG,		/* GETXATTR: more than the buffer */
	GETXATTR_HUGE,		/* GETXATTR size query: 70000 */
	LISTXATTR_UNTERMINATED,	/* LISTXATTR: "user.a" without its NUL */
	WRITE_LONG,		/* WRITE: more written than sent */
	INIT_MAJOR,		/* INIT: major 8 */
	INIT_SIZE,		/* INIT: 30 bytes */
};

struct hsrv {
	struct fx_raw r;
	enum spoil spoil;
	bool plus;			/* offer READDIRPLUS in INIT */
	atomic_int odd_lookups;		/* LOOKUPs of "odd" */
	/* SWAPPED: the first of the two requests, held back */
	char *held;
};

static int send_reply(struct hsrv *s, uint64_t unique, int error,
		      const void *data, size_t len, int len_adjust)
{
	return fx_raw_send(&s->r, unique, error, data, len, len_adjust);
}

static void send_spoiled(struct hsrv *s, uint64_t unique, int error,
			 const void *data, size_t len, int len_adjust)
{
	fx_raw_send_spoiled(&s->r, unique, error, data, len, len_adjust);
}

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->nlink = 1;
	a->blksize = 4096;
	switch (ino) {
	case ROOT:
	case DIR_ID:
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		break;
	case FILE_ID:
	case ODD_ID:
		a->mode = S_IFREG | 0644;
		a->size = FILE_SIZE;
		a->blocks = 1;
		break;
	case LINK_ID:
		a->mode = S_IFLNK | 0777;
		a->size = 4;
		break;
	}
}

/* Entries and attributes all expire at once: every use asks the server. */
static void fill_entry(struct fuse_entry_out *e, uint64_t ino)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = ino;
	e->generation = 1;
	fill_attr(&e->attr, ino);
}

static void do_init(struct hsrv *s, struct fuse_in_header *ih)
{
	struct fuse_init_out out = {
		.major = 7, .minor = 38, .max_readahead = 65536,
		.max_write = 65536, .max_background = 12,
		.congestion_threshold = 9, .time_gran = 1,
	};

	if (s->plus)
		out.flags = FUSE_DO_READDIRPLUS;
	if (s->spoil == INIT_MAJOR) {
		out.major = 8;
		send_spoiled(s, ih->unique, 0, &out, sizeof(out), 0);
	} else if (s->spoil == INIT_SIZE) {
		send_spoiled(s, ih->unique, 0, &out, 30, 0);
	} else {
		send_reply(s, ih->unique, 0, &out, sizeof(out), 0);
	}
}

static void do_lookup(struct hsrv *s, struct fuse_in_header *ih,
		      const char *name)
{
	struct fuse_entry_out e;
	uint64_t ino;

	if (!strcmp(name, "file"))
		ino = FILE_ID;
	else if (!strcmp(name, "link"))
		ino = LINK_ID;
	else if (!strcmp(name, "dir"))
		ino = DIR_ID;
	else if (!strcmp(name, "alias") && s->spoil == TYPE_CHANGE)
		ino = FILE_ID;
	else if (!strcmp(name, "odd") && s->spoil == DIRENTPLUS_BAD_TYPE)
		ino = ODD_ID;
	else
		ino = 0;
	if (ino == ODD_ID)
		atomic_fetch_add(&s->odd_lookups, 1);
	if (!ino) {
		send_reply(s, ih->unique, -ENOENT, NULL, 0, 0);
		return;
	}
	fill_entry(&e, ino);
	if (ino == FILE_ID && !strcmp(name, "file")) {
		switch (s->spoil) {
		case SHORT_ENTRY:
			send_spoiled(s, ih->unique, 0, &e, sizeof(e) - 8, 0);
			return;
		case BAD_TYPE:
			e.attr.mode = 0170644;
			send_spoiled(s, ih->unique, 0, &e, sizeof(e), 0);
			return;
		case HUGE_SIZE:
			e.attr.size = 1ULL << 63;
			send_spoiled(s, ih->unique, 0, &e, sizeof(e), 0);
			return;
		case ROOT_ENTRY:
			e.nodeid = ROOT;
			fill_attr(&e.attr, ROOT);
			send_spoiled(s, ih->unique, 0, &e, sizeof(e), 0);
			return;
		default:
			break;
		}
	}
	if (!strcmp(name, "alias")) {
		e.attr.mode = S_IFDIR | 0755;
		send_spoiled(s, ih->unique, 0, &e, sizeof(e), 0);
		return;
	}
	send_reply(s, ih->unique, 0, &e, sizeof(e), 0);
}

/* SWAPPED: hold the first of GETATTR/GETXATTR, answer both crosswise. */
static bool swap_hold(struct hsrv *s, struct fuse_in_header *ih)
{
	struct fuse_in_header *first = (void *)s->held;
	struct fuse_attr_out ao = { 0 };
	struct fuse_getxattr_out xo = { .size = 5 };

	if (!first->unique) {
		memcpy(s->held, ih, sizeof(*ih) + 64);
		return true;
	}
	if (first->opcode == ih->opcode)
		return false;
	fill_attr(&ao.attr, FILE_ID);
	/* Each gets the other's reply: both have the wrong size. */
	if (ih->opcode == FUSE_GETATTR) {
		send_spoiled(s, ih->unique, 0, &xo, sizeof(xo), 0);
		send_spoiled(s, first->unique, 0, &ao, sizeof(ao), 0);
	} else {
		send_spoiled(s, ih->unique, 0, &ao, sizeof(ao), 0);
		send_spoiled(s, first->unique, 0, &xo, sizeof(xo), 0);
	}
	first->unique = 0;
	return true;
}

static void do_getattr(struct hsrv *s, struct fuse_in_header *ih)
{
	struct fuse_attr_out ao = { 0 };
	char big[sizeof(ao) + 8] = { 0 };

	fill_attr(&ao.attr, ih->nodeid);
	if (ih->nodeid != FILE_ID) {
		send_reply(s, ih->unique, 0, &ao, sizeof(ao), 0);
		return;
	}
	switch (s->spoil) {
	case LONG_ATTR:
		memcpy(big, &ao, sizeof(ao));
		send_spoiled(s, ih->unique, 0, big, sizeof(big), 0);
		return;
	case LEN_LIES:
		send_spoiled(s, ih->unique, 0, &ao, sizeof(ao), 4);
		return;
	case ERR_POSITIVE:
		send_spoiled(s, ih->unique, 5, NULL, 0, 0);
		return;
	case ERR_TOO_NEGATIVE:
		send_spoiled(s, ih->unique, -600, NULL, 0, 0);
		return;
	case ERR_PAYLOAD:
		send_spoiled(s, ih->unique, -ENOENT, big, 8, 0);
		return;
	case UNKNOWN_UNIQUE:
		if (!atomic_load(&s->r.spoiled)) {
			send_spoiled(s, ih->unique + 1000, 0, &ao,
				     sizeof(ao), 0);
			/* ...and then the real answer: the caller is fine. */
		}
		break;
	case GETATTR_TYPE:
		ao.attr.mode = S_IFDIR | 0755;
		send_spoiled(s, ih->unique, 0, &ao, sizeof(ao), 0);
		return;
	case SWAPPED:
		if (swap_hold(s, ih))
			return;
		break;
	default:
		break;
	}
	send_reply(s, ih->unique, 0, &ao, sizeof(ao), 0);
}

/* Append a READDIR record; returns the new length. */
static size_t add_dirent(char *buf, size_t len, uint64_t ino, uint64_t off,
			 uint32_t type, const char *name, size_t namelen)
{
	struct fuse_dirent *d = (void *)(buf + len);

	memset(d, 0, FUSE_NAME_OFFSET);
	d->ino = ino;
	d->off = off;
	d->type = type;
	d->namelen = namelen;
	memcpy(d->name, name, namelen);
	memset(d->name + namelen, 0, FUSE_DIRENT_ALIGN(namelen) - namelen);
	return len + FUSE_DIRENT_SIZE(d);
}

static void do_readdir(struct hsrv *s, struct fuse_in_header *ih,
		       const struct fuse_read_in *ri)
{
	static const struct { const char *name; uint64_t ino; } ents[] = {
		{ ".", ROOT }, { "..", ROOT }, { "file", FILE_ID },
		{ "link", LINK_ID }, { "dir", DIR_ID },
	};
	char out[4096];
	size_t len = 0, i;
	bool spoil = true;
	struct fuse_dirent *last = NULL;

	for (i = ri->offset; i < 5; i++) {
		last = (void *)(out + len);
		len = add_dirent(out, len, ents[i].ino, i + 1,
				 (ents[i].ino == FILE_ID ? S_IFREG :
				  ents[i].ino == LINK_ID ? S_IFLNK :
				  S_IFDIR) >> 12,
				 ents[i].name, strlen(ents[i].name));
	}
	switch (s->spoil) {
	case DIRENT_NAMELEN:
		last->namelen = 200;
		break;
	case DIRENT_SLASH:
		len = add_dirent(out, len, 9, 6, DT_REG, "a/b", 3);
		break;
	case DIRENT_NUL:
		len = add_dirent(out, len, 9, 6, DT_REG, "a\0b", 3);
		break;
	case DIRENT_TAIL:
		memset(out + len, 0, 8);
		len += 8;
		break;
	case DIRENT_EMPTY:
		len = add_dirent(out, len, 9, 6, DT_REG, "", 0);
		break;
	default:
		spoil = false;
		break;
	}
	if (spoil && last)
		send_spoiled(s, ih->unique, 0, out, len, 0);
	else
		send_reply(s, ih->unique, 0, out, len, 0);
}

static void do_readdirplus(struct hsrv *s, struct fuse_in_header *ih,
			   const struct fuse_read_in *ri)
{
	static const struct { const char *name; uint64_t ino; } ents[] = {
		{ ".", ROOT }, { "..", ROOT }, { "file", FILE_ID },
		{ "link", LINK_ID }, { "dir", DIR_ID },
	};
	char out[8192];
	size_t len = 0, i;
	struct fuse_direntplus *dp, *last = NULL;

	for (i = ri->offset; i < 5; i++) {
		size_t nl = strlen(ents[i].name);

		dp = (void *)(out + len);
		memset(dp, 0, sizeof(*dp) + 8);
		/* "." and ".." carry no entry, as libfuse sends them */
		if (i >= 2)
			fill_entry(&dp->entry_out, ents[i].ino);
		dp->dirent.ino = ents[i].ino;
		dp->dirent.off = i + 1;
		dp->dirent.namelen = nl;
		dp->dirent.type = (ents[i].ino == FILE_ID ? S_IFREG :
				   ents[i].ino == LINK_ID ? S_IFLNK :
				   S_IFDIR) >> 12;
		memcpy(dp->dirent.name, ents[i].name, nl);
		len += FUSE_DIRENTPLUS_SIZE(dp);
		last = dp;
	}
	if (last && s->spoil == DIRENTPLUS_NAMELEN) {
		last->dirent.namelen = 300;
		send_spoiled(s, ih->unique, 0, out, len, 0);
		return;
	}
	if (last && s->spoil == DIRENTPLUS_BAD_TYPE) {
		dp = (void *)(out + len);
		memset(dp, 0, sizeof(*dp) + 8);
		fill_entry(&dp->entry_out, ODD_ID);
		dp->entry_out.attr.mode = 0170644;
		/* Were it cached, no LOOKUP would be needed for a while. */
		dp->entry_out.entry_valid = 3600;
		dp->entry_out.attr_valid = 3600;
		dp->dirent.ino = ODD_ID;
		dp->dirent.off = 6;
		dp->dirent.namelen = 3;
		dp->dirent.type = DT_REG;
		memcpy(dp->dirent.name, "odd", 3);
		len += FUSE_DIRENTPLUS_SIZE(dp);
		send_spoiled(s, ih->unique, 0, out, len, 0);
		return;
	}
	send_reply(s, ih->unique, 0, out, len, 0);
}

static void do_read(struct hsrv *s, struct fuse_in_header *ih,
		    const struct fuse_read_in *ri)
{
	static char data[(1 << 20) + 1];
	size_t n = 0;

	if (ri->offset < FILE_SIZE)
		n = FILE_SIZE - ri->offset;
	if (n > ri->size)
		n = ri->size;
	memset(data, 'x', n + 1);
	if (s->spoil == READ_LONG)
		send_spoiled(s, ih->unique, 0, data, ri->size + 1, 0);
	else
		send_reply(s, ih->unique, 0, data, n, 0);
}

static void do_getxattr(struct hsrv *s, struct fuse_in_header *ih,
			const struct fuse_getxattr_in *gi)
{
	struct fuse_getxattr_out xo = { .size = 5 };
	char val[64] = "value-and-more";

	const char *name = (const char *)(gi + 1);

	if (strcmp(name, "user.a")) {
		send_reply(s, ih->unique, -ENODATA, NULL, 0, 0);
		return;
	}
	if (s->spoil == SWAPPED && ih->nodeid == FILE_ID && !gi->size &&
	    swap_hold(s, ih))
		return;
	if (!gi->size) {
		if (s->spoil == GETXATTR_HUGE) {
			xo.size = 70000;
			send_spoiled(s, ih->unique, 0, &xo, sizeof(xo), 0);
		} else {
			send_reply(s, ih->unique, 0, &xo, sizeof(xo), 0);
		}
		return;
	}
	if (s->spoil == GETXATTR_LONG)
		send_spoiled(s, ih->unique, 0, val, gi->size + 1, 0);
	else if (gi->size < 5)
		send_reply(s, ih->unique, -ERANGE, NULL, 0, 0);
	else
		send_reply(s, ih->unique, 0, val, 5, 0);
}

static void do_listxattr(struct hsrv *s, struct fuse_in_header *ih,
			 const struct fuse_getxattr_in *gi)
{
	struct fuse_getxattr_out xo = { .size = 7 };

	if (!gi->size)
		send_reply(s, ih->unique, 0, &xo, sizeof(xo), 0);
	else if (gi->size < 7)
		send_reply(s, ih->unique, -ERANGE, NULL, 0, 0);
	else if (s->spoil == LISTXATTR_UNTERMINATED)
		send_spoiled(s, ih->unique, 0, "user.ab", 7, 0);
	else
		send_reply(s, ih->unique, 0, "user.a", 7, 0);
}

static void do_write(struct hsrv *s, struct fuse_in_header *ih,
		     const struct fuse_write_in *wi)
{
	struct fuse_write_out wo = { .size = wi->size };

	if (s->spoil == WRITE_LONG) {
		wo.size = wi->size + 1;
		send_spoiled(s, ih->unique, 0, &wo, sizeof(wo), 0);
	} else {
		send_reply(s, ih->unique, 0, &wo, sizeof(wo), 0);
	}
}

static void handle(struct fx_raw *r, struct fuse_in_header *ih)
{
	struct hsrv *s = fx_container_of(r, struct hsrv, r);
	void *arg = ih + 1;
	struct fuse_statfs_out so = { .st = { .bsize = 4096, .namelen = 255 } };
	struct fuse_attr_out ao = { 0 };

	switch (ih->opcode) {
	case FUSE_INIT:
		do_init(s, ih);
		break;
	case FUSE_LOOKUP:
		do_lookup(s, ih, arg);
		break;
	case FUSE_GETATTR:
		do_getattr(s, ih);
		break;
	case FUSE_READ:
		do_read(s, ih, arg);
		break;
	case FUSE_READDIR:
		do_readdir(s, ih, arg);
		break;
	case FUSE_READDIRPLUS:
		do_readdirplus(s, ih, arg);
		break;
	case FUSE_READLINK:
		if (s->spoil == READLINK_NUL)
			send_spoiled(s, ih->unique, 0, "fi\0le", 5, 0);
		else
			send_reply(s, ih->unique, 0, "file", 4, 0);
		break;
	case FUSE_GETXATTR:
		do_getxattr(s, ih, arg);
		break;
	case FUSE_LISTXATTR:
		do_listxattr(s, ih, arg);
		break;
	case FUSE_WRITE:
		do_write(s, ih, arg);
		break;
	case FUSE_STATFS:
		send_reply(s, ih->unique, 0, &so, sizeof(so), 0);
		break;
	case FUSE_SETATTR:
		/* Changes nothing, says what is. */
		fill_attr(&ao.attr, ih->nodeid);
		send_reply(s, ih->unique, 0, &ao, sizeof(ao), 0);
		break;
	case FUSE_FSYNC:
		send_reply(s, ih->unique, 0, NULL, 0, 0);
		break;
	default:
		fx_raw_default(r, ih);
		break;
	}
}

/* SWAPPED: the partner never came; answer honestly. */
static void idle(struct fx_raw *r)
{
	struct hsrv *s = fx_container_of(r, struct hsrv, r);
	struct fuse_in_header *held = (void *)s->held;

	if (held->unique) {
		s->spoil = HONEST;
		handle(r, held);
		held->unique = 0;
	}
}

FIXTURE(hostile) {
	struct hsrv s;
	char path[128];
};

FIXTURE_SETUP(hostile)
{
	fx_raw_setup(_metadata, &self->s.r, "/tmp/fusex-hostile.XXXXXX",
		     BUFSZ);
	FX_RETURN_IF_SKIPPED();
	self->s.held = calloc(1, 4096);
	ASSERT_NE(NULL, self->s.held);
}

FIXTURE_TEARDOWN(hostile)
{
	fx_raw_teardown(&self->s.r);
	free(self->s.held);
}

static int start(struct hsrv *s, enum spoil spoil, bool plus)
{
	s->spoil = spoil;
	s->plus = plus;
	s->r.handle = handle;
	s->r.idle = idle;
	return fx_raw_start(&s->r);
}

/*
 * The mount still works after the spoiled reply: the root, the file and
 * its contents are all there.
 */
static bool still_works(struct hsrv *s)
{
	s->spoil = HONEST;
	return fx_raw_still_works(s->r.mnt, FILE_SIZE);
}

#define PATH(name) (snprintf(self->path, sizeof(self->path), "%s/%s", \
			     self->s.r.mnt, (name)), self->path)

/* A spoiled reply the kernel took apart: the caller sees EIO. */
#define EXPECT_CALLER_EIO(call) do {					\
	errno = 0;							\
	EXPECT_EQ(-1, (long)(call));					\
	EXPECT_EQ(EIO, errno);						\
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));			\
} while (0)

/* A reply that could not even be parsed: the server's write fails too. */
#define EXPECT_WRITE_EINVAL() \
	EXPECT_EQ(-EINVAL, atomic_load(&self->s.r.write_err))

static void stat_file_eio(struct __test_metadata *_metadata,
			  FIXTURE_DATA(hostile) *self, enum spoil spoil,
			  bool einval)
{
	struct stat st;

	ASSERT_EQ(0, start(&self->s, spoil, false));
	EXPECT_CALLER_EIO(stat(PATH("file"), &st));
	EXPECT_EQ(einval ? -EINVAL : 0, atomic_load(&self->s.r.write_err));
	EXPECT_TRUE(still_works(&self->s));
}

TEST_F_TIMEOUT(hostile, short_reply, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, SHORT_ENTRY, true);
}

TEST_F_TIMEOUT(hostile, long_reply, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, LONG_ATTR, true);
}

TEST_F_TIMEOUT(hostile, header_length_lies, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, LEN_LIES, true);
}

TEST_F_TIMEOUT(hostile, positive_error, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, ERR_POSITIVE, true);
}

TEST_F_TIMEOUT(hostile, error_out_of_range, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, ERR_TOO_NEGATIVE, true);
}

TEST_F_TIMEOUT(hostile, error_with_payload, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, ERR_PAYLOAD, true);
}

TEST_F_TIMEOUT(hostile, impossible_file_type, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, BAD_TYPE, false);
}

TEST_F_TIMEOUT(hostile, impossible_size, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, HUGE_SIZE, false);
}

TEST_F_TIMEOUT(hostile, entry_is_the_root, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, ROOT_ENTRY, false);
}

TEST_F_TIMEOUT(hostile, getattr_changes_type, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	stat_file_eio(_metadata, self, GETATTR_TYPE, false);
}

TEST_F_TIMEOUT(hostile, unknown_unique, FX_TIMEOUT)
{
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, UNKNOWN_UNIQUE, false));
	/* The stray reply is refused; the real one still reaches the caller. */
	EXPECT_EQ(0, stat(PATH("file"), &st));
	EXPECT_EQ(FILE_SIZE, st.st_size);
	EXPECT_EQ(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_EQ(-ENOENT, atomic_load(&self->s.r.write_err));
	EXPECT_TRUE(still_works(&self->s));
}

struct caller {
	const char *path;
	bool xattr;
	int err;
	pthread_t thread;
};

static void *caller_thread(void *arg)
{
	struct caller *c = arg;
	struct stat st;

	if (c->xattr)
		c->err = getxattr(c->path, "user.a", NULL, 0) < 0 ? errno : 0;
	else
		c->err = stat(c->path, &st) ? errno : 0;
	return NULL;
}

TEST_F_TIMEOUT(hostile, swapped_uniques, FX_TIMEOUT)
{
	struct caller a = { .xattr = false }, b = { .xattr = true };

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, SWAPPED, false));
	a.path = b.path = PATH("file");
	ASSERT_EQ(0, pthread_create(&a.thread, NULL, caller_thread, &a));
	ASSERT_EQ(0, pthread_create(&b.thread, NULL, caller_thread, &b));
	pthread_join(a.thread, NULL);
	pthread_join(b.thread, NULL);
	/* GETATTR got 16 bytes, GETXATTR 104: neither fits, both fail. */
	EXPECT_EQ(EIO, a.err);
	EXPECT_EQ(EIO, b.err);
	EXPECT_EQ(2, fx_raw_spoiled(&self->s.r, 2));
	EXPECT_WRITE_EINVAL();
	EXPECT_TRUE(still_works(&self->s));
}

TEST_F_TIMEOUT(hostile, live_inode_changes_type, FX_TIMEOUT)
{
	struct stat st;
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, TYPE_CHANGE, false));
	/* Keep the file's inode alive, then meet its nodeid as a directory */
	fd = open(PATH("file"), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_CALLER_EIO(stat(PATH("alias"), &st));
	EXPECT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	close(fd);
	EXPECT_TRUE(still_works(&self->s));
}

static void readdir_eio(struct __test_metadata *_metadata,
			FIXTURE_DATA(hostile) *self, enum spoil spoil,
			bool plus, bool einval)
{
	ASSERT_EQ(0, start(&self->s, spoil, plus));
	EXPECT_EQ(-EIO, fx_list_dir(self->s.r.mnt));
	EXPECT_LE(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_EQ(einval ? -EINVAL : 0, atomic_load(&self->s.r.write_err));
	EXPECT_TRUE(still_works(&self->s));
	EXPECT_EQ(0, fx_list_dir(self->s.r.mnt));
}

TEST_F_TIMEOUT(hostile, readdir_record_overruns, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	readdir_eio(_metadata, self, DIRENT_NAMELEN, false, false);
}

TEST_F_TIMEOUT(hostile, readdir_name_with_slash, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	readdir_eio(_metadata, self, DIRENT_SLASH, false, false);
}

TEST_F_TIMEOUT(hostile, readdir_name_with_nul, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	readdir_eio(_metadata, self, DIRENT_NUL, false, false);
}

TEST_F_TIMEOUT(hostile, readdir_empty_name, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	readdir_eio(_metadata, self, DIRENT_EMPTY, false, false);
}

TEST_F_TIMEOUT(hostile, readdir_bytes_left_over, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	readdir_eio(_metadata, self, DIRENT_TAIL, false, false);
}

TEST_F_TIMEOUT(hostile, readdirplus_record_overruns, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	readdir_eio(_metadata, self, DIRENTPLUS_NAMELEN, true, false);
}

/*
 * A READDIRPLUS record whose entry is impossible: as on fuse, the name is
 * listed (the record itself is well formed) but the entry is not cached,
 * so the next use of the name asks the server again.
 */
TEST_F_TIMEOUT(hostile, readdirplus_impossible_entry, FX_TIMEOUT)
{
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, DIRENTPLUS_BAD_TYPE, true));
	EXPECT_EQ(0, fx_list_dir(self->s.r.mnt));
	EXPECT_EQ(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_EQ(0, atomic_load(&self->s.odd_lookups));
	ASSERT_EQ(0, stat(PATH("odd"), &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(1, atomic_load(&self->s.odd_lookups));
	EXPECT_TRUE(still_works(&self->s));
}

TEST_F_TIMEOUT(hostile, readlink_with_nul, FX_TIMEOUT)
{
	char buf[64];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, READLINK_NUL, false));
	EXPECT_CALLER_EIO(readlink(PATH("link"), buf, sizeof(buf)));
	EXPECT_TRUE(still_works(&self->s));
	EXPECT_EQ(4, readlink(PATH("link"), buf, sizeof(buf)));
}

TEST_F_TIMEOUT(hostile, read_longer_than_asked, FX_TIMEOUT)
{
	char buf[256];
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, READ_LONG, false));
	fd = open(PATH("file"), O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_CALLER_EIO(pread(fd, buf, sizeof(buf), 0));
	EXPECT_WRITE_EINVAL();
	close(fd);
	EXPECT_TRUE(still_works(&self->s));
}

TEST_F_TIMEOUT(hostile, getxattr_longer_than_asked, FX_TIMEOUT)
{
	char buf[16];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, GETXATTR_LONG, false));
	EXPECT_CALLER_EIO(getxattr(PATH("file"), "user.a", buf, sizeof(buf)));
	EXPECT_WRITE_EINVAL();
	EXPECT_TRUE(still_works(&self->s));
	EXPECT_EQ(5, getxattr(PATH("file"), "user.a", buf, sizeof(buf)));
}

TEST_F_TIMEOUT(hostile, getxattr_size_over_limit, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, GETXATTR_HUGE, false));
	EXPECT_CALLER_EIO(getxattr(PATH("file"), "user.a", NULL, 0));
	EXPECT_TRUE(still_works(&self->s));
	EXPECT_EQ(5, getxattr(PATH("file"), "user.a", NULL, 0));
}

TEST_F_TIMEOUT(hostile, listxattr_malformed, FX_TIMEOUT)
{
	char buf[64];

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, LISTXATTR_UNTERMINATED, false));
	EXPECT_CALLER_EIO(listxattr(PATH("file"), buf, sizeof(buf)));
	EXPECT_TRUE(still_works(&self->s));
	EXPECT_EQ(7, listxattr(PATH("file"), buf, sizeof(buf)));
}

TEST_F_TIMEOUT(hostile, write_more_than_sent, FX_TIMEOUT)
{
	int fd;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, start(&self->s, WRITE_LONG, false));
	fd = open(PATH("file"), O_WRONLY);
	ASSERT_LE(0, fd);
	EXPECT_CALLER_EIO(pwrite(fd, "abc", 3, 0));
	close(fd);
	EXPECT_TRUE(still_works(&self->s));
}

static void init_refused(struct __test_metadata *_metadata,
			 FIXTURE_DATA(hostile) *self, enum spoil spoil,
			 bool einval)
{
	struct stat st;
	int i;

	ASSERT_EQ(0, start(&self->s, spoil, false));
	/* The connection is refused for good: every request, every time. */
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-1, stat(self->s.r.mnt, &st));
		EXPECT_EQ(ECONNREFUSED, errno);
		EXPECT_EQ(-1, stat(PATH("file"), &st));
		EXPECT_EQ(ECONNREFUSED, errno);
	}
	EXPECT_EQ(1, fx_raw_spoiled(&self->s.r, 1));
	EXPECT_EQ(einval ? -EINVAL : 0, atomic_load(&self->s.r.write_err));
}

TEST_F_TIMEOUT(hostile, init_other_major, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	init_refused(_metadata, self, INIT_MAJOR, false);
}

TEST_F_TIMEOUT(hostile, init_unknown_size, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	init_refused(_metadata, self, INIT_SIZE, false);
}

TEST_HARNESS_MAIN
