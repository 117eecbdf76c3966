// SPDX-License-Identifier: GPL-2.0
/*
 * Server notifications on fuse and on fusex: INVAL_INODE, INVAL_ENTRY (and
 * its FUSE_EXPIRE_ONLY form), DELETE, STORE and RETRIEVE must have the same
 * effect on both.
 *
 * First libfuse's own notify examples, unmodified (Debian ships them in
 * /usr/share/doc/libfuse3-dev/examples, ``make examples`` builds them),
 * mounted through fusexctl.  Each keeps its cache forever and changes its
 * contents once a second, then tells the kernel:
 *  - notify_inval_inode: a file holding the time; INVAL_INODE makes a reader
 *    see the new time;
 *  - notify_inval_entry: a file named after the time; INVAL_ENTRY (with
 *    --only-expire: FUSE_EXPIRE_ONLY) makes the old name fail;
 *  - notify_store_retrieve: STORE pushes the new time into the page cache,
 *    read without a READ, and RETRIEVE brings it back (the example asserts
 *    that what comes back is what it stored: it dies otherwise);
 *  - invalidate_path: the high-level API's fuse_invalidate_path() (an
 *    INVAL_INODE), on a file whose size grows.
 * Each runs once more with --no-notify: the reader then keeps what is
 * cached, which shows that the checks above can fail.
 *
 * Then a server of the test's own, libfuse lowlevel in a thread of the
 * test, for what no example does: DELETE, the errors each notification
 * returns, page ranges, STORE beyond the end of the file, RETRIEVE of a
 * range with holes, an INVAL_INODE that races a GETATTR reply.  And what
 * INIT offers, read by hand.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 314
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fusex_util.h"

/* The examples change their contents once a second: wait up to this. */
#define TICK_WAIT_MS 10000
/* "The current time is HH:MM:SS\n" */
#define TIME_LEN 29

FIXTURE(notify) {
	struct fx_server srv;	/* an example, through fusexctl */
	char log[96];		/* its -d log, when asked for */
	bool own;		/* the test's own server runs */
};

FIXTURE_VARIANT(notify) {
	const char *type;
};

FIXTURE_VARIANT_ADD(notify, fuse) { .type = "fuse" };
FIXTURE_VARIANT_ADD(notify, fusex) { .type = "fusex" };

/* ------------------------------------------------------------------ */
/* The examples                                                        */

/*
 * Start example @name "-f ARGS..." on the variant's module; with @debug,
 * also "-d", its log going to self->log.
 */
static int ex_start(FIXTURE_DATA(notify) *self, const char *type,
		    const char *name, const char *const args[], bool debug,
		    char *why, size_t whylen)
{
	char server[PATH_MAX];
	const char *argv[16];
	int n = 0, i, logfd = -1, saved = -1, err;

	if (fx_build_path(server, sizeof(server), name)) {
		snprintf(why, whylen, "%s not built (make examples)", name);
		return -ENOENT;
	}
	argv[n++] = server;
	argv[n++] = "-f";
	if (debug)
		argv[n++] = "-d";
	for (i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	if (debug) {
		snprintf(self->log, sizeof(self->log), "%s.log",
			 self->srv.mnt);
		logfd = open(self->log, O_WRONLY | O_CREAT | O_TRUNC |
			     O_APPEND | O_CLOEXEC, 0644);
		if (logfd < 0) {
			err = -errno;
			snprintf(why, whylen, "%s: %s", self->log,
				 strerror(-err));
			return err;
		}
		fflush(stderr);
		saved = dup(STDERR_FILENO);
		dup2(logfd, STDERR_FILENO);
	}
	err = fx_server_start(&self->srv, type, NULL, argv, why, whylen);
	if (debug) {
		dup2(saved, STDERR_FILENO);
		close(saved);
		close(logfd);
	}
	return err;
}

#define EX_START(name, debug, ...) do {					\
	const char *const _args[] = { __VA_ARGS__, NULL };		\
	char _why[256];							\
	int _err = ex_start(self, variant->type, name, _args, debug,	\
			    _why, sizeof(_why));			\
	if (_err == -ENOENT)						\
		SKIP(return, "%s", _why);				\
	ASSERT_EQ(0, _err) TH_LOG("%s", _why);				\
} while (0)

/* The example is still running: none of its own asserts fired. */
static bool ex_alive(FIXTURE_DATA(notify) *self)
{
	if (self->srv.pid <= 0)
		return false;
	if (fx_wait_exit(self->srv.pid, 0) == -ETIMEDOUT)
		return true;
	self->srv.pid = 0;	/* reaped */
	return false;
}

static int log_count(FIXTURE_DATA(notify) *self, const char *what);
static void dump_log(const char *log, const char *what);

/*
 * Start example @name with its -d log and look @file up.  The examples
 * count lookups in LOOKUP, before the kernel has made the inode, and
 * notify at each tick once the count is not 0: a tick in between sends a
 * notification for an inode the kernel does not have yet, ENOENT, and the
 * example asserts (on fuse as on fusex; libfuse issue #105).  So wait for
 * the first notification, and start again if it killed the example.
 */
static int ex_start_lookup(FIXTURE_DATA(notify) *self, const char *type,
			   const char *name, const char *const args[],
			   const char *file, char *why, size_t whylen)
{
	char path[128];
	int attempt, waited, err;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", self->srv.mnt, file);
	for (attempt = 0; attempt < 3; attempt++) {
		err = ex_start(self, type, name, args, true, why, whylen);
		if (err)
			return err;
		if (stat(path, &st)) {
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			return -EIO;
		}
		for (waited = 0; waited < TICK_WAIT_MS; waited += 50) {
			if (log_count(self, "NOTIFY: code=") > 0)
				break;
			fx_msleep(50);
		}
		/* It asserts right after the write that failed. */
		fx_msleep(500);
		if (ex_alive(self))
			return 0;
		fprintf(stderr,
			"# %s died at its first notification (its lookup race), again\n",
			name);
		dump_log(self->log, "failed");
		fx_server_stop(&self->srv);
	}
	snprintf(why, whylen, "%s died at its first notification 3 times",
		 name);
	return -EIO;
}

