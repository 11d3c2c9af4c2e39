/* SPDX-License-Identifier: MIT */
/*
 * test_mem_attr.c - the mem backend's attributes and access control:
 * setattr rules (chmod, chown, times, truncate, set-ID bits), access(),
 * mode-bit checks with check_perms, sticky and set-group-ID directories,
 * extended attributes and statfs.
 */
#include "tests/unit/test_mem.h"

#include <stdio.h>
#include <sys/xattr.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static bool t_ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* chown+chmod @ino as root. */
static void t_own(struct backend *b, uint64_t ino, uint32_t uid, uint32_t gid,
		  uint32_t mode)
{
	struct vsetattr sa = { .valid = VSET_UID | VSET_GID | VSET_MODE,
			       .uid = uid, .gid = gid, .mode = mode };

	assert_int_equal(t_setattr(b, &t_root, ino, &sa, NULL), 0);
}

static int t_chmod(struct backend *b, const struct vctx *x, uint64_t ino,
		   uint32_t mode)
{
	struct vsetattr sa = { .valid = VSET_MODE, .mode = mode };

	return t_setattr(b, x, ino, &sa, NULL);
}

static int t_chown(struct backend *b, const struct vctx *x, uint64_t ino,
		   uint32_t valid, uint32_t uid, uint32_t gid)
{
	struct vsetattr sa = { .valid = valid, .uid = uid, .gid = gid };

	return t_setattr(b, x, ino, &sa, NULL);
}

static void test_mem__chmod_only_by_owner_or_root(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vctx alice = t_user(1000, 100), bob = t_user(1001, 100);

	t_own(b, f, 1000, 100, 0644);
	assert_int_equal(t_chmod(b, &bob, f, 0777), -EPERM);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0644);
	assert_int_equal(t_chmod(b, &alice, f, 0600), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0600);
	assert_int_equal(t_chmod(b, &t_root_chk, f, 04755), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 04755);
	/* The type bits cannot be changed. */
	assert_int_equal(t_chmod(b, &t_root, f, S_IFDIR | 0700), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0700);
	b->ops->destroy(b);
}

static void test_mem__chown_rules(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vctx alice = t_user(1000, 100), bob = t_user(1001, 200);
	struct vattr a;

	t_own(b, f, 1000, 300, 0644);
	/* Only root gives a file away. */
	assert_int_equal(t_chown(b, &alice, f, VSET_UID, 1001, 0), -EPERM);
	/* The owner may "change" the uid to itself. */
	assert_int_equal(t_chown(b, &alice, f, VSET_UID, 1000, 0), 0);
	/* ... and the group to its own gid or the current one only. */
	assert_int_equal(t_chown(b, &alice, f, VSET_GID, 0, 200), -EPERM);
	assert_int_equal(t_chown(b, &alice, f, VSET_GID, 0, 100), 0);
	assert_int_equal(t_attr(b, f).gid, 100);
	/* A stranger cannot even chgrp to its own group. */
	assert_int_equal(t_chown(b, &bob, f, VSET_GID, 0, 200), -EPERM);
	assert_int_equal(t_chown(b, &bob, f, VSET_UID, 1000, 0), -EPERM);
	assert_int_equal(t_chown(b, &t_root, f, VSET_UID | VSET_GID, 5, 6), 0);
	assert_int_equal(t_getattr(b, f, &a), 0);
	assert_int_equal(a.uid, 5);
	assert_int_equal(a.gid, 6);
	b->ops->destroy(b);
}

static void test_mem__chown_clears_set_id_bits(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t g = t_mkfile(b, T_ROOT, "g", 0644);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);

	assert_int_equal(t_chmod(b, &t_root, f, 06755), 0);
	assert_int_equal(t_chown(b, &t_root, f, VSET_UID, 7, 0), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0755);
	/* Set-group-ID without group exec is mandatory locking: kept. */
	assert_int_equal(t_chmod(b, &t_root, g, 06744), 0);
	assert_int_equal(t_chown(b, &t_root, g, VSET_GID, 0, 7), 0);
	assert_int_equal(t_attr(b, g).mode, S_IFREG | 02744);
	/* Directories keep theirs. */
	assert_int_equal(t_chmod(b, &t_root, d, 02775), 0);
	assert_int_equal(t_chown(b, &t_root, d, VSET_GID, 0, 7), 0);
	assert_int_equal(t_attr(b, d).mode, S_IFDIR | 02775);
	b->ops->destroy(b);
}

