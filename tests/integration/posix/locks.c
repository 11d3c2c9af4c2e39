/* SPDX-License-Identifier: MIT */
/*
 * locks.c - checks of flock and POSIX byte-range locks, O_TMPFILE, mmap,
 * unlinked open files, fsync, access(), and permissions as seen by nobody
 * (EACCES, the sticky bit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* ---- locks ---------------------------------------------------------------------- */

static void posix_flock_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	if (!CHECK_OK(flock(fd, LOCK_EX)))
		return;
	posix_post(ch->c2p[1], 'L');
	posix_wait(ch->p2c[0], NULL);	/* "close it" (or the parent gave up) */
	close(fd);
	posix_post(ch->c2p[1], 'C');
	posix_wait(ch->p2c[0], NULL);
}

void check_flock(void)
{
	struct posix_chan ch;
	pid_t pid = -1;
	int fd = -1;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_flock_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	posix_post(ch.p2c[1], 'c');
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_OK(flock(fd, LOCK_EX | LOCK_NB));	/* released on close */
	CHECK_OK(flock(fd, LOCK_UN));
	CHECK_OK(flock(fd, LOCK_SH | LOCK_NB));
out:
	posix_close(fd);
	posix_chan_close(&ch);	/* EOF lets the child finish */
	if (pid > 0)
		posix_reap(pid);
}

/* fcntl(@cmd) on [@start, @start + @len) with lock @type. */
static int posix_setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

static void posix_lock_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	if (!CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 100)))
		return;
	posix_post(ch->c2p[1], 'L');
	if (!posix_wait(ch->p2c[0], NULL))
		return;
	posix_msleep(300);	/* the parent is in F_SETLKW by now */
	posix_post(ch->c2p[1], 'U');
	CHECK_OK(posix_setlk(fd, F_SETLK, F_UNLCK, 0, 100));
	posix_wait(ch->p2c[0], NULL);
	close(fd);
}

void check_posix_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 10 };
	struct posix_chan ch;
	long long t0, t1;
	char c = 0;
	pid_t pid;
	int fd = -1, fl_flags;

	if (!posix_mkfile("f", "0123456789", 10, 0644) ||
	    !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_lock_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 50, .l_len = 10 };
	CHECK_ERR(fcntl(fd, F_SETLK, &fl), EAGAIN);
	fl = (struct flock){ .l_type = F_RDLCK, .l_start = 0, .l_len = 10 };
	CHECK_ERR(fcntl(fd, F_SETLK, &fl), EAGAIN);
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 0, .l_len = 10 };
	if (CHECK_OK(fcntl(fd, F_GETLK, &fl))) {
		CHECK_EQ(fl.l_type, F_WRLCK);
		CHECK_EQ(fl.l_pid, pid);
		CHECK_EQ(fl.l_start, 0);
		CHECK_EQ(fl.l_len, 100);
	}
	/* A range nobody holds is free. */
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 200, .l_len = 10 };
	CHECK_OK(fcntl(fd, F_SETLK, &fl));
	fl = (struct flock){ .l_type = F_RDLCK, .l_start = 300, .l_len = 0 };
	CHECK_OK(fcntl(fd, F_GETLK, &fl));
	CHECK_EQ(fl.l_type, F_UNLCK);
	/* F_SETLKW sleeps until the child lets go. */
	posix_post(ch.p2c[1], 'r');
	t0 = posix_now_ns();
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 0, .l_len = 10 };
	CHECK_OK(fcntl(fd, F_SETLKW, &fl));
	t1 = posix_now_ns();
	CHECK_TRUE(t1 - t0 >= 150 * 1000000LL);
	fl_flags = fcntl(ch.c2p[0], F_GETFL);
	fcntl(ch.c2p[0], F_SETFL, fl_flags | O_NONBLOCK);
	CHECK_EQ(read(ch.c2p[0], &c, 1), 1);	/* 'U' came before the grant */
	CHECK_EQ(c, 'U');
out:
	posix_close(fd);
	posix_chan_close(&ch);
	if (pid > 0)
		posix_reap(pid);
}

static void posix_ranges_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	/* Holds write [0,40) and [60,100) after the split, read [200,210). */
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	CHECK_OK(posix_setlk(fd, F_SETLK, F_UNLCK, 40, 20));
	CHECK_OK(posix_setlk(fd, F_SETLK, F_RDLCK, 200, 10));
	posix_post(ch->c2p[1], 'L');
	posix_wait(ch->p2c[0], NULL);
	close(fd);
}

