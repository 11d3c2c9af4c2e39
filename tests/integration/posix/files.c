/* SPDX-License-Identifier: MIT */
/*
 * files.c - checks of creating, opening, reading, writing and truncating
 * files, of their attributes (stat, chmod, chown, setuid/setgid) and of
 * their timestamps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"

/* ---- create / open ------------------------------------------------------ */

void check_create_excl(void)
{
	struct stat st;
	int fd, fd2;

	fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstat(fd, &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 0);
	close(fd);
	CHECK_ERR(fd2 = open("f", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
	posix_close(fd2);
	CHECK_OK(fd2 = open("f", O_CREAT | O_RDWR, 0644));
	posix_close(fd2);
	/* O_EXCL does not follow a symlink, even a dangling one. */
	CHECK_OK(symlink("missing", "l"));
	CHECK_ERR(fd2 = open("l", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	posix_close(fd2);
	CHECK_ERR(lstat("missing", &st), ENOENT);
	/* Without O_EXCL, O_CREAT through a dangling symlink makes its target. */
	CHECK_OK(symlink("target2", "l2"));
	CHECK_OK(fd2 = open("l2", O_CREAT | O_WRONLY, 0644));
	posix_close(fd2);
	CHECK_OK(lstat("target2", &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
}

void check_umask(void)
{
	struct stat st;
	int fd;

	umask(077);
	CHECK_OK(fd = open("f", O_CREAT | O_WRONLY, 0666));
	posix_close(fd);
	CHECK_OK(mkdir("d", 0777));
	CHECK_OK(mkfifo("p", 0666));
	CHECK_OK(symlink("f", "l"));
	umask(022);
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0600);
	CHECK_OK(stat("d", &st));
	CHECK_MODE(st.st_mode & 07777, 0700);
	CHECK_OK(lstat("p", &st));
	CHECK_MODE(st.st_mode & 07777, 0600);
	CHECK_OK(lstat("l", &st));
	CHECK_MODE(st.st_mode & 07777, 0777);	/* symlinks ignore the umask */
	/* Creating an existing file leaves its mode alone. */
	CHECK_OK(fd = open("f", O_CREAT | O_WRONLY, 0666));
	posix_close(fd);
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0600);
}

void check_creat_missing_dir(void)
{
	int fd;

	CHECK_ERR(fd = open("nodir/f", O_CREAT | O_WRONLY, 0644), ENOENT);
	posix_close(fd);
	CHECK_ERR(fd = open("nofile", O_RDONLY), ENOENT);
	posix_close(fd);
}

void check_path_through_file(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_ERR(fd = open("f/x", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	posix_close(fd);
	CHECK_ERR(stat("f/x", &st), ENOTDIR);
	CHECK_ERR(mkdir("f/d", 0755), ENOTDIR);
	CHECK_ERR(unlink("f/x"), ENOTDIR);
}

void check_open_errors(void)
{
	char c = 'x';
	int fd;

	CHECK_OK(mkdir("d", 0755));
	if (!posix_mkfile("f", "abc", 3, 0644))
		return;
	CHECK_ERR(fd = open("d", O_WRONLY), EISDIR);
	posix_close(fd);
	CHECK_ERR(fd = open("d", O_RDWR), EISDIR);
	posix_close(fd);
	CHECK_ERR(fd = open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	posix_close(fd);
	fd = open("f", O_RDONLY);
	if (CHECK_OK(fd)) {
		CHECK_ERR(write(fd, &c, 1), EBADF);
		close(fd);
	}
	fd = open("f", O_WRONLY);
	if (CHECK_OK(fd)) {
		CHECK_ERR(read(fd, &c, 1), EBADF);
		close(fd);
	}
	fd = open("d", O_RDONLY | O_DIRECTORY);
	if (CHECK_OK(fd)) {
		CHECK_ERR(read(fd, &c, 1), EISDIR);
		close(fd);
	}
}

/* ---- data ----------------------------------------------------------------- */

void check_write_read(void)
{
	enum { N = 300 * 1024 + 17 };
	char *want = malloc(N), *got = malloc(N + 1);
	size_t done = 0;
	ssize_t r;
	int fd = -1;

	if (!CHECK_TRUE(want && got))
		goto out;
	posix_pattern(want, N, 0, 1);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	/* Uneven chunks so requests straddle pages. */
	while (done < N) {
		size_t n = N - done < 7777 ? N - done : 7777;

		r = write(fd, want + done, n);
		if (!CHECK_EQ(r, n))
			goto out;
		done += n;
	}
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), N);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	done = 0;
	while (done < N + 1) {
		r = read(fd, got + done, N + 1 - done);
		if (!CHECK_OK(r) || r == 0)
			break;
		done += r;
	}
	CHECK_EQ(done, N);
	CHECK_MEM(got, want, N);
	CHECK_EQ(read(fd, got, 10), 0);
	close(fd);
	CHECK_CONTENT("f", want, N);
out:
	free(want);
	free(got);
}

void check_pread_pwrite(void)
{
	static const off_t offs[] = { 0, 4096, 10000, 65535, 1 << 20 };
	char want[3000], got[3000], zero[3000] = { 0 };
	struct stat st;
	unsigned i;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		posix_pattern(want, sizeof(want), offs[i], i);
		CHECK_EQ(pwrite(fd, want, sizeof(want), offs[i]), sizeof(want));
	}
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);	/* pwrite left the offset */
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		posix_pattern(want, sizeof(want), offs[i], i);
		memset(got, 0xee, sizeof(got));
		CHECK_EQ(pread(fd, got, sizeof(got), offs[i]), sizeof(got));
		CHECK_MEM(got, want, sizeof(got));
	}
	/* The gaps between the writes read as zeros. */
	CHECK_EQ(pread(fd, got, sizeof(got), 20000), sizeof(got));
	CHECK_MEM(got, zero, sizeof(got));
	CHECK_EQ(pread(fd, got, sizeof(got), (1 << 20) + 2000), 1000);
	CHECK_EQ(pread(fd, got, sizeof(got), (1 << 20) + 3000), 0);
	CHECK_EQ(pread(fd, got, sizeof(got), 1 << 30), 0);
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, (1 << 20) + 3000);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	close(fd);
}

void check_pwrite_beyond_4g(void)
{
	const off_t off = 5LL << 30;
	char want[4096], got[4096], zero[4096] = { 0 };
	struct stat st;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	posix_pattern(want, sizeof(want), off, 3);
	CHECK_EQ(pwrite(fd, want, sizeof(want), off), sizeof(want));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, off + (off_t)sizeof(want));
	CHECK_EQ(pread(fd, got, sizeof(got), off), sizeof(got));
	CHECK_MEM(got, want, sizeof(got));
	CHECK_EQ(pread(fd, got, sizeof(got), 4LL << 30), sizeof(got));
	CHECK_MEM(got, zero, sizeof(got));
	CHECK_OK(ftruncate(fd, 0));
	close(fd);
}

