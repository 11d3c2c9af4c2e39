/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of vns_fsck (meta/ns_fsck.c): a namespace built with the
 * namespace ops is consistent; then each test breaks one invariant by
 * writing the KV records directly, as a bug or a torn write would, and
 * checks that fsck names it. Run on LMDB and on a private PostgreSQL
 * server (test_pg.h), like test_ns.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "meta/kv.h"
#include "meta/ns.h"
#include "test_pg.h"

static const char *fx_pg_conninfo;

struct fx {
	char dir[64];
	struct vkv *kv;
	struct vns *ns;
	char report[16384];
};

static const struct vns_cred root = {0, 0};

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
		if (pgt_fresh(fx_pg_conninfo) ||
		    vkv_open(fx_pg_conninfo, &f->kv))
			return -1;
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/valor-fsck-XXXXXX");
		if (!mkdtemp(f->dir))
			return -1;
		snprintf(spec, sizeof(spec), "lmdb:%s/db", f->dir);
		if (vkv_open(spec, &f->kv))
			return -1;
	}
	if (vns_open(f->kv, &f->ns))
		return -1;
	vns_set_chains(f->ns, 1, 2);
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

/* ---- raw records ----------------------------------------------------------
 */

static size_t key_ino(uint8_t *k, char tag, uint64_t ino)
{
	k[0] = (uint8_t)tag;
	for (int i = 0; i < 8; i++)
		k[1 + i] = (uint8_t)(ino >> (56 - 8 * i));
	return 9;
}

static size_t key_dentry(uint8_t *k, uint64_t parent, const char *name)
{
	size_t n = key_ino(k, 'D', parent);

	memcpy(k + n, name, strlen(name));
	return n + strlen(name);
}

static void raw_put(struct fx *f, const uint8_t *k, size_t klen, const void *v,
		    size_t vlen)
{
	struct vkv_txn *t;

	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, k, klen, v, vlen), 0);
	assert_int_equal(vkv_commit(t), 0);
}

static void raw_del(struct fx *f, const uint8_t *k, size_t klen)
{
	struct vkv_txn *t;

	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_del(t, k, klen), 0);
	assert_int_equal(vkv_commit(t), 0);
}

/* A dentry record: version, ino (LE), type (LE). */
static void raw_dentry(struct fx *f, uint64_t parent, const char *name,
		       uint64_t ino, uint32_t type)
{
	uint8_t k[300], v[13];
	size_t kl = key_dentry(k, parent, name);

	v[0] = 1;
	for (int i = 0; i < 8; i++)
		v[1 + i] = (uint8_t)(ino >> (8 * i));
	for (int i = 0; i < 4; i++)
		v[9 + i] = (uint8_t)(type >> (8 * i));
	raw_put(f, k, kl, v, sizeof(v));
}

/* Rewrite the u32 at @off of inode @ino's record (nlink is at 13). */
static void raw_inode_u32(struct fx *f, uint64_t ino, size_t off, uint32_t x)
{
	uint8_t k[9], v[8192];
	struct vkv_txn *t;
	const void *val;
	size_t vlen;

	key_ino(k, 'I', ino);
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_get(t, k, 9, &val, &vlen), 0);
	assert_true(vlen <= sizeof(v));
	memcpy(v, val, vlen);
	for (int i = 0; i < 4; i++)
		v[off + i] = (uint8_t)(x >> (8 * i));
	assert_int_equal(vkv_put(t, k, 9, v, vlen), 0);
	assert_int_equal(vkv_commit(t), 0);
}

#define INODE_NLINK_OFF 13
#define INODE_PARENT_OFF (1 + 5 * 4 + 8 + 4 * 8)

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

static int fsck(struct fx *f)
{
	int n = vns_fsck(f->ns, f->report, sizeof(f->report));

	assert_true(n >= 0);
	if (n)
		printf("%s", f->report);
	return n;
}

static void expect(struct fx *f, const char *what)
{
	if (!strstr(f->report, what))
		fail_msg("fsck did not report '%s'; report:\n%s", what,
			 f->report);
}

