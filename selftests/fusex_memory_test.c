// SPDX-License-Identifier: GPL-2.0
/*
 * Memory: what one cached inode costs, with and without handles.
 *
 * A tree of 100,000 empty files (100 directories of 1,000) is made once,
 * directly on a tmpfs of its own (not through a mount), and unmounted when
 * the test exits.  Each variant mounts a passthrough server over it, drops
 * the caches, reads /proc/slabinfo and /proc/meminfo, walks the tree
 * through the mount as ls -l does (read a batch of names, stat each: the
 * READDIRPLUS replies bring an inode and a dentry per file into the
 * caches), reads them again, and prints what grew, per cached inode:
 *  - fusex_handles: fusex-passthrough on fusex, opted into handles: every
 *    inode keeps the backing tmpfs's handle (16 bytes: type + 12);
 *  - fusex_nohandles: the same server with -o nohandles;
 *  - fuse: the same server on fuse.ko, for comparison (there it is a plain
 *    libfuse server, handles are not negotiated).  Not Debian's
 *    passthrough_ll: it finds its inodes in a linked list, so making the
 *    100,000th inode walks 99,999, and the walk would take minutes.
 *
 * Before each reading every slab cache is shrunk (/sys/kernel/slab/X/shrink)
 * so that SLUB puts its per-CPU slabs back on the node lists: only then do
 * slabinfo's active object counts leave out the free objects of per-CPU
 * slabs, and the figures are exact.
 *
 * What must hold, from kmod/: the inode cache ("fusex_inode",
 * kmem_cache_create() in inode.c) and the dentry cache grew by an object
 * per file at least; fusex's other per-inode allocations are the FORGET
 * preallocated with each inode (struct fusex_forget, 32 bytes, accounted:
 * kmalloc-cg-32) and, only for a handle longer than FUSEX_FH_INLINE, a copy
 * of the handle (kmemdup(), accounted too: kmalloc-cg-*), so kmalloc grows
 * by no more than that per inode, and plain kmalloc by nothing.  Then the mount is unmounted, the server
 * killed, and every cache that grew by a per-inode amount must come back to
 * its baseline (the inode cache exactly, shared ones within 1%): nothing
 * leaks.
 *
 * The table's columns, bytes per cached inode (100,100 of them: the files
 * and their directories; slab object sizes, so what slabs lose to
 * fragmentation is only in "slab"):
 *   inode    the filesystem's inode cache
 *   lsm      lsm_inode_cache: the LSMs' blob of every VFS inode
 *   handle   plain kmalloc-* caches: nothing of fusex's (fuse's own
 *            allocations, if any)
 *   forget   accounted kmalloc-cg-* caches: the preallocated FORGET and
 *            out-of-line handle copies
 *   dentry   the dentry cache
 *   client   the sum of these: what the kernel keeps for the mount
 *   server   filp and lsm_file_cache: the server's O_PATH fd per inode,
 *            and any other cache that grew by half an object per inode
 *   slab     the Slab line of /proc/meminfo: all of it and the rest
 *   MemFree  what MemFree dropped by: slab, and the server's own memory
 *   MemAvail what MemAvailable dropped by (it counts reclaimable slab,
 *            such as inodes and dentries, as partly available)
 *
 * Run it in a VM with memory to spare (scripts/vm-run -m 3G): the tree and
 * one mount's cached inodes take about 300 MB.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fusex_util.h"

#define NDIRS		100
#define PER_DIR		1000
#define NFILES		(NDIRS * PER_DIR)
/* Inodes the walk caches: the files and their directories. */
#define NINODES		(NFILES + NDIRS)

/* The tree, on its own tmpfs: made by the first test, unmounted at exit. */
#define TREE		"/tmp/fusex-memtree"
#define TREE_DONE	TREE "/.complete"

/* From kmod/fusex_i.h: handles up to this size live in the inode. */
#define FUSEX_FH_INLINE	16
/* struct fusex_forget (list_head, nodeid, nlookup): one kmalloc-32. */
#define FORGET_ALLOC	32
/* File handle types fusex gives (kmod/handle.c). */
#define FH_IS_FUSEX_HANDLE(t)	((t) >= 0xf4 && (t) <= 0xf7)
#define FH_FUSEX_NODEID	0xf2

