// SPDX-License-Identifier: GPL-2.0
/*
 * The same tree, served by two instances of libfuse's passthrough_ll
 * example (unmodified) on fuse.ko and on fusex at once, must read the same
 * through both, and the same as the backing directory: listings with and
 * without stat (READDIR and READDIRPLUS), every attribute stat(2) shows,
 * contents (sequential, at random offsets, through mmap, again after the
 * caches are dropped), symlink targets, extended attributes, statfs, and
 * the errors for names that are not there.  Then the lifecycle: a clean
 * unmount lets the server exit 0, and a server killed with SIGKILL leaves a
 * mount whose callers get ENOTCONN, on both.
 *
 * The tree lives on the guest's tmpfs; extended attributes are trusted.*
 * ones, which tmpfs has on every kernel (user.* came to tmpfs in 6.6).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fusex_util.h"

#define NR_BIG 1200		/* entries in big/: several READDIR batches */
#define SEQ_LEN (3 * 1024 * 1024 + 123)
#define LONG_TARGET 4000	/* readlink up to PATH_MAX - 1 */
#define NR_RANDOM 400

FIXTURE(parity) {
	char server[PATH_MAX];
	char src[64];
	struct fx_server srv[2];	/* [0] fuse, [1] fusex */
};

static const char *const types[2] = { "fuse", "fusex" };

/* Deterministic bytes, not periodic in the page size, never all zero. */
static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x >> 7;
	}
}

static int write_file(const char *dir, const char *name, size_t len,
		      uint32_t seed, mode_t mode)
{
	char path[PATH_MAX];
	unsigned char *buf;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	fill(buf, len, seed);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd >= 0) {
		if (write(fd, buf, len) == (ssize_t)len && !fchmod(fd, mode))
			ret = 0;
		close(fd);
	}
	free(buf);
	return ret;
}

/* Build the tree every test reads. */
static int make_tree(const char *src)
{
	static const char big_val[] = "the same value through both mounts";
	char path[PATH_MAX], name[64], target[LONG_TARGET + 1];
	unsigned char xv[2000];
	int i, fd;

#define P(rel) (snprintf(path, sizeof(path), "%s/%s", src, rel), path)
	if (mkdir(P("data"), 0755) || mkdir(P("big"), 0711) ||
	    mkdir(P("sub"), 0750) || mkdir(P("sub/a"), 0700) ||
	    mkdir(P("sub/a/b"), 0755) || mkdir(P("empty_dir"), 0555))
		return -1;
	if (write_file(src, "data/seq", SEQ_LEN, 1, 0644) ||
	    write_file(src, "data/small", 1, 2, 0600) ||
	    write_file(src, "data/page", 4096, 3, 0444) ||
	    write_file(src, "data/empty", 0, 0, 0640) ||
	    write_file(src, "sub/a/b/deep", 70000, 4, 0755) ||
	    write_file(src, "data/setuid", 10, 5, 04755))
		return -1;
	/* Sparse: data at 5 MiB only */
	fd = open(P("data/sparse"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || pwrite(fd, "tail", 4, 5 << 20) != 4 || close(fd))
		return -1;
	snprintf(name, sizeof(name), "%s", "data/hard");
	snprintf(target, sizeof(target), "%s/%s", src, name);
	if (link(P("data/seq"), target))
		return -1;
	if (symlink("data/small", P("link_rel")) ||
	    symlink("/nowhere/at/all", P("link_dangling")) ||
	    symlink("sub/a/b", P("link_dir")))
		return -1;
	memset(target, 'x', LONG_TARGET);
	for (i = 0; i < LONG_TARGET; i += 100)
		target[i] = '/';
	target[LONG_TARGET] = '\0';
	if (symlink(target, P("link_long")))
		return -1;
	if (mkfifo(P("fifo"), 0620) ||
	    mknod(P("chardev"), S_IFCHR | 0600, makedev(1, 3)))
		return -1;
	if (lchown(P("sub/a"), 1000, 1000) ||
	    lchown(P("data/small"), 1000, 100) ||
	    lchown(P("link_rel"), 1001, 1001))
		return -1;
	fill(xv, sizeof(xv), 6);
	if (lsetxattr(P("data/small"), "trusted.fusex.a", "A", 1, 0) ||
	    lsetxattr(P("data/small"), "trusted.fusex.big", xv,
		      sizeof(xv), 0) ||
	    lsetxattr(P("data/small"), "trusted.fusex.empty", "", 0, 0) ||
	    lsetxattr(P("sub"), "trusted.fusex.dir", big_val,
		      sizeof(big_val), 0))
		return -1;
	for (i = 0; i < NR_BIG; i++) {
		snprintf(name, sizeof(name), "big/entry-%05d%s", i,
			 i % 3 ? "" : "-with-a-longer-name-to-vary-lengths");
		if (i % 10 == 7) {
			if (mkdir(P(name), 0755))
				return -1;
		} else if (write_file(src, name, i % 50, i, 0644)) {
			return -1;
		}
	}
#undef P
	return 0;
}

FIXTURE_SETUP(parity)
{
	char opts[128], why[256];
	const char *argv[] = { self->server, "-f", "-o", opts, NULL };
	const struct rlimit nofile = { 65536, 65536 };
	int i;

	for (i = 0; i < 2; i++)
		if (!fx_have_dev(types[i]))
			SKIP(return, "/dev/%s is missing (module not loaded)",
			     types[i]);
	if (fx_build_path(self->server, sizeof(self->server),
			  "passthrough_ll"))
		SKIP(return, "passthrough_ll not built (set FUSEX_BUILD)");
	/* passthrough_ll keeps an fd per inode it knows */
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &nofile));
	strcpy(self->src, "/tmp/fusex-parity-src.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->src));
	ASSERT_EQ(0, chmod(self->src, 0755));
	ASSERT_EQ(0, make_tree(self->src)) TH_LOG("tree: %s", strerror(errno));
	snprintf(opts, sizeof(opts), "source=%s,xattr", self->src);
	for (i = 0; i < 2; i++) {
		strcpy(self->srv[i].mnt, "/tmp/fusex-parity.XXXXXX");
		ASSERT_NE(NULL, mkdtemp(self->srv[i].mnt));
		ASSERT_EQ(0, fx_server_start(&self->srv[i], types[i], NULL,
					     argv, why, sizeof(why)))
			TH_LOG("%s: %s", types[i], why);
	}
}

