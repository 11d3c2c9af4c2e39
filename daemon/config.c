/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/opts.h"

static const char *const vfs_engine_names[] = {
	"auto", "sync", "clone", "uring", "fuse-uring", NULL,
};

const char *vengine_name(int engine)
{
	if (engine < 0 || engine > VENGINE_FUSE_URING)
		return "?";
	return vfs_engine_names[engine];
}

static const char *const vfs_splice_names[] = {
	"off", "read", "write", "both", NULL,
};

#define OFF(f) offsetof(struct vfs_config, f)
#define SZ(f) sizeof(((struct vfs_config *)0)->f)

static const struct vopt_desc vfs_opt_table[] = {
	{ "engine", VOPT_ENUM, OFF(engine), .choices = vfs_engine_names,
	  .help = "how requests are pulled from the kernel" },
	{ "threads", VOPT_UINT, OFF(threads), 1, VCFG_MAX_CPUS,
	  .help = "worker threads (default: one per CPU)" },
	{ "cpus", VOPT_STR, OFF(cpus), 0, SZ(cpus),
	  .help = "CPU list the workers are pinned to, e.g. 0-3:8" },
	{ "allow_other", VOPT_FLAG, OFF(allow_other), .ival = 1 },
	{ "default_permissions", VOPT_FLAG, OFF(default_permissions), .ival = 1,
	  .help = "kernel checks mode bits (default on)" },
	{ "no_default_permissions", VOPT_FLAG, OFF(default_permissions),
	  .ival = 0 },
	{ "ro", VOPT_FLAG, OFF(ro), .ival = 1 },
	{ "rw", VOPT_FLAG, OFF(ro), .ival = 0 },
	{ "writeback_cache", VOPT_FLAG, OFF(writeback_cache), .ival = 1 },
	{ "no_writeback_cache", VOPT_FLAG, OFF(writeback_cache), .ival = 0 },
	{ "direct_io", VOPT_FLAG, OFF(direct_io), .ival = 1 },
	{ "keep_cache", VOPT_FLAG, OFF(keep_cache), .ival = 1 },
	{ "no_keep_cache", VOPT_FLAG, OFF(keep_cache), .ival = 0 },
	{ "splice", VOPT_ENUM, OFF(splice), .choices = vfs_splice_names,
	  .help = "move requests/replies through a pipe (sync, clone)" },
	{ "cache_dir", VOPT_FLAG, OFF(cache_dir), .ival = 1,
	  .help = "let the kernel cache directory listings" },
	{ "attr_timeout", VOPT_DOUBLE, OFF(attr_timeout) },
	{ "entry_timeout", VOPT_DOUBLE, OFF(entry_timeout) },
	{ "negative_timeout", VOPT_DOUBLE, OFF(negative_timeout) },
	{ "max_write", VOPT_UINT, OFF(max_write), 4096, 16u << 20 },
	{ "max_read", VOPT_IGNORE },
	{ "max_readahead", VOPT_UINT, OFF(max_readahead), 0, 64u << 20 },
	{ "max_background", VOPT_UINT, OFF(max_background), 1, 65535 },
	{ "congestion_threshold", VOPT_UINT, OFF(congestion_threshold), 1,
	  65535 },
	{ "queue_depth", VOPT_UINT, OFF(queue_depth), 1, 4096 },
	{ "uring_reads", VOPT_UINT, OFF(uring_reads), 1, 4096,
	  .help = "uring engine: READs kept queued per worker" },
	{ "mem_size", VOPT_UINT, OFF(mem_size_mb), 1, 1u << 30,
	  .help = "mem backend capacity in MiB" },
	{ "secret", VOPT_STR, OFF(secret), 0, SZ(secret),
	  .help = "cluster: the cluster secret file" },
	{ "timeout", VOPT_UINT, OFF(timeout_s), 1, 86400,
	  .help = "cluster: seconds a call retries an unanswering server" },
	{ "fsname", VOPT_STR, OFF(fsname), 0, SZ(fsname) },
	{ "subtype", VOPT_STR, OFF(subtype), 0, SZ(subtype) },
	{ "pidfile", VOPT_STR, OFF(pidfile), 0, SZ(pidfile) },
	{ "ctl_socket", VOPT_STR, OFF(ctl_socket), 0, SZ(ctl_socket),
	  .help = "control socket for valorctl stats" },
	{ "nosuid", VOPT_FLAG, OFF(nosuid), .ival = 1 },
	{ "suid", VOPT_FLAG, OFF(nosuid), .ival = 0 },
	{ "nodev", VOPT_FLAG, OFF(nodev), .ival = 1 },
	{ "dev", VOPT_FLAG, OFF(nodev), .ival = 0 },
	{ "noexec", VOPT_FLAG, OFF(noexec), .ival = 1 },
	{ "exec", VOPT_FLAG, OFF(noexec), .ival = 0 },
	{ "noatime", VOPT_FLAG, OFF(noatime), .ival = 1 },
	{ "atime", VOPT_FLAG, OFF(noatime), .ival = 0 },
	{ "sync", VOPT_FLAG, OFF(sync), .ival = 1 },
	{ "async", VOPT_FLAG, OFF(sync), .ival = 0 },
	{ "dirsync", VOPT_FLAG, OFF(dirsync), .ival = 1 },
	/* mount(8) and fstab pass these through; they mean nothing here */
	{ "_netdev", VOPT_IGNORE }, { "nofail", VOPT_IGNORE },
	{ "auto", VOPT_IGNORE }, { "noauto", VOPT_IGNORE },
	{ "user", VOPT_IGNORE }, { "nouser", VOPT_IGNORE },
	{ "users", VOPT_IGNORE }, { "defaults", VOPT_IGNORE },
	{ "relatime", VOPT_IGNORE }, { "strictatime", VOPT_IGNORE },
	{ NULL },
};

