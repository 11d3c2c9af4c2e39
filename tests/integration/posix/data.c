/* SPDX-License-Identifier: MIT */
/*
 * data.c - checks of extended attributes, allocation and holes
 * (fallocate, SEEK_DATA/SEEK_HOLE), copy_file_range, statvfs and readdir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "check.h"

/* ---- xattrs -------------------------------------------------------------------- */

/* Is @name in the NUL-separated @list of @len bytes? */
static bool posix_xattr_listed(const char *list, ssize_t len, const char *name)
{
	ssize_t i = 0;

	while (i < len) {
		if (strcmp(list + i, name) == 0)
			return true;
		i += strlen(list + i) + 1;
	}
	return false;
}

void check_xattr(void)
{
	char buf[8192], big[4000];
	ssize_t n;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	if (!CHECK_OK(setxattr("f", "user.a", "v1", 2, XATTR_CREATE)))
		return;
	CHECK_ERR(setxattr("f", "user.a", "v2", 2, XATTR_CREATE), EEXIST);
	CHECK_ERR(setxattr("f", "user.b", "v2", 2, XATTR_REPLACE), ENODATA);
	CHECK_EQ(getxattr("f", "user.a", NULL, 0), 2);	/* size query */
	CHECK_ERR(getxattr("f", "user.a", buf, 1), ERANGE);
	CHECK_EQ(getxattr("f", "user.a", buf, sizeof(buf)), 2);
	CHECK_MEM(buf, "v1", 2);
	CHECK_OK(setxattr("f", "user.a", "value-3", 7, XATTR_REPLACE));
	CHECK_EQ(getxattr("f", "user.a", buf, sizeof(buf)), 7);
	CHECK_MEM(buf, "value-3", 7);
	CHECK_OK(setxattr("f", "user.empty", "", 0, 0));
	CHECK_EQ(getxattr("f", "user.empty", buf, sizeof(buf)), 0);
	posix_pattern(big, sizeof(big), 0, 7);
	CHECK_OK(setxattr("f", "user.big", big, sizeof(big), 0));
	CHECK_EQ(getxattr("f", "user.big", buf, sizeof(buf)), sizeof(big));
	CHECK_MEM(buf, big, sizeof(big));
	CHECK_ERR(getxattr("f", "user.missing", buf, sizeof(buf)), ENODATA);
	/* listxattr: size query, ERANGE, then the names. */
	n = listxattr("f", NULL, 0);
	CHECK_TRUE(n >= (ssize_t)sizeof("user.a\0user.empty\0user.big"));
	CHECK_ERR(listxattr("f", buf, 3), ERANGE);
	n = listxattr("f", buf, sizeof(buf));
	if (CHECK_OK(n)) {
		CHECK_TRUE(posix_xattr_listed(buf, n, "user.a"));
		CHECK_TRUE(posix_xattr_listed(buf, n, "user.empty"));
		CHECK_TRUE(posix_xattr_listed(buf, n, "user.big"));
	}
	CHECK_OK(removexattr("f", "user.a"));
	CHECK_ERR(removexattr("f", "user.a"), ENODATA);
	CHECK_ERR(getxattr("f", "user.a", buf, sizeof(buf)), ENODATA);
	n = listxattr("f", buf, sizeof(buf));
	if (CHECK_OK(n))
		CHECK_TRUE(!posix_xattr_listed(buf, n, "user.a"));
	/* On a directory, and through an fd. */
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(setxattr("d", "user.dir", "D", 1, 0));
	CHECK_EQ(getxattr("d", "user.dir", buf, sizeof(buf)), 1);
	CHECK_ERR(getxattr("missing", "user.a", buf, sizeof(buf)), ENOENT);
}

void check_xattr_trusted(void)
{
	char buf[256];
	ssize_t n;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	if (!CHECK_OK(setxattr("f", "trusted.t", "tv", 2, XATTR_CREATE)))
		return;
	CHECK_EQ(getxattr("f", "trusted.t", buf, sizeof(buf)), 2);
	CHECK_MEM(buf, "tv", 2);
	n = listxattr("f", buf, sizeof(buf));
	if (CHECK_OK(n))
		CHECK_TRUE(posix_xattr_listed(buf, n, "trusted.t"));
	CHECK_OK(removexattr("f", "trusted.t"));
	CHECK_ERR(getxattr("f", "trusted.t", buf, sizeof(buf)), ENODATA);
}