FIXTURE_TEARDOWN(parity)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (!self->srv[i].mnt[0])
			continue;
		fx_server_stop(&self->srv[i]);
		rmdir(self->srv[i].mnt);
	}
	fx_rmtree(self->src);
}

static int drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	int ret;

	if (fd < 0)
		return -1;
	sync();
	ret = write(fd, "3", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * A listing: one line per entry under @root, recursively, sorted.  With
 * @with_stat each line has every attribute stat(2) shows (so the kernel
 * may use READDIRPLUS), else the name, d_type and d_ino only (so the names
 * come by READDIR).  Symlink lines carry the target.  Returns the lines
 * joined, or NULL.
 */
struct listing {
	char **line;
	size_t nr, cap;
};

static int add_line(struct listing *l, const char *s)
{
	if (l->nr == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		char **n = realloc(l->line, cap * sizeof(*n));

		if (!n)
			return -1;
		l->line = n;
		l->cap = cap;
	}
	l->line[l->nr] = strdup(s);
	return l->line[l->nr++] ? 0 : -1;
}

static void free_listing(struct listing *l)
{
	while (l->nr)
		free(l->line[--l->nr]);
	free(l->line);
	l->line = NULL;
	l->cap = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct listing *l, const char *root, const char *rel,
		    bool with_stat)
{
	char path[PATH_MAX], sub[PATH_MAX], line[PATH_MAX + 512];
	char target[PATH_MAX];
	struct dirent *de;
	struct stat st;
	ssize_t n;
	DIR *d;
	int ret = 0;

	snprintf(path, sizeof(path), "%s%s%s", root, *rel ? "/" : "", rel);
	d = opendir(path);
	if (!d)
		return -1;
	while (!ret && (errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "",
			 de->d_name);
		if (!with_stat) {
			snprintf(line, sizeof(line), "%s type=%u ino=%llu", sub,
				 de->d_type, (unsigned long long)de->d_ino);
			ret = add_line(l, line);
			if (!ret && de->d_type == DT_DIR)
				ret = list_dir(l, root, sub, false);
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			ret = -1;
			break;
		}
		target[0] = '\0';
		if (S_ISLNK(st.st_mode)) {
			n = readlinkat(dirfd(d), de->d_name, target,
				       sizeof(target) - 1);
			if (n < 0) {
				ret = -1;
				break;
			}
			target[n] = '\0';
		}
		snprintf(line, sizeof(line),
			 "%s mode=%o ino=%llu nlink=%lu uid=%u gid=%u size=%lld blocks=%lld rdev=%x mtime=%lld.%09ld ctime=%lld.%09ld -> %.40s/%zu",
			 sub, st.st_mode, (unsigned long long)st.st_ino,
			 (unsigned long)st.st_nlink, st.st_uid, st.st_gid,
			 (long long)st.st_size, (long long)st.st_blocks,
			 (unsigned int)st.st_rdev,
			 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec,
			 target, strlen(target));
		ret = add_line(l, line);
		if (!ret && S_ISDIR(st.st_mode))
			ret = list_dir(l, root, sub, true);
	}
	if (!de && errno)
		ret = -1;
	closedir(d);
	return ret;
}

static int list_tree(struct listing *l, const char *root, bool with_stat)
{
	if (list_dir(l, root, "", with_stat))
		return -1;
	qsort(l->line, l->nr, sizeof(*l->line), cmp_str);
	return 0;
}

/* Compare the listings of both mounts with the backing directory's. */
static void check_listings(struct __test_metadata *_metadata,
			   FIXTURE_DATA(parity) *self, bool with_stat)
{
	struct listing want = {}, got = {};
	size_t i;
	int m;

	ASSERT_EQ(0, list_tree(&want, self->src, with_stat));
	/* 1200 in big/, the rest elsewhere */
	EXPECT_LT(NR_BIG + 15, want.nr);
	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, list_tree(&got, self->srv[m].mnt, with_stat))
			TH_LOG("%s: listing: %s", types[m], strerror(errno));
		EXPECT_EQ(want.nr, got.nr) TH_LOG("%s", types[m]);
		for (i = 0; i < want.nr && i < got.nr; i++) {
			if (strcmp(want.line[i], got.line[i])) {
				EXPECT_STREQ(want.line[i], got.line[i])
					TH_LOG("%s: entry %zu", types[m], i);
				break;
			}
		}
		free_listing(&got);
	}
	free_listing(&want);
}