static void test_mem__chmod_outside_group_drops_setgid(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vctx alice = t_user(1000, 100);

	t_own(b, f, 1000, 300, 0644);
	assert_int_equal(t_chmod(b, &alice, f, 02755), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0755);
	t_own(b, f, 1000, 100, 0644);
	assert_int_equal(t_chmod(b, &alice, f, 02755), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 02755);
	b->ops->destroy(b);
}

static void test_mem__utimes_rules(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vctx alice = t_user(1000, 100), bob = t_user(1001, 100);
	struct vctx bob_nochk = bob;
	struct vsetattr set = { .valid = VSET_ATIME | VSET_MTIME,
				.atime = { 111, 5 }, .mtime = { 222, 6 } };
	struct vsetattr now = { .valid = VSET_ATIME | VSET_MTIME |
					 VSET_ATIME_NOW | VSET_MTIME_NOW };
	struct vattr a;

	bob_nochk.check_perms = 0;
	t_own(b, f, 1000, 100, 0644);
	assert_int_equal(t_setattr(b, &alice, f, &set, &a), 0);
	assert_int_equal(a.atime.tv_sec, 111);
	assert_int_equal(a.atime.tv_nsec, 5);
	assert_int_equal(a.mtime.tv_sec, 222);
	assert_int_equal(a.mtime.tv_nsec, 6);
	assert_true(a.ctime.tv_sec > 1000);
	/* Explicit times: owner only, whatever the mode bits. */
	assert_int_equal(t_setattr(b, &bob, f, &set, NULL), -EPERM);
	assert_int_equal(t_setattr(b, &bob_nochk, f, &set, NULL), -EPERM);
	/* "Now": anyone who may write; bob may not (0644, other). */
	assert_int_equal(t_setattr(b, &bob, f, &now, NULL), -EACCES);
	assert_int_equal(t_attr(b, f).mtime.tv_sec, 222);
	/* Without check_perms the kernel has already decided. */
	assert_int_equal(t_setattr(b, &bob_nochk, f, &now, &a), 0);
	assert_true(a.mtime.tv_sec > 1000);
	assert_int_equal(t_setattr(b, &alice, f, &set, NULL), 0);
	t_own(b, f, 1000, 100, 0666);
	assert_int_equal(t_setattr(b, &bob, f, &now, &a), 0);
	assert_true(a.atime.tv_sec > 1000);
	b->ops->destroy(b);
}

static void test_mem__setattr_sets_ctime(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vsetattr sa = { .valid = VSET_CTIME | VSET_MTIME,
			       .ctime = { 333, 7 }, .mtime = { 50, 0 } };
	struct vattr a;

	assert_int_equal(t_setattr(b, &t_root, f, &sa, &a), 0);
	assert_int_equal(a.ctime.tv_sec, 333);
	assert_int_equal(a.ctime.tv_nsec, 7);
	assert_int_equal(t_chmod(b, &t_root, f, 0600), 0);
	a = t_attr(b, f);
	assert_true(a.ctime.tv_sec > 1000);
	assert_int_equal(a.mtime.tv_sec, 50);	/* chmod keeps mtime */
	b->ops->destroy(b);
}

