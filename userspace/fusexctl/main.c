// SPDX-License-Identifier: GPL-2.0
/*
 * fusexctl: the command table and dispatch, in the style of ip(8) and wg(8):
 * "fusexctl <subcommand> [args]", each subcommand its own <name>_main().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fusexctl.h"

const char *fx_cmd_name;

static int help_main(int argc, char **argv);

static const struct fx_cmd fx_cmds[] = {
	{ "mount", mount_main,
	  "mount a FUSE filesystem on fusex (or fuse) and exec its server" },
	{ "run", run_main,
	  "mount on fusex and run its server, restarting it when it dies" },
	{ "attach", attach_main,
	  "attach a new server to a live restart mount and exec it" },
	{ "status", status_main,
	  "show a fusex mount's connection state and restart counters" },
	{ "help", help_main,
	  "list the subcommands, or show one subcommand's help" },
};

#define FX_NCMDS (sizeof(fx_cmds) / sizeof(fx_cmds[0]))

static void vmsg(int err, const char *fmt, va_list ap)
{
	fprintf(stderr, "fusexctl: ");
	if (fx_cmd_name)
		fprintf(stderr, "%s: ", fx_cmd_name);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
}

void fx_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
}

void fx_perr(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
}

static const struct fx_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < FX_NCMDS; i++)
		if (!strcmp(fx_cmds[i].name, name))
			return &fx_cmds[i];
	return NULL;
}

static void list_cmds(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: fusexctl <subcommand> [arguments]\n\n"
		   "Subcommands:\n");
	for (i = 0; i < FX_NCMDS; i++)
		fprintf(f, "  %-8s %s\n", fx_cmds[i].name, fx_cmds[i].summary);
	fprintf(f, "\nRun 'fusexctl help <subcommand>' for its arguments.\n");
}

static int help_main(int argc, char **argv)
{
	char *hargv[] = { NULL, "--help", NULL };
	const struct fx_cmd *c;

	if (argc == 1) {
		list_cmds(stdout);
		return FX_EXIT_OK;
	}
	if (argc > 2) {
		fx_err("usage: fusexctl help [SUBCOMMAND]");
		return FX_EXIT_USAGE;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		fx_err("unknown subcommand '%s'", argv[1]);
		return FX_EXIT_USAGE;
	}
	fx_cmd_name = c->name;
	hargv[0] = (char *)c->name;
	return c->main(2, hargv);
}

int main(int argc, char **argv)
{
	const struct fx_cmd *c;

	if (argc < 2) {
		list_cmds(stderr);
		return FX_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		list_cmds(stdout);
		return FX_EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		fx_err("unknown subcommand '%s' (see 'fusexctl help')",
		       argv[1]);
		return FX_EXIT_USAGE;
	}
	fx_cmd_name = c->name;
	return c->main(argc - 1, argv + 1);
}
