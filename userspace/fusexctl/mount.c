// SPDX-License-Identifier: GPL-2.0
/*
 * fusexctl mount [-t fusex|fuse] [-o OPTIONS] MOUNTPOINT -- SERVER [ARGS...]
 *
 * Mount, then become the server: the server runs as "SERVER ARGS...
 * /dev/fd/N" with the device fd N, in this process, so whoever started
 * fusexctl mount waits for (or kills) the server itself.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fusexctl.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: fusexctl mount [-t fusex|fuse] [-o OPTIONS] MOUNTPOINT -- SERVER [ARGS...]\n"
"\n"
"Mount a FUSE filesystem on MOUNTPOINT and exec SERVER to serve it.  SERVER\n"
"gets ARGS followed by \"/dev/fd/N\" as its mountpoint argument, N being the\n"
"open device fd (libfuse 3 servers accept that and do not mount again).\n"
"\n"
"  -t, --type TYPE       fusex (default: /dev/fusex) or fuse (/dev/fuse)\n"
"  -o, --options OPTS    comma-separated mount options; may be repeated:\n"
"        ro, nosuid, nodev, noexec, noatime, nodiratime, relatime,\n"
"        strictatime, lazytime, sync, dirsync, silent and their opposites\n"
"                        generic mount flags\n"
"        user_id=UID, group_id=GID\n"
"                        the mount's owner (default: the caller)\n"
"        fsname=NAME     the mount source shown in mountinfo\n"
"        anything else   passed to the kernel, e.g. default_permissions,\n"
"                        allow_other, max_read=N\n"
"  -h, --help            this help\n"
"\n"
"Exit status: the server's once it runs; 1 if mounting or starting it\n"
"failed (nothing stays mounted), 2 for a wrong command line.\n");
}

int mount_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *type = "fusex", *dir;
	const char *opts[64];
	struct fx_mnt m;
	int c, nopts = 0, i, err;
	char **server;

	/* "+": stop at MOUNTPOINT, so SERVER's own options stay its own. */
	optind = 1;
	while ((c = getopt_long(argc, argv, "+t:o:h", longopts, NULL)) != -1) {
		switch (c) {
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
			usage(stdout);
			return FX_EXIT_OK;
		default:
			usage(stderr);
			return FX_EXIT_USAGE;
		}
	}
	if (strcmp(type, "fusex") && strcmp(type, "fuse")) {
		fx_err("unknown type '%s' (fusex or fuse)", type);
		return FX_EXIT_USAGE;
	}
	if (fx_parse_mnt_server(argc, argv, optind, "mount", &dir, &server))
		return FX_EXIT_USAGE;

	fx_mnt_init(&m, type, dir);
	for (i = 0; i < nopts; i++)
		if (fx_mnt_parse_opts(&m, opts[i]))
			return FX_EXIT_USAGE;

	/* Refuse before mounting what could not be started anyway. */
	err = fx_find_exec(server[0]);
	if (err) {
		fx_perr(-err, "server %s", server[0]);
		return FX_EXIT_ERROR;
	}
	if (fx_mnt_mount(&m))
		return FX_EXIT_ERROR;

	err = fx_exec_server(server, m.fd);
	fx_perr(-err, "cannot run server %s", server[0]);
	fx_mnt_undo(&m);
	return FX_EXIT_ERROR;
}
