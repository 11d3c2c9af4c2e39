/* SPDX-License-Identifier: MIT */
/*
 * test_mem_ns.c - the mem backend's namespace: creation of every file
 * type, links, removal, rename in all its forms, inode lifetime (open,
 * forget), readdir cookies and readdirplus, and a multi-thread smoke test.
 */
#include "tests/unit/test_mem.h"

#include <pthread.h>
#include <stdio.h>

#include "daemon/mem_i.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static bool t_ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* Puts @ino's times at 1000 s so any later change to "now" is visible. */
static void t_age(struct backend *b, uint64_t ino)
{
	struct vsetattr sa = {
		.valid = VSET_ATIME | VSET_MTIME | VSET_CTIME,
		.atime = { 1000, 0 }, .mtime = { 1000, 0 },
		.ctime = { 1000, 0 },
	};

	assert_int_equal(t_setattr(b, &t_root, ino, &sa, NULL), 0);
}

static const struct timespec t_old = { 1000, 0 };

static void test_mem__root_is_dir_0755_owned_by_root(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vattr a = t_attr(b, T_ROOT);

	assert_string_equal(b->ops->name, "mem");
	assert_int_equal(a.ino, 1);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(t_getattr(b, 999, &a), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__mknod_makes_every_type(void **state)
{
	struct backend *b = t_new(1 << 20);
	static const uint32_t types[] = { S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR,
					  S_IFBLK };
	struct vattr a, l;
	char name[16];

	for (unsigned k = 0; k < 5; k++) {
		snprintf(name, sizeof(name), "n%u", k);
		assert_int_equal(t_mknod(b, &t_root, T_ROOT, name,
					 types[k] | 0640, 0x0801, &a),
				 0);
		assert_int_equal(a.mode, types[k] | 0640);
		assert_int_equal(a.nlink, 1);
		assert_int_equal(a.rdev, (types[k] == S_IFCHR ||
					  types[k] == S_IFBLK) ? 0x0801 : 0);
		assert_int_equal(t_lookup(b, &t_root, T_ROOT, name, &l), 0);
		assert_int_equal(l.ino, a.ino);
		assert_int_equal(l.mode, a.mode);
	}
	/* Type 0 is a regular file, like mknod(2). */
	assert_int_equal(t_mknod(b, &t_root, T_ROOT, "zero", 0600, 0, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(t_mknod(b, &t_root, T_ROOT, "d", S_IFDIR | 0755, 0,
				 NULL),
			 -EINVAL);
	assert_int_equal(t_mknod(b, &t_root, T_ROOT, "n0", S_IFREG | 0600, 0,
				 NULL),
			 -EEXIST);
	assert_int_equal(t_mknod(b, &t_root, 999, "x", S_IFREG, 0, NULL),
			 -ENOENT);
	assert_int_equal(t_mknod(b, &t_root, t_ino(b, T_ROOT, "n0"), "x",
				 S_IFREG, 0, NULL),
			 -ENOTDIR);
	b->ops->destroy(b);
}

static void test_mem__mkdir_counts_subdirectories(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vattr a;
	uint64_t d;

	assert_int_equal(t_mkdir(b, &t_root, T_ROOT, "d", 0700, &a), 0);
	d = a.ino;
	assert_int_equal(a.mode, S_IFDIR | 0700);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(t_attr(b, T_ROOT).nlink, 3);
	t_mkdir_ino(b, d, "s1", 0755);
	t_mkdir_ino(b, d, "s2", 0755);
	t_mkfile(b, d, "f", 0644);
	assert_int_equal(t_attr(b, d).nlink, 4);
	assert_int_equal(t_mkdir(b, &t_root, T_ROOT, "d", 0700, NULL),
			 -EEXIST);
	assert_int_equal(t_rmdir(b, &t_root, d, "s1"), 0);
	assert_int_equal(t_attr(b, d).nlink, 3);
	/* ".." of a subdirectory is its parent. */
	assert_int_equal(t_lookup(b, &t_root, t_ino(b, d, "s2"), "..", &a), 0);
	assert_int_equal(a.ino, d);
	assert_int_equal(t_lookup(b, &t_root, d, ".", &a), 0);
	assert_int_equal(a.ino, d);
	b->ops->destroy(b);
}

static void test_mem__lookup_errors(void **state)
{
	struct backend *b = t_new(1 << 20);
	char longname[300];
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);

	memset(longname, 'a', 256);
	longname[256] = '\0';
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, "nope", NULL), -ENOENT);
	assert_int_equal(t_lookup(b, &t_root, f, "x", NULL), -ENOTDIR);
	assert_int_equal(t_lookup(b, &t_root, 12345, "x", NULL), -ENOENT);
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, longname, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(t_mkdir(b, &t_root, T_ROOT, longname, 0755, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(t_create(b, &t_root, T_ROOT, longname, 0644, O_CREAT,
				  NULL, NULL),
			 -ENAMETOOLONG);
	assert_int_equal(t_mknod(b, &t_root, T_ROOT, longname, S_IFIFO, 0,
				 NULL),
			 -ENAMETOOLONG);
	longname[255] = '\0';	/* 255 is fine */
	assert_int_equal(t_mkdir(b, &t_root, T_ROOT, longname, 0755, NULL), 0);
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, longname, NULL), 0);
	b->ops->destroy(b);
}

static void test_mem__inode_numbers_are_never_reused(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t a = t_mkfile(b, T_ROOT, "a", 0644), c;

	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "a"), 0);
	b->ops->forget(b, a);
	assert_int_equal(t_getattr(b, a, NULL), -ENOENT);
	c = t_mkfile(b, T_ROOT, "a", 0644);
	assert_true(c > a);
	assert_int_equal(t_attr(b, c).generation, 0);
	b->ops->destroy(b);
}