void check_o_append(void)
{
	char got[16];
	int fd;

	if (!posix_mkfile("f", "abc", 3, 0644))
		return;
	fd = open("f", O_WRONLY | O_APPEND);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(write(fd, "def", 3), 3);	/* appends despite the seek */
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6);
	CHECK_EQ(write(fd, "gh", 2), 2);
	close(fd);
	CHECK_CONTENT("f", "abcdefgh", 8);
	fd = open("f", O_RDWR | O_APPEND);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(pread(fd, got, sizeof(got), 2), 6);
	CHECK_MEM(got, "cdefgh", 6);
	close(fd);
}

void check_o_trunc(void)
{
	char buf[8192];
	struct stat st;
	int fd;

	posix_pattern(buf, sizeof(buf), 0, 4);
	if (!posix_mkfile("f", buf, sizeof(buf), 0644))
		return;
	fd = open("f", O_WRONLY | O_TRUNC);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(write(fd, "xy", 2), 2);
	close(fd);
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_size, 2);
	CHECK_CONTENT("f", "xy", 2);
	/* O_TRUNC with O_RDONLY is unspecified; Linux truncates: not checked. */
}

void check_ftruncate(void)
{
	enum { N = 10000 };
	char *want = malloc(100000), *got = malloc(100000);
	struct stat st;
	int fd = -1;

	if (!CHECK_TRUE(want && got))
		goto out;
	posix_pattern(want, N, 0, 5);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(pwrite(fd, want, N, 0), N);
	/* Up: the new part reads as zeros. */
	CHECK_OK(ftruncate(fd, 100000));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 100000);
	CHECK_EQ(posix_pread_all(fd, got, 100000, 0), 100000);
	CHECK_MEM(got, want, N);
	CHECK_TRUE(posix_all_zero(got + N, 100000 - N));
	/* Down, then up again: the cut bytes must not come back. */
	CHECK_OK(ftruncate(fd, 5000));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 5000);
	CHECK_EQ(posix_pread_all(fd, got, 100000, 0), 5000);
	CHECK_MEM(got, want, 5000);
	CHECK_OK(truncate("f", 8000));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 8000);
	CHECK_EQ(posix_pread_all(fd, got, 100000, 0), 8000);
	CHECK_MEM(got, want, 5000);
	CHECK_TRUE(posix_all_zero(got + 5000, 3000));
	CHECK_OK(ftruncate(fd, 0));
	CHECK_EQ(pread(fd, got, 10, 0), 0);
	CHECK_ERR(ftruncate(fd, -1), EINVAL);