TEST_F_TIMEOUT(parity, listing_names, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	check_listings(_metadata, self, false);
	/* Again with nothing cached */
	ASSERT_EQ(0, drop_caches());
	check_listings(_metadata, self, false);
}

TEST_F_TIMEOUT(parity, listing_stat, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	check_listings(_metadata, self, true);
	/* Cached attributes, and then none */
	check_listings(_metadata, self, true);
	ASSERT_EQ(0, drop_caches());
	check_listings(_metadata, self, true);
}

/* telldir/seekdir in a large directory resume at the same entry. */
TEST_F_TIMEOUT(parity, listing_seek, FX_TIMEOUT)
{
	char path[PATH_MAX], first[3][NAME_MAX + 1];
	struct dirent *de;
	long pos;
	int m, i;
	DIR *d;

	FX_RETURN_IF_SKIPPED();
	for (m = 0; m < 2; m++) {
		snprintf(path, sizeof(path), "%s/big", self->srv[m].mnt);
		d = opendir(path);
		ASSERT_NE(NULL, d);
		for (i = 0; i < 700; i++)
			ASSERT_NE(NULL, readdir(d));
		pos = telldir(d);
		for (i = 0; i < 3; i++) {
			de = readdir(d);
			ASSERT_NE(NULL, de);
			strcpy(first[i], de->d_name);
		}
		rewinddir(d);
		ASSERT_NE(NULL, readdir(d));
		seekdir(d, pos);
		for (i = 0; i < 3; i++) {
			de = readdir(d);
			ASSERT_NE(NULL, de);
			EXPECT_STREQ(first[i], de->d_name)
				TH_LOG("%s: entry %d after seekdir", types[m],
				       i);
		}
		closedir(d);
	}
}

static const char *const files[] = {
	"data/seq", "data/small", "data/page", "data/empty", "data/hard",
	"data/sparse", "sub/a/b/deep", "data/setuid",
};

static unsigned char *read_whole(const char *path, size_t *len)
{
	unsigned char *buf;
	struct stat st;
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		return NULL;
	buf = malloc(st.st_size + 1);
	while (buf && done < (size_t)st.st_size) {
		/* 64 KiB at a time, as cp does */
		n = read(fd, buf + done, 65536);
		if (n <= 0)
			break;
		done += n;
	}
	/* And the end of the file is where stat said */
	if (buf && (done != (size_t)st.st_size || read(fd, &n, 1) != 0)) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*len = done;
	return buf;
}