static void test_mem__symlink_and_readlink(void **state)
{
	struct backend *b = t_new(1 << 20);
	char buf[4200], big[4200];
	struct vattr a;
	size_t n = 0;

	assert_int_equal(t_symlink(b, &t_root, T_ROOT, "l", "some/target",
				   &a),
			 0);
	assert_int_equal(a.mode, S_IFLNK | 0777);
	assert_int_equal(a.size, 11);
	assert_int_equal(t_readlink(b, a.ino, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "some/target", 11);
	assert_int_equal(t_readlink(b, a.ino, buf, 5, NULL), -ENAMETOOLONG);
	assert_int_equal(t_readlink(b, T_ROOT, buf, sizeof(buf), NULL),
			 -EINVAL);
	assert_int_equal(t_symlink(b, &t_root, T_ROOT, "l", "x", NULL),
			 -EEXIST);
	assert_int_equal(t_symlink(b, &t_root, T_ROOT, "e", "", NULL), -ENOENT);
	memset(big, 'x', 4096);
	big[4096] = '\0';
	assert_int_equal(t_symlink(b, &t_root, T_ROOT, "big", big, NULL),
			 -ENAMETOOLONG);
	big[4095] = '\0';
	assert_int_equal(t_symlink(b, &t_root, T_ROOT, "big", big, &a), 0);
	assert_int_equal(t_readlink(b, a.ino, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 4095);
	b->ops->destroy(b);
}

static void test_mem__hard_links_count_nlink(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vattr a;

	t_age(b, f);
	t_age(b, d);
	assert_int_equal(t_link(b, &t_root, f, d, "f2", &a), 0);
	assert_int_equal(a.ino, f);
	assert_int_equal(a.nlink, 2);
	assert_true(t_ts_after(a.ctime, t_old));
	assert_true(t_ts_after(t_attr(b, d).mtime, t_old));
	assert_int_equal(t_link(b, &t_root, f, T_ROOT, "f3", &a), 0);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(t_ino(b, d, "f2"), f);
	assert_int_equal(t_link(b, &t_root, f, d, "f2", NULL), -EEXIST);
	assert_int_equal(t_link(b, &t_root, d, T_ROOT, "dl", NULL), -EPERM);
	assert_int_equal(t_link(b, &t_root, 777, T_ROOT, "x", NULL), -ENOENT);
	assert_int_equal(t_link(b, &t_root, f, f, "x", NULL), -ENOTDIR);

	t_age(b, f);
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "f"), 0);
	a = t_attr(b, f);
	assert_int_equal(a.nlink, 2);
	assert_true(t_ts_after(a.ctime, t_old));
	assert_int_equal(t_unlink(b, &t_root, d, "f2"), 0);
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "f3"), 0);
	assert_int_equal(t_attr(b, f).nlink, 0);	/* kernel still knows it */
	b->ops->forget(b, f);
	assert_int_equal(t_getattr(b, f, NULL), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__link_max_gives_emlink(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);

	((struct mem_backend *)b)->link_max = 3;
	assert_int_equal(t_link(b, &t_root, f, T_ROOT, "f2", NULL), 0);
	assert_int_equal(t_link(b, &t_root, f, T_ROOT, "f3", NULL), 0);
	assert_int_equal(t_link(b, &t_root, f, T_ROOT, "f4", NULL), -EMLINK);
	/* Root has nlink 2: one subdirectory more reaches 3. */
	t_mkdir_ino(b, T_ROOT, "d1", 0755);
	assert_int_equal(t_mkdir(b, &t_root, T_ROOT, "d2", 0755, NULL),
			 -EMLINK);
	assert_int_equal(t_attr(b, T_ROOT).nlink, 3);
	b->ops->destroy(b);
}