out:
	posix_close(fd);
	free(want);
	free(got);
}

/* ---- attributes ------------------------------------------------------------ */

void check_stat_fields(void)
{
	char buf[5000];
	struct stat st, dst;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0640);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstat(fd, &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0640);
	CHECK_EQ(st.st_nlink, 1);
	CHECK_EQ(st.st_uid, geteuid());
	CHECK_EQ(st.st_gid, getegid());
	CHECK_EQ(st.st_size, 0);
	CHECK_TRUE(st.st_blocks * 512 <= 1 << 20);
	posix_pattern(buf, sizeof(buf), 0, 6);
	CHECK_EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
	CHECK_OK(fsync(fd));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, sizeof(buf));
	CHECK_TRUE(st.st_blocks * 512 >= (blkcnt_t)sizeof(buf));
	CHECK_TRUE(st.st_blocks * 512 <= (blkcnt_t)sizeof(buf) + (1 << 20));
	CHECK_TRUE(st.st_blksize >= 512);
	close(fd);
	/* stat by path agrees with fstat. */
	CHECK_OK(stat("f", &dst));
	CHECK_EQ(dst.st_ino, st.st_ino);
	CHECK_EQ(dst.st_dev, st.st_dev);
	CHECK_EQ(dst.st_size, st.st_size);
	CHECK_OK(mkdir("d", 0750));
	CHECK_OK(stat("d", &dst));
	CHECK_TRUE(S_ISDIR(dst.st_mode));
	CHECK_MODE(dst.st_mode & 07777, 0750);
	CHECK_EQ(dst.st_nlink, 2);
	CHECK_EQ(dst.st_uid, geteuid());
	CHECK_TRUE(dst.st_ino != st.st_ino);
}

void check_chmod(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(chmod("f", 0604));
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0604);
	CHECK_TRUE(S_ISREG(st.st_mode));
	fd = open("f", O_RDONLY);
	if (CHECK_OK(fd)) {
		CHECK_OK(fchmod(fd, 0755));
		CHECK_OK(fstat(fd, &st));
		CHECK_MODE(st.st_mode & 07777, 0755);
		close(fd);
	}
	CHECK_OK(chmod("f", 04755));
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 04755);
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(chmod("d", 01777));
	CHECK_OK(stat("d", &st));
	CHECK_MODE(st.st_mode & 07777, 01777);
	CHECK_TRUE(S_ISDIR(st.st_mode));
	CHECK_ERR(chmod("missing", 0644), ENOENT);
}