/* A cache grew "per inode" if it grew by half an object per file or more. */
#define PER_INODE_MIN	(NFILES / 2)
/* Objects a cache may stay above its baseline after unmount. */
#define LEAK_SLACK	(NFILES / 100)
/* Bytes per inode kmalloc may grow by beyond what the code explains. */
#define KMALLOC_SLACK	8

/* Walking threads; the VM has two CPUs. */
#define NTHREADS	2

struct slab {
	char name[64];
	long active;
	long objsize;
};

struct snap {
	struct slab *slabs;
	int n;
	/* From /proc/meminfo, kB. */
	long slab_kb;
	long free_kb;
	long avail_kb;
};

static pid_t harness_pid;

static void __attribute__((constructor)) tree_init(void)
{
	harness_pid = getpid();
}

/* Unmounting the tree frees it at once; only the harness itself does. */
static void __attribute__((destructor)) tree_cleanup(void)
{
	if (getpid() == harness_pid && fx_is_mounted(TREE, "tmpfs")) {
		umount2(TREE, MNT_DETACH);
		rmdir(TREE);
	}
}

/* Dentries and inodes are freed after an RCU grace period: wait 1 s. */
static int drop_caches(void)
{
	return fx_drop_caches(1000);
}

/*
 * Shrink every slab cache: SLUB flushes its per-CPU slabs, so that
 * slabinfo counts their free objects as free.  Aliases (merged caches)
 * are symlinks; the caches themselves are directories.
 */
static void shrink_slabs(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int fd;

	d = opendir("/sys/kernel/slab");
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 de->d_name);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* A cache that cannot be shrunk is counted as it is. */
		if (write(fd, "1", 1) != 1)
			errno = 0;
		close(fd);
	}
	closedir(d);
}

static void snap_free(struct snap *s)
{
	free(s->slabs);
	s->slabs = NULL;
	s->n = 0;
}

static long meminfo_kb(const char *text, const char *key)
{
	const char *p = strstr(text, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* Shrink the caches and read /proc/slabinfo and /proc/meminfo; 0 or -errno. */
static int snap_take(struct snap *s)
{
	char line[512], buf[8192];
	int cap = 0, fd;
	ssize_t len;
	FILE *f;

	memset(s, 0, sizeof(*s));
	shrink_slabs();
	f = fopen("/proc/slabinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct slab sl;

		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (sscanf(line, "%63s %ld %*d %ld", sl.name, &sl.active,
			   &sl.objsize) != 3)
			continue;
		if (s->n == cap) {
			struct slab *p;

			cap = cap ? 2 * cap : 256;
			p = realloc(s->slabs, cap * sizeof(*p));
			if (!p) {
				fclose(f);
				snap_free(s);
				return -ENOMEM;
			}
			s->slabs = p;
		}
		s->slabs[s->n++] = sl;
	}
	fclose(f);

	fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snap_free(s);
		return -errno;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[len > 0 ? len : 0] = '\0';
	s->slab_kb = meminfo_kb(buf, "\nSlab:");
	s->free_kb = meminfo_kb(buf, "MemFree:");
	s->avail_kb = meminfo_kb(buf, "MemAvailable:");
	if (!s->n || s->slab_kb < 0 || s->free_kb < 0 || s->avail_kb < 0) {
		snap_free(s);
		return -EIO;
	}
	return 0;
}

static const struct slab *snap_find(const struct snap *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->slabs[i].name, name))
			return &s->slabs[i];
	return NULL;
}

/* Objects cache @name grew by from @a to @b. */
static long snap_delta(const struct snap *a, const struct snap *b,
		       const char *name)
{
	const struct slab *x = snap_find(a, name), *y = snap_find(b, name);

	return (y ? y->active : 0) - (x ? x->active : 0);
}