static void test_mem__unlink_and_rmdir_errors(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);

	t_mkfile(b, T_ROOT, "f", 0644);
	t_mkfile(b, d, "inner", 0644);
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "nope"), -ENOENT);
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "d"), -EISDIR);
	assert_int_equal(t_rmdir(b, &t_root, T_ROOT, "f"), -ENOTDIR);
	assert_int_equal(t_rmdir(b, &t_root, T_ROOT, "d"), -ENOTEMPTY);
	assert_int_equal(t_rmdir(b, &t_root, T_ROOT, "nope"), -ENOENT);
	assert_int_equal(t_rmdir(b, &t_root, d, "."), -EINVAL);
	assert_int_equal(t_rmdir(b, &t_root, d, ".."), -ENOTEMPTY);
	assert_int_equal(t_unlink(b, &t_root, d, "."), -EISDIR);
	assert_int_equal(t_unlink(b, &t_root, d, "inner"), 0);
	assert_int_equal(t_rmdir(b, &t_root, T_ROOT, "d"), 0);
	assert_int_equal(t_attr(b, T_ROOT).nlink, 2);
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, "d", NULL), -ENOENT);
	/* The kernel still holds it: empty, nlink 0, no creation inside. */
	assert_int_equal(t_attr(b, d).nlink, 0);
	assert_int_equal(t_mkdir(b, &t_root, d, "x", 0755, NULL), -ENOENT);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "f", d, "f", 0), -ENOENT);
	assert_int_equal(t_link(b, &t_root, t_ino(b, T_ROOT, "f"), d, "f", NULL),
			 -ENOENT);
	b->ops->forget(b, d);
	assert_int_equal(t_getattr(b, d, NULL), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__dir_times_change_with_entries(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);
	struct vattr a;

	t_age(b, d);
	t_mkfile(b, d, "f", 0644);
	a = t_attr(b, d);
	assert_true(t_ts_after(a.mtime, t_old));
	assert_true(t_ts_after(a.ctime, t_old));
	assert_int_equal(a.atime.tv_sec, 1000);	/* not touched */
	t_age(b, d);
	assert_int_equal(t_unlink(b, &t_root, d, "f"), 0);
	a = t_attr(b, d);
	assert_true(t_ts_after(a.mtime, t_old));
	assert_true(t_ts_after(a.ctime, t_old));
	/* A new inode has all four times set to one "now". */
	assert_int_equal(t_create(b, &t_root, d, "g", 0644,
				  O_CREAT | O_RDWR, &a, NULL), 0);
	assert_true(t_ts_after(a.btime, t_old));
	assert_int_equal(a.atime.tv_sec, a.btime.tv_sec);
	assert_int_equal(a.mtime.tv_nsec, a.btime.tv_nsec);
	assert_int_equal(a.ctime.tv_nsec, a.btime.tv_nsec);
	b->ops->destroy(b);
}