void check_chown(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(chown("f", 1234, 5678));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 1234);
	CHECK_EQ(st.st_gid, 5678);
	/* -1 leaves a field alone. */
	CHECK_OK(chown("f", -1, 4321));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 1234);
	CHECK_EQ(st.st_gid, 4321);
	fd = open("f", O_RDONLY);
	if (CHECK_OK(fd)) {
		CHECK_OK(fchown(fd, 0, 0));
		CHECK_OK(fstat(fd, &st));
		CHECK_EQ(st.st_uid, 0);
		CHECK_EQ(st.st_gid, 0);
		close(fd);
	}
	/* lchown changes the link, not its target. */
	CHECK_OK(symlink("f", "l"));
	CHECK_OK(lchown("l", 2222, 3333));
	CHECK_OK(lstat("l", &st));
	CHECK_EQ(st.st_uid, 2222);
	CHECK_EQ(st.st_gid, 3333);
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 0);
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(chown("d", 99, 98));
	CHECK_OK(stat("d", &st));
	CHECK_EQ(st.st_uid, 99);
	CHECK_EQ(st.st_gid, 98);
}

void check_chown_clears_suid(void)
{
	struct stat st;

	if (!posix_mkfile("f", "x", 1, 0755))
		return;
	CHECK_OK(chmod("f", 06755));
	CHECK_OK(chown("f", 1000, 1000));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 1000);
	CHECK_MODE(st.st_mode & 07777, 0755);
}

void check_utimensat_ns(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 },
				  { 1500000000, 987654321 } };
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	CHECK_EQ(st.st_atim.tv_nsec, 123456789);
	CHECK_EQ(st.st_mtim.tv_sec, 1500000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 987654321);
	/* Same through futimens, with times before 1970 too. */
	ts[0].tv_sec = -1000;
	ts[0].tv_nsec = 1;
	ts[1].tv_sec = 4000000000LL;
	ts[1].tv_nsec = 999999999;
	fd = open("f", O_RDONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(futimens(fd, ts));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_atim.tv_sec, -1000);
	CHECK_EQ(st.st_atim.tv_nsec, 1);
	CHECK_EQ(st.st_mtim.tv_sec, 4000000000LL);
	CHECK_EQ(st.st_mtim.tv_nsec, 999999999);
	close(fd);
	/* On a symlink itself. */
	CHECK_OK(symlink("f", "l"));
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 5;
	CHECK_OK(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	CHECK_OK(lstat("l", &st));
	CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 5);
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_mtim.tv_sec, 4000000000LL);
}

void check_utime_now(void)
{
	struct timespec past[2] = { { 1000000000, 1 }, { 1000000000, 2 } };
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	long long before, after;
	struct stat st;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(utimensat(AT_FDCWD, "f", past, 0));
	/* Kernel timestamps come from a coarse clock: allow a second. */
	before = posix_now_ns() - 1000000000LL;
	CHECK_OK(utimensat(AT_FDCWD, "f", now, 0));
	after = posix_now_ns() + 1000000000LL;
	CHECK_OK(stat("f", &st));
	CHECK_TRUE(posix_ts_ns(st.st_atim) >= before &&
		   posix_ts_ns(st.st_atim) <= after);
	CHECK_TRUE(posix_ts_ns(st.st_mtim) >= before &&
		   posix_ts_ns(st.st_mtim) <= after);
	/* NULL times means now as well. */
	CHECK_OK(utimensat(AT_FDCWD, "f", past, 0));
	CHECK_OK(utimensat(AT_FDCWD, "f", NULL, 0));
	CHECK_OK(stat("f", &st));
	CHECK_TRUE(posix_ts_ns(st.st_mtim) >= before &&
		   posix_ts_ns(st.st_mtim) <= after + 1000000000LL);
}

