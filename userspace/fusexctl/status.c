// SPDX-License-Identifier: GPL-2.0
/*
 * fusexctl status MOUNTPOINT: what the kernel knows of a fusex mount's
 * server and its restarts (FUSEX_IOC_STATUS), one "key: value" a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/fusex.h>

#include "fusexctl.h"

static void status_usage(FILE *f)
{
	fprintf(f,
		"usage: fusexctl status MOUNTPOINT\n"
		"\n"
		"Print the state of a fusex mount's connection and the counters of\n"
		"its server restarts: server instances, attaches, requests sent\n"
		"again, inodes revalidated by handle and by name, files reopened,\n"
		"stale inodes, locks lost.\n");
}

/* Fill @st from the mount @dir is on; 0 or -errno. */
int fx_mount_status(const char *dir, struct fusex_status *st)
{
	int fd, err = 0;

	fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(st, 0, sizeof(*st));
	if (ioctl(fd, FUSEX_IOC_STATUS, st))
		err = -errno;
	close(fd);
	return err;
}

int status_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fusex_status st;
	int c, err;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			status_usage(stdout);
			return FX_EXIT_OK;
		default:
			status_usage(stderr);
			return FX_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		status_usage(stderr);
		return FX_EXIT_USAGE;
	}
	err = fx_mount_status(argv[optind], &st);
	if (err) {
		fx_perr(-err, "%s%s", argv[optind],
			err == -ENOTTY ? " (not a fusex mount?)" : "");
		return FX_EXIT_ERROR;
	}
	printf("state: %s\n", st.flags & FUSEX_STATUS_ABORTED ? "aborted" :
	       st.flags & FUSEX_STATUS_DETACHED ? "detached" : "attached");
	printf("restartable: %s\n",
	       st.flags & FUSEX_STATUS_RESTARTABLE ? "yes" : "no");
	printf("instances: %" PRIu32 "\n", st.epoch + 1);
	printf("attaches: %" PRIu32 "\n", st.attaches);
	printf("restarted_notifications: %" PRIu32 "\n", st.restarts);
	printf("instance_id: %" PRIu64 "\n", (uint64_t)st.instance_id);
	printf("resent: %" PRIu64 "\n", (uint64_t)st.resent);
	printf("revalidated_by_handle: %" PRIu64 "\n",
	       (uint64_t)st.reval_handle);
	printf("revalidated_by_name: %" PRIu64 "\n", (uint64_t)st.reval_name);
	printf("reopened: %" PRIu64 "\n", (uint64_t)st.reopens);
	printf("stale: %" PRIu64 "\n", (uint64_t)st.stale);
	printf("locks_lost: %" PRIu64 "\n", (uint64_t)st.locks_lost);
	return FX_EXIT_OK;
}