static void test_mem__unlinked_open_file_lives_until_release_and_forget(
	void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vattr a;
	char buf[16];
	size_t n = 0;
	uint64_t fh;

	assert_int_equal(t_create(b, &t_root, T_ROOT, "f", 0644,
				  O_CREAT | O_RDWR, &a, &fh),
			 0);
	t_write_ok(b, a.ino, 0, "hello", 5);
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "f"), 0);
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, "f", NULL), -ENOENT);
	assert_int_equal(t_attr(b, a.ino).nlink, 0);
	assert_int_equal(t_read(b, a.ino, fh, 0, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "hello", 5);
	/* Forgotten but open: stays. */
	b->ops->forget(b, a.ino);
	assert_int_equal(t_attr(b, a.ino).size, 5);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(t_getattr(b, a.ino, NULL), -ENOENT);

	/* Released but still known to the kernel: stays until forget. */
	assert_int_equal(t_create(b, &t_root, T_ROOT, "g", 0644,
				  O_CREAT | O_RDWR, &a, &fh),
			 0);
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "g"), 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(t_getattr(b, a.ino, NULL), 0);
	b->ops->forget(b, a.ino);
	assert_int_equal(t_getattr(b, a.ino, NULL), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__forget_keeps_linked_inodes(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);

	b->ops->forget(b, f);
	assert_int_equal(t_attr(b, f).nlink, 1);
	assert_int_equal(t_ino(b, T_ROOT, "f"), f);	/* looked up again */
	b->ops->forget(b, f);
	b->ops->forget(b, 424242);	/* unknown: ignored */
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "f"), 0);
	/* Forgotten and unlinked: gone at once. */
	assert_int_equal(t_getattr(b, f, NULL), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__tmpfile_is_unnamed_and_linkable(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);
	struct vattr a, l;
	uint64_t fh, f;

	assert_int_equal(t_tmpfile(b, &t_root, d, 0600, &a, &fh), 0);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(a.nlink, 0);
	t_write_ok(b, a.ino, 0, "tmp", 3);
	assert_int_equal(t_link(b, &t_root, a.ino, d, "named", &l), 0);
	assert_int_equal(l.nlink, 1);
	assert_int_equal(t_ino(b, d, "named"), a.ino);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(t_attr(b, a.ino).size, 3);

	/* A tmpfile never linked is freed at release + forget. */
	assert_int_equal(t_tmpfile(b, &t_root, d, 0600, &a, &fh), 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	b->ops->forget(b, a.ino);
	assert_int_equal(t_getattr(b, a.ino, NULL), -ENOENT);

	/* An ordinary unlinked file cannot get a name back. */
	assert_int_equal(t_create(b, &t_root, d, "g", 0644, O_CREAT | O_RDWR,
				  &a, &fh),
			 0);
	f = a.ino;
	assert_int_equal(t_unlink(b, &t_root, d, "g"), 0);
	assert_int_equal(t_link(b, &t_root, f, d, "g2", NULL), -ENOENT);
	assert_int_equal(t_release(b, f, fh), 0);
	assert_int_equal(t_tmpfile(b, &t_root, f, 0600, NULL, NULL), -ENOTDIR);
	b->ops->destroy(b);
}

static void test_mem__create_opens_existing_unless_excl(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vattr a, e;
	uint64_t fh, fh2;

	assert_int_equal(t_create(b, &t_root, T_ROOT, "f", 0640,
				  O_CREAT | O_EXCL | O_RDWR, &a, &fh),
			 0);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(a.nlink, 1);
	assert_int_not_equal(fh, 0);
	t_write_ok(b, a.ino, 0, "data", 4);
	assert_int_equal(t_create(b, &t_root, T_ROOT, "f", 0600,
				  O_CREAT | O_EXCL | O_RDWR, NULL, NULL),
			 -EEXIST);
	assert_int_equal(t_create(b, &t_root, T_ROOT, "f", 0600,
				  O_CREAT | O_RDWR, &e, &fh2),
			 0);
	assert_int_equal(e.ino, a.ino);
	assert_int_equal(e.size, 4);
	assert_int_equal(e.mode, S_IFREG | 0640);	/* mode unchanged */
	assert_int_not_equal(fh2, fh);
	assert_int_equal(t_release(b, a.ino, fh2), 0);
	assert_int_equal(t_create(b, &t_root, T_ROOT, "f", 0600,
				  O_CREAT | O_TRUNC | O_WRONLY, &e, &fh2),
			 0);
	assert_int_equal(e.size, 0);
	assert_int_equal(t_release(b, a.ino, fh2), 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	t_mkdir_ino(b, T_ROOT, "d", 0755);
	assert_int_equal(t_create(b, &t_root, T_ROOT, "d", 0600,
				  O_CREAT | O_RDWR, NULL, NULL),
			 -EISDIR);
	assert_int_equal(t_create(b, &t_root, T_ROOT, "d", 0600,
				  O_CREAT | O_EXCL | O_RDWR, NULL, NULL),
			 -EEXIST);
	b->ops->destroy(b);
}

static void test_mem__open_and_opendir_check_types(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644), fh;
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);

	assert_int_equal(t_open(b, &t_root, d, O_RDWR, NULL), -EISDIR);
	assert_int_equal(t_open(b, &t_root, 999, O_RDONLY, NULL), -ENOENT);
	assert_int_equal(t_opendir(b, &t_root, f, NULL), -ENOTDIR);
	assert_int_equal(t_opendir(b, &t_root, d, &fh), 0);
	/* An open directory outlives rmdir and forget until releasedir. */
	assert_int_equal(t_rmdir(b, &t_root, T_ROOT, "d"), 0);
	b->ops->forget(b, d);
	assert_int_equal(t_attr(b, d).nlink, 0);
	assert_int_equal(t_releasedir(b, d, fh), 0);
	assert_int_equal(t_getattr(b, d, NULL), -ENOENT);
	assert_int_equal(t_fsync(b, f, 0), 0);
	b->ops->destroy(b);
}

/* ------------------------------------------------------------------ */
/* Rename */

static void test_mem__rename_moves_a_file(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vattr a;

	t_age(b, f);
	t_age(b, d);
	t_age(b, T_ROOT);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "f", d, "g", 0), 0);
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, "f", NULL), -ENOENT);
	assert_int_equal(t_ino(b, d, "g"), f);
	a = t_attr(b, f);
	assert_int_equal(a.nlink, 1);
	assert_true(t_ts_after(a.ctime, t_old));
	assert_true(t_ts_after(t_attr(b, d).mtime, t_old));
	assert_true(t_ts_after(t_attr(b, T_ROOT).mtime, t_old));
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "nope", d, "x", 0),
			 -ENOENT);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "d", 555, "x", 0),
			 -ENOENT);
	assert_int_equal(t_rename(b, &t_root, d, "g", f, "x", 0), -ENOTDIR);
	assert_int_equal(t_rename(b, &t_root, d, ".", T_ROOT, "x", 0), -EBUSY);
	b->ops->destroy(b);
}