void check_utime_omit(void)
{
	struct timespec set[2] = { { 1100000000, 111 }, { 1200000000, 222 } };
	struct timespec ts[2];
	struct stat st;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(utimensat(AT_FDCWD, "f", set, 0));
	ts[0] = (struct timespec){ 1300000000, 333 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_atim), 1300000000LL * 1000000000 + 333);
	CHECK_EQ(posix_ts_ns(st.st_mtim), 1200000000LL * 1000000000 + 222);
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 1400000000, 444 };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_atim), 1300000000LL * 1000000000 + 333);
	CHECK_EQ(posix_ts_ns(st.st_mtim), 1400000000LL * 1000000000 + 444);
	/* Both omitted: nothing changes. */
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_mtim), 1400000000LL * 1000000000 + 444);
	/* One NOW, one explicit. */
	ts[0] = (struct timespec){ 1500000000, 555 };
	ts[1] = (struct timespec){ 0, UTIME_NOW };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_atim), 1500000000LL * 1000000000 + 555);
	CHECK_TRUE(st.st_mtim.tv_sec > 1600000000);
}

static const struct timespec posix_past[2] = { { 1000000000, 0 },
					       { 1000000000, 0 } };

/* Set @name's times far in the past; returns its ctime (ns) afterwards. */
static long long posix_set_past(const char *name)
{
	struct stat st;

	if (!CHECK_OK(utimensat(AT_FDCWD, name, posix_past, AT_SYMLINK_NOFOLLOW)))
		return 0;
	if (!CHECK_OK(lstat(name, &st)))
		return 0;
	posix_tick();
	return posix_ts_ns(st.st_ctim);
}

/* @name's mtime moved off the past and its ctime past @ctime0. */
static bool posix_expect_touched(const char *name, long long ctime0,
				 bool mtime_too, int line, const char *what)
{
	struct stat st;

	if (!posix_expect_ok(lstat(name, &st), line, name))
		return false;
	if (mtime_too && st.st_mtim.tv_sec == posix_past[1].tv_sec) {
		posix_fail("line %d: mtime of %s after %s: expected now got %lld",
			   line, name, what, (long long)st.st_mtim.tv_sec);
		return false;
	}
	if (!mtime_too && st.st_mtim.tv_sec != posix_past[1].tv_sec) {
		posix_fail("line %d: mtime of %s after %s: expected unchanged %lld got %lld",
			   line, name, what, (long long)posix_past[1].tv_sec,
			   (long long)st.st_mtim.tv_sec);
		return false;
	}
	if (posix_ts_ns(st.st_ctim) <= ctime0) {
		posix_fail("line %d: ctime of %s after %s: expected > %lld got %lld",
			   line, name, what, ctime0, posix_ts_ns(st.st_ctim));
		return false;
	}
	return true;
}
#define CHECK_TOUCHED(name, c0, what)                                          \
	posix_expect_touched((name), (c0), true, __LINE__, (what))
#define CHECK_CTIME_ONLY(name, c0, what)                                       \
	posix_expect_touched((name), (c0), false, __LINE__, (what))

void check_times_on_write(void)
{
	long long c0;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	c0 = posix_set_past("f");
	CHECK_EQ(pwrite(fd, "abc", 3, 10), 3);
	CHECK_TOUCHED("f", c0, "write");
	c0 = posix_set_past("f");
	CHECK_OK(ftruncate(fd, 2));
	CHECK_TOUCHED("f", c0, "ftruncate");
	close(fd);
	c0 = posix_set_past("f");
	fd = open("f", O_WRONLY | O_TRUNC);
	CHECK_OK(fd);
	posix_close(fd);
	CHECK_TOUCHED("f", c0, "open(O_TRUNC)");
}

