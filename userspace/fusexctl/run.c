// SPDX-License-Identifier: GPL-2.0
/*
 * fusexctl run: mount with restart_timeout=, start the server, and when it
 * dies attach a new instance to the live mount (FUSEX_DEV_IOC_ATTACH) and
 * start it again.
 *
 * fusexctl attach: attach a new server to a live restart mount and exec it.
 *
 * fusexctl run keeps no device fd of its own: when the server dies its fd
 * closes, the kernel detaches the connection, and callers wait until the
 * next instance attaches (or restart_timeout passes).  Phase 1 of restart
 * keeps the old instance's nodeids, so only a server whose nodeids are the
 * same in every instance can be restarted (Documentation/restart.rst).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/fusex.h>

#include "fusexctl.h"

#define FX_DEFAULT_RESTART_TIMEOUT "30"

/* Open /dev/fusex and attach it to the mount @mntfd is on; fd or -errno. */
int fx_attach_dev(int mntfd, unsigned int flags)
{
	struct fusex_attach a = { .flags = flags, .mount_fd = mntfd };
	int fd, err;

	fd = open("/dev/" FUSEX_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, FUSEX_DEV_IOC_ATTACH, &a)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static const char *attach_why(int err)
{
	switch (err) {
	case -EPERM:
		return "only the mount's owner or CAP_SYS_ADMIN may attach";
	case -EBUSY:
		return "a server is attached (--replace takes over)";
	case -EINVAL:
		return "not a fusex mount with restart_timeout= (or a kernel without attach)";
	case -ENOTCONN:
		return "the connection was aborted (restart_timeout passed?)";
	default:
		return strerror(-err);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile sig_atomic_t fx_stop_sig;
static volatile pid_t fx_child;

static void on_stop(int sig)
{
	fx_stop_sig = sig;
	if (fx_child > 0)
		kill(fx_child, sig);
}

/* Fork and exec @server on @devfd; the parent's copy of @devfd is closed. */
static pid_t start_server(char **server, int devfd)
{
	pid_t pid;
	int err;

	pid = fork();
	if (pid < 0) {
		fx_perr(errno, "fork");
		close(devfd);
		return -1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		err = fx_exec_server(server, devfd);
		fx_perr(-err, "cannot run server %s", server[0]);
		_exit(127);
	}
	/* The server's fd must be the only one: its death detaches. */
	close(devfd);
	return pid;
}

/* "exited with 3" / "killed by signal 9" */
static void describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "ended (status %#x)", status);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return FX_EXIT_ERROR;
}

/* Does -o already say restart_timeout=?  Then it is the user's. */
static const char *kopt_value(const char *kopts, const char *key)
{
	size_t klen = strlen(key);
	const char *p = kopts;

	while (*p) {
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		p = strchrnul(p, ',');
		if (*p)
			p++;
	}
	return NULL;
}

/* The mount id of @fd (from /proc/self/fdinfo), or -1. */
static int fd_mnt_id(int fd)
{
	char path[64], line[256];
	int id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %d", &id) == 1)
			break;
	fclose(f);
	return id;
}

static bool mnt_id_mounted(int id)
{
	char line[4096];
	bool found = false;
	FILE *f;
	int mid;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%d", &mid) == 1 && mid == id;
	fclose(f);
	return found;
}

/*
 * Unmount @dir if the mount @mntfd is on is still there.  Nothing may
 * stat the mount: with no server, that waits for restart_timeout.
 */
static void unmount_ours(const char *dir, int mntfd)
{
	int id = fd_mnt_id(mntfd);

	if (id < 0 || !mnt_id_mounted(id))
		return;
	if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW))
		fx_perr(errno, "unmount %s", dir);
}