static void test_mem__rename_replaces_a_file(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t a = t_mkfile(b, T_ROOT, "a", 0644);
	uint64_t v = t_mkfile(b, T_ROOT, "b", 0644);

	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "b", 0), 0);
	assert_int_equal(t_ino(b, T_ROOT, "b"), a);
	assert_int_equal(t_lookup(b, &t_root, T_ROOT, "a", NULL), -ENOENT);
	assert_int_equal(t_attr(b, v).nlink, 0);
	b->ops->forget(b, v);
	assert_int_equal(t_getattr(b, v, NULL), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__rename_dir_replaces_empty_dir(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t p1 = t_mkdir_ino(b, T_ROOT, "p1", 0755);
	uint64_t p2 = t_mkdir_ino(b, T_ROOT, "p2", 0755);
	uint64_t s = t_mkdir_ino(b, p1, "s", 0755);
	uint64_t t = t_mkdir_ino(b, p2, "t", 0755);

	assert_int_equal(t_attr(b, p1).nlink, 3);
	assert_int_equal(t_attr(b, p2).nlink, 3);
	assert_int_equal(t_rename(b, &t_root, p1, "s", p2, "t", 0), 0);
	assert_int_equal(t_attr(b, p1).nlink, 2);
	assert_int_equal(t_attr(b, p2).nlink, 3);
	assert_int_equal(t_ino(b, p2, "t"), s);
	assert_int_equal(t_ino(b, s, ".."), p2);
	assert_int_equal(t_attr(b, t).nlink, 0);
	b->ops->forget(b, t);
	assert_int_equal(t_getattr(b, t, NULL), -ENOENT);

	/* Within one parent the count does not move. */
	t_mkdir_ino(b, p2, "u", 0755);
	assert_int_equal(t_attr(b, p2).nlink, 4);
	assert_int_equal(t_rename(b, &t_root, p2, "t", p2, "u", 0), 0);
	assert_int_equal(t_attr(b, p2).nlink, 3);
	b->ops->destroy(b);
}

static void test_mem__rename_type_mismatches_fail(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t full = t_mkdir_ino(b, T_ROOT, "full", 0755);

	t_mkdir_ino(b, T_ROOT, "d", 0755);
	t_mkfile(b, T_ROOT, "f", 0644);
	t_mkfile(b, full, "x", 0644);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "d", T_ROOT, "f", 0),
			 -ENOTDIR);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "f", T_ROOT, "d", 0),
			 -EISDIR);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "d", T_ROOT, "full", 0),
			 -ENOTEMPTY);
	/* Nothing moved. */
	assert_int_not_equal(t_ino(b, T_ROOT, "d"), 0);
	assert_int_not_equal(t_ino(b, T_ROOT, "f"), 0);
	assert_int_equal(t_attr(b, T_ROOT).nlink, 4);
	b->ops->destroy(b);
}

static void test_mem__rename_onto_itself_or_a_hard_link_is_a_noop(
	void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "a", 0644);

	assert_int_equal(t_link(b, &t_root, f, T_ROOT, "b", NULL), 0);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "a", 0), 0);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "b", 0), 0);
	assert_int_equal(t_ino(b, T_ROOT, "a"), f);
	assert_int_equal(t_ino(b, T_ROOT, "b"), f);
	assert_int_equal(t_attr(b, f).nlink, 2);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "b",
				  RENAME_EXCHANGE),
			 0);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "a",
				  RENAME_NOREPLACE),
			 -EEXIST);
	b->ops->destroy(b);
}

static void test_mem__rename_noreplace(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t a = t_mkfile(b, T_ROOT, "a", 0644);
	uint64_t c = t_mkfile(b, T_ROOT, "c", 0644);

	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "c",
				  RENAME_NOREPLACE),
			 -EEXIST);
	assert_int_equal(t_ino(b, T_ROOT, "c"), c);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "b",
				  RENAME_NOREPLACE),
			 0);
	assert_int_equal(t_ino(b, T_ROOT, "b"), a);
	b->ops->destroy(b);
}

