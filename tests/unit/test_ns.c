/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of meta/ns: the namespace over the KV. One suite written
 * against the backend-neutral vkv/vns API, run twice through the same
 * code: on LMDB (a fresh store in a private directory per test) and on
 * PostgreSQL (a private server for the run, started as test_kv.c does it
 * (test_pg.h), a fresh table per test). Without PostgreSQL the second run
 * is skipped with the reason printed.
 *
 * The namespace ops (test_ns__*), exactly-once records, locks and leases,
 * layouts, the inode counter and GC claims are here; fsck has its own
 * program (test_meta_fsck.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <linux/xattr.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "meta/kv.h"
#include "meta/ns.h"
#include "test_pg.h"

/* The backend the running group uses: NULL = LMDB, else PostgreSQL. */
static const char *fx_pg_conninfo;

struct fx {
	char dir[64];
	struct vkv *kv;
	struct vns *ns;
};

static const struct vns_cred root = {0, 0};
static const struct vns_cred alice = {1000, 1000};
static const struct vns_cred bob = {1001, 1001};

static int fx_rm_cb(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char spec[96];

	if (!f)
		return -1;
	*state = f;
	if (fx_pg_conninfo) {
		if (pgt_fresh(fx_pg_conninfo) || vkv_open(fx_pg_conninfo, &f->kv))
			return -1;
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/valor-ns-XXXXXX");
		if (!mkdtemp(f->dir))
			return -1;
		snprintf(spec, sizeof(spec), "lmdb:%s/db", f->dir);
		if (vkv_open(spec, &f->kv))
			return -1;
	}
	if (vns_open(f->kv, &f->ns))
		return -1;
	/* A chain table of 4 chains, version 1: regular files can exist. */
	vns_set_chains(f->ns, 1, 4);
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vns_close(f->ns);
	vkv_close(f->kv);
	if (f->dir[0])
		nftw(f->dir, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static uint64_t mk(struct fx *f, uint64_t parent, const char *name,
		   uint32_t mode)
{
	struct vattr a;
	int rc = S_ISDIR(mode)
			 ? vns_mkdir(f->ns, &root, parent, name, mode, &a)
			 : vns_mknod(f->ns, &root, parent, name, mode, 0, &a);

	assert_int_equal(rc, 0);
	return a.ino;
}

static struct vattr getattr(struct fx *f, uint64_t ino)
{
	struct vattr a;

	assert_int_equal(vns_getattr(f->ns, ino, &a), 0);
	return a;
}

static uint64_t lookup_ino(struct fx *f, uint64_t parent, const char *name)
{
	struct vattr a;
	int rc = vns_lookup(f->ns, &root, parent, name, &a);

	return rc ? 0 : a.ino;
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static size_t gc_count(struct fx *f, uint64_t ino)
{
	struct vns_gc_entry e[16];
	int n = vns_gc_list(f->ns, e, 16);
	size_t hits = 0;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		hits += e[i].ino == ino;
	return hits;
}

/* ---- Tests --------------------------------------------------------------- */

static void test_ns__open_creates_root(void **state)
{
	struct fx *f = *state;
	struct vattr a = getattr(f, VNS_ROOT_INO);
	struct vns *ns2;

	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.nlink, 2);
	/* A second open finds it and changes nothing. */
	assert_int_equal(vns_open(f->kv, &ns2), 0);
	assert_int_equal(vns_getattr(ns2, VNS_ROOT_INO, &a), 0);
	assert_int_equal(a.nlink, 2);
	vns_close(ns2);
	assert_int_equal(lookup_ino(f, 1, ".."), 1);
	assert_int_equal(lookup_ino(f, 1, "."), 1);
}

static void test_ns__mkdir_sets_nlink_and_parent_times(void **state)
{
	struct fx *f = *state;
	struct vattr before = getattr(f, 1), a;
	uint64_t d;

	d = mk(f, 1, "d", S_IFDIR | 0700);
	a = getattr(f, 1);
	assert_int_equal(a.nlink, 3);
	assert_true(ts_ns(a.mtime) >= ts_ns(before.mtime));
	assert_true(ts_ns(a.ctime) >= ts_ns(before.ctime));
	a = getattr(f, d);
	assert_int_equal(a.mode, S_IFDIR | 0700);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(lookup_ino(f, d, ".."), 1);
	mk(f, d, "sub", S_IFDIR | 0700);
	assert_int_equal(getattr(f, d).nlink, 3);
	mk(f, d, "file", S_IFREG | 0600);
	assert_int_equal(getattr(f, d).nlink, 3);
}

static void test_ns__create_errors(void **state)
{
	struct fx *f = *state;
	char longname[VNS_NAME_MAX + 2];
	struct vattr a;
	uint64_t file;

	file = mk(f, 1, "f", S_IFREG | 0644);
	assert_int_equal(vns_mknod(f->ns, &root, 1, "f", S_IFREG, 0, &a),
			 -EEXIST);
	assert_int_equal(vns_mkdir(f->ns, &root, 1, "f", 0755, &a), -EEXIST);
	assert_int_equal(vns_symlink(f->ns, &root, 1, "f", "x", &a), -EEXIST);
	assert_int_equal(vns_mkdir(f->ns, &root, 1, ".", 0755, &a), -EEXIST);
	assert_int_equal(vns_mkdir(f->ns, &root, 999999, "x", 0755, &a),
			 -ENOENT);
	assert_int_equal(vns_mkdir(f->ns, &root, file, "x", 0755, &a),
			 -ENOTDIR);
	assert_int_equal(vns_mkdir(f->ns, &root, 1, "a/b", 0755, &a), -EINVAL);
	assert_int_equal(vns_mkdir(f->ns, &root, 1, "", 0755, &a), -EINVAL);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(vns_mkdir(f->ns, &root, 1, longname, 0755, &a),
			 -ENAMETOOLONG);
	longname[VNS_NAME_MAX] = '\0';
	assert_int_equal(vns_mkdir(f->ns, &root, 1, longname, 0755, &a), 0);
	assert_int_equal(vns_lookup(f->ns, &root, 1, "none", &a), -ENOENT);
	assert_int_equal(vns_lookup(f->ns, &root, file, "x", &a), -ENOTDIR);
}

static void test_ns__mknod_all_types(void **state)
{
	struct fx *f = *state;
	static const uint32_t types[] = {S_IFREG, S_IFIFO, S_IFSOCK, S_IFCHR,
					 S_IFBLK};
	struct vattr a;
	char name[8];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		assert_int_equal(vns_mknod(f->ns, &alice, 1, name,
					   types[i] | 0640, makedev(8, 1), &a),
				 0);
		assert_int_equal(a.mode, types[i] | 0640);
		assert_int_equal(a.uid, 1000);
		assert_int_equal(a.nlink, 1);
		assert_int_equal(a.rdev,
				 types[i] == S_IFCHR || types[i] == S_IFBLK
					 ? makedev(8, 1)
					 : 0);
		assert_int_equal(lookup_ino(f, 1, name), a.ino);
	}
	assert_int_equal(
		vns_mknod(f->ns, &root, 1, "bad", S_IFDIR | 0755, 0, &a),
		-EINVAL);
}

static void test_ns__symlink_readlink(void **state)
{
	struct fx *f = *state;
	char buf[64];
	struct vattr a;

	assert_int_equal(vns_symlink(f->ns, &root, 1, "l", "some/target", &a),
			 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(a.size, 11);
	assert_int_equal(vns_readlink(f->ns, a.ino, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "some/target");
	assert_int_equal(vns_readlink(f->ns, a.ino, buf, 5), -ENAMETOOLONG);
	assert_int_equal(vns_readlink(f->ns, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(vns_readlink(f->ns, 424242, buf, sizeof(buf)),
			 -ENOENT);
	assert_int_equal(vns_symlink(f->ns, &root, 1, "e", "", &a), -ENOENT);
}

static void test_ns__link_counts_and_errors(void **state)
{
	struct fx *f = *state;
	uint64_t file = mk(f, 1, "f", S_IFREG | 0644);
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755);
	struct vattr a;

	assert_int_equal(vns_link(f->ns, &root, file, d, "g", &a), 0);
	assert_int_equal(a.ino, file);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(lookup_ino(f, d, "g"), file);
	assert_int_equal(vns_link(f->ns, &root, d, 1, "dd", &a), -EPERM);
	assert_int_equal(vns_link(f->ns, &root, file, 1, "f", &a), -EEXIST);
	assert_int_equal(vns_link(f->ns, &root, file, file, "x", &a), -ENOTDIR);
	assert_int_equal(vns_link(f->ns, &root, 777777, 1, "x", &a), -ENOENT);
	assert_int_equal(vns_unlink(f->ns, &root, 1, "f"), 0);
	assert_int_equal(getattr(f, file).nlink, 1);
	assert_int_equal(gc_count(f, file), 0);
}

static void test_ns__unlink_rules(void **state)
{
	struct fx *f = *state;
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755);
	uint64_t fifo = mk(f, 1, "p", S_IFIFO | 0644);
	uint64_t file = mk(f, 1, "f", S_IFREG | 0644);
	struct vattr a;

	assert_int_equal(vns_unlink(f->ns, &root, 1, "d"), -EISDIR);
	assert_int_equal(vns_unlink(f->ns, &root, 1, "none"), -ENOENT);
	assert_int_equal(vns_unlink(f->ns, &root, 424242, "x"), -ENOENT);
	assert_int_equal(getattr(f, d).nlink, 2);
	/* Special files go at once; regular files become garbage. */
	assert_int_equal(vns_unlink(f->ns, &root, 1, "p"), 0);
	assert_int_equal(vns_getattr(f->ns, fifo, &a), -ENOENT);
	assert_int_equal(vns_unlink(f->ns, &root, 1, "f"), 0);
	assert_int_equal(vns_lookup(f->ns, &root, 1, "f", &a), -ENOENT);
	assert_int_equal(gc_count(f, file), 1);
	assert_int_equal(getattr(f, file).nlink, 0);
	assert_int_equal(vns_gc_done(f->ns, file), 0);
	assert_int_equal(vns_getattr(f->ns, file, &a), -ENOENT);
	assert_int_equal(vns_gc_done(f->ns, file), -ENOENT);
}

static void test_ns__rmdir_rules(void **state)
{
	struct fx *f = *state;
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755);
	struct vattr a;

	mk(f, 1, "f", S_IFREG | 0644);
	mk(f, d, "inner", S_IFREG | 0644);
	assert_int_equal(getattr(f, 1).nlink, 3);
	assert_int_equal(vns_rmdir(f->ns, &root, 1, "d"), -ENOTEMPTY);
	assert_int_equal(vns_rmdir(f->ns, &root, 1, "f"), -ENOTDIR);
	assert_int_equal(vns_rmdir(f->ns, &root, 1, "none"), -ENOENT);
	assert_int_equal(vns_rmdir(f->ns, &root, 1, "."), -EINVAL);
	assert_int_equal(vns_unlink(f->ns, &root, d, "inner"), 0);
	assert_int_equal(vns_rmdir(f->ns, &root, 1, "d"), 0);
	assert_int_equal(getattr(f, 1).nlink, 2);
	assert_int_equal(vns_getattr(f->ns, d, &a), -ENOENT);
}

static void test_ns__sticky_dir_protects_others_entries(void **state)
{
	struct fx *f = *state;
	uint64_t t = mk(f, 1, "tmp", S_IFDIR | 01777);
	struct vattr a;

	assert_int_equal(
		vns_mknod(f->ns, &alice, t, "mine", S_IFREG | 0644, 0, &a), 0);
	assert_int_equal(vns_unlink(f->ns, &bob, t, "mine"), -EPERM);
	assert_int_equal(vns_rename(f->ns, &bob, t, "mine", t, "x", 0), -EPERM);
	assert_int_equal(vns_unlink(f->ns, &alice, t, "mine"), 0);
}

static void test_ns__setattr_owner_rules(void **state)
{
	struct fx *f = *state;
	struct vsetattr sa = {0};
	struct vattr a;
	uint64_t ino;

	assert_int_equal(
		vns_mknod(f->ns, &alice, 1, "f", S_IFREG | 06755, 0, &a), 0);
	ino = a.ino;
	sa.valid = VSET_MODE;
	sa.mode = 0600;
	assert_int_equal(vns_setattr(f->ns, &bob, ino, &sa, &a), -EPERM);
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0600);
	sa.valid = VSET_UID;
	sa.uid = 1001;
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), -EPERM);
	sa.valid = VSET_GID;
	sa.gid = 1001;
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), -EPERM);
	sa.gid = 1000;
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), 0);
	sa.valid = VSET_MODE;
	sa.mode = 06755;
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), 0);
	sa.valid = VSET_UID | VSET_GID;
	sa.uid = 1001;
	sa.gid = 1001;
	assert_int_equal(vns_setattr(f->ns, &root, ino, &sa, &a), 0);
	assert_int_equal(a.uid, 1001);
	assert_int_equal(a.gid, 1001);
	assert_int_equal(a.mode, S_IFREG | 0755); /* suid/sgid killed */
	sa.valid = VSET_ATIME | VSET_MTIME;
	sa.atime = (struct timespec){100, 5};
	sa.mtime = (struct timespec){200, 7};
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), -EPERM);
	assert_int_equal(vns_setattr(f->ns, &bob, ino, &sa, &a), 0);
	assert_int_equal(a.atime.tv_sec, 100);
	assert_int_equal(a.atime.tv_nsec, 5);
	assert_int_equal(a.mtime.tv_sec, 200);
	sa.valid = VSET_MTIME_NOW;
	assert_int_equal(vns_setattr(f->ns, &alice, ino, &sa, &a), -EACCES);
	assert_int_equal(vns_setattr(f->ns, &bob, ino, &sa, &a), 0);
	assert_true(a.mtime.tv_sec > 200);
	sa.valid = VSET_SIZE;
	sa.size = 12345;
	assert_int_equal(vns_setattr(f->ns, &bob, ino, &sa, &a), 0);
	assert_int_equal(a.size, 12345);
	assert_int_equal(vns_setattr(f->ns, &root, 1, &sa, &a), -EISDIR);
	assert_int_equal(vns_setattr(f->ns, &root, 999999, &sa, &a), -ENOENT);
}