#define EX_START_LOOKUP(name, file, ...) do {				\
	const char *const _args[] = { __VA_ARGS__, NULL };		\
	char _why[256];							\
	int _err = ex_start_lookup(self, variant->type, name, _args,	\
				   file, _why, sizeof(_why));		\
	if (_err == -ENOENT)						\
		SKIP(return, "%s", _why);				\
	ASSERT_EQ(0, _err) TH_LOG("%s", _why);				\
} while (0)

/* Lines of the server's -d log that contain @what. */
static int log_count(FIXTURE_DATA(notify) *self, const char *what)
{
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen(self->log, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	fclose(f);
	return n;
}

/* pread() a small file from the start, NUL-terminated: length or -errno. */
static ssize_t rd(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static ssize_t rd_path(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = rd(fd, buf, len);
	close(fd);
	return n;
}

/* The same with O_DIRECT: what the server has now, past the cache. */
static ssize_t rd_direct(const char *path, char *buf, size_t len)
{
	void *page;
	ssize_t n;
	int fd;

	if (posix_memalign(&page, 4096, 4096))
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0) {
		n = -errno;
		free(page);
		return n;
	}
	n = pread(fd, page, 4096, 0);
	if (n < 0) {
		n = -errno;
	} else {
		if ((size_t)n > len - 1)
			n = len - 1;
		memcpy(buf, page, n);
		buf[n] = '\0';
	}
	close(fd);
	free(page);
	return n;
}

static bool is_time(const char *s)
{
	int h, m, sec;
	char nl;

	return strlen(s) == TIME_LEN &&
	       sscanf(s, "The current time is %2d:%2d:%2d%c", &h, &m, &sec,
		      &nl) == 4 && nl == '\n';
}

/* The one name in an example's root other than "." and "..". */
static int one_name(const char *dir, char *name, size_t len)
{
	struct dirent *de;
	int found = -ENOENT;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(name, len, "%s", de->d_name);
			found = 0;
			break;
		}
	closedir(d);
	return found;
}

/*
 * Read current_time with the cache kept (notify_inval_inode and
 * notify_store_retrieve): until it changes, or TICK_WAIT_MS.  @now gets the
 * last contents read.
 */
static bool wait_new_time(int fd, const char *old, char *now, size_t len)
{
	int waited;

	for (waited = 0; waited <= TICK_WAIT_MS; waited += 100) {
		if (rd(fd, now, len) != TIME_LEN)
			return false;
		if (strcmp(now, old))
			return true;
		fx_msleep(100);
	}
	return false;
}

/*
 * With --no-notify: the contents stay what was read first, though the
 * server has moved on (an O_DIRECT read shows it).
 */
static void check_stale_time(struct __test_metadata *_metadata,
			     FIXTURE_DATA(notify) *self)
{
	char path[128], first[64], now[64], fresh[64];
	int fd;

	snprintf(path, sizeof(path), "%s/current_time", self->srv.mnt);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(TIME_LEN, rd(fd, first, sizeof(first)));
	ASSERT_TRUE(is_time(first)) TH_LOG("'%s'", first);

	/* Two ticks at least. */
	fx_msleep(2500);
	EXPECT_EQ(TIME_LEN, rd(fd, now, sizeof(now)));
	EXPECT_STREQ(first, now);
	EXPECT_EQ(TIME_LEN, rd_path(path, now, sizeof(now)));
	EXPECT_STREQ(first, now);
	EXPECT_EQ(TIME_LEN, rd_direct(path, fresh, sizeof(fresh)));
	EXPECT_TRUE(is_time(fresh)) TH_LOG("'%s'", fresh);
	EXPECT_STRNE(first, fresh) TH_LOG("the server did not move on");
	close(fd);
	EXPECT_TRUE(ex_alive(self));
}