static void test_mem__rename_exchange_file_and_dir_between_parents(
	void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t p1 = t_mkdir_ino(b, T_ROOT, "p1", 0755);
	uint64_t p2 = t_mkdir_ino(b, T_ROOT, "p2", 0755);
	uint64_t f = t_mkfile(b, p1, "f", 0644);
	uint64_t d = t_mkdir_ino(b, p2, "d", 0755);

	assert_int_equal(t_attr(b, p1).nlink, 2);
	assert_int_equal(t_attr(b, p2).nlink, 3);
	assert_int_equal(t_rename(b, &t_root, p1, "f", p2, "d",
				  RENAME_EXCHANGE),
			 0);
	assert_int_equal(t_ino(b, p1, "f"), d);
	assert_int_equal(t_ino(b, p2, "d"), f);
	assert_int_equal(t_attr(b, p1).nlink, 3);
	assert_int_equal(t_attr(b, p2).nlink, 2);
	assert_int_equal(t_ino(b, d, ".."), p1);
	assert_int_equal(t_attr(b, f).nlink, 1);
	assert_int_equal(t_attr(b, d).nlink, 2);
	/* And back: the directory is now the source. */
	assert_int_equal(t_rename(b, &t_root, p1, "f", p2, "d",
				  RENAME_EXCHANGE),
			 0);
	assert_int_equal(t_ino(b, p1, "f"), f);
	assert_int_equal(t_ino(b, p2, "d"), d);
	assert_int_equal(t_attr(b, p1).nlink, 2);
	assert_int_equal(t_attr(b, p2).nlink, 3);
	assert_int_equal(t_ino(b, d, ".."), p2);
	assert_int_equal(t_rename(b, &t_root, p1, "f", p2, "d",
				  RENAME_EXCHANGE),
			 0);

	/* Two directories: counts unchanged, ".." swapped. */
	uint64_t e = t_mkdir_ino(b, p2, "e", 0755);
	assert_int_equal(t_rename(b, &t_root, p1, "f", p2, "e",
				  RENAME_EXCHANGE),
			 0);
	assert_int_equal(t_attr(b, p1).nlink, 3);
	assert_int_equal(t_attr(b, p2).nlink, 3);
	assert_int_equal(t_ino(b, d, ".."), p2);
	assert_int_equal(t_ino(b, e, ".."), p1);

	assert_int_equal(t_rename(b, &t_root, p1, "f", p2, "missing",
				  RENAME_EXCHANGE),
			 -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__rename_bad_flags_are_einval(void **state)
{
	struct backend *b = t_new(1 << 20);

	t_mkfile(b, T_ROOT, "a", 0644);
	t_mkfile(b, T_ROOT, "b", 0644);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "b",
				  RENAME_NOREPLACE | RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", T_ROOT, "b", 1 << 2),
			 -EINVAL);
	b->ops->destroy(b);
}

static void test_mem__rename_dir_into_own_subtree_is_einval(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t a = t_mkdir_ino(b, T_ROOT, "a", 0755);
	uint64_t ab = t_mkdir_ino(b, a, "b", 0755);
	uint64_t abc = t_mkdir_ino(b, ab, "c", 0755);

	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", a, "x", 0), -EINVAL);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", abc, "x", 0),
			 -EINVAL);
	assert_int_equal(t_rename(b, &t_root, T_ROOT, "a", ab, "c",
				  RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(t_rename(b, &t_root, ab, "c", T_ROOT, "a",
				  RENAME_EXCHANGE),
			 -EINVAL);
	/* Onto an ancestor: not empty. */
	assert_int_equal(t_rename(b, &t_root, ab, "c", T_ROOT, "a", 0),
			 -ENOTEMPTY);
	/* Moving up is fine and fixes the counts. */
	assert_int_equal(t_rename(b, &t_root, ab, "c", T_ROOT, "c", 0), 0);
	assert_int_equal(t_attr(b, ab).nlink, 2);
	assert_int_equal(t_attr(b, T_ROOT).nlink, 4);
	assert_int_equal(t_ino(b, abc, ".."), T_ROOT);
	b->ops->destroy(b);
}

/* ------------------------------------------------------------------ */
/* Readdir */

static void test_mem__readdir_lists_dots_then_entries(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct tdir *d = calloc(1, sizeof(*d));
	uint64_t dir = t_mkdir_ino(b, T_ROOT, "d", 0755);
	uint64_t f = t_mkfile(b, dir, "f", 0644);
	uint64_t s = t_mkdir_ino(b, dir, "s", 0755);
	int k;

	assert_int_equal(t_readdir(b, dir, 0, 0, d), 0);
	assert_int_equal(d->n, 4);
	assert_string_equal(d->names[0], ".");
	assert_int_equal(d->ino[0], dir);
	assert_int_equal(d->next[0], 1);
	assert_string_equal(d->names[1], "..");
	assert_int_equal(d->ino[1], T_ROOT);
	assert_int_equal(d->next[1], 2);
	assert_string_equal(d->names[2], "f");
	assert_int_equal(d->ino[2], f);
	assert_int_equal(d->mode[2] & S_IFMT, S_IFREG);
	assert_string_equal(d->names[3], "s");
	assert_int_equal(d->ino[3], s);
	assert_int_equal(d->mode[3] & S_IFMT, S_IFDIR);
	assert_true(d->next[2] > 2 && d->next[3] > d->next[2]);
	for (k = 0; k < 4; k++)
		assert_int_equal(d->has_attr[k], 0);

	/* Resuming after the last cookie gives nothing. */
	memset(d, 0, sizeof(*d));
	assert_int_equal(t_readdir(b, dir, 1000, 0, d), 0);
	assert_int_equal(d->n, 0);
	assert_int_equal(t_readdir(b, f, 0, 0, d), -ENOTDIR);
	assert_int_equal(t_readdir(b, 4242, 0, 0, d), -ENOENT);
	free(d);
	b->ops->destroy(b);
}

static void test_mem__readdir_full_reply_resumes_at_cookie(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct tdir *d = calloc(1, sizeof(*d));
	char name[16];
	int calls = 0;

	for (int k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "e%d", k);
		t_mkfile(b, T_ROOT, name, 0644);
	}
	d->limit = 3;
	do {
		int before = d->n;

		assert_int_equal(t_readdir(b, T_ROOT, d->last_off, 0, d), 0);
		calls++;
		if (d->n == before)
			break;
	} while (calls < 20);
	assert_int_equal(d->n, 12);
	assert_int_equal(calls, 5);	/* 3+3+3+3, then an empty one */
	for (int k = 0; k < 10; k++) {
		snprintf(name, sizeof(name), "e%d", k);
		assert_int_equal(t_dir_find(d, name), k + 2);
	}
	free(d);
	b->ops->destroy(b);
}