static void test_ns__rename_moves_and_replaces(void **state)
{
	struct fx *f = *state;
	uint64_t a = mk(f, 1, "a", S_IFDIR | 0755);
	uint64_t b = mk(f, 1, "b", S_IFDIR | 0755);
	uint64_t x = mk(f, a, "x", S_IFREG | 0644);
	uint64_t y = mk(f, b, "y", S_IFREG | 0644);
	uint64_t sub = mk(f, a, "sub", S_IFDIR | 0755);
	uint64_t e = mk(f, b, "empty", S_IFDIR | 0755);
	struct vattr at;

	/* File over file: the old target becomes garbage. */
	assert_int_equal(vns_rename(f->ns, &root, a, "x", b, "y", 0), 0);
	assert_int_equal(lookup_ino(f, b, "y"), x);
	assert_int_equal(lookup_ino(f, a, "x"), 0);
	assert_int_equal(gc_count(f, y), 1);
	/* Directory over empty directory, across parents. */
	assert_int_equal(getattr(f, a).nlink, 3);
	assert_int_equal(getattr(f, b).nlink, 3);
	assert_int_equal(vns_rename(f->ns, &root, a, "sub", b, "empty", 0), 0);
	assert_int_equal(lookup_ino(f, b, "empty"), sub);
	assert_int_equal(vns_getattr(f->ns, e, &at), -ENOENT);
	assert_int_equal(getattr(f, a).nlink, 2);
	assert_int_equal(getattr(f, b).nlink, 3);
	assert_int_equal(lookup_ino(f, sub, ".."), b);
	/* Errors. */
	mk(f, sub, "inner", S_IFREG | 0644);
	mk(f, a, "d2", S_IFDIR | 0755);
	mk(f, a, "f2", S_IFREG | 0644);
	assert_int_equal(vns_rename(f->ns, &root, a, "d2", b, "empty", 0),
			 -ENOTEMPTY);
	assert_int_equal(vns_rename(f->ns, &root, a, "f2", b, "empty", 0),
			 -EISDIR);
	assert_int_equal(vns_rename(f->ns, &root, a, "d2", b, "y", 0),
			 -ENOTDIR);
	assert_int_equal(
		vns_rename(f->ns, &root, a, "f2", b, "y", RENAME_NOREPLACE),
		-EEXIST);
	assert_int_equal(vns_rename(f->ns, &root, a, "none", b, "z", 0),
			 -ENOENT);
	assert_int_equal(vns_rename(f->ns, &root, a, "f2", b, "z",
				    RENAME_NOREPLACE | RENAME_EXCHANGE),
			 -EINVAL);
	assert_int_equal(vns_rename(f->ns, &root, a, "f2", b, "z", 0x80),
			 -EINVAL);
	/* Same inode under both names: nothing happens. */
	assert_int_equal(vns_link(f->ns, &root, x, a, "xl", &at), 0);
	assert_int_equal(vns_rename(f->ns, &root, a, "xl", b, "y", 0), 0);
	assert_int_equal(lookup_ino(f, a, "xl"), x);
	assert_int_equal(getattr(f, x).nlink, 2);
	/* Rename within one directory. */
	assert_int_equal(
		vns_rename(f->ns, &root, a, "f2", a, "f3", RENAME_NOREPLACE),
		0);
	assert_int_equal(lookup_ino(f, a, "f2"), 0);
	assert_true(lookup_ino(f, a, "f3") != 0);
}