/* A cache's object_size (without alignment), or -1. */
static long object_size(const char *name)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/object_size", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Bytes per cached inode: @bytes over NINODES, rounded. */
static long per_inode(long bytes)
{
	return (bytes + (bytes >= 0 ? NINODES / 2 : -NINODES / 2)) / NINODES;
}

/*
 * Is slabinfo's @name the cache @cache?  SLUB merges caches of the same
 * size and flags, and slabinfo names a merged cache after its first;
 * /sys/kernel/slab has a link per name to the cache it is.
 */
static bool is_cache(const char *name, const char *cache)
{
	char a[PATH_MAX], b[PATH_MAX], pa[PATH_MAX], pb[PATH_MAX];

	if (!strcmp(name, cache))
		return true;
	snprintf(pa, sizeof(pa), "/sys/kernel/slab/%s", name);
	snprintf(pb, sizeof(pb), "/sys/kernel/slab/%s", cache);
	return realpath(pa, a) && realpath(pb, b) && !strcmp(a, b);
}

/* The smallest kmalloc cache that holds @n bytes. */
static unsigned int kmalloc_size(unsigned int n)
{
	static const unsigned int sizes[] = { 8, 16, 32, 64, 96, 128, 192, 256 };
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (n <= sizes[i])
			return sizes[i];
	return n;
}