/*
 * Entries come and go between READDIR calls; every entry present from the
 * first call to the last must appear exactly once, and nothing twice.
 */
static void test_mem__readdir_cookies_stable_under_changes(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct tdir *d = calloc(1, sizeof(*d));
	char name[32];
	int added = 0, removed = 0;

	for (int k = 0; k < 100; k++) {
		snprintf(name, sizeof(name), "keep%03d", k);
		t_mkfile(b, T_ROOT, name, 0644);
		snprintf(name, sizeof(name), "gone%03d", k);
		t_mkfile(b, T_ROOT, name, 0644);
	}
	d->limit = 7;
	for (int round = 0; round < 100; round++) {
		int before = d->n;

		assert_int_equal(t_readdir(b, T_ROOT, d->last_off, 0, d), 0);
		if (d->n == before)
			break;
		/* Remove some not-yet-seen and some seen entries ... */
		for (int j = 0; j < 4 && removed < 100; j++, removed++) {
			snprintf(name, sizeof(name), "gone%03d",
				 (removed * 37) % 100);
			assert_int_equal(t_unlink(b, &t_root, T_ROOT, name), 0);
		}
		/* ... and add new ones, fewer than a page per round. */
		for (int j = 0; j < 3 && added < 60; j++, added++) {
			snprintf(name, sizeof(name), "new%03d", added);
			t_mkfile(b, T_ROOT, name, 0644);
		}
	}
	for (int k = 0; k < 100; k++) {
		snprintf(name, sizeof(name), "keep%03d", k);
		assert_true(t_dir_find(d, name) >= 0);
	}
	for (int i = 0; i < d->n; i++) {
		for (int j = i + 1; j < d->n; j++)
			assert_string_not_equal(d->names[i], d->names[j]);
	}
	/* The additions came after the listing's start: all are listed. */
	for (int k = 0; k < added; k++) {
		snprintf(name, sizeof(name), "new%03d", k);
		assert_true(t_dir_find(d, name) >= 0);
	}
	free(d);
	b->ops->destroy(b);
}

/* Many removals compact the slot array; cookies keep working. */
static void test_mem__readdir_after_compaction(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct tdir *d = calloc(1, sizeof(*d));
	uint64_t mid;
	char name[16];

	for (int k = 0; k < 200; k++) {
		snprintf(name, sizeof(name), "e%03d", k);
		t_mkfile(b, T_ROOT, name, 0644);
	}
	assert_int_equal(t_readdir(b, T_ROOT, 0, 0, d), 0);
	assert_int_equal(d->n, 202);
	mid = d->next[t_dir_find(d, "e149")];
	for (int k = 0; k < 200; k++) {
		if (k % 10 == 0)
			continue;
		snprintf(name, sizeof(name), "e%03d", k);
		assert_int_equal(t_unlink(b, &t_root, T_ROOT, name), 0);
	}
	memset(d, 0, sizeof(*d));
	assert_int_equal(t_readdir(b, T_ROOT, mid, 0, d), 0);
	assert_int_equal(d->n, 5);	/* e150 ... e190 */
	assert_string_equal(d->names[0], "e150");
	assert_string_equal(d->names[4], "e190");
	memset(d, 0, sizeof(*d));
	assert_int_equal(t_readdir(b, T_ROOT, 0, 0, d), 0);
	assert_int_equal(d->n, 22);
	free(d);
	b->ops->destroy(b);
}

static void test_mem__readdirplus_marks_delivered_entries(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct tdir *d = calloc(1, sizeof(*d));
	uint64_t dir = t_mkdir_ino(b, T_ROOT, "d", 0755);
	uint64_t f = t_mkfile(b, dir, "f", 0644);
	uint64_t g = t_mkfile(b, dir, "g", 0644);

	/* The kernel forgets both. */
	b->ops->forget(b, f);
	b->ops->forget(b, g);
	/* ".", "..", "f" fit; "g" is refused. */
	d->limit = 3;
	assert_int_equal(t_readdir(b, dir, 0, 1, d), 0);
	assert_int_equal(d->n, 3);
	assert_int_equal(d->has_attr[0], 0);
	assert_int_equal(d->has_attr[1], 0);
	assert_int_equal(d->has_attr[2], 1);
	assert_int_equal(d->ino[2], f);
	/* f was handed to the kernel: unlink keeps it until forget. */
	assert_int_equal(t_unlink(b, &t_root, dir, "f"), 0);
	assert_int_equal(t_attr(b, f).nlink, 0);
	b->ops->forget(b, f);
	assert_int_equal(t_getattr(b, f, NULL), -ENOENT);
	/* g was not: unlink frees it at once. */
	assert_int_equal(t_unlink(b, &t_root, dir, "g"), 0);
	assert_int_equal(t_getattr(b, g, NULL), -ENOENT);
	free(d);
	b->ops->destroy(b);
}

/* ------------------------------------------------------------------ */
/* Threads */