static void test_ns__rename_refuses_loops(void **state)
{
	struct fx *f = *state;
	uint64_t a = mk(f, 1, "a", S_IFDIR | 0755);
	uint64_t b = mk(f, a, "b", S_IFDIR | 0755);
	uint64_t c = mk(f, b, "c", S_IFDIR | 0755);

	assert_int_equal(vns_rename(f->ns, &root, 1, "a", c, "a", 0), -EINVAL);
	assert_int_equal(vns_rename(f->ns, &root, 1, "a", a, "x", 0), -EINVAL);
	assert_int_equal(vns_rename(f->ns, &root, a, "b", b, "x", 0), -EINVAL);
	/* Exchanging a directory with one of its descendants. */
	assert_int_equal(
		vns_rename(f->ns, &root, 1, "a", b, "c", RENAME_EXCHANGE),
		-EINVAL);
	/* Moving a child up is fine. */
	assert_int_equal(vns_rename(f->ns, &root, b, "c", 1, "c", 0), 0);
	assert_int_equal(lookup_ino(f, c, ".."), 1);
	assert_int_equal(getattr(f, 1).nlink, 4);
	assert_int_equal(getattr(f, b).nlink, 2);
}

static void test_ns__rename_exchange(void **state)
{
	struct fx *f = *state;
	uint64_t a = mk(f, 1, "a", S_IFDIR | 0755);
	uint64_t b = mk(f, 1, "b", S_IFDIR | 0755);
	uint64_t file = mk(f, a, "file", S_IFREG | 0644);
	uint64_t dir = mk(f, b, "dir", S_IFDIR | 0755);

	assert_int_equal(
		vns_rename(f->ns, &root, a, "file", b, "none", RENAME_EXCHANGE),
		-ENOENT);
	assert_int_equal(
		vns_rename(f->ns, &root, a, "file", b, "dir", RENAME_EXCHANGE),
		0);
	assert_int_equal(lookup_ino(f, a, "file"), dir);
	assert_int_equal(lookup_ino(f, b, "dir"), file);
	assert_int_equal(lookup_ino(f, dir, ".."), a);
	assert_int_equal(getattr(f, a).nlink, 3);
	assert_int_equal(getattr(f, b).nlink, 2);
	assert_int_equal(getattr(f, file).nlink, 1);
	assert_int_equal(gc_count(f, file), 0);
}

static int list_all(struct fx *f, uint64_t dir, char names[][16], size_t max)
{
	struct vns_dirent e[3];
	char cookie[VNS_NAME_MAX + 1] = "";
	size_t n = 0;
	int got;

	while ((got = vns_readdir(f->ns, dir, cookie, e, 3)) > 0) {
		for (int i = 0; i < got && n < max; i++)
			snprintf(names[n++], 16, "%s", e[i].name);
		snprintf(cookie, sizeof(cookie), "%s", e[got - 1].name);
	}
	assert_int_equal(got, 0);
	return (int)n;
}

static void test_ns__readdir_pages_survive_churn(void **state)
{
	struct fx *f = *state;
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755);
	struct vns_dirent e[4];
	char cookie[VNS_NAME_MAX + 1] = "", name[16];
	char seen[64][16];
	size_t nseen = 0;
	int got, round = 0;

	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "f%02d", i);
		mk(f, d, name, S_IFREG | 0644);
	}
	while ((got = vns_readdir(f->ns, d, cookie, e, 4)) > 0) {
		for (int i = 0; i < got; i++) {
			assert_true(nseen < 64);
			snprintf(seen[nseen++], 16, "%s", e[i].name);
			assert_int_equal(e[i].type, S_IFREG);
			assert_int_equal(e[i].ino, lookup_ino(f, d, e[i].name));
		}
		snprintf(cookie, sizeof(cookie), "%s", e[got - 1].name);
		/* Between pages: remove one not yet listed (odd ones from
		 * f11 up), add one before and one after the cursor (for a
		 * few rounds: a page that only ever meets the newest entry
		 * would never end). */
		snprintf(name, sizeof(name), "f%02d", 11 + 2 * round);
		if (11 + 2 * round < 20)
			assert_int_equal(vns_unlink(f->ns, &root, d, name), 0);
		if (round < 8) {
			snprintf(name, sizeof(name), "a%02d", round);
			mk(f, d, name, S_IFREG | 0644);
			snprintf(name, sizeof(name), "g%02d", round);
			mk(f, d, name, S_IFREG | 0644);
		}
		round++;
	}
	assert_int_equal(got, 0);
	/* No duplicates, and sorted (so strictly increasing = no dup). */
	for (size_t i = 1; i < nseen; i++)
		assert_true(strcmp(seen[i - 1], seen[i]) < 0);
	/* Every entry present throughout (even f00..f10) was listed. */
	for (int i = 0; i <= 10; i++) {
		size_t k;

		snprintf(name, sizeof(name), "f%02d", i);
		for (k = 0; k < nseen && strcmp(seen[k], name); k++)
			;
		assert_true(k < nseen);
	}
	for (int i = 12; i < 20; i += 2) {
		size_t k;

		snprintf(name, sizeof(name), "f%02d", i);
		for (k = 0; k < nseen && strcmp(seen[k], name); k++)
			;
		assert_true(k < nseen);
	}
	assert_int_equal(
		vns_readdir(f->ns, lookup_ino(f, d, "f00"), NULL, e, 4),
		-ENOTDIR);
	{
		char names[64][16];
		uint64_t empty = mk(f, 1, "empty", S_IFDIR | 0755);

		assert_int_equal(list_all(f, empty, names, 64), 0);
	}
}