static void run_usage(FILE *f)
{
	fprintf(f,
"Usage: fusexctl run [--restart=always|on-failure] [--max-restarts=N]\n"
"                    [-t fusex] [-o OPTIONS] MOUNTPOINT -- SERVER [ARGS...]\n"
"\n"
"Mount MOUNTPOINT on fusex with restart_timeout= (default "
FX_DEFAULT_RESTART_TIMEOUT " s unless -o\n"
"gives one), run SERVER ARGS /dev/fd/N on it, and when SERVER dies attach\n"
"a new device to the live mount and run SERVER again.  Callers on the\n"
"mount wait meanwhile.  SERVER must stay in the foreground, and (restart\n"
"phase 1) give the same nodeids in every instance.\n"
"\n"
"  --restart=on-failure  restart unless SERVER exits with status 0 (default)\n"
"  --restart=always      restart whatever the exit\n"
"  --max-restarts=N      give up after N restarts (default: no limit)\n"
"  -t, --type fusex      the only type that can restart\n"
"  -o, --options OPTS    mount options, as for fusexctl mount\n"
"  -h, --help            this help\n"
"\n"
"Each restart is logged on stderr with its downtime.  SIGTERM, SIGINT and\n"
"SIGHUP go to SERVER and end the supervision.  When fusexctl run gives up\n"
"it unmounts (lazily).  Exit status: the last server's (128+N for signal N),\n"
"1 if mounting or attaching failed, 2 for a wrong command line.\n");
}

int run_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "restart", required_argument, NULL, 'r' },
		{ "max-restarts", required_argument, NULL, 'm' },
		{ "type", required_argument, NULL, 't' },
		{ "options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *type = "fusex", *dir, *tmo, *opts[64];
	bool always = false, restart;
	long max_restarts = -1, restarts = 0;
	int c, nopts = 0, i, err, status = 0, mntfd, devfd;
	double died, started;
	struct sigaction sa;
	struct fx_mnt m;
	char **server, why[128];
	pid_t pid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+t:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!strcmp(optarg, "always")) {
				always = true;
			} else if (!strcmp(optarg, "on-failure")) {
				always = false;
			} else {
				fx_err("--restart=%s: always or on-failure",
				       optarg);
				return FX_EXIT_USAGE;
			}
			break;
		case 'm': {
			char *end;

			errno = 0;
			max_restarts = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || max_restarts < 0) {
				fx_err("--max-restarts=%s: not a count", optarg);
				return FX_EXIT_USAGE;
			}
			break;
		}
		case 't':
			type = optarg;
			break;
		case 'o':
			if (nopts == (int)(sizeof(opts) / sizeof(opts[0]))) {
				fx_err("too many -o");
				return FX_EXIT_USAGE;
			}
			opts[nopts++] = optarg;
			break;
		case 'h':
			run_usage(stdout);
			return FX_EXIT_OK;
		default:
			run_usage(stderr);
			return FX_EXIT_USAGE;
		}
	}
	if (strcmp(type, "fusex")) {
		fx_err("type '%s' cannot restart: only fusex", type);
		return FX_EXIT_USAGE;
	}
	if (fx_parse_mnt_server(argc, argv, optind, "run", &dir, &server))
		return FX_EXIT_USAGE;

	fx_mnt_init(&m, type, dir);
	for (i = 0; i < nopts; i++)
		if (fx_mnt_parse_opts(&m, opts[i]))
			return FX_EXIT_USAGE;
	tmo = kopt_value(m.kopts, "restart_timeout");
	if (!tmo) {
		if (fx_mnt_parse_opts(&m, "restart_timeout="
				      FX_DEFAULT_RESTART_TIMEOUT))
			return FX_EXIT_USAGE;
	} else if (atoi(tmo) == 0) {
		fx_err("restart_timeout=0 leaves nothing to restart");
		return FX_EXIT_USAGE;
	}

	err = fx_find_exec(server[0]);
	if (err) {
		fx_perr(-err, "server %s", server[0]);
		return FX_EXIT_ERROR;
	}
	if (fx_mnt_mount(&m))
		return FX_EXIT_ERROR;
	/* Names the mount for every attach, wherever MOUNTPOINT goes. */
	mntfd = open(dir, O_PATH | O_CLOEXEC);
	if (mntfd < 0) {
		fx_perr(errno, "%s", dir);
		fx_mnt_undo(&m);
		return FX_EXIT_ERROR;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	devfd = m.fd;
	m.fd = -1;
	for (;;) {
		started = now_s();
		pid = start_server(server, devfd);
		if (pid < 0) {
			status = FX_EXIT_ERROR << 8;
			break;
		}
		fx_child = pid;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		fx_child = 0;
		died = now_s();

		describe(status, why, sizeof(why));
		restart = !fx_stop_sig &&
			  (always || !WIFEXITED(status) ||
			   WEXITSTATUS(status)) &&
			  (max_restarts < 0 || restarts < max_restarts);
		if (!restart) {
			fx_err("server %s %s%s", server[0], why,
			       fx_stop_sig ? " (stopped)" : ": not restarting");
			break;
		}
		/* A server that dies at once is not restarted in a tight loop. */
		if (died - started < 1.0)
			sleep(1);
		if (fx_stop_sig) {
			fx_err("server %s %s (stopped)", server[0], why);
			break;
		}
		devfd = fx_attach_dev(mntfd, 0);
		if (devfd < 0) {
			fx_err("server %s %s; cannot attach a new one: %s",
			       server[0], why, attach_why(devfd));
			status = FX_EXIT_ERROR << 8;
			break;
		}
		restarts++;
		fx_err("server %s %s; restart %ld, down for %.3f s",
		       server[0], why, restarts, now_s() - died);
	}
	unmount_ours(dir, mntfd);
	close(mntfd);
	return exit_code(status);
}