struct t_thread {
	struct backend *b;
	uint64_t dir;
	int id;
};

static void *t_worker(void *arg)
{
	struct t_thread *t = arg;
	struct backend *b = t->b;
	struct tdir *d = calloc(1, sizeof(*d));
	char name[32], buf[256];

	memset(buf, 'a' + t->id, sizeof(buf));
	for (int k = 0; k < 300; k++) {
		struct vattr a;
		uint64_t fh;

		snprintf(name, sizeof(name), "t%d-%d", t->id, k);
		if (t_create(b, &t_root, t->dir, name, 0644, O_CREAT | O_RDWR,
			     &a, &fh))
			continue;
		t_write_ok(b, a.ino, (uint64_t)k * 100, buf, sizeof(buf));
		t_read(b, a.ino, fh, 0, sizeof(buf), buf, NULL);
		t_release(b, a.ino, fh);
		if (k % 3 == 0) {
			t_unlink(b, &t_root, t->dir, name);
			b->ops->forget(b, a.ino);
		} else if (k % 3 == 1) {
			snprintf(buf, sizeof(buf), "r%d-%d", t->id, k);
			t_rename(b, &t_root, t->dir, name, T_ROOT, buf, 0);
		}
		if (k % 10 == 0) {
			struct vsetattr sa = { .valid = VSET_MODE |
						       VSET_ATIME_NOW,
					       .mode = 0777 };

			t_setattr(b, &t_root, t->dir, &sa, NULL);
			t_lookup(b, &t_root, t->dir, "t0-1", NULL);
		}
		if (k % 50 == 0) {
			memset(d, 0, sizeof(*d));
			d->limit = 64;
			t_readdir(b, t->dir, 0, t->id & 1, d);
		}
		memset(buf, 'a' + t->id, sizeof(buf));
	}
	free(d);
	return NULL;
}

static void test_mem__threads_smoke(void **state)
{
	struct backend *b = t_new(256 << 20);
	uint64_t dir = t_mkdir_ino(b, T_ROOT, "shared", 0777);
	struct t_thread args[4];
	pthread_t th[4];
	struct vstatfs st;

	for (int k = 0; k < 4; k++) {
		args[k] = (struct t_thread){ .b = b, .dir = dir, .id = k };
		assert_int_equal(pthread_create(&th[k], NULL, t_worker,
						&args[k]),
				 0);
	}
	for (int k = 0; k < 4; k++)
		pthread_join(th[k], NULL);
	/* 100 renamed to the root per thread, 100 left in "shared". */
	assert_int_equal(t_attr(b, dir).nlink, 2);
	assert_int_equal(t_statfs(b, &st), 0);
	assert_int_equal(st.files - st.ffree, 1 + 1 + 4 * 200);
	b->ops->destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem__root_is_dir_0755_owned_by_root),
		cmocka_unit_test(test_mem__mknod_makes_every_type),
		cmocka_unit_test(test_mem__mkdir_counts_subdirectories),
		cmocka_unit_test(test_mem__lookup_errors),
		cmocka_unit_test(test_mem__inode_numbers_are_never_reused),
		cmocka_unit_test(test_mem__symlink_and_readlink),
		cmocka_unit_test(test_mem__hard_links_count_nlink),
		cmocka_unit_test(test_mem__link_max_gives_emlink),
		cmocka_unit_test(test_mem__unlink_and_rmdir_errors),
		cmocka_unit_test(test_mem__dir_times_change_with_entries),
		cmocka_unit_test(
			test_mem__unlinked_open_file_lives_until_release_and_forget),
		cmocka_unit_test(test_mem__forget_keeps_linked_inodes),
		cmocka_unit_test(test_mem__tmpfile_is_unnamed_and_linkable),
		cmocka_unit_test(test_mem__create_opens_existing_unless_excl),
		cmocka_unit_test(test_mem__open_and_opendir_check_types),
		cmocka_unit_test(test_mem__rename_moves_a_file),
		cmocka_unit_test(test_mem__rename_replaces_a_file),
		cmocka_unit_test(test_mem__rename_dir_replaces_empty_dir),
		cmocka_unit_test(test_mem__rename_type_mismatches_fail),
		cmocka_unit_test(
			test_mem__rename_onto_itself_or_a_hard_link_is_a_noop),
		cmocka_unit_test(test_mem__rename_noreplace),
		cmocka_unit_test(
			test_mem__rename_exchange_file_and_dir_between_parents),
		cmocka_unit_test(test_mem__rename_bad_flags_are_einval),
		cmocka_unit_test(
			test_mem__rename_dir_into_own_subtree_is_einval),
		cmocka_unit_test(test_mem__readdir_lists_dots_then_entries),
		cmocka_unit_test(test_mem__readdir_full_reply_resumes_at_cookie),
		cmocka_unit_test(test_mem__readdir_cookies_stable_under_changes),
		cmocka_unit_test(test_mem__readdir_after_compaction),
		cmocka_unit_test(test_mem__readdirplus_marks_delivered_entries),
		cmocka_unit_test(test_mem__threads_smoke),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
