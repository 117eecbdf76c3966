/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fusexctl: mount, supervise and restore FUSE servers on fusex.
 *
 * Every subcommand is <name>_main(argc, argv) with argv[0] == "<name>",
 * listed in the table in main.c.  Shared conventions:
 *  - messages go to stderr as "fusexctl: <subcommand>: what: why";
 *  - exit 0 on success, FX_EXIT_ERROR when the operation failed at run time,
 *    FX_EXIT_USAGE when the command line is wrong.
 */
#ifndef FUSEXCTL_H
#define FUSEXCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum {
	FX_EXIT_OK = 0,
	FX_EXIT_ERROR = 1,
	FX_EXIT_USAGE = 2,
};

struct fx_cmd {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;	/* one line for "fusexctl help" */
};

/* The subcommand being run, for messages; set by main() before dispatch. */
extern const char *fx_cmd_name;

/* "fusexctl: <cmd>: <fmt>\n" on stderr */
void fx_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, followed by ": strerror(err)" */
void fx_perr(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A mount of a FUSE-protocol filesystem (mnt.c): what fusexctl mount, and
 * later run and attach, need from the kernel side.
 */
#define FX_MNT_OPTS_MAX 4096	/* mount(2) copies one page of options */

struct fx_mnt {
	const char *type;	/* "fusex" or "fuse": device and fs type */
	const char *dir;	/* the mountpoint */
	const char *source;	/* mount source; fsname= or the type */
	unsigned long flags;	/* MS_* from generic options (ro, nosuid...) */
	uid_t uid;		/* user_id=; the caller unless -o user_id= */
	gid_t gid;		/* group_id=; the caller unless -o group_id= */
	char kopts[FX_MNT_OPTS_MAX];	/* options for the filesystem itself */
	int fd;			/* the device fd once mounted, else -1 */
};

void fx_mnt_init(struct fx_mnt *m, const char *type, const char *dir);
/* Parse one -o list; returns 0, or -EINVAL after printing why. */
int fx_mnt_parse_opts(struct fx_mnt *m, const char *opts);
/* Open the device and mount; returns 0, or -errno after printing why. */
int fx_mnt_mount(struct fx_mnt *m);
/* Undo fx_mnt_mount(): detach the mount and close the device. */
void fx_mnt_undo(struct fx_mnt *m);

/* exec.c: finding and starting the server */
/* 0 if @file names an executable (searched in $PATH without a '/'). */
int fx_find_exec(const char *file);
/*
 * Exec @argv with "/dev/fd/N" appended, N being @devfd, which is left open
 * across the exec.  Returns only on failure, with -errno.
 */
int fx_exec_server(char **argv, int devfd);
/*
 * The rest of a command line "MOUNTPOINT -- SERVER [ARGS...]" from
 * argv[@optind]: 0 with @dir and @server set, or -1 after saying what is
 * missing (@cmd names the help page).
 */
int fx_parse_mnt_server(int argc, char **argv, int optind, const char *cmd,
			const char **dir, char ***server);

/* run.c: open /dev/fusex and attach it to @mntfd's mount; fd or -errno */
int fx_attach_dev(int mntfd, unsigned int flags);

/* status.c: FUSEX_IOC_STATUS of the mount @dir is on; 0 or -errno */
struct fusex_status;
int fx_mount_status(const char *dir, struct fusex_status *st);

/* Subcommands */
int mount_main(int argc, char **argv);
int run_main(int argc, char **argv);
int attach_main(int argc, char **argv);
int status_main(int argc, char **argv);

#endif /* FUSEXCTL_H */