FIXTURE_SETUP(notify)
{
	if (!fx_have_dev(variant->type))
		SKIP(return, "/dev/%s is missing (module not loaded)",
		     variant->type);
	strcpy(self->srv.mnt, "/tmp/fusex-notify.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->srv.mnt));
}

static void own_stop(const char *mnt);

/*
 * The last lines of an example's -d log (those that contain @what, if
 * given), for a test that failed.
 */
static void dump_log(const char *log, const char *what)
{
	char lines[40][256];
	int n = 0, i;
	FILE *f;

	f = fopen(log, "re");
	if (!f)
		return;
	while (fgets(lines[n % 40], sizeof(lines[0]), f))
		if (!what || strstr(lines[n % 40], what))
			n++;
	fclose(f);
	for (i = n > 40 ? n - 40 : 0; i < n; i++)
		fprintf(stderr, "# log: %s", lines[i % 40]);
}

FIXTURE_TEARDOWN(notify)
{
	if (!self->srv.mnt[0])
		return;
	if (self->own)
		own_stop(self->srv.mnt);
	fx_server_stop(&self->srv);
	rmdir(self->srv.mnt);
	if (!self->log[0])
		return;
	if (!_metadata->passed)
		dump_log(self->log, NULL);
	unlink(self->log);
}

TEST_F_TIMEOUT(notify, example_inval_inode, FX_TIMEOUT)
{
	char path[128], first[64], now[64];
	int fd;

	FX_RETURN_IF_SKIPPED();
	EX_START_LOOKUP("notify_inval_inode", "current_time",
			"--update-interval=1");
	snprintf(path, sizeof(path), "%s/current_time", self->srv.mnt);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(TIME_LEN, rd(fd, first, sizeof(first)));
	ASSERT_TRUE(is_time(first)) TH_LOG("'%s'", first);

	/* Kept cache, attributes valid "forever": only INVAL_INODE helps. */
	EXPECT_TRUE(wait_new_time(fd, first, now, sizeof(now)))
		TH_LOG("still '%s'", now);
	EXPECT_TRUE(is_time(now)) TH_LOG("'%s'", now);
	/* Another open sees the same. */
	EXPECT_EQ(TIME_LEN, rd_path(path, first, sizeof(first)));
	EXPECT_TRUE(is_time(first));
	close(fd);
	/* The example asserts that each notification returned 0. */
	EXPECT_TRUE(ex_alive(self));
}

TEST_F_TIMEOUT(notify, example_inval_inode_no_notify, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	EX_START("notify_inval_inode", false, "--update-interval=1",
		 "--no-notify");
	check_stale_time(_metadata, self);
}

TEST_F_TIMEOUT(notify, example_store_retrieve, FX_TIMEOUT)
{
	char path[128], first[64], now[64];
	int fd, reads, waited;

	FX_RETURN_IF_SKIPPED();
	EX_START_LOOKUP("notify_store_retrieve", "current_time",
			"--update-interval=1");
	snprintf(path, sizeof(path), "%s/current_time", self->srv.mnt);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(TIME_LEN, rd(fd, first, sizeof(first)));
	ASSERT_TRUE(is_time(first)) TH_LOG("'%s'", first);
	/* (No READ at all, if a STORE came first.) */
	reads = log_count(self, "opcode: READ (");

	EXPECT_TRUE(wait_new_time(fd, first, now, sizeof(now)))
		TH_LOG("still '%s'", now);
	EXPECT_TRUE(is_time(now)) TH_LOG("'%s'", now);
	/* The new contents came in by STORE: no READ for them. */
	EXPECT_EQ(reads, log_count(self, "opcode: READ ("));
	EXPECT_LE(1, log_count(self, "NOTIFY: code=4 "));

	/* Each STORE is followed by a RETRIEVE; the kernel answers it. */
	EXPECT_LE(1, log_count(self, "NOTIFY: code=5 "));
	for (waited = 0; waited < TICK_WAIT_MS; waited += 100) {
		if (log_count(self, "opcode: NOTIFY_REPLY (") > 0)
			break;
		fx_msleep(100);
	}
	EXPECT_LE(1, log_count(self, "opcode: NOTIFY_REPLY ("));
	close(fd);
	/* The example checks what RETRIEVE gave back; it dies if wrong. */
	EXPECT_TRUE(ex_alive(self));
}

TEST_F_TIMEOUT(notify, example_store_retrieve_no_notify, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	EX_START("notify_store_retrieve", false, "--update-interval=1",
		 "--no-notify");
	check_stale_time(_metadata, self);
}

/*
 * notify_inval_entry renames its file at each tick: wait for one, then look
 * the new name up at once, a second away from the next tick (see
 * ex_start_lookup() for why that matters).
 */
static int lookup_after_tick(const char *mnt, char *name, size_t len,
			     char *path, size_t plen)
{
	char old[256];
	struct stat st;
	int waited;

	if (one_name(mnt, old, sizeof(old)))
		return -EIO;
	for (waited = 0; waited <= TICK_WAIT_MS; waited += 20) {
		if (one_name(mnt, name, len))
			return -EIO;
		if (strcmp(old, name))
			break;
		fx_msleep(20);
	}
	if (!strcmp(old, name))
		return -ETIMEDOUT;
	snprintf(path, plen, "%s/%s", mnt, name);
	return stat(path, &st) ? -errno : 0;
}

/*
 * notify_inval_entry: look the file up under its current name, then wait
 * for the name to fail.  With @expire (--only-expire) the name is only
 * expired, so the next lookup of it goes to the server and fails there.
 */
static void check_inval_entry(struct __test_metadata *_metadata,
			      FIXTURE_DATA(notify) *self, bool expire)
{
	char name[256], name2[256], path[512];
	int waited, rc = 0, err = 0;
	struct stat st;

	ASSERT_EQ(0, lookup_after_tick(self->srv.mnt, name, sizeof(name),
				       path, sizeof(path)));

	/* Cached for 30 s: only the notification makes the name fail. */
	for (waited = 0; waited <= TICK_WAIT_MS; waited += 100) {
		rc = stat(path, &st);
		err = errno;
		if (rc)
			break;
		fx_msleep(100);
	}
	EXPECT_EQ(-1, rc) TH_LOG("%s still there", name);
	EXPECT_EQ(ENOENT, err);

	ASSERT_EQ(0, one_name(self->srv.mnt, name2, sizeof(name2)));
	EXPECT_STRNE(name, name2);
	/*
	 * Not with --only-expire: the example would then expire the new
	 * name at the next tick, and at the one after it a name the kernel
	 * never saw: ENOENT, and the example asserts.
	 */
	if (!expire) {
		EXPECT_EQ(0, lookup_after_tick(self->srv.mnt, name2,
					       sizeof(name2), path,
					       sizeof(path)));
		EXPECT_STRNE(name, name2);
	}
	/* The example asserts that each notification returned 0. */
	EXPECT_TRUE(ex_alive(self));
}

TEST_F_TIMEOUT(notify, example_inval_entry, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	EX_START("notify_inval_entry", false, "--update-interval=1",
		 "--timeout=30");
	check_inval_entry(_metadata, self, false);
}

TEST_F_TIMEOUT(notify, example_expire_entry, FX_TIMEOUT)
{
	FX_RETURN_IF_SKIPPED();
	EX_START("notify_inval_entry", false, "--update-interval=1",
		 "--timeout=30", "--only-expire");
	check_inval_entry(_metadata, self, true);
}

TEST_F_TIMEOUT(notify, example_inval_entry_no_notify, FX_TIMEOUT)
{
	char name[256], name2[256], path[512];
	struct stat st;
	int waited;

	FX_RETURN_IF_SKIPPED();
	EX_START("notify_inval_entry", false, "--update-interval=1",
		 "--timeout=30", "--no-notify");
	ASSERT_EQ(0, lookup_after_tick(self->srv.mnt, name, sizeof(name),
				       path, sizeof(path)));
	/* READDIR is not cached: the listing moves on... */
	for (waited = 0; waited <= TICK_WAIT_MS; waited += 100) {
		ASSERT_EQ(0, one_name(self->srv.mnt, name2, sizeof(name2)));
		if (strcmp(name, name2))
			break;
		fx_msleep(100);
	}
	EXPECT_STRNE(name, name2);
	/* ...but the entry looked up stays, for its 30 s. */
	fx_msleep(1200);
	EXPECT_EQ(0, stat(path, &st)) TH_LOG("%s: %s", name, strerror(errno));
	EXPECT_TRUE(ex_alive(self));
}

/* invalidate_path: "growing" grows a byte a second, "current_time" ticks. */
TEST_F_TIMEOUT(notify, example_invalidate_path, FX_TIMEOUT)
{
	char grow[128], tpath[128], first[64], now[64], *buf;
	struct stat st;
	off_t size0;
	int fd, waited;
	bool grew = false, ticked = false;
	ssize_t n, i;

	FX_RETURN_IF_SKIPPED();
	EX_START("invalidate_path", false, "--update-interval=1");
	snprintf(grow, sizeof(grow), "%s/growing", self->srv.mnt);
	snprintf(tpath, sizeof(tpath), "%s/current_time", self->srv.mnt);
	ASSERT_EQ(0, stat(grow, &st));
	size0 = st.st_size;
	fd = open(tpath, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(TIME_LEN, rd(fd, first, sizeof(first)));
	ASSERT_TRUE(is_time(first)) TH_LOG("'%s'", first);

	for (waited = 0; waited <= TICK_WAIT_MS; waited += 100) {
		ASSERT_EQ(0, stat(grow, &st));
		grew = st.st_size > size0;
		ASSERT_EQ(TIME_LEN, rd(fd, now, sizeof(now)));
		ticked = strcmp(first, now);
		if (grew && ticked)
			break;
		fx_msleep(100);
	}
	EXPECT_TRUE(grew) TH_LOG("growing stays at %lld bytes",
				 (long long)size0);
	EXPECT_TRUE(ticked) TH_LOG("still '%s'", now);
	EXPECT_TRUE(is_time(now)) TH_LOG("'%s'", now);
	close(fd);

	/* And its contents follow its size. */
	ASSERT_EQ(0, stat(grow, &st));
	buf = malloc(st.st_size + 64);
	ASSERT_NE(NULL, buf);
	n = rd_path(grow, buf, st.st_size + 64);
	EXPECT_LE(st.st_size, n);
	for (i = 0; i < n; i++)
		if (buf[i] != 'x')
			break;
	EXPECT_EQ(n, i);
	free(buf);
	EXPECT_TRUE(ex_alive(self));
}

TEST_F_TIMEOUT(notify, example_invalidate_path_no_notify, FX_TIMEOUT)
{
	struct statx stx;
	char grow[128];
	struct stat st;
	off_t size0;

	FX_RETURN_IF_SKIPPED();
	EX_START("invalidate_path", false, "--update-interval=1",
		 "--no-notify");
	snprintf(grow, sizeof(grow), "%s/growing", self->srv.mnt);
	ASSERT_EQ(0, stat(grow, &st));
	size0 = st.st_size;
	fx_msleep(2500);
	ASSERT_EQ(0, stat(grow, &st));
	EXPECT_EQ(size0, st.st_size);
	/* The server did move on: asked, it says so. */
	ASSERT_EQ(0, statx(AT_FDCWD, grow, AT_STATX_FORCE_SYNC,
			   STATX_BASIC_STATS, &stx));
	EXPECT_LT(size0, (off_t)stx.stx_size);
	EXPECT_TRUE(ex_alive(self));
}

/* ------------------------------------------------------------------ */
/* The test's own server                                               */

enum {
	NT_ROOT = 1,
	NT_F,		/* /f, a file */
	NT_D,		/* /d, a directory */
	NT_G,		/* /d/g, a file */
	NT_R,		/* /r, a file for the GETATTR race */
	NT_NODES,
};

#define NT_MAX (6 * 4096)	/* largest file */
#define NT_TTL 1000.0		/* every timeout: forever, for a test */

struct nt_node {
	const char *name;
	fuse_ino_t parent;
	mode_t mode;
	bool gone;		/* removed on the server's side */
	size_t size;
	char data[NT_MAX];
};

/* One per test process (the harness forks each test). */
static struct {
	struct fuse_session *se;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct nt_node node[NT_NODES];
	int lookups, getattrs, reads[NT_NODES];
	/* The next GETATTR of race_ino changes its size, then races. */
	fuse_ino_t race_ino;
	size_t race_size;
	int race_err;
	/* The last RETRIEVE answered */
	bool retrieved;
	fuse_ino_t rt_ino;
	off_t rt_off;
	size_t rt_size;
	char rt_data[NT_MAX + 4096];
} nt = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void nt_attr(fuse_ino_t ino, struct stat *st)
{
	struct nt_node *n = &nt.node[ino];

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = n->mode;
	st->st_nlink = n->gone ? 0 : S_ISDIR(n->mode) ? 2 : 1;
	st->st_size = n->size;
}

static void nt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	fuse_ino_t ino;

	memset(&e, 0, sizeof(e));
	pthread_mutex_lock(&nt.lock);
	nt.lookups++;
	for (ino = NT_F; ino < NT_NODES; ino++)
		if (!nt.node[ino].gone && nt.node[ino].parent == parent &&
		    !strcmp(nt.node[ino].name, name))
			break;
	if (ino < NT_NODES) {
		e.ino = ino;
		e.attr_timeout = NT_TTL;
		e.entry_timeout = NT_TTL;
		nt_attr(ino, &e.attr);
	}
	pthread_mutex_unlock(&nt.lock);
	if (ino < NT_NODES)
		fuse_reply_entry(req, &e);
	else
		fuse_reply_err(req, ENOENT);
}

static void nt_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	bool race;
	int err;

	(void)fi;
	if (ino >= NT_NODES) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	pthread_mutex_lock(&nt.lock);
	nt.getattrs++;
	nt_attr(ino, &st);
	race = nt.race_ino == ino;
	if (race) {
		nt.race_ino = 0;
		nt.node[ino].size = nt.race_size;
	}
	pthread_mutex_unlock(&nt.lock);
	if (race) {
		/* The reply below is stale before it is sent. */
		err = fuse_lowlevel_notify_inval_inode(nt.se, ino, 0, 0);
		pthread_mutex_lock(&nt.lock);
		nt.race_err = err;
		pthread_mutex_unlock(&nt.lock);
	}
	fuse_reply_attr(req, &st, NT_TTL);
}