/* A tree with every kind of inode, sessions, links and garbage. */
static void build_tree(struct fx *f)
{
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755), e, x;
	struct vns_file vf;
	struct vattr a;

	e = mk(f, d, "e", S_IFDIR | 0755);
	x = mk(f, e, "x", S_IFREG | 0644);
	mk(f, d, "fifo", S_IFIFO | 0644);
	assert_int_equal(vns_symlink(f->ns, &root, d, "l", "x", &a), 0);
	assert_int_equal(vns_link(f->ns, &root, x, 1, "x2", &a), 0);
	/* Open and unlinked: no name but a session. */
	assert_int_equal(vns_create(f->ns, &root, d, "open", 0644, 0, 7, &vf),
			 0);
	assert_int_equal(vns_unlink(f->ns, &root, d, "open"), 0);
	/* Unlinked and closed: garbage. */
	mk(f, d, "gone", S_IFREG | 0644);
	assert_int_equal(vns_unlink(f->ns, &root, d, "gone"), 0);
	assert_int_equal(vns_rename(f->ns, &root, d, "e", 1, "e2", 0), 0);
}

/* ---- tests ------------------------------------------------------------------
 */

static void test_meta_fsck__consistent_namespace_is_clean(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fsck(f), 0);
	assert_string_equal(f->report, "");
	build_tree(f);
	assert_int_equal(fsck(f), 0);
}

static void test_meta_fsck__dangling_dentry(void **state)
{
	struct fx *f = *state;

	build_tree(f);
	raw_dentry(f, 1, "ghost", 999999, S_IFREG);
	assert_int_equal(fsck(f), 1);
	expect(f, "dentry 1/ghost -> 999999: no such inode");
}

static void test_meta_fsck__dentry_type_differs(void **state)
{
	struct fx *f = *state;
	uint64_t x = mk(f, 1, "x", S_IFREG | 0644);

	raw_dentry(f, 1, "x", x, S_IFDIR);
	assert_true(fsck(f) >= 1);
	expect(f, "says directory, the inode is a file");
}

static void test_meta_fsck__nlink_differs_from_names(void **state)
{
	struct fx *f = *state;
	uint64_t x = mk(f, 1, "x", S_IFREG | 0644);
	uint64_t d = mk(f, 1, "d", S_IFDIR | 0755);
	char want[128];

	raw_inode_u32(f, x, INODE_NLINK_OFF, 3);
	raw_inode_u32(f, d, INODE_NLINK_OFF, 5);
	assert_int_equal(fsck(f), 2);
	snprintf(want, sizeof(want), "file %llu: nlink 3, but 1 names",
		 (unsigned long long)x);
	expect(f, want);
	snprintf(want, sizeof(want), "directory %llu: nlink 5",
		 (unsigned long long)d);
	expect(f, want);
}

static void test_meta_fsck__orphan_without_session_or_garbage(void **state)
{
	struct fx *f = *state;
	uint64_t x = mk(f, 1, "x", S_IFREG | 0644);
	uint8_t k[64];
	char want[128];

	/* The name is gone, the inode stays, nobody has it open. */
	raw_del(f, k, key_dentry(k, 1, "x"));
	assert_int_equal(fsck(f), 2); /* nlink and orphan */
	snprintf(want, sizeof(want),
		 "file %llu has no name, no session and "
		 "is not garbage (orphan)",
		 (unsigned long long)x);
	expect(f, want);
}

static void test_meta_fsck__directory_cycle(void **state)
{
	struct fx *f = *state;
	uint64_t a = mk(f, 1, "a", S_IFDIR | 0755);
	uint64_t b = mk(f, a, "b", S_IFDIR | 0755);
	uint8_t k[64];

	/* Move a's name into b behind the namespace's back: a -> b -> a. */
	raw_del(f, k, key_dentry(k, 1, "a"));
	raw_dentry(f, b, "a", a, S_IFDIR);
	assert_true(fsck(f) >= 2);
	expect(f, "directory cycle through");
	expect(f, "directory 1: nlink 3, but it has 0 subdirectories");
}

static void test_meta_fsck__directory_with_two_names(void **state)
{
	struct fx *f = *state;
	uint64_t a = mk(f, 1, "a", S_IFDIR | 0755);
	char want[128];

	raw_dentry(f, 1, "a2", a, S_IFDIR);
	assert_true(fsck(f) >= 1);
	snprintf(want, sizeof(want), "directory %llu has more than one name",
		 (unsigned long long)a);
	expect(f, want);
}

