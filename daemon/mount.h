/* SPDX-License-Identifier: MIT */
/*
 * mount.h - mounting a FUSE file system without libfuse.
 *
 * As root (CAP_SYS_ADMIN): open /dev/fuse and mount(2) type "fuse.valorfs"
 * with fd=,rootmode=,user_id=,group_id= and the chosen options.
 * Otherwise: run fusermount3 with a socketpair in _FUSE_COMMFD and receive the
 * /dev/fuse fd it opened and mounted (SCM_RIGHTS).
 */
#ifndef VALOR_DAEMON_MOUNT_H
#define VALOR_DAEMON_MOUNT_H

#include "config.h"

/*
 * Mount @cfg->mountpoint. On success returns the /dev/fuse fd (O_CLOEXEC,
 * O_NONBLOCK) and sets *@used_fusermount. On failure returns -errno and logs
 * a message that says what to do about it.
 */
int vmount_mount(const struct vfs_config *cfg, int *used_fusermount);

/*
 * Detach the mount (lazy: processes still inside keep working until they
 * leave). Safe to call when it is already gone.
 */
void vmount_unmount(const struct vfs_config *cfg, int used_fusermount);

/* The kernel option string for mount(2) (for tests and -d). Returns the
 * length written, or -ENAMETOOLONG. */
int vmount_kernel_opts(const struct vfs_config *cfg, int fd, unsigned rootmode,
		       unsigned uid, unsigned gid, char *out, size_t cap);

#endif
