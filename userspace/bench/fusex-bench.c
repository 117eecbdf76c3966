// SPDX-License-Identifier: GPL-2.0
/*
 * fusex-bench: one run of each benchmark workload on a directory.
 *
 *   fusex-bench [-n FILES] [-m MIB] [-t TREEFILES] [-r READS] DIR
 *
 * Prints one line per workload, "name value unit", where more is better:
 *
 *   create     files/s  create, write 1 KiB, close FILES files in one dir
 *   stat       files/s  stat each of them, caches dropped first
 *   unlink     files/s  unlink each of them
 *   seqwrite   MiB/s    write MIB MiB in 1 MiB blocks, fsync included
 *   seqread    MiB/s    read it back in 1 MiB blocks, caches dropped first
 *   reread     MiB/s    read it again, from the page cache
 *   randread   IOPS     READS random 4 KiB preads, caches dropped first
 *   treewalk   files/s  lstat every file of a TREEFILES-file tree found
 *                       by readdir, caches dropped first (git status)
 *   parallel   ops/s    2 threads, each create+stat+unlink FILES/5 files
 *                       in its own dir
 *
 *   fusex-bench -K SERVERPID [-n FILES] DIR
 *
 * DIR is on a fusex mount whose server (SERVERPID) runs under fusexctl run:
 * FILES files are made and stat'ed, the server is killed with SIGKILL and
 * the workloads of a restart are timed (here less is better):
 *
 *   downtime        ms  kill to the first create that succeeds after it
 *   startup         ms  the new server's own start-up: attach to its
 *                       answer to INIT (FUSEX_IOC_STATUS)
 *   reval_inode     us  stat of a cached file, first after the restart
 *   cached_stat     us  the same stat again, nothing to revalidate
 *   reval_requests  #   revalidation requests per file (FUSEX_IOC_STATUS)
 *
 * Dropping caches needs root; without it the cold figures are warm ones.
 * The workloads clean up after themselves; DIR is left as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/fusex.h>

static const char *top;
static long nfiles = 10000;
static long mib = 256;
static long treefiles = 20000;
static long nreads = 5000;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fusex-bench: %s %s: %s\n", what, path ? path : "",
		strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return;
	if (write(fd, "3", 1) != 1)
		fprintf(stderr, "fusex-bench: drop_caches: %s\n",
			strerror(errno));
	close(fd);
}

static void report(const char *name, double count, double secs,
		   const char *unit)
{
	printf("%-10s %.1f %s\n", name, secs > 0 ? count / secs : 0, unit);
	fflush(stdout);
}

static void xmkdir(const char *path)
{
	if (mkdir(path, 0755) && errno != EEXIST)
		die("mkdir", path);
}

static void make_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create", path);
	if (write(fd, buf, len) != (ssize_t)len)
		die("write", path);
	if (close(fd))
		die("close", path);
}

static void small_files(void)
{
	char dir[4096], path[4200], buf[1024];
	struct stat st;
	double t;
	long i;

	memset(buf, 'f', sizeof(buf));
	snprintf(dir, sizeof(dir), "%s/small", top);
	xmkdir(dir);

	t = now();
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
		make_file(path, buf, sizeof(buf));
	}
	report("create", nfiles, now() - t, "files/s");

	drop_caches();
	t = now();
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
		if (stat(path, &st))
			die("stat", path);
	}
	report("stat", nfiles, now() - t, "files/s");

	t = now();
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
		if (unlink(path))
			die("unlink", path);
	}
	report("unlink", nfiles, now() - t, "files/s");
	if (rmdir(dir))
		die("rmdir", dir);
}

static void read_all(const char *path, char *buf, size_t bs)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open", path);
	while ((n = read(fd, buf, bs)) > 0)
		;
	if (n < 0)
		die("read", path);
	close(fd);
}

static void big_file(void)
{
	size_t bs = 1 << 20;
	char path[4200], *buf;
	uint64_t x = 88172645463325252ULL;
	off_t blocks;
	double t;
	long i;
	int fd;

	buf = malloc(bs);
	if (!buf)
		die("malloc", NULL);
	for (i = 0; i < (long)bs; i++)
		buf[i] = (char)(i * 7 + 3);
	snprintf(path, sizeof(path), "%s/big", top);

	t = now();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create", path);
	for (i = 0; i < mib; i++)
		if (write(fd, buf, bs) != (ssize_t)bs)
			die("write", path);
	if (fsync(fd) || close(fd))
		die("fsync", path);
	report("seqwrite", mib, now() - t, "MiB/s");

	drop_caches();
	t = now();
	read_all(path, buf, bs);
	report("seqread", mib, now() - t, "MiB/s");

	/* The page cache holds it now; make sure, then time a re-read. */
	read_all(path, buf, bs);
	t = now();
	read_all(path, buf, bs);
	report("reread", mib, now() - t, "MiB/s");

	drop_caches();
	blocks = (off_t)mib * 256;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open", path);
	t = now();
	for (i = 0; i < nreads; i++) {
		/* xorshift: the same offsets on every file system */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pread(fd, buf, 4096, (off_t)(x % blocks) * 4096) != 4096)
			die("pread", path);
	}
	report("randread", nreads, now() - t, "IOPS");
	close(fd);
	if (unlink(path))
		die("unlink", path);
	free(buf);
}

/* lstat everything below @dir found by readdir; returns the count. */
static long walk(const char *dir)
{
	char path[4200];
	struct dirent *de;
	struct stat st;
	long n = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		die("opendir", dir);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st))
			die("lstat", path);
		n++;
		if (S_ISDIR(st.st_mode))
			n += walk(path);
	}
	closedir(d);
	return n;
}