/* Make TREE: a tmpfs with NDIRS directories of PER_DIR empty files. */
static int make_tree(char *why, size_t whylen)
{
	char name[32];
	int d, i, dfd, fd;

	if (mkdir(TREE, 0755) && errno != EEXIST) {
		snprintf(why, whylen, "mkdir %s: %s", TREE, strerror(errno));
		return -errno;
	}
	if (!fx_is_mounted(TREE, "tmpfs") &&
	    mount("tmpfs", TREE, "tmpfs", 0, "mode=0755,nr_inodes=0")) {
		snprintf(why, whylen, "mount tmpfs on %s: %s", TREE,
			 strerror(errno));
		return -errno;
	}
	for (d = 0; d < NDIRS; d++) {
		snprintf(name, sizeof(name), TREE "/d%03d", d);
		if (mkdir(name, 0755) && errno != EEXIST)
			goto fail;
		dfd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			goto fail;
		for (i = 0; i < PER_DIR; i++) {
			snprintf(name, sizeof(name), "f%04d", i);
			if (mknodat(dfd, name, S_IFREG | 0644, 0) &&
			    errno != EEXIST) {
				close(dfd);
				goto fail;
			}
		}
		close(dfd);
	}
	fd = open(TREE_DONE, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	snprintf(why, whylen, "making %s: %s", name, strerror(errno));
	return -errno;
}

struct walk_job {
	const char *mnt;
	int first, step;
	long files;
	int err;
};

/*
 * Walk directories first, first + step, ... as ls -l does: read a batch of
 * names, stat each.  The first READDIR of a directory is PLUS and brings
 * its inodes in; the stat of one of them makes the next one PLUS too.
 */
static void *walk_dirs(void *arg)
{
	struct walk_job *job = arg;
	char path[PATH_MAX], buf[4096];
	struct dirent64 *de;
	struct stat st;
	long n = 0, off;
	int d, dfd;

	for (d = job->first; d < NDIRS && !job->err; d += job->step) {
		snprintf(path, sizeof(path), "%s/d%03d", job->mnt, d);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			job->err = errno;
			break;
		}
		while (!job->err &&
		       (n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
			for (off = 0; off < n; off += de->d_reclen) {
				de = (struct dirent64 *)(buf + off);
				if (!strcmp(de->d_name, ".") ||
				    !strcmp(de->d_name, ".."))
					continue;
				if (fstatat(dfd, de->d_name, &st,
					    AT_SYMLINK_NOFOLLOW)) {
					job->err = errno;
					break;
				}
				if (!S_ISREG(st.st_mode)) {
					job->err = EINVAL;
					break;
				}
				job->files++;
			}
		}
		if (n < 0 && !job->err)
			job->err = errno;
		close(dfd);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

FIXTURE(memory) {
	struct fx_server srv;
	bool mounted;
	/* The handle fusex-passthrough gives a file of the tree. */
	unsigned int hsize;
};

FIXTURE_VARIANT(memory) {
	const char *type;
	const char *server;
	/* Server options after source=TREE. */
	const char *opts;
	const char *inode_cache;
	bool handles;
};

FIXTURE_VARIANT_ADD(memory, fusex_handles) {
	.type = "fusex", .server = "fusex-passthrough", .opts = "",
	.inode_cache = "fusex_inode", .handles = true,
};
FIXTURE_VARIANT_ADD(memory, fusex_nohandles) {
	.type = "fusex", .server = "fusex-passthrough", .opts = ",nohandles",
	.inode_cache = "fusex_inode", .handles = false,
};
FIXTURE_VARIANT_ADD(memory, fuse) {
	.type = "fuse", .server = "fusex-passthrough", .opts = "",
	.inode_cache = "fuse_inode", .handles = false,
};

FIXTURE_SETUP(memory)
{
	char server[PATH_MAX], opts[128], why[256];
	const char *argv[] = { server, "-f", "-o", opts, NULL };
	struct {
		struct file_handle fh;
		unsigned char bytes[128];
	} b;
	struct rlimit rl;
	struct snap s;
	double t0;
	int mnt_id;

	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	if (fx_build_path(server, sizeof(server), variant->server))
		SKIP(return, "%s not built (set FUSEX_BUILD)", variant->server);
	if (access("/proc/slabinfo", R_OK))
		SKIP(return, "/proc/slabinfo is not readable (not root?)");

	if (access(TREE_DONE, F_OK)) {
		ASSERT_EQ(0, snap_take(&s));
		snap_free(&s);
		if (s.avail_kb < 1024 * 1024)
			SKIP(return, "%ld MiB available, 1 GiB needed (vm-run -m 3G)",
			     s.avail_kb / 1024);
		t0 = now();
		ASSERT_EQ(0, make_tree(why, sizeof(why))) TH_LOG("%s", why);
		ksft_print_msg("%s: %d files made in %.1f s\n", TREE, NFILES,
			       now() - t0);
	}

	/* The servers hold an O_PATH fd per inode. */
	rl.rlim_cur = rl.rlim_max = NFILES + 4096;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));

	/* What fusex-passthrough sends: handle_type (4 bytes), f_handle. */
	b.fh.handle_bytes = sizeof(b.bytes);
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, TREE "/d000/f0000", &b.fh,
				       &mnt_id, 0));
	self->hsize = 4 + b.fh.handle_bytes;

	strcpy(self->srv.mnt, "/tmp/fusex-mem.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
	/* Long timeouts: nothing is dropped for being stale. */
	snprintf(opts, sizeof(opts), "source=%s,timeout=86400%s", TREE,
		 variant->opts);
	ASSERT_EQ(0, fx_server_start(&self->srv, variant->type, NULL, argv,
				     why, sizeof(why))) TH_LOG("%s", why);
	self->mounted = true;
}

FIXTURE_TEARDOWN(memory)
{
	if (self->srv.mnt[0]) {
		if (self->mounted)
			fx_server_stop(&self->srv);
		rmdir(self->srv.mnt);
	}
}

