// SPDX-License-Identifier: GPL-2.0
/*
 * fusex-passthrough [-f] [-d] [-s] -o source=DIR[,OPTIONS] MOUNTPOINT
 *
 * The reference server for fusex's persistent handles: it mirrors DIR and,
 * on fusex, gives the kernel the backing filesystem's own file handles as
 * its handles (through libfusex's bridge).  On fuse.ko, or with
 * -o nohandles, it is a plain libfuse passthrough server.  MOUNTPOINT may
 * be /dev/fd/N, as fusexctl mount gives it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fxpt.h"

static const struct fuse_opt fxpt_opts[] = {
	{ "source=%s", offsetof(struct fxpt, source), 0 },
	{ "timeout=%lf", offsetof(struct fxpt, timeout), 0 },
	{ "nohandles", offsetof(struct fxpt, nohandles), 1 },
	{ "stats=%s", offsetof(struct fxpt, stats), 0 },
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s [options] -o source=DIR MOUNTPOINT\n\n", prog);
	printf("fusex-passthrough options:\n"
	       "    -o source=DIR          the directory to mirror (required)\n"
	       "    -o timeout=SECONDS     entry and attribute timeout (1.0)\n"
	       "    -o nohandles           do not offer persistent handles\n"
	       "    -o stats=FILE          keep the counts of LOOKUP and\n"
	       "                           FUSE_LOOKUP_HANDLE requests in FILE\n"
	       "\n");
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_loop_config *config = NULL;
	struct fusex_bridge *br = NULL;
	struct fuse_cmdline_opts opts;
	struct fuse_session *se;
	char devpath[32];
	const char *mnt;
	bool restarted;
	int ret = 1, err, devfd;

	/* The kernel has applied the caller's umask already. */
	umask(0);
	pthread_mutex_init(&fxpt.lock, NULL);
	fxpt.timeout = 1.0;
	fxpt.stats_fd = -1;

	if (fuse_parse_cmdline(&args, &opts))
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		printf("fusex-passthrough, libfusex %d, libfuse %s\n",
		       FUSEX_LIB_VERSION, fuse_pkgversion());
		ret = 0;
		goto out_args;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "%s: no mountpoint (see --help)\n", argv[0]);
		goto out_args;
	}
	mnt = opts.mountpoint;
	if (fuse_opt_parse(&args, &fxpt, fxpt_opts, NULL))
		goto out_args;
	if (!fxpt.source) {
		fprintf(stderr, "%s: no -o source=DIR\n", argv[0]);
		goto out_args;
	}
	if (fxpt.timeout < 0) {
		fprintf(stderr, "%s: negative timeout\n", argv[0]);
		goto out_args;
	}
	if (fxpt.stats) {
		fxpt.stats_fd = open(fxpt.stats, O_WRONLY | O_CREAT | O_TRUNC |
				     O_CLOEXEC, 0644);
		if (fxpt.stats_fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], fxpt.stats,
				strerror(errno));
			goto out_args;
		}
	}
	fxpt.debug = opts.debug;
	fxpt.handles = !fxpt.nohandles;
	err = fxpt_init_root();
	if (err) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], fxpt.source,
			strerror(err));
		goto out_args;
	}

	se = fuse_session_new(&args, &fxpt_ops, sizeof(fxpt_ops), &fxpt);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	/*
	 * A new instance of a dead server carries on its mount: an fd from
	 * systemd's fd store, /dev/fd/N from fusexctl, or an attach to the
	 * live mount.  Otherwise this mounts as usual.
	 */
	devfd = fusex_session_fd(opts.mountpoint, 0, &restarted);
	if (devfd >= 0) {
		snprintf(devpath, sizeof(devpath), "/dev/fd/%d", devfd);
		mnt = devpath;
	} else if (errno != ENOENT) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], opts.mountpoint,
			strerror(errno));
		goto out_signals;
	}
	if (fuse_session_mount(se, mnt))
		goto out_signals;
	if (fxpt.handles) {
		br = fusex_bridge_new(&fxpt_bridge_ops, sizeof(fxpt_bridge_ops),
				      FXPT_MAX_HANDLE,
				      opts.debug ? FUSEX_BRIDGE_DEBUG : 0,
				      &fxpt);
		err = br ? fusex_bridge_attach(br, se, -1) : errno;
		if (err) {
			fprintf(stderr, "%s: libfusex bridge: %s\n", argv[0],
				strerror(err));
			goto out_unmount;
		}
	}
	if (restarted) {
		err = fusex_send_restarted(fuse_session_fd(se),
					   (uint64_t)getpid());
		if (err)
			fprintf(stderr, "%s: FUSE_NOTIFY_RESTARTED: %s\n",
				argv[0], strerror(err));
	}
	/* Under systemd, the next instance gets the device back. */
	err = fusex_fdstore(fuse_session_fd(se));
	if (err && err != ENOENT)
		fprintf(stderr, "%s: fd store: %s\n", argv[0], strerror(err));
	fuse_daemonize(opts.foreground);

	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config = fuse_loop_cfg_create();
		if (!config) {
			ret = -ENOMEM;
			goto out_unmount;
		}
		fuse_loop_cfg_set_clone_fd(config, opts.clone_fd);
		fuse_loop_cfg_set_max_threads(config, opts.max_threads);
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(config,
						       opts.max_idle_threads);
		ret = fuse_session_loop_mt(se, config);
		fuse_loop_cfg_destroy(config);
	}
	ret = ret ? 1 : 0;

out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	fusex_bridge_destroy(br);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret;
}