static void test_mem__setattr_size(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);
	struct vctx bob = t_user(1001, 100);
	struct vsetattr sa = { .valid = VSET_SIZE, .size = 12345 };
	struct vsetattr old = { .valid = VSET_MTIME, .mtime = { 50, 0 } };
	struct vattr a;
	struct vattr fifo;

	assert_int_equal(t_setattr(b, &t_root, f, &old, NULL), 0);
	assert_int_equal(t_setattr(b, &t_root, f, &sa, &a), 0);
	assert_int_equal(a.size, 12345);
	assert_int_equal(a.blocks, 0);	/* a hole */
	assert_true(a.mtime.tv_sec > 1000);
	assert_int_equal(t_setattr(b, &t_root, d, &sa, NULL), -EISDIR);
	assert_int_equal(t_mknod(b, &t_root, T_ROOT, "p", S_IFIFO | 0644, 0,
				 &fifo),
			 0);
	assert_int_equal(t_setattr(b, &t_root, fifo.ino, &sa, NULL), -EINVAL);
	sa.size = (uint64_t)INT64_MAX + 1;
	assert_int_equal(t_setattr(b, &t_root, f, &sa, NULL), -EFBIG);
	/* truncate(2) needs write permission, ftruncate(2) a writable fd. */
	sa.size = 10;
	assert_int_equal(t_setattr(b, &bob, f, &sa, NULL), -EACCES);
	sa.has_fh = 1;
	assert_int_equal(t_setattr(b, &bob, f, &sa, &a), 0);
	assert_int_equal(a.size, 10);
	b->ops->destroy(b);
}

static void test_mem__kill_suidgid_flag(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t g = t_mkfile(b, T_ROOT, "g", 0644);
	struct vsetattr kill = { .valid = VSET_KILL_SUIDGID };

	assert_int_equal(t_chmod(b, &t_root, f, 06755), 0);
	assert_int_equal(t_setattr(b, &t_root, f, &kill, NULL), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0755);
	assert_int_equal(t_chmod(b, &t_root, g, 06745), 0);
	assert_int_equal(t_setattr(b, &t_root, g, &kill, NULL), 0);
	assert_int_equal(t_attr(b, g).mode, S_IFREG | 02745);
	b->ops->destroy(b);
}

static void test_mem__access_checks_owner_group_other_root(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0700);
	struct vctx owner = t_user(1000, 100), member = t_user(1001, 100);
	struct vctx other = t_user(1002, 200);

	t_own(b, f, 1000, 100, 0640);
	assert_int_equal(t_access(b, &owner, f, F_OK), 0);
	assert_int_equal(t_access(b, &other, f, F_OK), 0);
	assert_int_equal(t_access(b, &owner, f, R_OK | W_OK), 0);
	assert_int_equal(t_access(b, &owner, f, X_OK), -EACCES);
	assert_int_equal(t_access(b, &member, f, R_OK), 0);
	assert_int_equal(t_access(b, &member, f, W_OK), -EACCES);
	assert_int_equal(t_access(b, &other, f, R_OK), -EACCES);
	/* Root reads and writes anything, executes only with some x bit. */
	assert_int_equal(t_access(b, &t_root_chk, f, R_OK | W_OK), 0);
	assert_int_equal(t_access(b, &t_root_chk, f, X_OK), -EACCES);
	assert_int_equal(t_chmod(b, &t_root, f, 0601), 0);
	assert_int_equal(t_access(b, &t_root_chk, f, X_OK), 0);
	/* The owner class decides even when "other" would allow more. */
	assert_int_equal(t_access(b, &owner, f, R_OK), 0);
	assert_int_equal(t_access(b, &owner, f, X_OK), -EACCES);
	assert_int_equal(t_access(b, &t_root_chk, d, X_OK), 0);
	assert_int_equal(t_access(b, &other, d, X_OK), -EACCES);
	assert_int_equal(t_access(b, &other, 777, F_OK), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__mode_bits_enforced_with_check_perms(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vctx alice = t_user(1000, 100), bob = t_user(1001, 200);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0755);
	uint64_t f, fh;
	struct vattr a;

	t_own(b, d, 1000, 100, 0755);
	/* bob: r-x on d. */
	assert_int_equal(t_create(b, &bob, d, "x", 0644, O_CREAT | O_RDWR,
				  NULL, NULL),
			 -EACCES);
	assert_int_equal(t_mkdir(b, &bob, d, "x", 0755, NULL), -EACCES);
	assert_int_equal(t_mknod(b, &bob, d, "x", S_IFIFO | 0644, 0, NULL),
			 -EACCES);
	assert_int_equal(t_symlink(b, &bob, d, "x", "t", NULL), -EACCES);
	assert_int_equal(t_tmpfile(b, &bob, d, 0600, NULL, NULL), -EACCES);
	assert_int_equal(t_create(b, &alice, d, "f", 0640, O_CREAT | O_RDWR,
				  &a, &fh),
			 0);
	f = a.ino;
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 100);
	assert_int_equal(t_release(b, f, fh), 0);
	assert_int_equal(t_unlink(b, &bob, d, "f"), -EACCES);
	assert_int_equal(t_link(b, &bob, f, d, "f2", NULL), -EACCES);
	assert_int_equal(t_rename(b, &bob, d, "f", d, "g", 0), -EACCES);
	assert_int_equal(t_open(b, &bob, f, O_RDONLY, NULL), -EACCES);
	assert_int_equal(t_open(b, &alice, f, O_RDWR, &fh), 0);
	assert_int_equal(t_release(b, f, fh), 0);
	assert_int_equal(t_chmod(b, &alice, f, 0444), 0);
	assert_int_equal(t_open(b, &alice, f, O_WRONLY, NULL), -EACCES);
	assert_int_equal(t_open(b, &alice, f, O_RDONLY | O_TRUNC, NULL),
			 -EACCES);
	/* No search permission: no lookup; no read: no opendir. */
	assert_int_equal(t_chmod(b, &alice, d, 0700), 0);
	assert_int_equal(t_lookup(b, &bob, d, "f", NULL), -EACCES);
	assert_int_equal(t_lookup(b, &alice, d, "f", NULL), 0);
	assert_int_equal(t_opendir(b, &bob, d, NULL), -EACCES);
	assert_int_equal(t_chmod(b, &alice, d, 0711), 0);
	assert_int_equal(t_lookup(b, &bob, d, "f", NULL), 0);
	assert_int_equal(t_opendir(b, &bob, d, NULL), -EACCES);
	/* Root passes, the owner can do it all. */
	assert_int_equal(t_unlink(b, &t_root_chk, d, "f"), 0);
	b->ops->destroy(b);
}