TEST_F_TIMEOUT(memory, cached_inodes, 600)
{
	long inode_b = 0, lsm_b = 0, handle_b = 0, forget_b = 0, dentry_b = 0;
	long server_b = 0;
	long objs, bytes, ext, bound, left, files = 0;
	struct walk_job jobs[NTHREADS];
	pthread_t tids[NTHREADS];
	struct snap before, after, post;
	double t0, t_walk, t_umount;
	bool have_cg = false, leaked;
	const char *name, *what;
	char path[PATH_MAX];
	struct {
		struct file_handle fh;
		unsigned char bytes[128];
	} b;
	int i, mnt_id, waited;

	FX_RETURN_IF_SKIPPED();

	ASSERT_EQ(0, drop_caches());
	ASSERT_EQ(0, snap_take(&before));

	t0 = now();
	for (i = 0; i < NTHREADS; i++) {
		jobs[i] = (struct walk_job){ .mnt = self->srv.mnt,
					     .first = i, .step = NTHREADS };
		ASSERT_EQ(0, pthread_create(&tids[i], NULL, walk_dirs,
					    &jobs[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tids[i], NULL);
		EXPECT_EQ(0, jobs[i].err) TH_LOG("walk: %s",
						 strerror(jobs[i].err));
		files += jobs[i].files;
	}
	t_walk = now() - t0;
	ASSERT_EQ(NFILES, files);
	ASSERT_EQ(0, snap_take(&after));

	/* The mount is what the variant says it is. */
	snprintf(path, sizeof(path), "%s/d000/f0000", self->srv.mnt);
	b.fh.handle_bytes = sizeof(b.bytes);
	ASSERT_EQ(0, name_to_handle_at(AT_FDCWD, path, &b.fh, &mnt_id, 0));
	if (!strcmp(variant->type, "fusex") && variant->handles) {
		ASSERT_TRUE(FH_IS_FUSEX_HANDLE(b.fh.handle_type));
	} else if (!strcmp(variant->type, "fusex")) {
		ASSERT_EQ(FH_FUSEX_NODEID, b.fh.handle_type);
	}

	ksft_print_msg("%s on %s%s: %d files walked (readdir, stat) in %.1f s\n",
		       variant->server, variant->type,
		       variant->handles ? " with handles" : "", NFILES, t_walk);
	if (variant->handles)
		ksft_print_msg("  handles of %u bytes (inline up to %d)\n",
			       self->hsize, FUSEX_FH_INLINE);
	ksft_print_msg("  %s: objects of %ld bytes, %ld with alignment\n",
		       variant->inode_cache, object_size(variant->inode_cache),
		       snap_find(&after, variant->inode_cache) ?
		       snap_find(&after, variant->inode_cache)->objsize : -1);
	ksft_print_msg("  %-8s %-22s %7s %9s %11s\n", "", "cache grown",
		       "object", "objects", "bytes/inode");
	for (i = 0; i < after.n; i++) {
		name = after.slabs[i].name;
		objs = snap_delta(&before, &after, name);
		bytes = objs * after.slabs[i].objsize;
		if (!strncmp(name, "kmalloc-cg-", 11))
			have_cg = true;
		if (!strcmp(name, variant->inode_cache)) {
			what = "inode";
			inode_b += bytes;
		} else if (!strcmp(name, "dentry")) {
			what = "dentry";
			dentry_b += bytes;
		} else if (!strncmp(name, "kmalloc-cg-", 11)) {
			what = "forget";
			forget_b += bytes;
		} else if (!strncmp(name, "kmalloc-", 8)) {
			what = "handle";
			handle_b += bytes;
		} else if (objs < PER_INODE_MIN) {
			continue;
		} else if (is_cache(name, "lsm_inode_cache")) {
			what = "lsm";
			lsm_b += bytes;
		} else {
			what = "server";
			server_b += bytes;
		}
		if (objs >= PER_INODE_MIN)
			ksft_print_msg("  %-8s %-22s %7ld %9ld %11ld\n", what,
				       name, after.slabs[i].objsize, objs,
				       per_inode(bytes));
	}
	ksft_print_msg("  %-15s %5s %4s %6s %6s %6s %6s %6s %5s %7s %8s\n",
		       "bytes/inode", "inode", "lsm", "handle", "forget",
		       "dentry", "client", "server", "slab", "MemFree",
		       "MemAvail");
	ksft_print_msg("  %-15s %5ld %4ld %6ld %6ld %6ld %6ld %6ld %5ld %7ld %8ld\n",
		       variant->handles ? "fusex handles" :
		       !strcmp(variant->type, "fusex") ? "fusex nohandles" :
		       "fuse", per_inode(inode_b), per_inode(lsm_b),
		       per_inode(handle_b), per_inode(forget_b),
		       per_inode(dentry_b),
		       per_inode(inode_b + lsm_b + handle_b + forget_b +
				 dentry_b),
		       per_inode(server_b),
		       per_inode((after.slab_kb - before.slab_kb) * 1024),
		       per_inode((before.free_kb - after.free_kb) * 1024),
		       per_inode((before.avail_kb - after.avail_kb) * 1024));
	fflush(stdout);

	/*
	 * Every file and directory has its inode and its dentry in the
	 * caches.  The inode cache is the mount's alone; others' dentries
	 * come and go meanwhile (what earlier tests left is freed during
	 * the walk: 1% is the margin).
	 */
	ASSERT_NE(NULL, snap_find(&after, variant->inode_cache))
		TH_LOG("no %s in /proc/slabinfo", variant->inode_cache);
	EXPECT_LE(NINODES, snap_delta(&before, &after, variant->inode_cache));
	EXPECT_LE(NFILES - NFILES / 100, snap_delta(&before, &after, "dentry"));

	/*
	 * fusex allocates per inode its FORGET and, for a handle longer than
	 * FUSEX_FH_INLINE, a copy of the handle: kmalloc grows by no more.
	 */
	if (!strcmp(variant->type, "fusex")) {
		ext = variant->handles && self->hsize > FUSEX_FH_INLINE ?
		      kmalloc_size(self->hsize) : 0;
		bound = FORGET_ALLOC + ext + KMALLOC_SLACK;
		EXPECT_GE(bound, per_inode(handle_b + forget_b))
			TH_LOG("kmalloc: %ld bytes per inode, at most %ld expected (forget %d, handle %ld)",
			       per_inode(handle_b + forget_b), bound,
			       FORGET_ALLOC, ext);
		/* Both are accounted: plain kmalloc does not grow. */
		if (have_cg)
			EXPECT_GE(KMALLOC_SLACK, per_inode(handle_b))
				TH_LOG("%ld bytes per inode of plain kmalloc, none expected (handles of %u bytes)",
				       per_inode(handle_b), self->hsize);
	}

	/* Unmount with the server alive, then stop it: all comes back. */
	t0 = now();
	ASSERT_EQ(0, umount2(self->srv.mnt, 0)) TH_LOG("umount: %s",
						       strerror(errno));
	fx_server_stop(&self->srv);
	self->mounted = false;
	t_umount = now() - t0;

	/*
	 * Inodes and files are freed after RCU grace periods.  The inode
	 * cache is the mount's alone: it goes back to its baseline less the
	 * root, exactly.  Others are shared: within LEAK_SLACK.
	 */
	for (waited = 0;; waited += 500) {
		ASSERT_EQ(0, snap_take(&post));
		leaked = snap_delta(&before, &post, variant->inode_cache) > 0;
		for (i = 0; i < after.n; i++) {
			name = after.slabs[i].name;
			if (snap_delta(&before, &after, name) >= PER_INODE_MIN &&
			    snap_delta(&before, &post, name) > LEAK_SLACK)
				leaked = true;
		}
		if (!leaked || waited >= 30000)
			break;
		snap_free(&post);
		fx_msleep(500);
	}
	ksft_print_msg("  unmounted in %.1f s; %.1f s later, against the baseline:\n",
		       t_umount, waited / 1000.0);
	for (i = 0; i < after.n; i++) {
		name = after.slabs[i].name;
		if (snap_delta(&before, &after, name) < PER_INODE_MIN)
			continue;
		left = snap_delta(&before, &post, name);
		ksft_print_msg("  %-22s %+7ld objects\n", name, left);
		EXPECT_GE(strcmp(name, variant->inode_cache) ? LEAK_SLACK : 0,
			  left) TH_LOG("%s: %ld objects left", name, left);
	}
	ksft_print_msg("  Slab %+ld kB, MemFree %+ld kB, MemAvailable %+ld kB\n",
		       post.slab_kb - before.slab_kb,
		       post.free_kb - before.free_kb,
		       post.avail_kb - before.avail_kb);
	fflush(stdout);

	snap_free(&before);
	snap_free(&after);
	snap_free(&post);
}

TEST_HARNESS_MAIN
