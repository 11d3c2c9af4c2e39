/* SPDX-License-Identifier: MIT */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

int vmount_kernel_opts(const struct vfs_config *cfg, int fd, unsigned rootmode,
		       unsigned uid, unsigned gid, char *out, size_t cap)
{
	int n;

	/* The kernel requires all four of fd, rootmode, user_id, group_id. */
	n = snprintf(out, cap, "fd=%d,rootmode=%o,user_id=%u,group_id=%u%s%s,max_read=%u",
		     fd, rootmode, uid, gid,
		     cfg->allow_other ? ",allow_other" : "",
		     cfg->default_permissions ? ",default_permissions" : "",
		     cfg->max_write);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return n;
}

static unsigned long vmount_flags(const struct vfs_config *cfg)
{
	unsigned long f = 0;

	if (cfg->ro)
		f |= MS_RDONLY;
	if (cfg->nosuid)
		f |= MS_NOSUID;
	if (cfg->nodev)
		f |= MS_NODEV;
	if (cfg->noexec)
		f |= MS_NOEXEC;
	if (cfg->noatime)
		f |= MS_NOATIME;
	if (cfg->sync)
		f |= MS_SYNCHRONOUS;
	if (cfg->dirsync)
		f |= MS_DIRSYNC;
	return f;
}

static const char *vmount_fsname(const struct vfs_config *cfg)
{
	return cfg->fsname[0] ? cfg->fsname : cfg->source;
}

static const char *vmount_subtype(const struct vfs_config *cfg)
{
	return cfg->subtype[0] ? cfg->subtype : "valorfs";
}

static int vmount_direct(const struct vfs_config *cfg, const struct stat *st)
{
	char opts[512], type[96];
	int fd, ret;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		vlog_err("cannot open /dev/fuse: %s (is the fuse module loaded?)",
			 strerror(-ret));
		return ret;
	}
	ret = vmount_kernel_opts(cfg, fd, st->st_mode & S_IFMT, getuid(),
				 getgid(), opts, sizeof(opts));
	if (ret < 0)
		goto out_close;
	snprintf(type, sizeof(type), "fuse.%s", vmount_subtype(cfg));
	if (mount(vmount_fsname(cfg), cfg->mountpoint, type, vmount_flags(cfg),
		  opts) == 0)
		return fd;
	ret = -errno;
	if (ret == -ENODEV) {
		/* Old kernels without subtypes: type "fuse", "subtype#fsname". */
		char src[sizeof(cfg->source) + sizeof(cfg->subtype) + 2];

		snprintf(src, sizeof(src), "%s#%s", vmount_subtype(cfg),
			 vmount_fsname(cfg));
		if (mount(src, cfg->mountpoint, "fuse", vmount_flags(cfg),
			  opts) == 0)
			return fd;
		ret = -errno;
	}
	vlog_err("mount %s on %s failed: %s", vmount_fsname(cfg),
		 cfg->mountpoint, strerror(-ret));
out_close:
	close(fd);
	return ret;
}

/* Receive the fd fusermount3 sends with SCM_RIGHTS; -errno on failure. */
static int vmount_recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;	/* fusermount3 failed; it said why */
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static int vmount_fusermount(const struct vfs_config *cfg)
{
	char opts[sizeof(cfg->source) + 256], env[32];
	int sv[2], fd, status, n;
	pid_t pid;

	n = snprintf(opts, sizeof(opts), "fsname=%s,subtype=%s%s%s%s%s%s",
		     vmount_fsname(cfg), vmount_subtype(cfg),
		     cfg->allow_other ? ",allow_other" : "",
		     cfg->default_permissions ? ",default_permissions" : "",
		     cfg->ro ? ",ro" : "", cfg->noexec ? ",noexec" : "",
		     cfg->noatime ? ",noatime" : "");
	if (n < 0 || (size_t)n >= sizeof(opts))
		return -ENAMETOOLONG;
	/* fusermount3 splits its -o at commas: a name must not carry one. */
	if (strchr(vmount_fsname(cfg), ',')) {
		vlog_err("fsname '%s' contains a comma", vmount_fsname(cfg));
		return -EINVAL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		fd = -errno;
		goto out_close;
	}
	if (pid == 0) {
		/* The child end must survive exec; only it does. */
		int cfd = dup(sv[1]);

		snprintf(env, sizeof(env), "%d", cfd);
		setenv("_FUSE_COMMFD", env, 1);
		execlp("fusermount3", "fusermount3", "-o", opts, "--",
		       cfg->mountpoint, (char *)NULL);
		fprintf(stderr, "valorfs: cannot run fusermount3: %s "
			"(install the fuse3 package)\n", strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	sv[1] = -1;
	fd = vmount_recv_fd(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (fd < 0) {
		vlog_err("fusermount3 could not mount %s", cfg->mountpoint);
		goto out_close;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
out_close:
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return fd;
}

int vmount_mount(const struct vfs_config *cfg, int *used_fusermount)
{
	struct stat st;

	if (stat(cfg->mountpoint, &st)) {
		int ret = -errno;

		vlog_err("mountpoint %s: %s", cfg->mountpoint, strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		vlog_err("mountpoint %s is not a directory or file",
			 cfg->mountpoint);
		return -ENOTDIR;
	}
	*used_fusermount = 0;
	if (geteuid() == 0)
		return vmount_direct(cfg, &st);
	*used_fusermount = 1;
	return vmount_fusermount(cfg);
}

void vmount_unmount(const struct vfs_config *cfg, int used_fusermount)
{
	if (!used_fusermount) {
		if (umount2(cfg->mountpoint, MNT_DETACH) && errno != EINVAL &&
		    errno != ENOENT)
			vlog_warn("unmount %s: %s", cfg->mountpoint,
				  strerror(errno));
		return;
	}
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("fusermount3", "fusermount3", "-u", "-q", "-z", "--",
		       cfg->mountpoint, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}
