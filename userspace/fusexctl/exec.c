// SPDX-License-Identifier: GPL-2.0
/*
 * Starting a FUSE server on an already mounted device fd: libfuse 3 takes a
 * mountpoint of the form "/dev/fd/N" as "the session is fd N, mounted
 * already" and does not mount anything itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fusexctl.h"

static int is_exec(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (access(path, X_OK))
		return -errno;
	return 0;
}

int fx_find_exec(const char *file)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];
	int err = -ENOENT, e;
	size_t len;

	if (!*file)
		return -ENOENT;
	if (strchr(file, '/'))
		return is_exec(file);
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		len = end - p;
		/* An empty $PATH element is the current directory. */
		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, p,
			     len ? "/" : "", file) < (int)sizeof(buf)) {
			e = is_exec(buf);
			if (!e)
				return 0;
			/* Report "not permitted" over "not found", as execvp. */
			if (e != -ENOENT && e != -ENOTDIR)
				err = e;
		}
		if (!*end)
			break;
	}
	return err;
}

int fx_exec_server(char **argv, int devfd)
{
	char fdpath[32], **nargv;
	int argc, flags;

	for (argc = 0; argv[argc]; argc++)
		;
	nargv = calloc(argc + 2, sizeof(*nargv));
	if (!nargv)
		return -ENOMEM;
	memcpy(nargv, argv, argc * sizeof(*nargv));
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", devfd);
	nargv[argc] = fdpath;

	flags = fcntl(devfd, F_GETFD);
	if (flags < 0 || fcntl(devfd, F_SETFD, flags & ~FD_CLOEXEC)) {
		free(nargv);
		return -errno;
	}
	execvp(nargv[0], nargv);
	flags = errno;
	free(nargv);
	return -flags;
}

int fx_parse_mnt_server(int argc, char **argv, int optind, const char *cmd,
			const char **dir, char ***server)
{
	if (optind >= argc) {
		fx_err("missing MOUNTPOINT (see 'fusexctl help %s')", cmd);
		return -1;
	}
	*dir = argv[optind++];
	if (optind >= argc || strcmp(argv[optind], "--")) {
		fx_err("expected '--' after MOUNTPOINT, then SERVER [ARGS...]");
		return -1;
	}
	*server = argv + optind + 1;
	if (!(*server)[0]) {
		fx_err("missing SERVER after '--'");
		return -1;
	}
	return 0;
}