static void nt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void nt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static char buf[NT_MAX];	/* one request at a time */
	size_t n = 0;

	(void)fi;
	pthread_mutex_lock(&nt.lock);
	nt.reads[ino]++;
	if ((size_t)off < nt.node[ino].size) {
		n = nt.node[ino].size - off;
		if (n > size)
			n = size;
		memcpy(buf, nt.node[ino].data + off, n);
	}
	pthread_mutex_unlock(&nt.lock);
	fuse_reply_buf(req, buf, n);
}

static void nt_retrieve_reply(fuse_req_t req, void *cookie, fuse_ino_t ino,
			      off_t offset, struct fuse_bufvec *data)
{
	struct fuse_bufvec dst = FUSE_BUFVEC_INIT(sizeof(nt.rt_data));
	ssize_t n;

	(void)cookie;
	pthread_mutex_lock(&nt.lock);
	dst.buf[0].mem = nt.rt_data;
	n = fuse_buf_copy(&dst, data, 0);
	nt.rt_ino = ino;
	nt.rt_off = offset;
	nt.rt_size = n < 0 ? 0 : n;
	nt.retrieved = true;
	pthread_cond_broadcast(&nt.cond);
	pthread_mutex_unlock(&nt.lock);
	fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops nt_ops = {
	.lookup = nt_lookup,
	.getattr = nt_getattr,
	.open = nt_open,
	.read = nt_read,
	.retrieve_reply = nt_retrieve_reply,
};

static void *nt_loop(void *arg)
{
	(void)arg;
	fuse_session_loop(nt.se);
	return NULL;
}

static void nt_node_init(fuse_ino_t ino, const char *name, fuse_ino_t parent,
			 mode_t mode)
{
	nt.node[ino].name = name;
	nt.node[ino].parent = parent;
	nt.node[ino].mode = mode;
}

/* Mount the test's own server on @mnt, on module @type. */
static int own_start(const char *mnt, const char *type, char *why,
		     size_t whylen)
{
	char argv0[] = "fusex_notify_test", *argv[] = { argv0, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	char dev[32], opts[128], fdpath[32];
	struct stat st;
	int fd, err;

	nt_node_init(NT_ROOT, "", 0, S_IFDIR | 0755);
	nt_node_init(NT_F, "f", NT_ROOT, S_IFREG | 0644);
	nt_node_init(NT_D, "d", NT_ROOT, S_IFDIR | 0755);
	nt_node_init(NT_G, "g", NT_D, S_IFREG | 0644);
	nt_node_init(NT_R, "r", NT_ROOT, S_IFREG | 0644);
	nt.node[NT_R].size = 10;
	memset(nt.node[NT_R].data, 'r', 10);

	snprintf(dev, sizeof(dev), "/dev/%s", type);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "%s: %s", dev, strerror(-err));
		return err;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount(type, mnt, type, 0, opts)) {
		err = -errno;
		snprintf(why, whylen, "mount: %s", strerror(-err));
		close(fd);
		return err;
	}
	nt.se = fuse_session_new(&args, &nt_ops, sizeof(nt_ops), NULL);
	fuse_opt_free_args(&args);
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", fd);
	if (!nt.se || fuse_session_mount(nt.se, fdpath)) {
		snprintf(why, whylen, "libfuse session");
		umount2(mnt, MNT_DETACH);
		close(fd);
		return -EIO;
	}
	if (pthread_create(&nt.thread, NULL, nt_loop, NULL)) {
		snprintf(why, whylen, "pthread_create");
		umount2(mnt, MNT_DETACH);
		return -EAGAIN;
	}
	nt.running = true;
	/* Waits for INIT; caches the root's attributes. */
	if (stat(mnt, &st)) {
		snprintf(why, whylen, "stat %s: %s", mnt, strerror(errno));
		return -EIO;
	}
	return 0;
}