static void check_contents(struct __test_metadata *_metadata,
			   FIXTURE_DATA(parity) *self)
{
	char path[PATH_MAX];
	unsigned char *want, *got, buf[20000];
	size_t wlen, glen, f;
	int m, fd, i;
	void *map;

	srand(42);
	for (f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		snprintf(path, sizeof(path), "%s/%s", self->src, files[f]);
		want = read_whole(path, &wlen);
		ASSERT_NE(NULL, want) TH_LOG("%s", path);
		for (m = 0; m < 2; m++) {
			snprintf(path, sizeof(path), "%s/%s",
				 self->srv[m].mnt, files[f]);
			/* Sequential */
			got = read_whole(path, &glen);
			ASSERT_NE(NULL, got) TH_LOG("%s", path);
			EXPECT_EQ(wlen, glen) TH_LOG("%s", path);
			EXPECT_EQ(0, memcmp(want, got, wlen))
				TH_LOG("%s: sequential read differs", path);
			free(got);

			/* Random offsets and lengths, across the end too */
			fd = open(path, O_RDONLY);
			ASSERT_LE(0, fd);
			for (i = 0; wlen && i < NR_RANDOM / 4; i++) {
				size_t off = (size_t)rand() % (wlen + 100);
				size_t len = 1 + (size_t)rand() % sizeof(buf);
				ssize_t exp = off >= wlen ? 0 :
					(ssize_t)(len < wlen - off ?
						  len : wlen - off);

				ASSERT_EQ(exp, pread(fd, buf, len, off))
					TH_LOG("%s: pread %zu at %zu", path,
					       len, off);
				if (exp > 0 && memcmp(buf, want + off, exp)) {
					EXPECT_EQ(0, 1)
						TH_LOG("%s: %zu bytes at %zu differ",
						       path, len, off);
					break;
				}
			}

			/* mmap */
			if (wlen) {
				map = mmap(NULL, wlen, PROT_READ, MAP_SHARED,
					   fd, 0);
				ASSERT_NE(MAP_FAILED, map);
				EXPECT_EQ(0, memcmp(map, want, wlen))
					TH_LOG("%s: mmap differs", path);
				munmap(map, wlen);
			}
			close(fd);
		}
		free(want);
	}
}

TEST_F_TIMEOUT(parity, contents, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	check_contents(_metadata, self);
	/* Cached, then read from the server again */
	check_contents(_metadata, self);
	ASSERT_EQ(0, drop_caches());
	check_contents(_metadata, self);
}

TEST_F_TIMEOUT(parity, readlink, FX_TIMEOUT)
{
	static const char *const links[] = {
		"link_rel", "link_dangling", "link_dir", "link_long",
	};
	char path[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
	ssize_t wn, gn;
	size_t i;
	int m;

	FX_RETURN_IF_SKIPPED();
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", self->src, links[i]);
		wn = readlink(path, want, sizeof(want));
		ASSERT_LT(0, wn);
		for (m = 0; m < 2; m++) {
			snprintf(path, sizeof(path), "%s/%s", self->srv[m].mnt,
				 links[i]);
			gn = readlink(path, got, sizeof(got));
			EXPECT_EQ(wn, gn) TH_LOG("%s", path);
			if (gn == wn)
				EXPECT_EQ(0, memcmp(want, got, wn))
					TH_LOG("%s", path);
			/* A short buffer gets the start, as everywhere */
			EXPECT_EQ(5, readlink(path, got, 5));
			EXPECT_EQ(0, memcmp(want, got, 5));
		}
	}
	for (m = 0; m < 2; m++) {
		/* Through a link to a directory, and a dangling one */
		snprintf(path, sizeof(path), "%s/link_dir/deep",
			 self->srv[m].mnt);
		EXPECT_EQ(0, access(path, R_OK)) TH_LOG("%s", path);
		snprintf(path, sizeof(path), "%s/link_dangling",
			 self->srv[m].mnt);
		EXPECT_EQ(-1, access(path, F_OK));
		EXPECT_EQ(ENOENT, errno);
		/* Not a symlink */
		snprintf(path, sizeof(path), "%s/data/small", self->srv[m].mnt);
		EXPECT_EQ(-1, readlink(path, got, sizeof(got)));
		EXPECT_EQ(EINVAL, errno);
	}
}