static void test_ns__xattr_ops(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f, 1, "f", S_IFREG | 0644);
	char buf[64];

	assert_int_equal(vns_getxattr(f->ns, ino, "user.a", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(vns_setxattr(f->ns, &root, ino, "user.a", "1", 1,
				      XATTR_REPLACE),
			 -ENODATA);
	assert_int_equal(vns_setxattr(f->ns, &root, ino, "user.a", "v1", 2,
				      XATTR_CREATE),
			 0);
	assert_int_equal(vns_setxattr(f->ns, &root, ino, "user.a", "v2", 2,
				      XATTR_CREATE),
			 -EEXIST);
	assert_int_equal(vns_setxattr(f->ns, &root, ino, "user.a", "value", 5,
				      XATTR_REPLACE),
			 0);
	assert_int_equal(
		vns_setxattr(f->ns, &root, ino, "user.empty", "", 0, 0), 0);
	assert_int_equal(vns_getxattr(f->ns, ino, "user.a", NULL, 0), 5);
	assert_int_equal(vns_getxattr(f->ns, ino, "user.a", buf, 4), -ERANGE);
	assert_int_equal(vns_getxattr(f->ns, ino, "user.a", buf, sizeof(buf)),
			 5);
	assert_memory_equal(buf, "value", 5);
	assert_int_equal(
		vns_getxattr(f->ns, ino, "user.empty", buf, sizeof(buf)), 0);
	assert_int_equal(vns_listxattr(f->ns, ino, NULL, 0), 18);
	assert_int_equal(vns_listxattr(f->ns, ino, buf, 10), -ERANGE);
	assert_int_equal(vns_listxattr(f->ns, ino, buf, sizeof(buf)), 18);
	assert_memory_equal(buf, "user.a\0user.empty\0", 18);
	assert_int_equal(vns_removexattr(f->ns, &root, ino, "user.a"), 0);
	assert_int_equal(vns_removexattr(f->ns, &root, ino, "user.a"),
			 -ENODATA);
	assert_int_equal(vns_listxattr(f->ns, ino, buf, sizeof(buf)), 11);
	assert_int_equal(
		vns_setxattr(f->ns, &root, 777777, "user.a", "1", 1, 0),
		-ENOENT);
	assert_int_equal(vns_setxattr(f->ns, &root, ino, "user.big", buf,
				      VNS_XATTR_SIZE_MAX + 1, 0),
			 -E2BIG);
	/* Xattrs go with the inode. */
	assert_int_equal(vns_unlink(f->ns, &root, 1, "f"), 0);
	assert_int_equal(vns_gc_done(f->ns, ino), 0);
	assert_int_equal(vns_listxattr(f->ns, ino, NULL, 0), -ENOENT);
}

static void test_ns__statfs_counts_inodes(void **state)
{
	struct fx *f = *state;
	struct vstatfs st = {.blocks = 7}, st2 = {0};

	assert_int_equal(vns_statfs(f->ns, &st), 0);
	assert_int_equal(st.blocks, 7); /* space is the caller's */
	assert_int_equal(st.namelen, VNS_NAME_MAX);
	mk(f, 1, "a", S_IFREG | 0644);
	mk(f, 1, "b", S_IFDIR | 0755);
	assert_int_equal(vns_statfs(f->ns, &st2), 0);
	assert_int_equal(st.ffree - st2.ffree, 2);
	assert_int_equal(st2.files - st2.ffree, 3);
}

static void test_ns__unlink_while_open_then_close_collects(void **state)
{
	struct fx *f = *state;
	struct vns_file vf, vf2;
	struct vns_gc_entry g[4];
	struct vattr a;
	uint64_t ino;

	assert_int_equal(
		vns_create(f->ns, &alice, 1, "f", 0644, O_CREAT, 7, &vf), 0);
	ino = vf.attr.ino;
	assert_int_equal(vf.layout.chunk_size, 1u << 20);
	assert_int_equal(vns_session_open(f->ns, &root, ino, 0, 8, &vf2), 0);
	assert_int_equal(vns_unlink(f->ns, &root, 1, "f"), 0);
	assert_int_equal(getattr(f, ino).nlink, 0);
	assert_int_equal(gc_count(f, ino), 0);
	assert_int_equal(vns_set_length(f->ns, &root, ino, 4096, vf.trunc_ver, &a), 0);
	assert_int_equal(vns_session_close(f->ns, &root, ino, 7), 0);
	assert_int_equal(gc_count(f, ino), 0);
	assert_int_equal(vns_session_close(f->ns, &root, ino, 7), -ENOENT);
	assert_int_equal(vns_session_close(f->ns, &root, ino, 8), 0);
	assert_int_equal(vns_gc_list(f->ns, g, 4), 1);
	assert_int_equal(g[0].ino, ino);
	assert_int_equal(g[0].size, 4096);
	assert_int_equal(g[0].layout.chunk_size, 1u << 20);
	assert_int_equal(vns_session_open(f->ns, &root, ino, 0, 9, &vf2), -ENOENT);
	assert_int_equal(vns_gc_done(f->ns, ino), 0);
	assert_int_equal(vns_gc_list(f->ns, g, 4), 0);
	assert_int_equal(vns_getattr(f->ns, ino, &a), -ENOENT);
}

static void test_ns__create_excl_trunc_and_sessions(void **state)
{
	struct fx *f = *state;
	struct vns_file vf, vf2;
	struct vattr a;
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755);

	assert_int_equal(vns_create(f->ns, &root, 1, "f", 0600, O_EXCL, 1, &vf),
			 0);
	assert_int_equal(
		vns_set_length(f->ns, &root, vf.attr.ino, 100, vf.trunc_ver, NULL), 0);
	assert_int_equal(
		vns_create(f->ns, &root, 1, "f", 0600, O_EXCL, 1, &vf2),
		-EEXIST);
	assert_int_equal(vns_create(f->ns, &root, 1, "f", 0600, 0, 1, &vf2), 0);
	assert_int_equal(vf2.attr.ino, vf.attr.ino);
	assert_int_equal(vf2.attr.size, 100);
	assert_int_equal(
		vns_create(f->ns, &root, 1, "f", 0600, O_TRUNC, 1, &vf2), 0);
	assert_int_equal(vf2.attr.size, 0);
	assert_int_equal(vf2.trunc_ver, vf.trunc_ver + 1);
	assert_int_equal(vns_create(f->ns, &root, 1, "d", 0600, 0, 1, &vf2),
			 -EISDIR);
	assert_int_equal(vns_session_open(f->ns, &root, d, 0, 1, &vf2), -EISDIR);
	/* Three opens by client 1: three closes, then none left. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vns_session_close(f->ns, &root, vf.attr.ino, 1), 0);
	assert_int_equal(vns_session_close(f->ns, &root, vf.attr.ino, 1), -ENOENT);
	assert_int_equal(vns_unlink(f->ns, &root, 1, "f"), 0);
	assert_int_equal(gc_count(f, vf.attr.ino), 1);
	assert_int_equal(vns_getattr(f->ns, vf.attr.ino, &a), 0);
}

static void test_ns__inode_batches_never_collide(void **state)
{
	struct fx *f = *state;
	uint64_t inos[2 * (VNS_INO_BATCH + 8)];
	struct vns *ns2;
	size_t n = 0;
	struct vattr a;
	char name[32];

	assert_int_equal(vns_open(f->kv, &ns2), 0);
	vns_set_chains(ns2, 1, 4);
	/* Interleaved, and past one batch each so both refill. */
	for (int i = 0; i < VNS_INO_BATCH + 8; i++) {
		snprintf(name, sizeof(name), "a%d", i);
		assert_int_equal(
			vns_mknod(f->ns, &root, 1, name, S_IFREG, 0, &a), 0);
		inos[n++] = a.ino;
		snprintf(name, sizeof(name), "b%d", i);
		assert_int_equal(vns_mknod(ns2, &root, 1, name, S_IFREG, 0, &a),
				 0);
		inos[n++] = a.ino;
	}
	/* A failed create does not burn a number. */
	assert_int_equal(vns_mknod(ns2, &root, 1, "b0", S_IFREG, 0, &a),
			 -EEXIST);
	for (size_t i = 0; i < n; i++) {
		assert_true(inos[i] > VNS_ROOT_INO);
		for (size_t j = i + 1; j < n; j++)
			assert_true(inos[i] != inos[j]);
	}
	vns_close(ns2);
}