/* Byte ranges: unlocking the middle splits a lock; read locks share. */
void check_posix_lock_ranges(void)
{
	struct flock fl;
	struct posix_chan ch;
	pid_t pid;
	int fd = -1;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_ranges_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 45, 10));	/* the gap */
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 10, 10), EAGAIN);
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 70, 10), EAGAIN);
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_RDLCK, 99, 1), EAGAIN);
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 100, 10));
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 30, .l_len = 20 };
	if (CHECK_OK(fcntl(fd, F_GETLK, &fl))) {
		CHECK_EQ(fl.l_type, F_WRLCK);
		CHECK_EQ(fl.l_start, 0);
		CHECK_EQ(fl.l_len, 40);
		CHECK_EQ(fl.l_pid, pid);
	}
	CHECK_OK(posix_setlk(fd, F_SETLK, F_RDLCK, 200, 10));	/* shared */
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 205, 1), EAGAIN);
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 200, .l_len = 1 };
	if (CHECK_OK(fcntl(fd, F_GETLK, &fl)))
		CHECK_EQ(fl.l_type, F_RDLCK);
out:
	posix_close(fd);
	posix_chan_close(&ch);
	if (pid > 0)
		posix_reap(pid);
}

static void posix_release_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd, fd2;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	posix_post(ch->c2p[1], 'L');
	if (!posix_wait(ch->p2c[0], NULL))
		return;
	/* Closing any fd of the file drops all of this process's locks. */
	fd2 = open("f", O_RDONLY);
	if (CHECK_OK(fd2))
		close(fd2);
	posix_post(ch->c2p[1], 'C');
	if (!posix_wait(ch->p2c[0], NULL))
		return;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 20, 10));
	posix_post(ch->c2p[1], 'M');
	/* Exiting with the fd still open drops the rest. */
	posix_wait(ch->p2c[0], NULL);
}

void check_posix_lock_release(void)
{
	struct posix_chan ch;
	pid_t pid;
	int fd = -1;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_release_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd) || !CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 10), EAGAIN);
	posix_post(ch.p2c[1], 'c');
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	CHECK_OK(posix_setlk(fd, F_SETLK, F_UNLCK, 0, 10));
	posix_post(ch.p2c[1], 'm');
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 20, 10), EAGAIN);
	posix_post(ch.p2c[1], 'x');
	posix_reap(pid);
	pid = -1;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 20, 10));
out:
	posix_close(fd);
	posix_chan_close(&ch);
	if (pid > 0)
		posix_reap(pid);
}

/* ---- odds and ends ---------------------------------------------------------------- */

void check_o_tmpfile(void)
{
	char proc[64], buf[16];
	struct stat st;
	int fd;

	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		posix_skip("O_TMPFILE not supported (%s)", posix_errname(errno));
		return;
	}
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "tmpdata", 7), 7);
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_nlink, 0);
	CHECK_TRUE(S_ISREG(st.st_mode));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	CHECK_OK(linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	CHECK_OK(stat("named", &st));
	CHECK_EQ(st.st_nlink, 1);
	CHECK_EQ(st.st_size, 7);
	CHECK_CONTENT("named", "tmpdata", 7);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 7);
	close(fd);
}

void check_mmap_read(void)
{
	enum { N = 100000 };
	char *want = malloc(N), *p;
	int fd = -1;

	if (!CHECK_TRUE(want))
		goto out;
	posix_pattern(want, N, 0, 11);
	if (!posix_mkfile("f", want, N, 0644))
		goto out;
	fd = open("f", O_RDONLY);
	if (!CHECK_OK(fd))
		goto out;
	p = mmap(NULL, N, PROT_READ, MAP_SHARED, fd, 0);
	if (!CHECK_MAP(p))
		goto out;
	CHECK_MEM(p, want, N);
	/* The tail of the last page past EOF reads as zero. */
	CHECK_EQ(p[N], 0);
	munmap(p, N);
	/* An offset mapping. */
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 8192);
	if (CHECK_MAP(p)) {
		CHECK_MEM(p, want + 8192, 8192);
		munmap(p, 8192);
	}
out:
	posix_close(fd);
	free(want);
}

void check_mmap_write(void)
{
	enum { N = 64 << 10 };
	char *want = malloc(N), *p;
	int fd = -1;

	if (!CHECK_TRUE(want))
		goto out;
	posix_pattern(want, N, 0, 12);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd) || !CHECK_OK(ftruncate(fd, N)))
		goto out;
	p = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK_MAP(p))
		goto out;
	memcpy(p, want, N);
	CHECK_OK(msync(p, N, MS_SYNC));
	CHECK_OK(munmap(p, N));
	close(fd);
	fd = -1;
	CHECK_CONTENT("f", want, N);
	/* A write(2) is seen through a mapping made before it. */
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	p = mmap(NULL, N, PROT_READ, MAP_SHARED, fd, 0);
	if (!CHECK_MAP(p))
		goto out;
	CHECK_EQ(pwrite(fd, "XYZ", 3, 5000), 3);
	CHECK_MEM(p + 5000, "XYZ", 3);
	munmap(p, N);
out:
	posix_close(fd);
	free(want);
}

void check_unlinked_open(void)
{
	char buf[32];
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "still here", 10, 0644))
		return;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(unlink("f"));
	CHECK_ERR(stat("f", &st), ENOENT);
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_nlink, 0);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 10);
	CHECK_MEM(buf, "still here", 10);
	CHECK_EQ(pwrite(fd, " and more", 9, 10), 9);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 19);
	CHECK_MEM(buf, "still here and more", 19);
	CHECK_OK(fsync(fd));
	/* The name is free for a new file at once. */
	if (posix_mkfile("f", "new", 3, 0644)) {
		CHECK_CONTENT("f", "new", 3);
		CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 19);
	}
	close(fd);
}