/* The names of @path's xattrs, sorted, NUL-separated: its size or -1. */
static ssize_t sorted_names(const char *path, char *out, size_t len)
{
	char buf[4096], *names[64], *p;
	ssize_t n = llistxattr(path, buf, sizeof(buf));
	size_t nr = 0, i, at = 0;

	if (n < 0)
		return -1;
	for (p = buf; p < buf + n && nr < 64; p += strlen(p) + 1)
		names[nr++] = p;
	qsort(names, nr, sizeof(*names), cmp_str);
	for (i = 0; i < nr && at + strlen(names[i]) + 1 <= len; i++) {
		strcpy(out + at, names[i]);
		at += strlen(names[i]) + 1;
	}
	return at;
}

TEST_F_TIMEOUT(parity, xattr, FX_TIMEOUT)
{
	static const char *const objs[] = { "data/small", "sub", "data/seq" };
	char path[PATH_MAX], back[PATH_MAX], wn[4096], gn[4096];
	char wv[4096], gv[4096], *name;
	ssize_t wl, gl, vl;
	size_t i;
	int m;

	FX_RETURN_IF_SKIPPED();
	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++) {
		snprintf(back, sizeof(back), "%s/%s", self->src, objs[i]);
		wl = sorted_names(back, wn, sizeof(wn));
		ASSERT_LE(0, wl);
		for (m = 0; m < 2; m++) {
			snprintf(path, sizeof(path), "%s/%s", self->srv[m].mnt,
				 objs[i]);
			gl = sorted_names(path, gn, sizeof(gn));
			ASSERT_EQ(wl, gl) TH_LOG("%s: listxattr", path);
			EXPECT_EQ(0, memcmp(wn, gn, wl)) TH_LOG("%s", path);
			/* The size of the list, asked with size 0 */
			EXPECT_EQ(llistxattr(back, NULL, 0),
				  llistxattr(path, NULL, 0));
			for (name = wn; name < wn + wl;
			     name += strlen(name) + 1) {
				vl = lgetxattr(back, name, wv, sizeof(wv));
				ASSERT_LE(0, vl);
				EXPECT_EQ(vl, lgetxattr(path, name, NULL, 0))
					TH_LOG("%s %s: size", path, name);
				EXPECT_EQ(vl, lgetxattr(path, name, gv,
							sizeof(gv)))
					TH_LOG("%s %s", path, name);
				EXPECT_EQ(0, memcmp(wv, gv, vl))
					TH_LOG("%s %s: value", path, name);
				if (vl > 1) {
					EXPECT_EQ(-1, lgetxattr(path, name, gv,
								1));
					EXPECT_EQ(ERANGE, errno);
				}
			}
			EXPECT_EQ(-1, lgetxattr(path, "trusted.fusex.none", gv,
						sizeof(gv)));
			EXPECT_EQ(ENODATA, errno);
		}
	}
	/* The list of data/small too small for its buffer */
	for (m = 0; m < 2; m++) {
		snprintf(path, sizeof(path), "%s/data/small", self->srv[m].mnt);
		EXPECT_EQ(-1, llistxattr(path, gn, 4));
		EXPECT_EQ(ERANGE, errno);
	}
}

TEST_F_TIMEOUT(parity, statfs, FX_TIMEOUT)
{
	struct statvfs want, got;
	int m;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, statvfs(self->src, &want));
	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, statvfs(self->srv[m].mnt, &got));
		EXPECT_EQ(want.f_bsize, got.f_bsize) TH_LOG("%s", types[m]);
		EXPECT_EQ(want.f_frsize, got.f_frsize);
		EXPECT_EQ(want.f_blocks, got.f_blocks);
		EXPECT_EQ(want.f_bfree, got.f_bfree);
		EXPECT_EQ(want.f_bavail, got.f_bavail);
		EXPECT_EQ(want.f_files, got.f_files);
		EXPECT_EQ(want.f_ffree, got.f_ffree);
		EXPECT_EQ(want.f_namemax, got.f_namemax);
	}
}

static long try_opendir(const char *path)
{
	DIR *d = opendir(path);

	if (!d)
		return -1;
	closedir(d);
	return 0;
}

/* The errno of @fn(@path) on the backing tree and both mounts. */
#define SAME_ERRNO(rel, call) do {					\
	char _p[PATH_MAX];						\
	int _want, _m;							\
									\
	snprintf(_p, sizeof(_p), "%s/%s", self->src, rel);		\
	errno = 0;							\
	EXPECT_GT(0, (long)(call)) TH_LOG("%s: %s", #call, _p);	\
	_want = errno;							\
	EXPECT_NE(0, _want);						\
	for (_m = 0; _m < 2; _m++) {					\
		snprintf(_p, sizeof(_p), "%s/%s", self->srv[_m].mnt,	\
			 rel);						\
		errno = 0;						\
		EXPECT_GT(0, (long)(call)) TH_LOG("%s", _p);		\
		EXPECT_EQ(_want, errno)					\
			TH_LOG("%s(%s): %s, not %s", #call, _p,		\
			       strerror(errno), strerror(_want));	\
	}								\
} while (0)