static void own_stop(const char *mnt)
{
	struct timespec ts;

	umount2(mnt, MNT_DETACH);
	if (!nt.running)
		return;
	/* The loop ends once the connection does (DESTROY answered). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (!pthread_timedjoin_np(nt.thread, NULL, &ts))
		fuse_session_destroy(nt.se);
	nt.running = false;
}

#define OWN_START() do {						\
	char _why[256];							\
	self->own = true;						\
	ASSERT_EQ(0, own_start(self->srv.mnt, variant->type, _why,	\
			       sizeof(_why))) TH_LOG("%s", _why);	\
} while (0)

/* Counters, read under the lock. */
static int nt_get(const int *counter)
{
	int v;

	pthread_mutex_lock(&nt.lock);
	v = *counter;
	pthread_mutex_unlock(&nt.lock);
	return v;
}

/* Change a file on the server's side. */
static void nt_set(fuse_ino_t ino, const char *data, size_t size)
{
	pthread_mutex_lock(&nt.lock);
	memcpy(nt.node[ino].data, data, size);
	nt.node[ino].size = size;
	pthread_mutex_unlock(&nt.lock);
}

static void nt_gone(fuse_ino_t ino)
{
	pthread_mutex_lock(&nt.lock);
	nt.node[ino].gone = true;
	pthread_mutex_unlock(&nt.lock);
}

static int nt_store(fuse_ino_t ino, off_t off, const void *data, size_t len)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);

	bv.buf[0].mem = (void *)data;
	return fuse_lowlevel_notify_store(nt.se, ino, off, &bv, 0);
}

/* RETRIEVE, and wait for the kernel's NOTIFY_REPLY (nt.rt_*). */
static int nt_retrieve(fuse_ino_t ino, size_t size, off_t off)
{
	struct timespec ts;
	int err;

	pthread_mutex_lock(&nt.lock);
	nt.retrieved = false;
	nt.rt_size = 0;
	pthread_mutex_unlock(&nt.lock);
	err = fuse_lowlevel_notify_retrieve(nt.se, ino, size, off, NULL);
	if (err)
		return err;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&nt.lock);
	while (!nt.retrieved && !err)
		err = pthread_cond_timedwait(&nt.cond, &nt.lock, &ts);
	err = nt.retrieved ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&nt.lock);
	return err;
}

static int inval_entry(fuse_ino_t parent, const char *name)
{
	return fuse_lowlevel_notify_inval_entry(nt.se, parent, name,
						strlen(name));
}

static int notify_delete(fuse_ino_t parent, fuse_ino_t child,
			 const char *name)
{
	return fuse_lowlevel_notify_delete(nt.se, parent, child, name,
					   strlen(name));
}