static void attach_usage(FILE *f)
{
	fprintf(f,
"Usage: fusexctl attach [--replace] MOUNTPOINT -- SERVER [ARGS...]\n"
"\n"
"Attach a new /dev/fusex to the live fusex mount MOUNTPOINT (mounted with\n"
"restart_timeout=) and exec SERVER ARGS /dev/fd/N to serve it.  The kernel\n"
"sends SERVER INIT again, flagged as a re-INIT, then the requests that\n"
"waited.\n"
"\n"
"  --replace     take over even if a server is attached: its device fds\n"
"                stop serving the mount, and what it read and did not\n"
"                answer is sent to SERVER\n"
"  -h, --help    this help\n"
"\n"
"Exit status: the server's once it runs; 1 if attaching failed, 2 for a\n"
"wrong command line.\n");
}

int attach_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "replace", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int flags = 0;
	int c, mntfd, devfd, err;
	const char *dir;
	char **server;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			flags |= FUSEX_ATTACH_REPLACE;
			break;
		case 'h':
			attach_usage(stdout);
			return FX_EXIT_OK;
		default:
			attach_usage(stderr);
			return FX_EXIT_USAGE;
		}
	}
	if (fx_parse_mnt_server(argc, argv, optind, "attach", &dir, &server))
		return FX_EXIT_USAGE;
	err = fx_find_exec(server[0]);
	if (err) {
		fx_perr(-err, "server %s", server[0]);
		return FX_EXIT_ERROR;
	}
	mntfd = open(dir, O_PATH | O_CLOEXEC);
	if (mntfd < 0) {
		fx_perr(errno, "%s", dir);
		return FX_EXIT_ERROR;
	}
	devfd = fx_attach_dev(mntfd, flags);
	close(mntfd);
	if (devfd < 0) {
		fx_err("attach to %s: %s", dir, attach_why(devfd));
		return FX_EXIT_ERROR;
	}
	err = fx_exec_server(server, devfd);
	fx_perr(-err, "cannot run server %s", server[0]);
	close(devfd);
	return FX_EXIT_ERROR;
}