/* ---- allocation, holes, copies ------------------------------------------------ */

void check_fallocate_mode0(void)
{
	enum { N = 1 << 20 };
	char *buf = malloc(N);
	struct stat st;
	int fd = -1;

	if (!CHECK_TRUE(buf))
		goto out;
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	if (!CHECK_OK(fallocate(fd, 0, 0, N)))
		goto out;
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, N);
	CHECK_TRUE(st.st_blocks * 512 >= N);
	CHECK_EQ(posix_pread_all(fd, buf, N, 0), N);
	CHECK_TRUE(posix_all_zero(buf, N));
	/* Allocating inside the file changes neither size nor data. */
	CHECK_EQ(pwrite(fd, "data", 4, 1000), 4);
	CHECK_OK(fallocate(fd, 0, 0, 4096));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, N);
	CHECK_EQ(pread(fd, buf, 4, 1000), 4);
	CHECK_MEM(buf, "data", 4);
	CHECK_ERR(fallocate(fd, 0, 0, 0), EINVAL);
out:
	posix_close(fd);
	free(buf);
}

void check_fallocate_keep_size(void)
{
	char want[100], got[200];
	struct stat st;
	int fd;

	posix_pattern(want, sizeof(want), 0, 8);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, want, sizeof(want)), sizeof(want));
	if (CHECK_OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20))) {
		CHECK_OK(fstat(fd, &st));
		CHECK_EQ(st.st_size, sizeof(want));
		CHECK_EQ(pread(fd, got, sizeof(got), 0), sizeof(want));
		CHECK_MEM(got, want, sizeof(want));
		CHECK_EQ(pread(fd, got, sizeof(got), 100), 0);
	}
	close(fd);
}

void check_punch_hole(void)
{
	enum { N = 1 << 20, H0 = 256 << 10, H1 = 768 << 10 };
	char *want = malloc(N), *got = malloc(N);
	struct stat st0, st1;
	int fd = -1;

	if (!CHECK_TRUE(want && got))
		goto out;
	memset(want, 0xab, N);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(posix_pwrite_all(fd, want, N, 0), N);
	CHECK_OK(fsync(fd));
	CHECK_OK(fstat(fd, &st0));
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, H0, H1 - H0), EOPNOTSUPP);
	if (!CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				H0, H1 - H0)))
		goto out;
	CHECK_OK(fstat(fd, &st1));
	CHECK_EQ(st1.st_size, N);
	memset(want + H0, 0, H1 - H0);
	CHECK_EQ(posix_pread_all(fd, got, N, 0), N);
	CHECK_MEM(got, want, N);
	/* Unaligned punch zeroes exactly the bytes asked for. */
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   100, 50));
	memset(want + 100, 0, 50);
	CHECK_EQ(posix_pread_all(fd, got, N, 0), N);
	CHECK_MEM(got, want, N);
	/* Beyond EOF: nothing changes, the size stays. */
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   N - 10, 100));
	CHECK_OK(fstat(fd, &st1));
	CHECK_EQ(st1.st_size, N);
	memset(want + N - 10, 0, 10);
	CHECK_EQ(posix_pread_all(fd, got, N, 0), N);
	CHECK_MEM(got, want, N);
out:
	posix_close(fd);
	free(want);
	free(got);
}

/*
 * A punched hole gives its space back, as st_blocks shows. Skipped where
 * the file system reports st_blocks from the size (POSIX_SIZE_BLOCKS=1:
 * the valorfs cluster backend does not track allocation per file).
 */
void check_punch_hole_blocks(void)
{
	enum { N = 1 << 20, H0 = 256 << 10, H1 = 768 << 10 };
	char *buf = malloc(N);
	struct stat st0, st1;
	int fd = -1;

	if (getenv("POSIX_SIZE_BLOCKS")) {
		posix_skip("st_blocks follows the size here "
			   "(POSIX_SIZE_BLOCKS is set)");
		free(buf);
		return;
	}
	if (!CHECK_TRUE(buf))
		goto out;
	memset(buf, 0xab, N);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(posix_pwrite_all(fd, buf, N, 0), N);
	CHECK_OK(fsync(fd));
	CHECK_OK(fstat(fd, &st0));
	if (!CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				H0, H1 - H0)))
		goto out;
	CHECK_OK(fstat(fd, &st1));
	CHECK_TRUE(st1.st_blocks < st0.st_blocks);
out:
	posix_close(fd);
	free(buf);
}