static void test_ns__set_length_max_unless_truncated(void **state)
{
	struct fx *f = *state;
	struct vsetattr sa = {.valid = VSET_SIZE, .size = 10};
	struct vns_file vf;
	struct vattr a;
	uint64_t ino;

	assert_int_equal(vns_create(f->ns, &root, 1, "f", 0644, 0, 1, &vf), 0);
	ino = vf.attr.ino;
	assert_int_equal(vns_set_length(f->ns, &root, ino, 500, vf.trunc_ver, &a), 0);
	assert_int_equal(a.size, 500);
	assert_int_equal(vns_set_length(f->ns, &root, ino, 200, vf.trunc_ver, &a), 0);
	assert_int_equal(a.size, 500);
	/* A truncate makes older hints stale. */
	assert_int_equal(vns_setattr(f->ns, &root, ino, &sa, &a), 0);
	assert_int_equal(vns_set_length(f->ns, &root, ino, 900, vf.trunc_ver, &a), 0);
	assert_int_equal(a.size, 10);
	assert_int_equal(vns_session_open(f->ns, &root, ino, 0, 2, &vf), 0);
	assert_int_equal(vns_set_length(f->ns, &root, ino, 900, vf.trunc_ver, &a), 0);
	assert_int_equal(a.size, 900);
	assert_int_equal(vns_set_length(f->ns, &root, 1, 900, 0, &a), -EISDIR);
}

static int put_raw(struct vkv *kv, const void *k, size_t klen, const void *v,
		   size_t vlen)
{
	struct vkv_txn *txn;
	int rc = vkv_txn_begin(kv, 0, &txn);

	if (rc)
		return rc;
	rc = vkv_put(txn, k, klen, v, vlen);
	if (rc) {
		vkv_abort(txn);
		return rc;
	}
	return vkv_commit(txn);
}

static void test_ns__corrupt_records_are_eio(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f, 1, "f", S_IFREG | 0644);
	uint8_t key[64] = {'I'};
	struct vattr a;

	for (int i = 0; i < 8; i++)
		key[1 + i] = (uint8_t)(ino >> (56 - 8 * i));
	assert_int_equal(put_raw(f->kv, key, 9, "\x01garbage", 8), 0);
	assert_int_equal(vns_getattr(f->ns, ino, &a), -EIO);
	assert_int_equal(vns_lookup(f->ns, &root, 1, "f", &a), -EIO);
	/* A future version is refused, not misread. */
	assert_int_equal(put_raw(f->kv, key, 9, "\x02", 1), 0);
	assert_int_equal(vns_getattr(f->ns, ino, &a), -EIO);
	/* A bad dentry too. */
	key[0] = 'D';
	for (int i = 0; i < 8; i++)
		key[1 + i] = (uint8_t)((uint64_t)1 >> (56 - 8 * i));
	key[9] = 'g';
	assert_int_equal(put_raw(f->kv, key, 10, "\x01\x02", 2), 0);
	assert_int_equal(vns_lookup(f->ns, &root, 1, "g", &a), -EIO);
}


/* ---- Exactly-once records ------------------------------------------------ */

static void test_ns__retry_of_committed_mutation_replays(void **state)
{
	struct fx *f = *state;
	struct vns_cred c1 = {0, 0, 0x77, 1};
	struct vattr a, b;
	struct vns_file vf, vf2;
	struct vns_stats st;

	/* MKDIR retried: 0 and the same attributes, not -EEXIST. */
	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "d", 0755, &a), 0);
	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "d", 0755, &b), 0);
	assert_int_equal(a.ino, b.ino);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(getattr(f, 1).nlink, 3);
	/* The same name with another request id is a new request. */
	c1.req_id = 2;
	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "d", 0755, &b), -EEXIST);
	/* UNLINK retried: 0, not -ENOENT. */
	mk(f, 1, "x", S_IFREG | 0644);
	c1.req_id = 3;
	assert_int_equal(vns_unlink(f->ns, &c1, 1, "x"), 0);
	assert_int_equal(vns_unlink(f->ns, &c1, 1, "x"), 0);
	c1.req_id = 4;
	assert_int_equal(vns_unlink(f->ns, &c1, 1, "x"), -ENOENT);
	/* CREATE retried: one session, the same file and layout. */
	c1.req_id = 5;
	assert_int_equal(vns_create(f->ns, &c1, 1, "f", 0644, O_EXCL, 0x77,
				    &vf), 0);
	assert_int_equal(vns_create(f->ns, &c1, 1, "f", 0644, O_EXCL, 0x77,
				    &vf2), 0);
	assert_int_equal(vf.attr.ino, vf2.attr.ino);
	assert_memory_equal(&vf.layout, &vf2.layout, sizeof(vf.layout));
	assert_int_equal(vf.trunc_ver, vf2.trunc_ver);
	assert_int_equal(vns_session_close(f->ns, &root, vf.attr.ino, 0x77), 0);
	assert_int_equal(vns_session_close(f->ns, &root, vf.attr.ino, 0x77),
			 -ENOENT);
	/* RENAME retried: 0 although the source name is gone. */
	c1.req_id = 6;
	assert_int_equal(vns_rename(f->ns, &c1, 1, "f", 1, "g", 0), 0);
	assert_int_equal(vns_rename(f->ns, &c1, 1, "f", 1, "g", 0), 0);
	assert_int_equal(lookup_ino(f, 1, "g"), vf.attr.ino);
	/* A failure is not recorded: the retry runs again. */
	c1.req_id = 7;
	assert_int_equal(vns_rmdir(f->ns, &c1, 1, "nope"), -ENOENT);
	mk(f, 1, "nope", S_IFDIR | 0755);
	assert_int_equal(vns_rmdir(f->ns, &c1, 1, "nope"), 0);
	/* SET_LENGTH retried returns the attributes of the first answer. */
	c1.req_id = 8;
	assert_int_equal(vns_set_length(f->ns, &c1, vf.attr.ino, 300,
					vf.trunc_ver, &a), 0);
	assert_int_equal(vns_set_length(f->ns, &c1, vf.attr.ino, 300,
					vf.trunc_ver, &b), 0);
	assert_int_equal(b.size, 300);
	vns_get_stats(f->ns, &st);
	assert_int_equal(st.replays, 5);
	/* Another client's request with the same number is its own. */
	c1.client = 0x78;
	c1.req_id = 1;
	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "d", 0755, &b), -EEXIST);
}

