/* SPDX-License-Identifier: MIT */
/*
 * names.c - checks of directories and names: mkdir/rmdir/unlink, name
 * length, symlinks, hard links, rename and renameat2, EXDEV, and the special
 * files (FIFOs, sockets, device nodes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* ---- directories and names ------------------------------------------------- */

void check_mkdir_rmdir(void)
{
	struct stat st, p0, p1;
	int fd;

	CHECK_OK(stat(".", &p0));
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(stat("d", &st));
	CHECK_TRUE(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_nlink, 2);
	CHECK_OK(stat(".", &p1));
	CHECK_EQ(p1.st_nlink, p0.st_nlink + 1);
	CHECK_ERR(mkdir("d", 0755), EEXIST);
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_ERR(mkdir("f", 0755), EEXIST);
	CHECK_ERR(mkdir("missing/x", 0755), ENOENT);
	CHECK_ERR(mkdir("f/x", 0755), ENOTDIR);
	CHECK_OK(fd = open("d/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_ERR(rmdir("d"), ENOTEMPTY);
	CHECK_OK(unlink("d/f"));
	CHECK_OK(mkdir("d/s", 0755));
	CHECK_OK(stat("d", &st));
	CHECK_EQ(st.st_nlink, 3);
	CHECK_ERR(rmdir("d"), ENOTEMPTY);
	CHECK_OK(rmdir("d/s"));
	CHECK_OK(stat("d", &st));
	CHECK_EQ(st.st_nlink, 2);
	CHECK_OK(rmdir("d"));
	CHECK_ERR(stat("d", &st), ENOENT);
	CHECK_OK(stat(".", &p1));
	CHECK_EQ(p1.st_nlink, p0.st_nlink);
	CHECK_ERR(rmdir("d"), ENOENT);
	CHECK_ERR(rmdir("."), EINVAL);
	/* A name freed by rmdir can be reused at once. */
	CHECK_OK(mkdir("d", 0700));
	CHECK_OK(stat("d", &st));
	CHECK_MODE(st.st_mode & 07777, 0700);
}

void check_unlink_dir(void)
{
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(unlink("d"), EISDIR);
	CHECK_ERR(unlink("missing"), ENOENT);
	CHECK_OK(access("d", F_OK));
}

void check_rmdir_file(void)
{
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_ERR(rmdir("f"), ENOTDIR);
	CHECK_OK(symlink(".", "l"));
	CHECK_ERR(rmdir("l"), ENOTDIR);
	CHECK_OK(access("f", F_OK));
}

void check_name_max(void)
{
	char n255[256], n256[257];
	struct stat st;
	int fd;

	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	fd = open(n255, O_CREAT | O_WRONLY, 0644);
	if (CHECK_OK(fd))
		close(fd);
	CHECK_OK(stat(n255, &st));
	CHECK_OK(unlink(n255));
	CHECK_OK(mkdir(n255, 0755));
	CHECK_OK(rmdir(n255));
	CHECK_OK(symlink("target", n255));
	CHECK_OK(unlink(n255));
	CHECK_ERR(fd = open(n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	posix_close(fd);
	CHECK_ERR(stat(n256, &st), ENAMETOOLONG);
	CHECK_ERR(mkdir(n256, 0755), ENAMETOOLONG);
	CHECK_ERR(symlink("target", n256), ENAMETOOLONG);
	if (posix_mkfile("f", "x", 1, 0644)) {
		CHECK_ERR(rename("f", n256), ENAMETOOLONG);
		CHECK_ERR(link("f", n256), ENAMETOOLONG);
	}
}

void check_symlink(void)
{
	char buf[4096];
	struct stat st, tst;
	int fd;

	CHECK_OK(symlink("some/target", "l"));
	CHECK_EQ(readlink("l", buf, sizeof(buf)), 11);
	CHECK_MEM(buf, "some/target", 11);
	CHECK_OK(lstat("l", &st));
	CHECK_TRUE(S_ISLNK(st.st_mode));
	CHECK_EQ(st.st_size, 11);
	CHECK_ERR(stat("l", &st), ENOENT);	/* dangling */
	CHECK_ERR(symlink("x", "l"), EEXIST);
	/* readlink truncates silently to the buffer. */
	CHECK_EQ(readlink("l", buf, 4), 4);
	CHECK_MEM(buf, "some", 4);
	if (!posix_mkfile("t", "target data", 11, 0644))
		return;
	CHECK_ERR(readlink("t", buf, sizeof(buf)), EINVAL);
	CHECK_OK(symlink("t", "lt"));
	CHECK_OK(stat("lt", &st));
	CHECK_OK(stat("t", &tst));
	CHECK_EQ(st.st_ino, tst.st_ino);
	CHECK_CONTENT("lt", "target data", 11);
	CHECK_ERR(fd = open("lt", O_RDONLY | O_NOFOLLOW), ELOOP);
	posix_close(fd);
	/* Relative targets resolve from the link's directory. */
	CHECK_OK(mkdir("sub", 0755));
	CHECK_OK(symlink("../t", "sub/up"));
	CHECK_CONTENT("sub/up", "target data", 11);
	CHECK_OK(symlink("sub", "ldir"));
	CHECK_CONTENT("ldir/up", "target data", 11);
	/* Unlinking the link leaves the target. */
	CHECK_OK(unlink("lt"));
	CHECK_OK(stat("t", &tst));
}

void check_symlink_long_target(void)
{
	char target[4096], buf[4096];
	struct stat st;

	memset(target, 'x', 4095);
	target[4095] = 0;
	for (int i = 100; i < 4095; i += 100)
		target[i] = '/';
	CHECK_OK(symlink(target, "l"));
	CHECK_EQ(readlink("l", buf, sizeof(buf)), 4095);
	CHECK_MEM(buf, target, 4095);
	CHECK_OK(lstat("l", &st));
	CHECK_EQ(st.st_size, 4095);
}

void check_symlink_loop(void)
{
	struct stat st;
	int fd;

	CHECK_OK(symlink("b", "a"));
	CHECK_OK(symlink("a", "b"));
	CHECK_OK(symlink("self", "self"));
	CHECK_ERR(fd = open("a", O_RDONLY), ELOOP);
	posix_close(fd);
	CHECK_ERR(fd = open("self", O_CREAT | O_WRONLY, 0644), ELOOP);
	posix_close(fd);
	CHECK_ERR(stat("a", &st), ELOOP);
	CHECK_OK(lstat("a", &st));
	CHECK_TRUE(S_ISLNK(st.st_mode));
}

void check_hardlink(void)
{
	struct stat fs, gs;
	int fd;

	if (!posix_mkfile("f", "one", 3, 0644))
		return;
	CHECK_OK(stat("f", &fs));
	CHECK_EQ(fs.st_nlink, 1);
	CHECK_OK(link("f", "g"));
	CHECK_OK(stat("f", &fs));
	CHECK_OK(stat("g", &gs));
	CHECK_EQ(fs.st_nlink, 2);
	CHECK_EQ(gs.st_nlink, 2);
	CHECK_EQ(gs.st_ino, fs.st_ino);
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(link("f", "d/h"));
	CHECK_OK(stat("d/h", &gs));
	CHECK_EQ(gs.st_nlink, 3);
	/* Data written through one name is read through another. */
	fd = open("g", O_WRONLY | O_TRUNC);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, "shared", 6), 6);
		close(fd);
	}
	CHECK_CONTENT("d/h", "shared", 6);
	CHECK_OK(unlink("f"));
	CHECK_OK(stat("g", &gs));
	CHECK_EQ(gs.st_nlink, 2);
	CHECK_OK(unlink("d/h"));
	CHECK_OK(stat("g", &gs));
	CHECK_EQ(gs.st_nlink, 1);
	CHECK_CONTENT("g", "shared", 6);
	CHECK_ERR(link("g", "g"), EEXIST);
	CHECK_ERR(link("missing", "m"), ENOENT);
	CHECK_ERR(link("d", "d2"), EPERM);
}

void check_rename_file_replace(void)
{
	struct stat a, b;
	char buf[8];
	int fd;

	if (!posix_mkfile("a", "AAAA", 4, 0644) ||
	    !posix_mkfile("b", "BB", 2, 0644))
		return;
	CHECK_OK(stat("a", &a));
	fd = open("b", O_RDONLY);	/* the replaced file stays readable */
	CHECK_OK(fd);
	CHECK_OK(rename("a", "b"));
	CHECK_ERR(stat("a", &b), ENOENT);
	CHECK_OK(stat("b", &b));
	CHECK_EQ(b.st_ino, a.st_ino);
	CHECK_EQ(b.st_nlink, 1);
	CHECK_CONTENT("b", "AAAA", 4);
	if (fd >= 0) {
		CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 2);
		CHECK_MEM(buf, "BB", 2);
		close(fd);
	}
	/* Into another directory, and onto itself (a no-op). */
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(rename("b", "d/c"));
	CHECK_CONTENT("d/c", "AAAA", 4);
	CHECK_OK(rename("d/c", "d/c"));
	CHECK_CONTENT("d/c", "AAAA", 4);
	CHECK_ERR(rename("missing", "x"), ENOENT);
}