void check_seek_data_hole(void)
{
	enum { CHUNK = 64 << 10 };
	const off_t second = 16 << 20, eof = (16 << 20) + CHUNK;
	char *buf = malloc(CHUNK);
	off_t hole, data;
	int fd = -1;

	if (!CHECK_TRUE(buf))
		goto out;
	posix_pattern(buf, CHUNK, 0, 9);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(pwrite(fd, buf, CHUNK, 0), CHUNK);
	CHECK_EQ(pwrite(fd, buf, CHUNK, second), CHUNK);
	CHECK_OK(fsync(fd));
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 0);
	hole = lseek(fd, 0, SEEK_HOLE);
	if (!CHECK_OK(hole))
		goto out;
	if (hole < CHUNK || hole >= second) {
		posix_fail("SEEK_HOLE from 0: expected in [%d, %lld) got %lld",
			   CHUNK, (long long)second, (long long)hole);
		goto out;
	}
	data = lseek(fd, hole, SEEK_DATA);
	CHECK_TRUE(data > hole && data <= second);
	data = lseek(fd, 1 << 20, SEEK_DATA);
	CHECK_TRUE(data >= 1 << 20 && data <= second);
	CHECK_EQ(lseek(fd, second, SEEK_HOLE), eof);
	CHECK_ERR(lseek(fd, eof, SEEK_DATA), ENXIO);
	CHECK_ERR(lseek(fd, eof, SEEK_HOLE), ENXIO);
	CHECK_ERR(lseek(fd, eof + 4096, SEEK_DATA), ENXIO);
	CHECK_ERR(lseek(fd, -1, SEEK_DATA), ENXIO);
out:
	posix_close(fd);
	free(buf);
}

void check_copy_file_range(void)
{
	enum { N = 300 * 1024, IN = 1000, OUT = 5000, LEN = 200000 };
	char *src = malloc(N), *got = malloc(N);
	loff_t in = IN, out = OUT;
	size_t done = 0;
	int fi = -1, fo = -1;
	struct stat st;
	ssize_t r;

	if (!CHECK_TRUE(src && got))
		goto out_free;
	posix_pattern(src, N, 0, 10);
	if (!posix_mkfile("src", src, N, 0644))
		goto out_free;
	fi = open("src", O_RDONLY);
	fo = open("dst", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fi) || !CHECK_OK(fo))
		goto out;
	while (done < LEN) {
		r = copy_file_range(fi, &in, fo, &out, LEN - done, 0);
		if (!CHECK_OK(r) || !CHECK_TRUE(r > 0))
			goto out;
		done += r;
	}
	CHECK_EQ(in, IN + LEN);
	CHECK_EQ(out, OUT + LEN);
	CHECK_EQ(lseek(fi, 0, SEEK_CUR), 0);	/* explicit offsets used */
	CHECK_EQ(lseek(fo, 0, SEEK_CUR), 0);
	CHECK_OK(fstat(fo, &st));
	CHECK_EQ(st.st_size, OUT + LEN);
	CHECK_EQ(posix_pread_all(fo, got, N, 0), OUT + LEN);
	CHECK_TRUE(posix_all_zero(got, OUT));
	CHECK_MEM(got + OUT, src + IN, LEN);
	/* Past the source's EOF there is nothing to copy. */
	in = N;
	CHECK_EQ(copy_file_range(fi, &in, fo, NULL, 100, 0), 0);
out:
	posix_close(fi);
	posix_close(fo);
out_free:
	free(src);
	free(got);
}

void check_statvfs(void)
{
	struct statvfs sv, fsv;
	int fd;

	if (!CHECK_OK(statvfs(".", &sv)))
		return;
	CHECK_TRUE(sv.f_bsize > 0);
	CHECK_TRUE(sv.f_frsize > 0);
	CHECK_TRUE(sv.f_blocks > 0);
	CHECK_TRUE(sv.f_bfree <= sv.f_blocks);
	CHECK_TRUE(sv.f_bavail <= sv.f_bfree);
	CHECK_TRUE(sv.f_ffree <= sv.f_files);
	CHECK_TRUE(sv.f_favail <= sv.f_files);
	CHECK_EQ(sv.f_namemax, 255);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstatvfs(fd, &fsv));
	CHECK_EQ(fsv.f_fsid, sv.f_fsid);
	CHECK_EQ(fsv.f_blocks, sv.f_blocks);
	close(fd);
}

/* ---- readdir ------------------------------------------------------------------ */