static void test_ns__retry_reaches_another_ns_of_the_store(void **state)
{
	struct fx *f = *state;
	struct vns_cred c1 = {0, 0, 0x99, 41};
	struct vns *ns2;
	struct vattr a, b;

	/* A second metad on the same database sees the record. */
	assert_int_equal(vns_open(f->kv, &ns2), 0);
	assert_int_equal(vns_symlink(f->ns, &c1, 1, "l", "target", &a), 0);
	assert_int_equal(vns_symlink(ns2, &c1, 1, "l", "target", &b), 0);
	assert_int_equal(a.ino, b.ino);
	vns_close(ns2);
}

static void test_ns__idem_records_expire(void **state)
{
	struct fx *f = *state;
	struct vns_cred c1 = {0, 0, 0x55, 1};
	struct vattr a;
	int64_t t;

	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "d", 0755, &a), 0);
	c1.req_id = 2;
	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "e", 0755, &a), 0);
	/* Nothing older than long ago. */
	assert_int_equal(vns_idem_expire(f->ns, 1000, 16), 0);
	t = (int64_t)time(NULL) * 1000000000 + 60ll * 1000000000;
	assert_int_equal(vns_idem_expire(f->ns, t, 1), 1);
	assert_int_equal(vns_idem_expire(f->ns, t, 16), 1);
	assert_int_equal(vns_idem_expire(f->ns, t, 16), 0);
	/* Expired: a late retry runs again (and fails, the dir exists). */
	assert_int_equal(vns_mkdir(f->ns, &c1, 1, "e", 0755, &a), -EEXIST);
}

/* ---- Layouts ------------------------------------------------------------- */

static void test_ns__layout_needs_chain_table(void **state)
{
	struct fx *f = *state;
	struct vns_file vf;
	struct vattr a;

	vns_set_chains(f->ns, 0, 0);
	assert_int_equal(vns_create(f->ns, &root, 1, "f", 0644, 0, 1, &vf),
			 -ENOSPC);
	assert_int_equal(vns_mknod(f->ns, &root, 1, "g", S_IFREG | 0644, 0,
				   &a), -ENOSPC);
	/* Other types need no chains. */
	assert_int_equal(vns_mknod(f->ns, &root, 1, "p", S_IFIFO | 0644, 0,
				   &a), 0);
	assert_int_equal(vns_mkdir(f->ns, &root, 1, "d", 0755, &a), 0);
	vns_set_chains(f->ns, 3, 2);
	assert_int_equal(vns_create(f->ns, &root, 1, "f", 0644, 0, 1, &vf), 0);
	assert_int_equal(vf.layout.table_version, 3);
	assert_true(vf.layout.first_chain < 2);
	assert_int_equal(vf.layout.stripe, 1);
	assert_int_equal(vf.layout.chunk_size, 1u << 20);
}

static void test_ns__layout_stripe_cut_and_first_chain_spread(void **state)
{
	struct fx *f = *state;
	struct vns_layout def = {.chunk_size = 65536, .stripe = 8};
	struct vns_file vf;
	char name[16];
	unsigned seen = 0;

	vns_set_default_layout(f->ns, &def);
	vns_set_chains(f->ns, 1, 3);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(
			vns_create(f->ns, &root, 1, name, 0644, 0, 1, &vf), 0);
		assert_int_equal(vf.layout.stripe, 3);
		assert_int_equal(vf.layout.chunk_size, 65536);
		assert_true(vf.layout.first_chain < 3);
		seen |= 1u << vf.layout.first_chain;
	}
	/* Random first chains: all three show up in 40 files. */
	assert_int_equal(seen, 7);
}

static void test_ns__directory_default_layout_is_inherited(void **state)
{
	struct fx *f = *state;
	const char *v = "chunk_size=262144 stripe=2";
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755), sub;
	struct vns_file vf;
	char buf[128];
	struct vattr a;
	int n;

	assert_int_equal(vns_getxattr(f->ns, d, VNS_LAYOUT_XATTR, buf,
				      sizeof(buf)), -ENODATA);
	assert_int_equal(vns_setxattr(f->ns, &alice, d, VNS_LAYOUT_XATTR, v,
				      strlen(v), 0), -EPERM);
	assert_int_equal(vns_setxattr(f->ns, &root, d, VNS_LAYOUT_XATTR,
				      "chunk_size=1000", 15, 0), -EINVAL);
	assert_int_equal(vns_setxattr(f->ns, &root, d, VNS_LAYOUT_XATTR,
				      "color=red", 9, 0), -EINVAL);
	assert_int_equal(vns_setxattr(f->ns, &root, d, VNS_LAYOUT_XATTR, v,
				      strlen(v), 0), 0);
	n = vns_getxattr(f->ns, d, VNS_LAYOUT_XATTR, buf, sizeof(buf));
	assert_int_equal(n, strlen(v));
	assert_memory_equal(buf, v, n);
	/* Files in it and in directories made below it afterwards. */
	assert_int_equal(vns_create(f->ns, &root, d, "f", 0644, 0, 1, &vf), 0);
	assert_int_equal(vf.layout.chunk_size, 262144);
	assert_int_equal(vf.layout.stripe, 2);
	assert_int_equal(vns_mkdir(f->ns, &root, d, "sub", 0755, &a), 0);
	sub = a.ino;
	assert_int_equal(vns_create(f->ns, &root, sub, "g", 0644, 0, 1, &vf),
			 0);
	assert_int_equal(vf.layout.chunk_size, 262144);
	/* A file shows its own layout, read-only. */
	n = vns_getxattr(f->ns, vf.attr.ino, VNS_LAYOUT_XATTR, buf,
			 sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "chunk_size=262144 stripe=2 first_chain="));
	assert_int_equal(vns_setxattr(f->ns, &root, vf.attr.ino,
				      VNS_LAYOUT_XATTR, v, strlen(v), 0),
			 -EPERM);
	/* Not listed; removing it resets the directory. */
	assert_int_equal(vns_listxattr(f->ns, d, buf, sizeof(buf)), 0);
	assert_int_equal(vns_removexattr(f->ns, &root, d, VNS_LAYOUT_XATTR), 0);
	assert_int_equal(vns_removexattr(f->ns, &root, d, VNS_LAYOUT_XATTR),
			 -ENODATA);
	assert_int_equal(vns_create(f->ns, &root, d, "h", 0644, 0, 1, &vf), 0);
	assert_int_equal(vf.layout.chunk_size, 1u << 20);
}