/* Some bytes that tell where in the file they are, and which version. */
static void pattern(char *buf, size_t len, off_t start, int version)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = 'A' + ((start + i) * 7 + (start + i) / 4096 +
				version * 5) % 26;
}

#define PATH(buf, rel) snprintf(buf, sizeof(buf), "%s/%s", self->srv.mnt, rel)

/* The INIT request by hand: its header and its start (linux/fuse.h). */
struct raw_init {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
	uint32_t major, minor, max_readahead, flags, flags2, unused[11];
};

#define RAW_FUSE_INIT		26
#define RAW_FUSE_INIT_EXT	(1ULL << 30)
#define RAW_HAS_EXPIRE_ONLY	(1ULL << 35)

/* Mount @type on @mnt and return the flags its INIT request offers. */
static int init_flags(const char *mnt, const char *type, uint64_t *flags)
{
	static char buf[(1 << 20) + 4096];
	struct raw_init *in = (struct raw_init *)buf;
	char dev[32], opts[128];
	ssize_t n;
	int fd;

	snprintf(dev, sizeof(dev), "/dev/%s", type);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount(type, mnt, type, 0, opts)) {
		n = -errno;
		close(fd);
		return n;
	}
	n = read(fd, buf, sizeof(buf));
	umount2(mnt, MNT_DETACH);
	close(fd);
	if (n < (ssize_t)sizeof(*in) || in->opcode != RAW_FUSE_INIT)
		return -EPROTO;
	*flags = in->flags;
	if (in->flags & RAW_FUSE_INIT_EXT)
		*flags |= (uint64_t)in->flags2 << 32;
	return 0;
}

/*
 * fuse.ko offers FUSE_HAS_EXPIRE_ONLY in INIT: the kernel honours
 * FUSE_EXPIRE_ONLY.  libfuse from 3.16 refuses
 * fuse_lowlevel_notify_expire_entry() without it (3.14 only looks at the
 * protocol minor).
 */
TEST_F_TIMEOUT(notify, init_offers_expire_only, FX_TIMEOUT)
{
	uint64_t flags = 0;

	FX_RETURN_IF_SKIPPED();
	ASSERT_EQ(0, init_flags(self->srv.mnt, variant->type, &flags));
	EXPECT_TRUE(flags & RAW_HAS_EXPIRE_ONLY) TH_LOG("flags %#llx",
							(unsigned long long)flags);
}

/* INVAL_INODE: a range of pages, the attributes alone, everything. */
TEST_F_TIMEOUT(notify, inval_inode_pages, FX_TIMEOUT)
{
	char path[128], data[3 * 4096], buf[3 * 4096 + 1];
	struct stat st;
	int fd, reads, ga;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	memset(data, 'a', 4096);
	memset(data + 4096, 'b', 4096);
	memset(data + 8192, 'c', 4096);
	nt_set(NT_F, data, sizeof(data));
	PATH(path, "f");
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(sizeof(data), pread(fd, buf, sizeof(buf), 0));
	ASSERT_EQ(0, memcmp(buf, data, sizeof(data)));

	/* The server changes every page; the cache keeps the old ones. */
	memset(data, 'A', 4096);
	memset(data + 4096, 'B', 4096);
	memset(data + 8192, 'C', 4096);
	nt_set(NT_F, data, sizeof(data));
	reads = nt_get(&nt.reads[NT_F]);
	ASSERT_EQ(sizeof(data), pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ('b', buf[4096]);
	EXPECT_EQ('c', buf[8192]);
	EXPECT_EQ(reads, nt_get(&nt.reads[NT_F]));

	/* The second page only. */
	EXPECT_EQ(0, fuse_lowlevel_notify_inval_inode(nt.se, NT_F, 4096,
						      4096));
	ASSERT_EQ(sizeof(data), pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ('B', buf[4096]);
	EXPECT_EQ('B', buf[8191]);
	EXPECT_EQ('c', buf[8192]);
	EXPECT_LT(reads, nt_get(&nt.reads[NT_F]));

	/* A negative offset: the attributes only, not one page. */
	ASSERT_EQ(0, fstat(fd, &st));
	reads = nt_get(&nt.reads[NT_F]);
	ga = nt_get(&nt.getattrs);
	EXPECT_EQ(0, fuse_lowlevel_notify_inval_inode(nt.se, NT_F, -1, 0));
	ASSERT_EQ(sizeof(data), pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ('a', buf[0]);
	EXPECT_EQ('B', buf[4096]);
	EXPECT_EQ('c', buf[8192]);
	EXPECT_EQ(reads, nt_get(&nt.reads[NT_F]));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(ga + 1, nt_get(&nt.getattrs));

	/* Offset 0, length 0: the whole file. */
	EXPECT_EQ(0, fuse_lowlevel_notify_inval_inode(nt.se, NT_F, 0, 0));
	ASSERT_EQ(sizeof(data), pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, data, sizeof(data)));
	close(fd);
}

/*
 * INVAL_INODE while a GETATTR is on its way back: the attributes in that
 * reply predate the notification and must not be cached (fuse bumps the
 * inode's attr_version), so the next stat asks again.
 */
TEST_F_TIMEOUT(notify, inval_inode_races_getattr, FX_TIMEOUT)
{
	struct statx stx;
	char path[128];
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "r");
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(10, st.st_size);

	pthread_mutex_lock(&nt.lock);
	nt.race_ino = NT_R;
	nt.race_size = 20;
	nt.race_err = 1;
	pthread_mutex_unlock(&nt.lock);
	ASSERT_EQ(0, statx(AT_FDCWD, path, AT_STATX_FORCE_SYNC,
			   STATX_BASIC_STATS, &stx));
	EXPECT_EQ(10, stx.stx_size);
	EXPECT_EQ(0, nt_get(&nt.race_err));

	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(20, st.st_size) TH_LOG("the raced reply was cached");
}

/*
 * INVAL_ENTRY drops the dentry and the parent's attributes, and only when
 * the kernel has that name.
 */
TEST_F_TIMEOUT(notify, inval_entry, FX_TIMEOUT)
{
	char path[128];
	struct stat st;
	int ga, lk;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "f");
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, stat(self->srv.mnt, &st));
	ga = nt_get(&nt.getattrs);
	lk = nt_get(&nt.lookups);
	ASSERT_EQ(0, stat(self->srv.mnt, &st));
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(ga, nt_get(&nt.getattrs));
	ASSERT_EQ(lk, nt_get(&nt.lookups));

	/* A name the kernel does not have: nothing changes. */
	EXPECT_EQ(-ENOENT, inval_entry(NT_ROOT, "nothing"));
	EXPECT_EQ(0, stat(self->srv.mnt, &st));
	EXPECT_EQ(ga, nt_get(&nt.getattrs));

	EXPECT_EQ(0, inval_entry(NT_ROOT, "f"));
	EXPECT_EQ(0, stat(self->srv.mnt, &st));
	EXPECT_EQ(ga + 1, nt_get(&nt.getattrs));
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(lk + 1, nt_get(&nt.lookups));
	EXPECT_EQ(NT_F, st.st_ino);
}