void check_rename_hardlink_noop(void)
{
	if (!posix_mkfile("a", "A", 1, 0644))
		return;
	CHECK_OK(link("a", "b"));
	/* Both names of one inode: POSIX says do nothing, successfully. */
	CHECK_OK(rename("a", "b"));
	CHECK_OK(access("a", F_OK));
	CHECK_OK(access("b", F_OK));
}

void check_rename_dir_to_empty_dir(void)
{
	struct stat st, p0;
	int fd;

	CHECK_OK(mkdir("d1", 0755));
	CHECK_OK(mkdir("d1/sub", 0755));
	CHECK_OK(fd = open("d1/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(mkdir("d2", 0755));
	CHECK_OK(stat(".", &p0));
	CHECK_OK(rename("d1", "d2"));
	CHECK_ERR(stat("d1", &st), ENOENT);
	CHECK_OK(stat("d2/f", &st));
	CHECK_OK(stat("d2/sub", &st));
	CHECK_OK(stat("d2", &st));
	CHECK_EQ(st.st_nlink, 3);
	CHECK_OK(stat(".", &st));
	CHECK_EQ(st.st_nlink, p0.st_nlink - 1);
	/* A moved directory's ".." follows it. */
	CHECK_OK(mkdir("p", 0755));
	CHECK_OK(rename("d2", "p/d"));
	CHECK_OK(stat("p", &p0));
	CHECK_EQ(p0.st_nlink, 3);
	CHECK_OK(stat("p/d/..", &st));
	CHECK_EQ(st.st_ino, p0.st_ino);
	CHECK_OK(stat("p/d/sub/../f", &st));
}

void check_rename_dir_nonempty(void)
{
	int fd;

	CHECK_OK(mkdir("d1", 0755));
	CHECK_OK(mkdir("d2", 0755));
	CHECK_OK(fd = open("d2/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_ERR(rename("d1", "d2"), ENOTEMPTY);
	CHECK_OK(access("d1", F_OK));
	CHECK_OK(access("d2/f", F_OK));
}

void check_rename_file_to_dir(void)
{
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(rename("f", "d"), EISDIR);
	CHECK_OK(access("f", F_OK));
}

void check_rename_dir_to_file(void)
{
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(rename("d", "f"), ENOTDIR);
	CHECK_CONTENT("f", "x", 1);
}

void check_rename_into_subtree(void)
{
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(mkdir("d/s", 0755));
	CHECK_ERR(rename("d", "d/s/x"), EINVAL);
	CHECK_ERR(rename("d", "d/x"), EINVAL);
	CHECK_OK(access("d/s", F_OK));
	CHECK_OK(rename("d", "d"));	/* onto itself: a no-op */
}

void check_renameat2_noreplace(void)
{
	if (!posix_mkfile("a", "A", 1, 0644) || !posix_mkfile("b", "B", 1, 0644))
		return;
	CHECK_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE),
		  EEXIST);
	CHECK_CONTENT("a", "A", 1);
	CHECK_CONTENT("b", "B", 1);
	CHECK_OK(renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
	CHECK_CONTENT("c", "A", 1);
	CHECK_ERR(access("a", F_OK), ENOENT);
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(renameat2(AT_FDCWD, "c", AT_FDCWD, "d", RENAME_NOREPLACE),
		  EEXIST);
}

void check_renameat2_exchange(void)
{
	struct stat p1, p2, st;
	int fd;

	CHECK_OK(mkdir("p1", 0755));
	CHECK_OK(mkdir("p2", 0755));
	if (!posix_mkfile("p1/f", "FILE", 4, 0644))
		return;
	CHECK_OK(mkdir("p2/d", 0755));
	CHECK_OK(fd = open("p2/d/child", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(stat("p1", &p1));
	CHECK_OK(stat("p2", &p2));
	CHECK_EQ(p1.st_nlink, 2);
	CHECK_EQ(p2.st_nlink, 3);
	if (!CHECK_OK(renameat2(AT_FDCWD, "p1/f", AT_FDCWD, "p2/d",
				RENAME_EXCHANGE)))
		return;
	CHECK_OK(stat("p1/f", &st));
	CHECK_TRUE(S_ISDIR(st.st_mode));
	CHECK_OK(access("p1/f/child", F_OK));
	CHECK_OK(stat("p2/d", &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_CONTENT("p2/d", "FILE", 4);
	CHECK_OK(stat("p1", &p1));
	CHECK_OK(stat("p2", &p2));
	CHECK_EQ(p1.st_nlink, 3);
	CHECK_EQ(p2.st_nlink, 2);
	CHECK_OK(stat("p1/f/..", &st));
	CHECK_EQ(st.st_ino, p1.st_ino);
	/* Two files in one directory swap contents. */
	if (!posix_mkfile("a", "aaa", 3, 0644) ||
	    !posix_mkfile("b", "bbbbb", 5, 0644))
		return;
	CHECK_OK(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE));
	CHECK_CONTENT("a", "bbbbb", 5);
	CHECK_CONTENT("b", "aaa", 3);
	CHECK_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "missing",
			    RENAME_EXCHANGE), ENOENT);
	CHECK_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "b",
			    RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
}

void check_exdev(void)
{
	char path[PATH_MAX + 32];
	struct stat here, there;

	if (!posix_other[0]) {
		posix_skip("no second directory given");
		return;
	}
	if (!CHECK_OK(stat(".", &here)) || !CHECK_OK(stat(posix_other, &there)))
		return;
	if (here.st_dev == there.st_dev) {
		posix_skip("%s is on the same file system", posix_other);
		return;
	}
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	snprintf(path, sizeof(path), "%s/posix-exdev.%d", posix_other,
		 (int)getpid());
	CHECK_ERR(rename("f", path), EXDEV);
	CHECK_ERR(link("f", path), EXDEV);
	unlink(path);
	CHECK_OK(access("f", F_OK));
}

/* ---- special files ----------------------------------------------------------- */

static void posix_fifo_child(void *arg)
{
	static const char msg2[] = "from parent to child";
	char buf[64];
	int fd;

	(void)arg;
	fd = open("p", O_WRONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "hello through the fifo", 22), 22);
	close(fd);
	fd = open("p", O_RDONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(read(fd, buf, sizeof(buf)), sizeof(msg2) - 1);
	CHECK_MEM(buf, msg2, sizeof(msg2) - 1);
	close(fd);
}

void check_mkfifo(void)
{
	static const char msg2[] = "from parent to child";
	char buf[64];
	struct stat st;
	ssize_t r, got = 0;
	pid_t pid;
	int fd;

	if (!CHECK_OK(mkfifo("p", 0644)))
		return;
	CHECK_OK(lstat("p", &st));
	CHECK_TRUE(S_ISFIFO(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0644);
	pid = posix_spawn(posix_fifo_child, NULL);
	if (pid < 0)
		return;
	fd = open("p", O_RDONLY);
	if (CHECK_OK(fd)) {
		while ((r = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += r;
		CHECK_OK(r);
		CHECK_EQ(got, 22);
		CHECK_MEM(buf, "hello through the fifo", 22);
		close(fd);
	}
	fd = open("p", O_WRONLY);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, msg2, sizeof(msg2) - 1), sizeof(msg2) - 1);
		close(fd);
	}
	posix_reap(pid);
	CHECK_OK(lstat("p", &st));
	CHECK_EQ(st.st_size, 0);
}

void check_mknod_sock(void)
{
	struct stat st;

	CHECK_OK(mknod("s", S_IFSOCK | 0644, 0));
	CHECK_OK(lstat("s", &st));
	CHECK_TRUE(S_ISSOCK(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0644);
	/* mknod makes regular files and FIFOs too. */
	CHECK_OK(mknod("r", S_IFREG | 0600, 0));
	CHECK_OK(lstat("r", &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 0);
	CHECK_OK(mknod("p", S_IFIFO | 0600, 0));
	CHECK_OK(lstat("p", &st));
	CHECK_TRUE(S_ISFIFO(st.st_mode));
	CHECK_ERR(mknod("s", S_IFSOCK | 0644, 0), EEXIST);
}

void check_mknod_dev(void)
{
	dev_t c = makedev(1, 3), b = makedev(300, 70000);
	struct stat st;

	CHECK_OK(mknod("c", S_IFCHR | 0600, c));
	CHECK_OK(lstat("c", &st));
	CHECK_TRUE(S_ISCHR(st.st_mode));
	CHECK_EQ(major(st.st_rdev), 1);
	CHECK_EQ(minor(st.st_rdev), 3);
	CHECK_OK(mknod("b", S_IFBLK | 0640, b));
	CHECK_OK(lstat("b", &st));
	CHECK_TRUE(S_ISBLK(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0640);
	CHECK_EQ(major(st.st_rdev), 300);
	CHECK_EQ(minor(st.st_rdev), 70000);
}

void check_unix_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int srv = -1, cli = -1, acc = -1;
	struct stat st;
	char buf[8];

	strcpy(sa.sun_path, "sock");
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (!CHECK_OK(srv) || !CHECK_OK(cli))
		goto out;
	if (!CHECK_OK(bind(srv, (struct sockaddr *)&sa, sizeof(sa))))
		goto out;
	CHECK_OK(listen(srv, 4));
	CHECK_OK(lstat("sock", &st));
	CHECK_TRUE(S_ISSOCK(st.st_mode));
	CHECK_ERR(bind(cli, (struct sockaddr *)&sa, sizeof(sa)), EADDRINUSE);
	if (!CHECK_OK(connect(cli, (struct sockaddr *)&sa, sizeof(sa))))
		goto out;
	acc = accept(srv, NULL, NULL);
	if (!CHECK_OK(acc))
		goto out;
	CHECK_EQ(send(cli, "ping", 4, 0), 4);
	CHECK_EQ(recv(acc, buf, sizeof(buf), 0), 4);
	CHECK_MEM(buf, "ping", 4);
	CHECK_OK(unlink("sock"));
out:
	posix_close(acc);
	posix_close(cli);
	posix_close(srv);
}