void check_ctime_on_attr_change(void)
{
	long long c0;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	c0 = posix_set_past("f");
	CHECK_OK(chmod("f", 0600));
	CHECK_CTIME_ONLY("f", c0, "chmod");
	c0 = posix_set_past("f");
	CHECK_OK(chown("f", geteuid(), getegid()));
	CHECK_CTIME_ONLY("f", c0, "chown");
	c0 = posix_set_past("f");
	CHECK_OK(link("f", "g"));
	CHECK_CTIME_ONLY("f", c0, "link");
	c0 = posix_set_past("f");
	CHECK_OK(unlink("g"));
	CHECK_CTIME_ONLY("f", c0, "unlink of a second link");
	c0 = posix_set_past("f");
	CHECK_OK(rename("f", "h"));
	CHECK_CTIME_ONLY("h", c0, "rename");
	c0 = posix_set_past("h");
	CHECK_OK(setxattr("h", "user.t", "1", 1, 0));
	CHECK_CTIME_ONLY("h", c0, "setxattr");
}

void check_dir_times_on_entry_change(void)
{
	long long c0;
	int fd;

	CHECK_OK(mkdir("d", 0755));
	if (!posix_mkfile("x", "x", 1, 0644))
		return;
	c0 = posix_set_past("d");
	CHECK_OK(fd = open("d/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_TOUCHED("d", c0, "create");
	c0 = posix_set_past("d");
	CHECK_OK(mkdir("d/s", 0755));
	CHECK_TOUCHED("d", c0, "mkdir");
	c0 = posix_set_past("d");
	CHECK_OK(rename("d/f", "d/g"));
	CHECK_TOUCHED("d", c0, "rename within");
	c0 = posix_set_past("d");
	CHECK_OK(rename("x", "d/x"));
	CHECK_TOUCHED("d", c0, "rename into");
	c0 = posix_set_past("d");
	CHECK_OK(link("d/x", "d/y"));
	CHECK_TOUCHED("d", c0, "link");
	c0 = posix_set_past("d");
	CHECK_OK(symlink("x", "d/l"));
	CHECK_TOUCHED("d", c0, "symlink");
	c0 = posix_set_past("d");
	CHECK_OK(mknod("d/p", S_IFIFO | 0644, 0));
	CHECK_TOUCHED("d", c0, "mknod");
	c0 = posix_set_past("d");
	CHECK_OK(unlink("d/g"));
	CHECK_TOUCHED("d", c0, "unlink");
	c0 = posix_set_past("d");
	CHECK_OK(rmdir("d/s"));
	CHECK_TOUCHED("d", c0, "rmdir");
	c0 = posix_set_past("d");
	CHECK_OK(rename("d/x", "x"));
	CHECK_TOUCHED("d", c0, "rename out of");
}

/* ---- concurrency, setuid and setgid ------------------------------------------- */

enum { POSIX_APP_PROCS = 4, POSIX_APP_RECS = 250, POSIX_APP_REC = 64 };

static void posix_append_child(void *arg)
{
	int id = (int)(intptr_t)arg, j, fd;
	char rec[POSIX_APP_REC];

	fd = open("f", O_WRONLY | O_APPEND);
	if (!CHECK_OK(fd))
		return;
	for (j = 0; j < POSIX_APP_RECS; j++) {
		int n = snprintf(rec, sizeof(rec), "%d:%04d:", id, j);

		memset(rec + n, 'a' + id, sizeof(rec) - n - 1);
		rec[sizeof(rec) - 1] = '\n';
		if (!CHECK_EQ(write(fd, rec, sizeof(rec)), sizeof(rec)))
			break;
	}
	close(fd);
}

/* O_APPEND writes from several processes never overwrite each other. */
void check_o_append_concurrent(void)
{
	enum { TOTAL = POSIX_APP_PROCS * POSIX_APP_RECS * POSIX_APP_REC };
	static int seen[POSIX_APP_PROCS][POSIX_APP_RECS];
	char *buf = malloc(TOTAL + 1);
	pid_t pids[POSIX_APP_PROCS];
	int i, j, id, rec;
	ssize_t got;

	memset(seen, 0, sizeof(seen));
	if (!CHECK_TRUE(buf) || !posix_mkfile("f", "", 0, 0644))
		goto out;
	for (i = 0; i < POSIX_APP_PROCS; i++)
		pids[i] = posix_spawn(posix_append_child, (void *)(intptr_t)i);
	for (i = 0; i < POSIX_APP_PROCS; i++)
		posix_reap(pids[i]);
	if (posix_res->failed)
		goto out;
	{
		int fd = open("f", O_RDONLY);

		if (!CHECK_OK(fd))
			goto out;
		got = posix_pread_all(fd, buf, TOTAL + 1, 0);
		close(fd);
	}
	if (!CHECK_EQ(got, TOTAL))
		goto out;
	for (i = 0; i < TOTAL; i += POSIX_APP_REC) {
		char *r = buf + i;

		if (sscanf(r, "%d:%d:", &id, &rec) != 2 || id < 0 ||
		    id >= POSIX_APP_PROCS || rec < 0 || rec >= POSIX_APP_RECS ||
		    r[POSIX_APP_REC - 1] != '\n' ||
		    r[POSIX_APP_REC - 2] != 'a' + id) {
			posix_fail("record at offset %d: expected \"ID:NNNN:...\\n\" got \"%.20s...\"",
				   i, r);
			goto out;
		}
		seen[id][rec]++;
	}
	for (i = 0; i < POSIX_APP_PROCS; i++)
		for (j = 0; j < POSIX_APP_RECS; j++)
			if (seen[i][j] != 1)
				posix_fail("record %d:%04d: expected once got %d times",
					   i, j, seen[i][j]);
out:
	free(buf);
}

/* A setgid directory hands its group down, and its setgid bit to subdirs. */
void check_setgid_dir(void)
{
	struct stat st;
	int fd;

	CHECK_OK(mkdir("g", 0755));
	CHECK_OK(chown("g", 0, 1234));
	CHECK_OK(chmod("g", 02775));
	CHECK_OK(stat("g", &st));
	CHECK_MODE(st.st_mode & 07777, 02775);
	CHECK_OK(fd = open("g/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(stat("g/f", &st));
	CHECK_EQ(st.st_gid, 1234);
	CHECK_MODE(st.st_mode & 07777, 0644);
	CHECK_OK(mkdir("g/sub", 0755));
	CHECK_OK(stat("g/sub", &st));
	CHECK_EQ(st.st_gid, 1234);
	CHECK_TRUE(st.st_mode & S_ISGID);
	CHECK_OK(mknod("g/p", S_IFIFO | 0644, 0));
	CHECK_OK(stat("g/p", &st));
	CHECK_EQ(st.st_gid, 1234);
	CHECK_OK(symlink("f", "g/l"));
	CHECK_OK(lstat("g/l", &st));
	CHECK_EQ(st.st_gid, 1234);
}

static void posix_suid_writer(void *arg)
{
	int fd;

	(void)arg;
	if (!posix_become_nobody())
		return;
	fd = open("f", O_WRONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "y", 1), 1);
	close(fd);
	CHECK_OK(truncate("g", 0));
}

/* Writing or truncating as an unprivileged user drops setuid/setgid. */
void check_write_clears_suid(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_mkfile("g", "x", 1, 0644) ||
	    !posix_mkfile("h", "x", 1, 0644))
		return;
	CHECK_OK(chmod("f", 06777));
	CHECK_OK(chmod("g", 06777));
	CHECK_OK(chmod("h", 06755));
	posix_reap(posix_spawn(posix_suid_writer, NULL));
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0777);
	CHECK_OK(stat("g", &st));
	CHECK_MODE(st.st_mode & 07777, 0777);
	CHECK_EQ(st.st_size, 0);
	/* Root (CAP_FSETID) keeps them. */
	fd = open("h", O_WRONLY);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, "y", 1), 1);
		close(fd);
	}
	CHECK_OK(stat("h", &st));
	CHECK_MODE(st.st_mode & 07777, 06755);
}