/*
 * FUSE_EXPIRE_ONLY expires the entry and leaves it in place: a filesystem
 * mounted on it stays.  A plain INVAL_ENTRY unhashes it, and its submounts
 * go with it.
 */
TEST_F_TIMEOUT(notify, expire_entry_keeps_submount, FX_TIMEOUT)
{
	char path[128];
	struct stat st;
	int lk;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "d");
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(0, mount("tmpfs", path, "tmpfs", 0, "size=64k"));
	ASSERT_TRUE(fx_is_mounted(path, "tmpfs"));

	lk = nt_get(&nt.lookups);
	EXPECT_EQ(0, fuse_lowlevel_notify_expire_entry(nt.se, NT_ROOT, "d", 1,
						       FUSE_LL_EXPIRE_ONLY));
	EXPECT_TRUE(fx_is_mounted(path, "tmpfs"));
	/* Expired: the next walk asks the server, which still has it. */
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(lk + 1, nt_get(&nt.lookups));
	EXPECT_TRUE(fx_is_mounted(path, "tmpfs"));

	EXPECT_EQ(0, inval_entry(NT_ROOT, "d"));
	EXPECT_FALSE(fx_is_mounted(path, "tmpfs"));
	if (fx_is_mounted(path, "tmpfs"))
		umount2(path, MNT_DETACH);
}

/* What each notification returns when it cannot be applied. */
TEST_F_TIMEOUT(notify, errors, FX_TIMEOUT)
{
	char path[128], longname[1100];
	struct stat st;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "f");
	ASSERT_EQ(0, stat(path, &st));
	PATH(path, "d");
	ASSERT_EQ(0, stat(path, &st));
	memset(longname, 'n', 1025);
	longname[1025] = '\0';

	/* An inode the kernel does not have. */
	EXPECT_EQ(-ENOENT, fuse_lowlevel_notify_inval_inode(nt.se, 77, 0, 0));
	EXPECT_EQ(-ENOENT, inval_entry(77, "f"));
	EXPECT_EQ(-ENOENT, notify_delete(77, NT_F, "f"));
	EXPECT_EQ(-ENOENT, nt_store(77, 0, "x", 1));
	EXPECT_EQ(-ENOENT, fuse_lowlevel_notify_retrieve(nt.se, 77, 10, 0,
							 NULL));
	/* A name it does not have. */
	EXPECT_EQ(-ENOENT, inval_entry(NT_ROOT, "nothing"));
	EXPECT_EQ(-ENOENT, notify_delete(NT_ROOT, NT_F, "nothing"));
	/* A parent that is no directory. */
	EXPECT_EQ(-ENOTDIR, inval_entry(NT_F, "x"));
	EXPECT_EQ(-ENOTDIR, notify_delete(NT_F, NT_G, "x"));
	/* A name longer than FUSE_NAME_MAX (1024). */
	EXPECT_EQ(-ENAMETOOLONG, inval_entry(NT_ROOT, longname));
	EXPECT_EQ(-ENAMETOOLONG, notify_delete(NT_ROOT, NT_F, longname));
	/* STORE into a directory. */
	EXPECT_EQ(-EINVAL, nt_store(NT_D, 0, "x", 1));

	/* None of that hurt the mount. */
	PATH(path, "f");
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(NT_F, st.st_ino);
}

/*
 * DELETE of a file: the name goes, the inode's link count drops to 0 with
 * no GETATTR (fuse clears it and leaves the attributes cached), and an open
 * file still reads.
 */