void check_readdir_exact(void)
{
	static const struct {
		const char *name;
		unsigned char type;
	} want[] = {
		{ ".", DT_DIR }, { "..", DT_DIR }, { "a", DT_REG },
		{ "b", DT_REG }, { "c", DT_REG }, { "dir", DT_DIR },
		{ "link", DT_LNK }, { "fifo", DT_FIFO },
	};
	enum { NW = sizeof(want) / sizeof(want[0]) };
	int seen[NW] = { 0 };
	struct dirent *de;
	struct stat st;
	unsigned i;
	DIR *d;
	int fd;

	CHECK_OK(mkdir("t", 0755));
	CHECK_OK(fd = open("t/a", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(fd = open("t/b", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(fd = open("t/c", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(fd = open("t/gone", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(mkdir("t/dir", 0755));
	CHECK_OK(symlink("a", "t/link"));
	CHECK_OK(mkfifo("t/fifo", 0644));
	CHECK_OK(unlink("t/gone"));
	d = opendir("t");
	if (!CHECK_TRUE(d != NULL))
		return;
	while ((de = readdir(d))) {
		char path[300];

		for (i = 0; i < NW; i++)
			if (strcmp(de->d_name, want[i].name) == 0)
				break;
		if (i == NW) {
			posix_fail("readdir: expected no entry \"%s\" got one",
				   de->d_name);
			continue;
		}
		seen[i]++;
		if (de->d_type != DT_UNKNOWN && de->d_type != want[i].type)
			posix_fail("readdir: d_type of %s: expected %d got %d",
				   de->d_name, want[i].type, de->d_type);
		if (i < 2)
			continue;
		snprintf(path, sizeof(path), "t/%s", de->d_name);
		if (CHECK_OK(lstat(path, &st)) && st.st_ino != de->d_ino)
			posix_fail("readdir: d_ino of %s: expected %llu (st_ino) got %llu",
				   de->d_name, (unsigned long long)st.st_ino,
				   (unsigned long long)de->d_ino);
	}
	closedir(d);
	for (i = 0; i < NW; i++)
		if (seen[i] != 1)
			posix_fail("readdir: entry \"%s\": expected seen once got %d times",
				   want[i].name, seen[i]);
}

enum {
	POSIX_CHURN_KEEP = 2000,	/* present throughout */
	POSIX_CHURN_TMP = 500,		/* deleted during the listing */
	POSIX_CHURN_NEW = 2000,		/* created during the listing */
	POSIX_CHURN_STEP = 5,		/* tmp deleted and new made per call */
};

struct posix_churn {
	int keep[POSIX_CHURN_KEEP];
	int tmp[POSIX_CHURN_TMP];
	int new[POSIX_CHURN_NEW];
	int dots;
};

/* Count one listed name; unknown names are failures. */
static void posix_churn_count(struct posix_churn *c, const char *name)
{
	int i;

	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		c->dots++;
		return;
	}
	if (sscanf(name, "keep%d", &i) == 1 && i >= 0 && i < POSIX_CHURN_KEEP)
		c->keep[i]++;
	else if (sscanf(name, "tmp%d", &i) == 1 && i >= 0 && i < POSIX_CHURN_TMP)
		c->tmp[i]++;
	else if (sscanf(name, "new%d", &i) == 1 && i >= 0 && i < POSIX_CHURN_NEW)
		c->new[i]++;
	else
		posix_fail("readdir: expected no entry \"%s\" got one", name);
}

/*
 * List big/ with getdents64 into 512-byte buffers from the start; when
 * @churn, delete tmp entries and create new ones between calls.
 * Returns the number of new entries created.
 */
static int posix_churn_list(struct posix_churn *c, int dfd, bool churn,
			    int *next_tmp, int nnew)
{
	char buf[512], name[64];
	long pos, r;
	int i, fd;

	memset(c, 0, sizeof(*c));
	if (!CHECK_EQ(lseek(dfd, 0, SEEK_SET), 0))
		return nnew;
	for (;;) {
		r = getdents64(dfd, buf, sizeof(buf));
		if (!CHECK_OK(r) || r == 0)
			break;
		for (pos = 0; pos < r;) {
			struct dirent64 *de = (struct dirent64 *)(buf + pos);

			posix_churn_count(c, de->d_name);
			pos += de->d_reclen;
		}
		for (i = 0; churn && i < POSIX_CHURN_STEP; i++) {
			if (*next_tmp < POSIX_CHURN_TMP) {
				snprintf(name, sizeof(name), "big/tmp%d",
					 (*next_tmp)++);
				CHECK_OK(unlink(name));
			}
			if (nnew < POSIX_CHURN_NEW) {
				snprintf(name, sizeof(name), "big/new%d",
					 nnew++);
				CHECK_OK(fd = open(name, O_CREAT | O_WRONLY,
						   0644));
				posix_close(fd);
			}
		}
	}
	return nnew;
}

void check_readdir_churn(void)
{
	struct posix_churn *c = calloc(1, sizeof(*c));
	int i, fd, dfd = -1, next_tmp = 0, nnew = 0;
	char name[64];

	if (!CHECK_TRUE(c))
		return;
	CHECK_OK(mkdir("big", 0755));
	for (i = 0; i < POSIX_CHURN_KEEP + POSIX_CHURN_TMP; i++) {
		if (i < POSIX_CHURN_KEEP)
			snprintf(name, sizeof(name), "big/keep%d", i);
		else
			snprintf(name, sizeof(name), "big/tmp%d",
				 i - POSIX_CHURN_KEEP);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (!CHECK_OK(fd))
			goto out;
		close(fd);
	}
	dfd = open("big", O_RDONLY | O_DIRECTORY);
	if (!CHECK_OK(dfd))
		goto out;
	nnew = posix_churn_list(c, dfd, true, &next_tmp, 0);
	CHECK_EQ(c->dots, 2);
	for (i = 0; i < POSIX_CHURN_KEEP; i++)
		if (c->keep[i] != 1)
			posix_fail("readdir with churn: keep%d: expected seen once got %d times",
				   i, c->keep[i]);
	for (i = 0; i < POSIX_CHURN_TMP; i++)
		if (c->tmp[i] > 1)
			posix_fail("readdir with churn: tmp%d: expected seen at most once got %d times",
				   i, c->tmp[i]);
	for (i = 0; i < nnew; i++)
		if (c->new[i] > 1)
			posix_fail("readdir with churn: new%d: expected seen at most once got %d times",
				   i, c->new[i]);
	/* A quiet listing afterwards shows exactly what exists. */
	posix_churn_list(c, dfd, false, &next_tmp, nnew);
	CHECK_EQ(c->dots, 2);
	for (i = 0; i < POSIX_CHURN_KEEP; i++)
		if (c->keep[i] != 1)
			posix_fail("readdir after churn: keep%d: expected seen once got %d times",
				   i, c->keep[i]);
	for (i = 0; i < POSIX_CHURN_TMP; i++)
		if (c->tmp[i] != (i >= next_tmp))
			posix_fail("readdir after churn: tmp%d: expected seen %d times got %d",
				   i, i >= next_tmp, c->tmp[i]);
	for (i = 0; i < nnew; i++)
		if (c->new[i] != 1)
			posix_fail("readdir after churn: new%d: expected seen once got %d times",
				   i, c->new[i]);
out:
	posix_close(dfd);
	free(c);
}

/* telldir/seekdir: going back to a position gives the same entries again. */
void check_readdir_seekdir(void)
{
	enum { FILES = 300, SKIP_N = 100, AGAIN = 50 };
	char first[AGAIN][256], name[64];
	struct dirent *de;
	int i, fd, total = 0;
	long pos;
	DIR *d;

	CHECK_OK(mkdir("t", 0755));
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "t/file%03d", i);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (!CHECK_OK(fd))
			return;
		close(fd);
	}
	d = opendir("t");
	if (!CHECK_TRUE(d != NULL))
		return;
	for (i = 0; i < SKIP_N && readdir(d); i++)
		;
	pos = telldir(d);
	for (i = 0; i < AGAIN && (de = readdir(d)); i++)
		snprintf(first[i], sizeof(first[i]), "%s", de->d_name);
	CHECK_EQ(i, AGAIN);
	seekdir(d, pos);
	for (i = 0; i < AGAIN && (de = readdir(d)); i++) {
		if (strcmp(de->d_name, first[i])) {
			posix_fail("entry %d after seekdir: expected \"%s\" got \"%s\"",
				   SKIP_N + i, first[i], de->d_name);
			break;
		}
	}
	CHECK_EQ(i, AGAIN);
	rewinddir(d);
	while (readdir(d))
		total++;
	CHECK_EQ(total, FILES + 2);
	closedir(d);
}