static void test_mem__mode_bits_ignored_without_check_perms(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vctx bob = t_user(1001, 200);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0700), fh;
	struct vattr a;

	bob.check_perms = 0;
	assert_int_equal(t_create(b, &bob, d, "x", 0600, O_CREAT | O_RDWR, &a,
				  &fh),
			 0);
	assert_int_equal(a.uid, 1001);
	assert_int_equal(a.gid, 200);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(t_lookup(b, &bob, d, "x", NULL), 0);
	assert_int_equal(t_unlink(b, &bob, d, "x"), 0);
	/* access() always checks: it is the question being asked. */
	assert_int_equal(t_access(b, &bob, d, W_OK), -EACCES);
	b->ops->destroy(b);
}

static void test_mem__sticky_dir_protects_others_entries(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vctx alice = t_user(1000, 100), bob = t_user(1001, 100);
	struct vctx carol = t_user(1002, 100);
	uint64_t tmp = t_mkdir_ino(b, T_ROOT, "tmp", 01777);
	uint64_t fh;
	struct vattr a;

	t_own(b, tmp, 1002, 100, 01777);	/* carol owns the dir */
	assert_int_equal(t_create(b, &alice, tmp, "af", 0666,
				  O_CREAT | O_RDWR, &a, &fh),
			 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(t_mkdir(b, &alice, tmp, "ad", 0777, NULL), 0);
	assert_int_equal(t_unlink(b, &bob, tmp, "af"), -EPERM);
	assert_int_equal(t_rmdir(b, &bob, tmp, "ad"), -EPERM);
	assert_int_equal(t_rename(b, &bob, tmp, "af", tmp, "bf", 0), -EPERM);
	/* Replacing alice's entry by rename is refused too. */
	assert_int_equal(t_create(b, &bob, tmp, "bf", 0666, O_CREAT | O_RDWR,
				  &a, &fh),
			 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(t_rename(b, &bob, tmp, "bf", tmp, "af", 0), -EPERM);
	/* Even with check_perms off: the kernel cannot know. */
	bob.check_perms = 0;
	assert_int_equal(t_unlink(b, &bob, tmp, "af"), -EPERM);
	/* Own entries, the directory's owner and root may. */
	assert_int_equal(t_unlink(b, &bob, tmp, "bf"), 0);
	assert_int_equal(t_rename(b, &alice, tmp, "af", tmp, "af2", 0), 0);
	assert_int_equal(t_unlink(b, &carol, tmp, "af2"), 0);
	assert_int_equal(t_rmdir(b, &t_root_chk, tmp, "ad"), 0);
	b->ops->destroy(b);
}

static void test_mem__setgid_dir_is_inherited(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vctx alice = t_user(1000, 100);
	uint64_t d = t_mkdir_ino(b, T_ROOT, "d", 0777);
	struct vattr a;
	uint64_t fh;

	t_own(b, d, 0, 500, 02777);
	assert_int_equal(t_create(b, &alice, d, "f", 0644, O_CREAT | O_RDWR,
				  &a, &fh),
			 0);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 500);
	assert_int_equal(a.mode, S_IFREG | 0644);
	assert_int_equal(t_mkdir(b, &alice, d, "s", 0755, &a), 0);
	assert_int_equal(a.gid, 500);
	assert_int_equal(a.mode, S_IFDIR | 02755);
	/* And further down. */
	assert_int_equal(t_mknod(b, &alice, a.ino, "p", S_IFIFO | 0600, 0, &a),
			 0);
	assert_int_equal(a.gid, 500);
	/* A non-member cannot create a set-group-ID executable in it. */
	assert_int_equal(t_create(b, &alice, d, "sg", 02755, O_CREAT | O_RDWR,
				  &a, &fh),
			 0);
	assert_int_equal(a.mode, S_IFREG | 0755);
	assert_int_equal(t_release(b, a.ino, fh), 0);
	/* Without the bit: the caller's group. */
	t_own(b, d, 0, 500, 0777);
	assert_int_equal(t_mkdir(b, &alice, d, "s2", 0755, &a), 0);
	assert_int_equal(a.gid, 100);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	b->ops->destroy(b);
}

static void test_mem__umask_is_applied_when_set(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vctx x = t_root;
	struct vattr a;

	x.umask = 027;
	assert_int_equal(t_mkdir(b, &x, T_ROOT, "d", 0777, &a), 0);
	assert_int_equal(a.mode, S_IFDIR | 0750);
	assert_int_equal(t_mknod(b, &x, T_ROOT, "f", S_IFREG | 0666, 0, &a),
			 0);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(t_symlink(b, &x, T_ROOT, "l", "f", &a), 0);
	assert_int_equal(a.mode, S_IFLNK | 0777);
	x.umask = 0;
	assert_int_equal(t_mknod(b, &x, T_ROOT, "g", S_IFREG | 0666, 0, &a),
			 0);
	assert_int_equal(a.mode, S_IFREG | 0666);
	b->ops->destroy(b);
}

/* ------------------------------------------------------------------ */
/* Extended attributes */

static void test_mem__xattr_create_and_replace(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	char buf[64];
	size_t n = 0;

	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "one", 3,
				    XATTR_REPLACE),
			 -ENODATA);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "one", 3,
				    XATTR_CREATE),
			 0);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "two", 3,
				    XATTR_CREATE),
			 -EEXIST);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "three", 5,
				    XATTR_REPLACE),
			 0);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.a", buf, sizeof(buf),
				    &n),
			 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "three", 5);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "", 0, 0), 0);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.a", buf, sizeof(buf),
				    &n),
			 0);
	assert_int_equal(n, 0);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.none", buf,
				    sizeof(buf), NULL),
			 -ENODATA);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "x", 1, 4),
			 -EINVAL);
	b->ops->destroy(b);
}