TEST_F_TIMEOUT(notify, delete_file, FX_TIMEOUT)
{
	char path[128], buf[16];
	struct stat st;
	int fd, ga, lk;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	nt_set(NT_F, "hello", 5);
	PATH(path, "f");
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_EQ(1, st.st_nlink);
	ga = nt_get(&nt.getattrs);
	lk = nt_get(&nt.lookups);

	nt_gone(NT_F);
	EXPECT_EQ(0, notify_delete(NT_ROOT, NT_F, "f"));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(0, st.st_nlink);
	EXPECT_EQ(5, st.st_size);
	EXPECT_EQ(ga, nt_get(&nt.getattrs));
	EXPECT_EQ(5, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	close(fd);

	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(lk + 1, nt_get(&nt.lookups));
	/* The parent changed: its attributes are asked for again. */
	EXPECT_EQ(0, stat(self->srv.mnt, &st));
	EXPECT_EQ(ga + 1, nt_get(&nt.getattrs));
}

/*
 * DELETE of an empty directory held open: it is dead, nothing can be
 * looked up or created in it, without asking the server.
 */
TEST_F_TIMEOUT(notify, delete_dir, FX_TIMEOUT)
{
	char path[128];
	struct stat st;
	int dfd, lk;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "d");
	dfd = open(path, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd) TH_LOG("open: %s", strerror(errno));

	nt_gone(NT_G);
	nt_gone(NT_D);
	EXPECT_EQ(0, notify_delete(NT_ROOT, NT_D, "d"));
	ASSERT_EQ(0, fstat(dfd, &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(0, st.st_nlink);

	lk = nt_get(&nt.lookups);
	EXPECT_EQ(-1, fstatat(dfd, "g", &st, 0));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, openat(dfd, "new", O_CREAT | O_WRONLY, 0600));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(lk, nt_get(&nt.lookups));
	close(dfd);

	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
}

/*
 * DELETE of a directory whose child is open: ENOTEMPTY (the entry is
 * invalidated all the same).  Once the child is closed, its cached entry
 * does not hold the directory back.
 */
TEST_F_TIMEOUT(notify, delete_dir_busy, FX_TIMEOUT)
{
	char path[128], gpath[128];
	struct stat st;
	int fd, lk;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "d");
	PATH(gpath, "d/g");
	fd = open(gpath, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	EXPECT_EQ(-ENOTEMPTY, notify_delete(NT_ROOT, NT_D, "d"));
	close(fd);

	lk = nt_get(&nt.lookups);
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(lk + 1, nt_get(&nt.lookups));
	EXPECT_EQ(2, st.st_nlink);
	EXPECT_EQ(0, stat(gpath, &st));

	nt_gone(NT_G);
	nt_gone(NT_D);
	EXPECT_EQ(0, notify_delete(NT_ROOT, NT_D, "d"));
	EXPECT_EQ(-1, stat(gpath, &st));
	EXPECT_EQ(ENOENT, errno);
}

/* DELETE naming another child: ENOENT, but the entry is dropped anyway. */
TEST_F_TIMEOUT(notify, delete_wrong_child, FX_TIMEOUT)
{
	char path[128];
	struct stat st;
	int lk;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	PATH(path, "f");
	ASSERT_EQ(0, stat(path, &st));
	lk = nt_get(&nt.lookups);
	EXPECT_EQ(-ENOENT, notify_delete(NT_ROOT, NT_G, "f"));
	EXPECT_EQ(0, stat(path, &st));
	EXPECT_EQ(1, st.st_nlink);
	EXPECT_EQ(lk + 1, nt_get(&nt.lookups));
}

/*
 * STORE: whole pages, into a cached page, beyond the end of the file; all
 * read back with no READ.
 */
TEST_F_TIMEOUT(notify, store, FX_TIMEOUT)
{
	const size_t size = 3 * 4096 + 100, size2 = size + 5000;
	static char data[NT_MAX], buf[NT_MAX];
	char path[128];
	struct stat st;
	int fd, reads;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	pattern(data, size, 0, 1);
	nt_set(NT_F, data, size);
	PATH(path, "f");
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	reads = nt_get(&nt.reads[NT_F]);

	/* New contents, same size, pushed before anything was read. */
	pattern(data, size, 0, 2);
	nt_set(NT_F, data, size);
	EXPECT_EQ(0, nt_store(NT_F, 0, data, size));
	ASSERT_EQ(size, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, data, size));
	EXPECT_EQ(reads, nt_get(&nt.reads[NT_F]));

	/* A few bytes into a cached page. */
	memcpy(data + 100, "STORED", 6);
	nt_set(NT_F, data, size);
	EXPECT_EQ(0, nt_store(NT_F, 100, "STORED", 6));
	ASSERT_EQ(size, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, data, size));
	EXPECT_EQ(reads, nt_get(&nt.reads[NT_F]));

	/* Beyond the end: the file grows. */
	pattern(data + size, size2 - size, size, 3);
	nt_set(NT_F, data, size2);
	EXPECT_EQ(0, nt_store(NT_F, size, data + size, size2 - size));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(size2, st.st_size);
	ASSERT_EQ(size2, pread(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, data, size2));
	EXPECT_EQ(reads, nt_get(&nt.reads[NT_F]));
	close(fd);
}

/*
 * RETRIEVE: what the page cache holds from the offset, up to the end of
 * the file, the size asked, or the first page that is missing or not up
 * to date (one STORE wrote only part of).
 */
TEST_F_TIMEOUT(notify, retrieve, FX_TIMEOUT)
{
	const size_t size = 3 * 4096 + 100;
	static char data[NT_MAX], buf[NT_MAX];
	char path[128];
	int fd, reads;

	FX_RETURN_IF_SKIPPED();
	OWN_START();
	pattern(data, size, 0, 4);
	nt_set(NT_F, data, size);
	PATH(path, "f");
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(size, pread(fd, buf, sizeof(buf), 0));

	ASSERT_EQ(0, nt_retrieve(NT_F, 8192, 4000));
	EXPECT_EQ(NT_F, nt.rt_ino);
	EXPECT_EQ(4000, nt.rt_off);
	EXPECT_EQ(8192, nt.rt_size);
	EXPECT_EQ(0, memcmp(nt.rt_data, data + 4000, 8192));

	/* Up to the end of the file. */
	ASSERT_EQ(0, nt_retrieve(NT_F, 1 << 20, 0));
	EXPECT_EQ(0, nt.rt_off);
	EXPECT_EQ(size, nt.rt_size);
	EXPECT_EQ(0, memcmp(nt.rt_data, data, size));

	/* Past the end: nothing. */
	ASSERT_EQ(0, nt_retrieve(NT_F, 100, size + 50));
	EXPECT_EQ(size + 50, nt.rt_off);
	EXPECT_EQ(0, nt.rt_size);

	/* Up to the first page missing. */
	EXPECT_EQ(0, fuse_lowlevel_notify_inval_inode(nt.se, NT_F, 4096,
						      4096));
	ASSERT_EQ(0, nt_retrieve(NT_F, size, 0));
	EXPECT_EQ(4096, nt.rt_size);
	EXPECT_EQ(0, memcmp(nt.rt_data, data, 4096));

	/* A page STORE filled only in part is not up to date. */
	EXPECT_EQ(0, nt_store(NT_F, 5000, data + 5000, 10));
	ASSERT_EQ(0, nt_retrieve(NT_F, 4096, 4096));
	EXPECT_EQ(0, nt.rt_size);
	ASSERT_EQ(0, nt_retrieve(NT_F, size, 0));
	EXPECT_EQ(4096, nt.rt_size);
	/* and is read from the server. */
	reads = nt_get(&nt.reads[NT_F]);
	ASSERT_EQ(4096, pread(fd, buf, 4096, 4096));
	EXPECT_EQ(0, memcmp(buf, data + 4096, 4096));
	EXPECT_LT(reads, nt_get(&nt.reads[NT_F]));
	close(fd);
}

TEST_HARNESS_MAIN
