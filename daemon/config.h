/* SPDX-License-Identifier: MIT */
/*
 * config.h - the valorfs command line and -o options.
 */
#ifndef VALOR_DAEMON_CONFIG_H
#define VALOR_DAEMON_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Engines, in the order of the "engine=" choices. */
enum vengine {
	VENGINE_AUTO,		/* fuse-uring where offered, else clone */
	VENGINE_SYNC,		/* one thread, poll + read(2)/writev(2) */
	VENGINE_CLONE,		/* a worker per CPU, each on a cloned fd */
	VENGINE_URING,		/* io_uring READs queued on cloned fds */
	VENGINE_FUSE_URING,	/* reserved: kernel FUSE-over-io_uring */
};

/* splice= choices */
enum vsplice_mode {
	VSPLICE_OFF,
	VSPLICE_READ,		/* requests through a pipe */
	VSPLICE_WRITE,		/* large replies through a pipe */
	VSPLICE_BOTH,
};

#define VCFG_MAX_CPUS 1024

struct vfs_config {
	char source[1024];
	char mountpoint[PATH_MAX];
	int foreground;		/* -f */
	int debug;		/* -d: log every request and reply */
	int engine;		/* enum vengine */
	uint32_t threads;	/* 0 = one per CPU in cpus (or online CPUs) */
	char cpus[512];		/* CPU list, "" = all online */
	int allow_other;
	int default_permissions;
	int ro;
	int writeback_cache;
	int direct_io;		/* FOPEN_DIRECT_IO on every open */
	int keep_cache;		/* FOPEN_KEEP_CACHE on opens */
	int cache_dir;		/* FOPEN_CACHE_DIR on directory opens */
	int splice;		/* enum vsplice_mode */
	double attr_timeout, entry_timeout, negative_timeout;
	uint32_t max_write;
	uint32_t max_readahead;
	uint32_t max_background;
	uint32_t congestion_threshold;
	uint32_t queue_depth;	/* requests a worker holds at once */
	uint32_t uring_reads;	/* uring: READs kept queued per worker */
	uint32_t mem_size_mb;	/* mem backend capacity, 0 = half of RAM */
	char secret[PATH_MAX];	/* cluster: secret file, "" = none */
	uint32_t timeout_s;	/* cluster: give up on a server after this */
	char fsname[256];
	char subtype[64];
	char pidfile[PATH_MAX];
	char ctl_socket[108];	/* "" = /run/valorfs/PID.sock (or per user) */
	/* generic mount flags */
	int nosuid, nodev, noexec, noatime, sync, dirsync;
};

/* Fill @cfg with the defaults. */
void vfs_config_defaults(struct vfs_config *cfg);

/*
 * Parse argv into @cfg. Returns 0, 1 when the program should exit 0 after
 * printing help or version, or -EINVAL with a message on stderr.
 */
int vfs_config_parse_args(struct vfs_config *cfg, int argc, char **argv);

/* Apply one -o string. 0 or -EINVAL with the reason in @err. */
int vfs_config_parse_opts(struct vfs_config *cfg, const char *opts, char *err,
			  size_t errlen);

const char *vengine_name(int engine);

#endif