static void test_mem__xattr_size_query_and_erange(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	char buf[64];
	size_t n = 0;

	assert_int_equal(t_setxattr(b, &t_root, f, "user.k", "0123456789", 10,
				    0),
			 0);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.k", NULL, 0, &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.k", buf, 9, NULL),
			 -ERANGE);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.k", buf, 10, &n), 0);
	assert_memory_equal(buf, "0123456789", 10);
	b->ops->destroy(b);
}

static void test_mem__xattr_list_and_remove(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0666);
	struct vctx alice = t_user(1000, 100);
	char buf[128];
	size_t n = 0;

	assert_int_equal(t_listxattr(b, &t_root, f, NULL, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "1", 1, 0), 0);
	assert_int_equal(t_setxattr(b, &t_root, f, "trusted.t", "2", 1, 0), 0);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.bb", "3", 1, 0), 0);
	assert_int_equal(t_listxattr(b, &t_root, f, NULL, 0, &n), 0);
	assert_int_equal(n, 7 + 10 + 8);
	assert_int_equal(t_listxattr(b, &t_root, f, buf, n - 1, NULL), -ERANGE);
	assert_int_equal(t_listxattr(b, &t_root, f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 25);
	assert_true(memmem(buf, n, "user.a\0", 7) != NULL);
	assert_true(memmem(buf, n, "user.bb\0", 8) != NULL);
	assert_true(memmem(buf, n, "trusted.t\0", 10) != NULL);
	/* trusted.* is invisible to others. */
	assert_int_equal(t_listxattr(b, &alice, f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 15);
	assert_null(memmem(buf, n, "trusted", 7));

	assert_int_equal(t_removexattr(b, &t_root, f, "user.a"), 0);
	assert_int_equal(t_removexattr(b, &t_root, f, "user.a"), -ENODATA);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.a", buf, sizeof(buf),
				    NULL),
			 -ENODATA);
	assert_int_equal(t_listxattr(b, &alice, f, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "user.bb", 8);
	b->ops->destroy(b);
}