TEST_F_TIMEOUT(parity, errors, FX_TIMEOUT)
{
	char longname[300], rel[400];
	struct stat st;
	char buf[16];
	int i;

	FX_RETURN_IF_SKIPPED();
	/* Twice: the second time the negative entry may be cached */
	for (i = 0; i < 2; i++) {
		SAME_ERRNO("missing", lstat(_p, &st));
		SAME_ERRNO("data/missing", open(_p, O_RDONLY));
		SAME_ERRNO("missing/deeper", lstat(_p, &st));
		SAME_ERRNO("data/small/under_a_file", lstat(_p, &st));
		SAME_ERRNO("data/small/", open(_p, O_RDONLY));
		SAME_ERRNO("data/small", try_opendir(_p));
		SAME_ERRNO("empty_dir/missing", readlink(_p, buf, 16));
		SAME_ERRNO("data/missing", lgetxattr(_p, "trusted.a", buf, 16));
		SAME_ERRNO("data", open(_p, O_WRONLY));
		SAME_ERRNO("missing", try_opendir(_p));
	}
	memset(longname, 'n', 299);
	longname[299] = '\0';
	snprintf(rel, sizeof(rel), "data/%s", longname);
	SAME_ERRNO(rel, lstat(_p, &st));
}

/* umount: DESTROY, and the server exits 0 on both. */
TEST_F_TIMEOUT(parity, clean_unmount, FX_TIMEOUT)
{
	int m, status;

	FX_RETURN_IF_SKIPPED();
	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, umount(self->srv[m].mnt))
			TH_LOG("%s: %s", types[m], strerror(errno));
		status = fx_wait_exit(self->srv[m].pid, 30000);
		ASSERT_LE(0, status) TH_LOG("%s: server still running",
					    types[m]);
		self->srv[m].pid = 0;
		EXPECT_TRUE(WIFEXITED(status)) TH_LOG("%s", types[m]);
		EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("%s", types[m]);
	}
}

/* kill -9: every caller gets ENOTCONN; the mount then unmounts cleanly. */
TEST_F_TIMEOUT(parity, killed_server, FX_TIMEOUT)
{
	char path[PATH_MAX], buf[16];
	int m, fd[2], cret[2], cerr[2];
	struct statvfs sv;
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	for (m = 0; m < 2; m++) {
		snprintf(path, sizeof(path), "%s/data/small", self->srv[m].mnt);
		fd[m] = open(path, O_RDONLY);
		ASSERT_LE(0, fd[m]);
		kill(self->srv[m].pid, SIGKILL);
		waitpid(self->srv[m].pid, NULL, 0);
		self->srv[m].pid = 0;
	}
	for (m = 0; m < 2; m++) {
		snprintf(path, sizeof(path), "%s/not-cached", self->srv[m].mnt);
		EXPECT_EQ(-1, lstat(path, &st));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("%s: lstat", types[m]);
		snprintf(path, sizeof(path), "%s/data/seq", self->srv[m].mnt);
		EXPECT_EQ(-1, open(path, O_RDONLY));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("%s: open", types[m]);
		EXPECT_EQ(-1, statvfs(self->srv[m].mnt, &sv));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("%s: statfs", types[m]);
		/* Uncached data of an open file */
		EXPECT_EQ(-1, pread(fd[m], buf, sizeof(buf), 0));
		EXPECT_EQ(ENOTCONN, errno) TH_LOG("%s: pread", types[m]);
		/* FLUSH cannot be sent: close says so, on fuse too */
		errno = 0;
		cret[m] = close(fd[m]);
		cerr[m] = errno;
		EXPECT_EQ(0, umount(self->srv[m].mnt))
			TH_LOG("%s: umount: %s", types[m], strerror(errno));
	}
	EXPECT_EQ(cret[0], cret[1]);
	EXPECT_EQ(cerr[0], cerr[1])
		TH_LOG("close: fuse %s, fusex %s", strerror(cerr[0]),
		       strerror(cerr[1]));
}

TEST_HARNESS_MAIN