void vfs_config_defaults(struct vfs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->engine = VENGINE_AUTO;
	cfg->default_permissions = 1;
	cfg->keep_cache = 1;
	cfg->attr_timeout = 1.0;
	cfg->entry_timeout = 1.0;
	cfg->negative_timeout = 0.0;
	cfg->max_write = 1u << 20;
	cfg->max_readahead = 1u << 20;
	cfg->max_background = 64;
	cfg->congestion_threshold = 48;
	cfg->queue_depth = 16;
	cfg->uring_reads = 1;
	cfg->nosuid = 1;
	cfg->nodev = 1;
	cfg->timeout_s = 60;
}

int vfs_config_parse_opts(struct vfs_config *cfg, const char *opts, char *err,
			  size_t errlen)
{
	return vopts_parse(vfs_opt_table, cfg, opts, err, errlen);
}

static void vfs_config_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [-f] [-s] [-d] [-o opt[,opt...]] SOURCE MOUNTPOINT\n"
		"\n"
		"SOURCE is 'mem' (a file system in RAM) or a mgmtd URL\n"
		"(tcp://HOST:PORT).\n"
		"\n"
		"  -f          stay in the foreground\n"
		"  -s          single thread: engine=sync (strace-friendly)\n"
		"  -d          log every request and reply (implies -f)\n"
		"  -o OPTS     comma-separated options:\n",
		prog);
	for (const struct vopt_desc *d = vfs_opt_table; d->name; d++) {
		if (d->type == VOPT_IGNORE)
			continue;
		fprintf(out, "      %-24s %s\n", d->name, d->help ? d->help : "");
	}
	fprintf(out, "  -h, --help  this text\n  -V, --version\n");
}

int vfs_config_parse_args(struct vfs_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char err[512];
	int single = 0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+fsdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg->foreground = 1;
			break;
		case 's':
			single = 1;
			break;
		case 'd':
			cfg->debug = 1;
			cfg->foreground = 1;
			break;
		case 'o':
			if (vfs_config_parse_opts(cfg, optarg, err, sizeof(err))) {
				fprintf(stderr, "%s: %s\n", argv[0], err);
				return -EINVAL;
			}
			break;
		case 'h':
			vfs_config_usage(stdout, argv[0]);
			return 1;
		case 'V':
			printf("valorfs 0.1 (FUSE protocol 7.45)\n");
			return 1;
		default:
			vfs_config_usage(stderr, argv[0]);
			return -EINVAL;
		}
	}
	if (single)
		cfg->engine = VENGINE_SYNC;
	if (argc - optind != 2) {
		fprintf(stderr, "%s: expected SOURCE and MOUNTPOINT (see --help)\n",
			argv[0]);
		return -EINVAL;
	}
	if (strlen(argv[optind]) >= sizeof(cfg->source) ||
	    strlen(argv[optind + 1]) >= sizeof(cfg->mountpoint)) {
		fprintf(stderr, "%s: SOURCE or MOUNTPOINT too long\n", argv[0]);
		return -EINVAL;
	}
	strcpy(cfg->source, argv[optind]);
	strcpy(cfg->mountpoint, argv[optind + 1]);
	if (cfg->max_write % 4096) {
		fprintf(stderr, "%s: option 'max_write' must be a multiple of 4096\n",
			argv[0]);
		return -EINVAL;
	}
	if (cfg->congestion_threshold > cfg->max_background)
		cfg->congestion_threshold = cfg->max_background;
	return 0;
}