/* ---- Inode counter ------------------------------------------------------- */

static void test_ns__statfs_counter_follows_creates_and_deletes(void **state)
{
	struct fx *f = *state;
	struct vstatfs st0 = {0}, st = {0};
	struct vns_file vf;
	uint64_t d;

	assert_int_equal(vns_statfs(f->ns, &st0), 0);
	assert_int_equal(st0.files - st0.ffree, 1); /* the root */
	d = mk(f, 1, "d", S_IFDIR | 0755);
	mk(f, d, "a", S_IFREG | 0644);
	mk(f, d, "s", S_IFSOCK | 0644);
	assert_int_equal(vns_create(f->ns, &root, d, "f", 0644, 0, 1, &vf), 0);
	assert_int_equal(vns_statfs(f->ns, &st), 0);
	assert_int_equal(st.files - st.ffree, 5);
	assert_int_equal(vns_unlink(f->ns, &root, d, "s"), 0);
	assert_int_equal(vns_unlink(f->ns, &root, d, "a"), 0); /* garbage */
	assert_int_equal(vns_statfs(f->ns, &st), 0);
	assert_int_equal(st.files - st.ffree, 4);
	assert_int_equal(vns_gc_done(f->ns, lookup_ino(f, d, "a") ?: 0),
			 -ENOENT);
	{
		struct vns_gc_entry g[4];
		int n = vns_gc_list(f->ns, g, 4);

		assert_int_equal(n, 1);
		assert_int_equal(vns_gc_done(f->ns, g[0].ino), 0);
	}
	assert_int_equal(vns_statfs(f->ns, &st), 0);
	assert_int_equal(st.files - st.ffree, 3);
}

/* ---- GC claims ----------------------------------------------------------- */

static void test_ns__gc_claims_split_work_between_collectors(void **state)
{
	struct fx *f = *state;
	struct vns_gc_entry a[8], b[8];
	int64_t now = (int64_t)time(NULL) * 1000000000;
	int64_t later = now + 60ll * 1000000000;
	char name[16];
	int na, nb;

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		mk(f, 1, name, S_IFREG | 0644);
		assert_int_equal(vns_unlink(f->ns, &root, 1, name), 0);
	}
	na = vns_gc_claim(f->ns, 1, now, later, a, 3);
	assert_int_equal(na, 3);
	assert_int_equal(a[0].layout.chunk_size, 1u << 20);
	/* The other collector gets only what is left. */
	nb = vns_gc_claim(f->ns, 2, now, later, b, 8);
	assert_int_equal(nb, 1);
	for (int i = 0; i < na; i++)
		assert_true(a[i].ino != b[0].ino);
	/* The owner may claim its own again; a lapsed claim is anyone's. */
	assert_int_equal(vns_gc_claim(f->ns, 1, now, later, a, 8), 3);
	assert_int_equal(vns_gc_claim(f->ns, 2, later + 1, later + 2, b, 8), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vns_gc_done(f->ns, b[i].ino), 0);
	assert_int_equal(vns_gc_claim(f->ns, 1, now, later, a, 8), 0);
}

/* ---- Locks and leases ---------------------------------------------------- */

static struct vns_lock plock(uint64_t owner, uint32_t type, uint64_t start,
			     uint64_t end)
{
	return (struct vns_lock){.kind = VNS_LOCK_POSIX,
				 .owner = owner,
				 .pid = (uint32_t)owner,
				 .type = type,
				 .start = start,
				 .end = end};
}

static uint32_t lock_probe(struct fx *f, uint64_t ino, uint64_t client,
			   struct vns_lock l, struct vns_lock *out)
{
	struct vns_lock tmp;

	if (!out)
		out = &tmp;
	assert_int_equal(vns_lock_get(f->ns, ino, client, &l, out), 0);
	return out->type;
}

static void test_ns__posix_locks_conflict_split_and_merge(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f, 1, "f", S_IFREG | 0644);
	struct vns_lock l, c;

	/* Client 1 owner 10 read-locks [0, 99]; others may read, not write. */
	l = plock(10, F_RDLCK, 0, 99);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	l = plock(20, F_RDLCK, 50, 149);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), 0);
	l = plock(30, F_WRLCK, 90, 95);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 3, &l), -EAGAIN);
	assert_int_equal(lock_probe(f, ino, 3, l, &c), F_RDLCK);
	assert_int_equal(c.owner, 10);
	/* Another owner of the same client conflicts too (POSIX owners). */
	l = plock(11, F_WRLCK, 0, 10);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), -EAGAIN);
	/* The holder upgrades the middle of its range: split in three. */
	l = plock(10, F_WRLCK, 10, 19);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	assert_int_equal(lock_probe(f, ino, 3, plock(30, F_RDLCK, 10, 19),
				    &c), F_WRLCK);
	assert_int_equal(lock_probe(f, ino, 3, plock(30, F_RDLCK, 0, 9), NULL),
			 F_UNLCK);
	assert_int_equal(lock_probe(f, ino, 3, plock(30, F_RDLCK, 20, 49),
				    NULL), F_UNLCK);
	/* Unlock a hole in the middle: [0, 4] stays locked. */
	l = plock(10, F_UNLCK, 5, 49);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	assert_int_equal(lock_probe(f, ino, 3, plock(30, F_WRLCK, 5, 49), NULL),
			 F_UNLCK);
	assert_int_equal(lock_probe(f, ino, 3, plock(30, F_WRLCK, 0, 4), NULL),
			 F_RDLCK);
	/* Adjacent same-type ranges merge; to EOF works. */
	l = plock(10, F_RDLCK, 5, UINT64_MAX);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	assert_int_equal(lock_probe(f, ino, 3,
				    plock(30, F_WRLCK, 1ull << 40, 1ull << 41),
				    &c), F_RDLCK);
	assert_int_equal(c.start, 0);
	assert_int_equal(c.end, UINT64_MAX);
	/* Releasing an owner frees its ranges at once. */
	assert_int_equal(vns_lock_release(f->ns, &root, ino, 1, VNS_LOCK_POSIX,
					  10), 0);
	assert_int_equal(vns_lock_release(f->ns, &root, ino, 2, VNS_LOCK_POSIX,
					  20), 0);
	l = plock(30, F_WRLCK, 0, UINT64_MAX);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 3, &l), 0);
	/* Bad arguments. */
	l = plock(30, 7, 0, 1);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 3, &l), -EINVAL);
	l = plock(30, F_RDLCK, 9, 1);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 3, &l), -EINVAL);
	l = plock(30, F_RDLCK, 0, 1);
	assert_int_equal(vns_lock_set(f->ns, &root, 9999, 3, &l), -ENOENT);
}

static void test_ns__flock_is_whole_file_and_apart_from_posix(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f, 1, "f", S_IFREG | 0644);
	struct vns_lock l = {.kind = VNS_LOCK_FLOCK, .owner = 1,
			     .type = F_WRLCK, .end = UINT64_MAX};
	struct vns_lock p = plock(5, F_WRLCK, 0, UINT64_MAX);

	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	/* A POSIX lock does not see flocks. */
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &p), 0);
	l.owner = 2;
	l.type = F_RDLCK;
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), -EAGAIN);
	/* Downgrade by the holder, then shared. */
	l.owner = 1;
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	l.owner = 2;
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), 0);
	l.type = F_WRLCK;
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), -EAGAIN);
	l.owner = 1;
	l.type = F_UNLCK;
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	l.owner = 2;
	l.type = F_WRLCK;
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), 0);
}