static void test_mem__xattr_namespaces_and_limits(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0666);
	struct vctx alice = t_user(1000, 100);
	struct vattr l;
	char name[300], *big = calloc(1, 65537);
	size_t n;

	assert_int_equal(t_setxattr(b, &t_root, f, "security.x", "1", 1, 0),
			 -EOPNOTSUPP);
	assert_int_equal(t_setxattr(b, &t_root, f, "system.x", "1", 1, 0),
			 -EOPNOTSUPP);
	assert_int_equal(t_getxattr(b, &t_root, f, "other", NULL, 0, NULL),
			 -EOPNOTSUPP);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.", "1", 1, 0),
			 -EINVAL);
	/* trusted.*: root only; others cannot see it either. */
	assert_int_equal(t_setxattr(b, &alice, f, "trusted.x", "1", 1, 0),
			 -EPERM);
	assert_int_equal(t_setxattr(b, &t_root, f, "trusted.x", "1", 1, 0), 0);
	assert_int_equal(t_getxattr(b, &alice, f, "trusted.x", NULL, 0, NULL),
			 -ENODATA);
	assert_int_equal(t_removexattr(b, &alice, f, "trusted.x"), -EPERM);
	assert_int_equal(t_getxattr(b, &t_root, f, "trusted.x", NULL, 0, &n),
			 0);
	assert_int_equal(n, 1);
	/* Values up to 64 KiB, names up to 255 bytes. */
	assert_int_equal(t_setxattr(b, &t_root, f, "user.big", big, 65537, 0),
			 -E2BIG);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.big", big, 65536, 0),
			 0);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[256] = '\0';
	assert_int_equal(t_setxattr(b, &t_root, f, name, "1", 1, 0), -ERANGE);
	name[255] = '\0';
	assert_int_equal(t_setxattr(b, &t_root, f, name, "1", 1, 0), 0);
	/* user.* only on regular files and directories. */
	assert_int_equal(t_symlink(b, &t_root, T_ROOT, "l", "f", &l), 0);
	assert_int_equal(t_setxattr(b, &t_root, l.ino, "user.a", "1", 1, 0),
			 -EPERM);
	assert_int_equal(t_getxattr(b, &t_root, l.ino, "user.a", NULL, 0, NULL),
			 -ENODATA);
	assert_int_equal(t_setxattr(b, &t_root, l.ino, "trusted.a", "1", 1, 0),
			 0);
	assert_int_equal(t_setxattr(b, &t_root, T_ROOT, "user.d", "1", 1, 0),
			 0);
	/* With check_perms, user.* follows the mode bits. */
	assert_int_equal(t_chmod(b, &t_root, f, 0444), 0);
	assert_int_equal(t_setxattr(b, &alice, f, "user.a", "1", 1, 0),
			 -EACCES);
	assert_int_equal(t_getxattr(b, &alice, f, "user.big", NULL, 0, &n), 0);
	assert_int_equal(n, 65536);
	assert_int_equal(t_chmod(b, &t_root, f, 0440), 0);
	assert_int_equal(t_getxattr(b, &alice, f, "user.big", NULL, 0, NULL),
			 -EACCES);
	assert_int_equal(t_setxattr(b, &t_root, 999, "user.a", "1", 1, 0),
			 -ENOENT);
	free(big);
	b->ops->destroy(b);
}