static void tree(void)
{
	long per_dir = 100, ndirs = (treefiles + per_dir - 1) / per_dir;
	char root[4096], dir[4200], path[4300];
	double t;
	long i, j, n;

	snprintf(root, sizeof(root), "%s/tree", top);
	xmkdir(root);
	for (i = 0; i < ndirs; i++) {
		snprintf(dir, sizeof(dir), "%s/d%04ld", root, i);
		xmkdir(dir);
		for (j = 0; j < per_dir && i * per_dir + j < treefiles; j++) {
			snprintf(path, sizeof(path), "%s/src%03ld.c", dir, j);
			make_file(path, "int x;\n", 7);
		}
	}

	drop_caches();
	t = now();
	n = walk(root);
	report("treewalk", n, now() - t, "files/s");

	for (i = 0; i < ndirs; i++) {
		snprintf(dir, sizeof(dir), "%s/d%04ld", root, i);
		for (j = 0; j < per_dir && i * per_dir + j < treefiles; j++) {
			snprintf(path, sizeof(path), "%s/src%03ld.c", dir, j);
			if (unlink(path))
				die("unlink", path);
		}
		if (rmdir(dir))
			die("rmdir", dir);
	}
	if (rmdir(root))
		die("rmdir", root);
}

static void *meta_worker(void *arg)
{
	long id = (long)arg, n = nfiles / 5, i;
	char dir[4096], path[4200];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/par%ld", top, id);
	xmkdir(dir);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%06ld", dir, i);
		make_file(path, "x", 1);
		if (stat(path, &st))
			die("stat", path);
		if (unlink(path))
			die("unlink", path);
	}
	if (rmdir(dir))
		die("rmdir", dir);
	return NULL;
}

static void parallel(void)
{
	pthread_t thr[2];
	double t;
	long i;

	t = now();
	for (i = 0; i < 2; i++)
		if (pthread_create(&thr[i], NULL, meta_worker, (void *)i))
			die("pthread_create", NULL);
	for (i = 0; i < 2; i++)
		pthread_join(thr[i], NULL);
	/* three operations per file */
	report("parallel", 2.0 * (nfiles / 5) * 3, now() - t, "ops/s");
}

static void status(struct fusex_status *st)
{
	int fd = open(top, O_RDONLY | O_DIRECTORY);

	memset(st, 0, sizeof(*st));
	if (fd < 0 || ioctl(fd, FUSEX_IOC_STATUS, st))
		die("FUSEX_IOC_STATUS", top);
	close(fd);
}

/* The cost of one restart, as an application sees it (-K). */
static void restart(pid_t server)
{
	struct fusex_status s0, s1;
	char path[4096];
	struct stat st;
	double t, t1;
	long i;
	int fd;

	snprintf(path, sizeof(path), "%s/restart", top);
	if (mkdir(path, 0755))
		die("mkdir", path);
	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/restart/f%ld", top, i);
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		if (fd < 0 || close(fd))
			die("create", path);
		if (stat(path, &st))
			die("stat", path);
	}
	status(&s0);

	t = now();
	if (kill(server, SIGKILL))
		die("kill", NULL);
	/*
	 * A create always goes to the server: it waits for the new one.
	 * That is the application's downtime.
	 */
	snprintf(path, sizeof(path), "%s/restart/probe", top);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
	if (fd < 0 || close(fd))
		die("create", path);
	printf("downtime %.1f ms\n", (now() - t) * 1e3);
	unlink(path);
	/* The kernel's view: the new server's own start-up, attach to INIT. */
	status(&s1);
	printf("startup %.1f ms\n", s1.startup_ns / 1e6);

	t = now();
	for (i = 1; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/restart/f%ld", top, i);
		if (stat(path, &st))
			die("stat", path);
	}
	t1 = now();
	status(&s1);
	printf("reval_inode %.1f us\n", (t1 - t) * 1e6 / (nfiles - 1));
	t = now();
	for (i = 1; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/restart/f%ld", top, i);
		if (stat(path, &st))
			die("stat", path);
	}
	printf("cached_stat %.1f us\n", (now() - t) * 1e6 / (nfiles - 1));
	printf("reval_requests %.2f per-file\n",
	       (double)((s1.reval_handle + s1.reval_name) -
			(s0.reval_handle + s0.reval_name)) / nfiles);

	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/restart/f%ld", top, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/restart", top);
	rmdir(path);
}

static long number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0) {
		fprintf(stderr, "fusex-bench: '%s' is not a positive number\n",
			s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	pid_t server = 0;
	int c;

	while ((c = getopt(argc, argv, "n:m:t:r:K:h")) != -1) {
		switch (c) {
		case 'K':
			server = (pid_t)number(optarg);
			break;
		case 'n':
			nfiles = number(optarg);
			break;
		case 'm':
			mib = number(optarg);
			break;
		case 't':
			treefiles = number(optarg);
			break;
		case 'r':
			nreads = number(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: fusex-bench [-n FILES] [-m MIB] [-t TREEFILES] [-r READS] DIR\n"
				"       fusex-bench -K SERVERPID [-n FILES] DIR\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "fusex-bench: one directory, please\n");
		return 2;
	}
	top = argv[optind];
	if (server) {
		restart(server);
		return 0;
	}
	small_files();
	big_file();
	tree();
	parallel();
	return 0;
}