static void test_ns__expired_lease_drops_locks_and_sessions(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f, 1, "f", S_IFREG | 0644);
	struct vns_lock l = plock(1, F_WRLCK, 0, 99);
	struct vns_file vf;
	struct vns_stats st;
	int64_t now;

	vns_set_lease(f->ns, 1000);
	assert_int_equal(vns_lease_ms(f->ns), 1000);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	assert_int_equal(vns_session_open(f->ns, &root, ino, 0, 1, &vf), 0);
	assert_int_equal(vns_create(f->ns, &root, 1, "g", 0644, 0, 1, &vf), 0);
	assert_int_equal(vns_unlink(f->ns, &root, 1, "g"), 0);
	assert_int_equal(gc_count(f, vf.attr.ino), 0); /* still open */
	/* Client 2 stays alive. */
	assert_int_equal(vns_lease_renew(f->ns, 2), 0);
	l = plock(2, F_WRLCK, 50, 60);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), -EAGAIN);

	now = (int64_t)time(NULL) * 1000000000;
	/* Nothing expires while the lease runs. */
	assert_int_equal(vns_lease_expire(f->ns, now, 16), 0);
	/* 2 s later client 1's lease (1 s) is over: its lock no longer
	 * blocks even before the sweep... */
	vns_set_lease(f->ns, 60000);
	assert_int_equal(vns_lease_renew(f->ns, 2), 0);
	{
		struct vns_lock c;

		assert_int_equal(vns_lock_get(f->ns, ino, 2, &l, &c), 0);
	}
	now += 3ll * 1000000000;
	assert_int_equal(vns_lease_expire(f->ns, now, 16), 1);
	/* ...and after it, its sessions are closed: the unlinked file is
	 * garbage, the other session gone, the lock free. */
	assert_int_equal(gc_count(f, vf.attr.ino), 1);
	assert_int_equal(vns_session_close(f->ns, &root, ino, 1), -ENOENT);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), 0);
	vns_get_stats(f->ns, &st);
	assert_int_equal(st.leases_expired, 1);
	assert_int_equal(st.sessions_dropped, 2);
	assert_int_equal(st.locks_dropped, 1);
	/* Client 2 renewed: not expired; nothing left for client 1. */
	assert_int_equal(vns_lease_expire(f->ns, now, 16), 0);
}

static void test_ns__lock_of_expired_holder_does_not_block(void **state)
{
	struct fx *f = *state;
	uint64_t ino = mk(f, 1, "f", S_IFREG | 0644);
	struct vns_lock l = plock(1, F_WRLCK, 0, 99), c;

	vns_set_lease(f->ns, 1);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 1, &l), 0);
	vns_set_lease(f->ns, 60000);
	{
		struct timespec ms20 = {0, 20000000};

		nanosleep(&ms20, NULL);
	}
	/* Client 1's lease (1 ms) ran out: the lock is no obstacle. */
	assert_int_equal(vns_lock_get(f->ns, ino, 2, &l, &c), 0);
	assert_int_equal(c.type, F_UNLCK);
	assert_int_equal(vns_lock_set(f->ns, &root, ino, 2, &l), 0);
}

struct race_arg {
	struct vns *ns;
	const struct vns_cred *cr;
	char name[16];
	int rc;
	struct vattr a;
};

static void *race_main(void *arg)
{
	struct race_arg *r = arg;

	r->rc = vns_mkdir(r->ns, r->cr, 1, r->name, 0755, &r->a);
	return NULL;
}

static void test_ns__racing_attempts_of_one_request_apply_once(void **state)
{
	struct fx *f = *state;
	struct vns *ns2;

	/* The same request sent to two metad at once (a retry racing its
	 * first attempt): both answer 0 with the same inode, once. */
	assert_int_equal(vns_open(f->kv, &ns2), 0);
	for (int round = 0; round < 20; round++) {
		struct vns_cred cr = {0, 0, 0xabc, 100 + (uint64_t)round};
		struct race_arg r[2] = {{.ns = f->ns, .cr = &cr},
					{.ns = ns2, .cr = &cr}};
		pthread_t th[2];

		for (int i = 0; i < 2; i++) {
			snprintf(r[i].name, sizeof(r[i].name), "r%d", round);
			assert_int_equal(
				pthread_create(&th[i], NULL, race_main, &r[i]),
				0);
		}
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		assert_int_equal(r[0].rc, 0);
		assert_int_equal(r[1].rc, 0);
		assert_int_equal(r[0].a.ino, r[1].a.ino);
	}
	assert_int_equal(getattr(f, 1).nlink, 2 + 20);
	vns_close(ns2);
}

int main(void)
{
#define NST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		NST(test_ns__open_creates_root),
		NST(test_ns__mkdir_sets_nlink_and_parent_times),
		NST(test_ns__create_errors),
		NST(test_ns__mknod_all_types),
		NST(test_ns__symlink_readlink),
		NST(test_ns__link_counts_and_errors),
		NST(test_ns__unlink_rules),
		NST(test_ns__rmdir_rules),
		NST(test_ns__sticky_dir_protects_others_entries),
		NST(test_ns__setattr_owner_rules),
		NST(test_ns__rename_moves_and_replaces),
		NST(test_ns__rename_refuses_loops),
		NST(test_ns__rename_exchange),
		NST(test_ns__readdir_pages_survive_churn),
		NST(test_ns__xattr_ops),
		NST(test_ns__statfs_counts_inodes),
		NST(test_ns__unlink_while_open_then_close_collects),
		NST(test_ns__create_excl_trunc_and_sessions),
		NST(test_ns__inode_batches_never_collide),
		NST(test_ns__set_length_max_unless_truncated),
		NST(test_ns__corrupt_records_are_eio),
		NST(test_ns__retry_of_committed_mutation_replays),
		NST(test_ns__retry_reaches_another_ns_of_the_store),
		NST(test_ns__idem_records_expire),
		NST(test_ns__layout_needs_chain_table),
		NST(test_ns__layout_stripe_cut_and_first_chain_spread),
		NST(test_ns__directory_default_layout_is_inherited),
		NST(test_ns__statfs_counter_follows_creates_and_deletes),
		NST(test_ns__gc_claims_split_work_between_collectors),
		NST(test_ns__posix_locks_conflict_split_and_merge),
		NST(test_ns__flock_is_whole_file_and_apart_from_posix),
		NST(test_ns__expired_lease_drops_locks_and_sessions),
		NST(test_ns__lock_of_expired_holder_does_not_block),
		NST(test_ns__racing_attempts_of_one_request_apply_once),
	};

	struct pgt pg;
	int failed = 0, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vlog_set_level(VLOG_ERR);
	failed += cmocka_run_group_tests_name("ns lmdb", tests, NULL, NULL);
	rc = pgt_setup(&pg);
	if (rc < 0)
		return 1;
	if (rc > 0) {
		fx_pg_conninfo = pg.conninfo;
		failed += cmocka_run_group_tests_name("ns postgresql", tests,
						      NULL, NULL);
		pgt_stop(&pg);
	}
	return failed ? 1 : 0;
}