static void test_mem__xattr_changes_update_ctime(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vsetattr old = { .valid = VSET_CTIME, .ctime = { 1000, 0 } };
	struct timespec t1000 = { 1000, 0 };

	assert_int_equal(t_setattr(b, &t_root, f, &old, NULL), 0);
	assert_int_equal(t_setxattr(b, &t_root, f, "user.a", "1", 1, 0), 0);
	assert_true(t_ts_after(t_attr(b, f).ctime, t1000));
	assert_int_equal(t_setattr(b, &t_root, f, &old, NULL), 0);
	assert_int_equal(t_getxattr(b, &t_root, f, "user.a", NULL, 0, NULL), 0);
	assert_int_equal(t_attr(b, f).ctime.tv_sec, 1000);
	assert_int_equal(t_removexattr(b, &t_root, f, "user.a"), 0);
	assert_true(t_ts_after(t_attr(b, f).ctime, t1000));
	b->ops->destroy(b);
}

static void test_mem__statfs_reports_space_and_inodes(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vstatfs st;
	char data[8192];
	uint64_t f;

	assert_int_equal(t_statfs(b, &st), 0);
	assert_int_equal(st.bsize, 4096);
	assert_int_equal(st.frsize, 4096);
	assert_int_equal(st.namelen, 255);
	assert_int_equal(st.blocks, 256);
	assert_int_equal(st.bfree, 256);
	assert_int_equal(st.bavail, 256);
	assert_int_equal(st.files, 1ull << 32);
	assert_int_equal(st.ffree, (1ull << 32) - 1);
	f = t_mkfile(b, T_ROOT, "f", 0644);
	memset(data, 1, sizeof(data));
	t_write_ok(b, f, 0, data, sizeof(data));
	assert_int_equal(t_statfs(b, &st), 0);
	assert_int_equal(st.bfree, 254);
	assert_int_equal(st.ffree, (1ull << 32) - 2);
	b->ops->destroy(b);
	/* 0 = half of RAM: some plausible non-zero size. */
	b = t_new(0);
	assert_int_equal(t_statfs(b, &st), 0);
	assert_true(st.blocks > 1000);
	b->ops->destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem__chmod_only_by_owner_or_root),
		cmocka_unit_test(test_mem__chown_rules),
		cmocka_unit_test(test_mem__chown_clears_set_id_bits),
		cmocka_unit_test(test_mem__chmod_outside_group_drops_setgid),
		cmocka_unit_test(test_mem__utimes_rules),
		cmocka_unit_test(test_mem__setattr_sets_ctime),
		cmocka_unit_test(test_mem__setattr_size),
		cmocka_unit_test(test_mem__kill_suidgid_flag),
		cmocka_unit_test(test_mem__access_checks_owner_group_other_root),
		cmocka_unit_test(test_mem__mode_bits_enforced_with_check_perms),
		cmocka_unit_test(
			test_mem__mode_bits_ignored_without_check_perms),
		cmocka_unit_test(test_mem__sticky_dir_protects_others_entries),
		cmocka_unit_test(test_mem__setgid_dir_is_inherited),
		cmocka_unit_test(test_mem__umask_is_applied_when_set),
		cmocka_unit_test(test_mem__xattr_create_and_replace),
		cmocka_unit_test(test_mem__xattr_size_query_and_erange),
		cmocka_unit_test(test_mem__xattr_list_and_remove),
		cmocka_unit_test(test_mem__xattr_namespaces_and_limits),
		cmocka_unit_test(test_mem__xattr_changes_update_ctime),
		cmocka_unit_test(test_mem__statfs_reports_space_and_inodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