void check_fsync(void)
{
	int fd, dfd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "abc", 3), 3);
	CHECK_OK(fsync(fd));
	CHECK_EQ(write(fd, "def", 3), 3);
	CHECK_OK(fdatasync(fd));
	close(fd);
	CHECK_CONTENT("f", "abcdef", 6);
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	if (CHECK_OK(dfd)) {
		CHECK_OK(fsync(dfd));
		close(dfd);
	}
	CHECK_OK(fd = open("f", O_RDONLY));
	if (fd >= 0) {
		CHECK_OK(fsync(fd));	/* fsync on a read-only fd is fine */
		close(fd);
	}
}

void check_access(void)
{
	if (!posix_mkfile("f", "x", 1, 0640))
		return;
	CHECK_OK(access("f", F_OK));
	CHECK_OK(access("f", R_OK | W_OK));
	CHECK_ERR(access("f", X_OK), EACCES);	/* even root needs an x bit */
	CHECK_OK(chmod("f", 0750));
	CHECK_OK(access("f", X_OK));
	CHECK_ERR(access("missing", F_OK), ENOENT);
	CHECK_OK(mkdir("d", 0700));
	CHECK_OK(access("d", R_OK | W_OK | X_OK));
	if (posix_is_root) {
		CHECK_OK(chmod("f", 0));
		CHECK_OK(access("f", R_OK | W_OK));
	}
}

static void posix_nobody_child(void *arg)
{
	struct stat st;
	int fd;

	(void)arg;
	if (!posix_become_nobody())
		return;
	CHECK_ERR(fd = open("ro/x", O_CREAT | O_WRONLY, 0644), EACCES);
	posix_close(fd);
	CHECK_ERR(mkdir("ro/d", 0755), EACCES);
	CHECK_ERR(unlink("ro/file"), EACCES);
	CHECK_ERR(fd = open("secret", O_RDONLY), EACCES);
	posix_close(fd);
	CHECK_ERR(access("secret", R_OK), EACCES);
	CHECK_ERR(fd = open("ro/file", O_WRONLY), EACCES);
	posix_close(fd);
	CHECK_ERR(chmod("secret", 0777), EPERM);
	CHECK_ERR(stat("private/f", &st), EACCES);
	CHECK_OK(stat("secret", &st));	/* stat needs only the directory */
	fd = open("rw/x", O_CREAT | O_WRONLY, 0644);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, "mine", 4), 4);
		close(fd);
	}
	CHECK_OK(stat("rw/x", &st));
	CHECK_EQ(st.st_uid, POSIX_NOBODY);
	CHECK_EQ(st.st_gid, POSIX_NOBODY);
	CHECK_OK(mkdir("rw/d", 0755));
	CHECK_OK(unlink("rw/x"));
}

void check_eacces_nobody(void)
{
	int fd;

	CHECK_OK(mkdir("ro", 0755));
	CHECK_OK(mkdir("rw", 0777));
	CHECK_OK(chmod("rw", 0777));
	CHECK_OK(mkdir("private", 0700));
	CHECK_OK(fd = open("private/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	if (!posix_mkfile("ro/file", "r", 1, 0644) ||
	    !posix_mkfile("secret", "s", 1, 0600))
		return;
	posix_reap(posix_spawn(posix_nobody_child, NULL));
}

static void posix_sticky_child(void *arg)
{
	int fd;

	(void)arg;
	if (!posix_become_nobody())
		return;
	CHECK_ERR(unlink("t/rootfile"), EPERM);
	CHECK_ERR(rename("t/rootfile", "t/renamed"), EPERM);
	CHECK_ERR(rmdir("t/rootdir"), EPERM);
	fd = open("t/mine", O_CREAT | O_WRONLY, 0644);
	if (CHECK_OK(fd))
		close(fd);
	CHECK_OK(rename("t/mine", "t/mine2"));
	CHECK_OK(unlink("t/mine2"));
	/* Writing root's 0666 file is allowed; only removal is not. */
	fd = open("t/rootfile", O_WRONLY);
	if (CHECK_OK(fd))
		close(fd);
}

void check_sticky(void)
{
	struct stat st;

	CHECK_OK(mkdir("t", 0777));
	CHECK_OK(chmod("t", 01777));
	CHECK_OK(stat("t", &st));
	CHECK_MODE(st.st_mode & 07777, 01777);
	CHECK_OK(mkdir("t/rootdir", 0777));
	if (!posix_mkfile("t/rootfile", "root", 4, 0666))
		return;
	CHECK_OK(chmod("t/rootfile", 0666));
	posix_reap(posix_spawn(posix_sticky_child, NULL));
	CHECK_CONTENT("t/rootfile", "root", 4);
	CHECK_OK(unlink("t/rootfile"));	/* the owner can */
}