static void test_meta_fsck__parent_field_differs(void **state)
{
	struct fx *f = *state;
	uint64_t a = mk(f, 1, "a", S_IFDIR | 0755);
	uint64_t b = mk(f, 1, "b", S_IFDIR | 0755);
	char want[128];

	raw_inode_u32(f, b, INODE_PARENT_OFF, (uint32_t)a);
	assert_int_equal(fsck(f), 1);
	snprintf(want, sizeof(want),
		 "directory %llu: parent field %llu, but its name is in 1",
		 (unsigned long long)b, (unsigned long long)a);
	expect(f, want);
}

static void test_meta_fsck__garbage_with_a_name(void **state)
{
	struct fx *f = *state;
	uint64_t x = mk(f, 1, "x", S_IFREG | 0644);
	uint8_t k[9], v = 1;
	char want[128];

	raw_put(f, k, key_ino(k, 'G', x), &v, 1);
	assert_int_equal(fsck(f), 1);
	snprintf(want, sizeof(want), "garbage inode %llu still has names",
		 (unsigned long long)x);
	expect(f, want);
}

static void test_meta_fsck__records_of_missing_inodes(void **state)
{
	struct fx *f = *state;
	uint8_t k[17], v[9] = {1, 1};

	key_ino(k, 'S', 4242);
	memset(k + 9, 0, 7);
	k[16] = 7;
	raw_put(f, k, 17, v, 9);
	raw_put(f, k, key_ino(k, 'G', 4343), v, 1);
	assert_int_equal(fsck(f), 2);
	expect(f, "session record for inode 4242, which does not exist");
	expect(f, "garbage record for inode 4343, which does not exist");
}

static void test_meta_fsck__inode_counter_differs(void **state)
{
	struct fx *f = *state;
	uint8_t k[3] = {'N', 0x3, 0xff}, v[9] = {1};
	struct vkv_txn *t;
	const uint8_t *old;
	size_t vlen;

	mk(f, 1, "x", S_IFREG | 0644);
	/* One shard off by 5 (added to what it holds, if anything). */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	if (!vkv_get(t, k, 3, (const void **)&old, &vlen))
		memcpy(v, old, 9);
	v[1] += 5;
	assert_int_equal(vkv_put(t, k, 3, v, 9), 0);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(fsck(f), 1);
	expect(f, "the inode counter says 7, there are 2 inodes");
}

static void test_meta_fsck__report_is_cut_not_the_count(void **state)
{
	struct fx *f = *state;
	char small[64];
	char name[16];

	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		raw_dentry(f, 1, name, 900000 + (uint64_t)i, S_IFREG);
	}
	assert_int_equal(vns_fsck(f->ns, small, sizeof(small)), 10);
	assert_true(strlen(small) < sizeof(small));
}

int main(void)
{
#define FT(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		FT(test_meta_fsck__consistent_namespace_is_clean),
		FT(test_meta_fsck__dangling_dentry),
		FT(test_meta_fsck__dentry_type_differs),
		FT(test_meta_fsck__nlink_differs_from_names),
		FT(test_meta_fsck__orphan_without_session_or_garbage),
		FT(test_meta_fsck__directory_cycle),
		FT(test_meta_fsck__directory_with_two_names),
		FT(test_meta_fsck__parent_field_differs),
		FT(test_meta_fsck__garbage_with_a_name),
		FT(test_meta_fsck__records_of_missing_inodes),
		FT(test_meta_fsck__inode_counter_differs),
		FT(test_meta_fsck__report_is_cut_not_the_count),
	};
	struct pgt pg;
	int failed = 0, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vlog_set_level(VLOG_ERR);
	failed += cmocka_run_group_tests_name("fsck lmdb", tests, NULL, NULL);
	rc = pgt_setup(&pg);
	if (rc < 0)
		return 1;
	if (rc > 0) {
		fx_pg_conninfo = pg.conninfo;
		failed += cmocka_run_group_tests_name("fsck postgresql", tests,
						      NULL, NULL);
		pgt_stop(&pg);
	}
	return failed ? 1 : 0;
}
