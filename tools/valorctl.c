/* SPDX-License-Identifier: MIT */
/*
 * valorctl - see and steer a valorfs cluster and its processes.
 *
 *   valorctl [--mgmtd URL] [--secret FILE] [--json] COMMAND [ARGS]
 *
 * Commands:
 *   stats --socket PATH     counters of the process serving that control
 *                           socket (a valorfs daemon logs its path)
 *
 * Exit status: 0 success, 1 the command failed (message on stderr),
 * 2 usage error. Scripts may rely on these.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctlsock.h"

struct valorctl_opts {
	const char *mgmtd;
	const char *secret;
	const char *socket;
	int json;
};

static int valorctl_stats(struct valorctl_opts *o, int argc, char **argv)
{
	char *out = NULL;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			o->socket = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			o->json = 1;
		else {
			fprintf(stderr, "valorctl stats: unexpected '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (!o->socket) {
		fprintf(stderr, "valorctl stats: --socket PATH is required "
			"(valorfs logs its control socket at start)\n");
		return 2;
	}
	ret = vctl_query(o->socket, o->json ? "stats json" : "stats", &out);
	if (ret) {
		fprintf(stderr, "valorctl stats: %s: %s\n", o->socket,
			strerror(-ret));
		return 1;
	}
	fputs(out, stdout);
	ret = !strncmp(out, "error:", 6);
	free(out);
	return ret;
}

static const struct {
	const char *name;
	int (*fn)(struct valorctl_opts *o, int argc, char **argv);
	const char *help;
} valorctl_cmds[] = {
	{ "stats", valorctl_stats,
	  "stats --socket PATH [--json]   counters of a valorfs process" },
};

static void valorctl_usage(FILE *f)
{
	fprintf(f, "usage: valorctl [--mgmtd URL] [--secret FILE] [--json] "
		   "COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(valorctl_cmds) / sizeof(valorctl_cmds[0]);
	     i++)
		fprintf(f, "  %s\n", valorctl_cmds[i].help);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mgmtd", required_argument, NULL, 'm' },
		{ "secret", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct valorctl_opts o = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.mgmtd = optarg;
			break;
		case 's':
			o.secret = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'h':
			valorctl_usage(stdout);
			return 0;
		default:
			valorctl_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		valorctl_usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(valorctl_cmds) / sizeof(valorctl_cmds[0]);
	     i++)
		if (!strcmp(argv[optind], valorctl_cmds[i].name))
			return valorctl_cmds[i].fn(&o, argc - optind - 1,
						   argv + optind + 1);
	fprintf(stderr, "valorctl: unknown command '%s'\n", argv[optind]);
	valorctl_usage(stderr);
	return 2;
}
