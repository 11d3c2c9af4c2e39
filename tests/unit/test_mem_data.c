/* SPDX-License-Identifier: MIT */
/*
 * test_mem_data.c - file data in the mem backend: read/write at any
 * offset, sparse files and block accounting, SEEK_DATA/SEEK_HOLE,
 * fallocate (allocate, punch, zero), truncate, copy_file_range, ENOSPC and
 * EFBIG.
 */
#include "tests/unit/test_mem.h"

#include <linux/falloc.h>

#define BLK 65536u

static bool t_zero(const uint8_t *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (p[k])
			return false;
	}
	return true;
}

static bool t_all(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t k = 0; k < n; k++) {
		if (p[k] != v)
			return false;
	}
	return true;
}

/* Reads [off, off + n) into a fresh buffer; asserts it is all there. */
static uint8_t *t_read_all(struct backend *b, uint64_t ino, uint64_t off,
			   size_t n)
{
	uint8_t *buf = malloc(n ? n : 1);
	size_t got = 0;

	assert_non_null(buf);
	assert_int_equal(t_read(b, ino, 0, off, (uint32_t)n, buf, &got), 0);
	assert_int_equal(got, n);
	return buf;
}

static void t_fill_ok(struct backend *b, uint64_t ino, uint64_t off, size_t n,
		      uint8_t v)
{
	uint8_t *buf = malloc(n);

	memset(buf, v, n);
	t_write_ok(b, ino, off, buf, (uint32_t)n);
	free(buf);
}

static void t_truncate(struct backend *b, uint64_t ino, uint64_t size)
{
	struct vsetattr sa = { .valid = VSET_SIZE, .size = size };

	assert_int_equal(t_setattr(b, &t_root, ino, &sa, NULL), 0);
}

static void test_mem__write_then_read_back(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct tcall t;
	char buf[64];
	size_t n = 0;

	t_init(&t);
	b->ops->write(b, &t_root, f, 0, 0, "hello world", 11, 0, &t.c);
	assert_int_equal(t_end(&t), 0);
	assert_int_equal(t.c.count, 11);
	assert_int_equal(t.c.attr.ino, f);
	assert_int_equal(t.c.attr.size, 11);
	assert_int_equal(t_read(b, f, 0, 6, 5, buf, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "world", 5);
	/* Short at EOF, empty past it. */
	assert_int_equal(t_read(b, f, 0, 8, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(buf, "rld", 3);
	assert_int_equal(t_read(b, f, 0, 11, 10, buf, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(t_read(b, f, 0, 1000, 10, buf, &n), 0);
	assert_int_equal(n, 0);
	/* Overwrite in the middle. */
	t_write_ok(b, f, 6, "W", 1);
	assert_int_equal(t_read(b, f, 0, 0, sizeof(buf), buf, &n), 0);
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "hello World", 11);
	/* A zero-byte write changes nothing. */
	assert_int_equal(t_write(b, &t_root, f, 0, 100, "", 0, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(t_attr(b, f).size, 11);
	b->ops->destroy(b);
}

static void test_mem__large_writes_cross_blocks(void **state)
{
	struct backend *b = t_new(8 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	size_t total = 1000003, chunk = 10007, off;
	uint8_t *src = malloc(total), *dst;

	for (size_t k = 0; k < total; k++)
		src[k] = (uint8_t)(k * 31 + k / 65536);
	for (off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;

		t_write_ok(b, f, off, src + off, (uint32_t)n);
	}
	assert_int_equal(t_attr(b, f).size, total);
	/* 15 full blocks and one of 1000003 - 15 * 65536 = 16963 bytes. */
	assert_int_equal(t_attr(b, f).blocks, (15 * BLK + 32768) / 512);
	for (off = 0; off < total; off += 77777) {
		size_t n = total - off < 77777 ? total - off : 77777;

		dst = t_read_all(b, f, off, n);
		assert_memory_equal(dst, src + off, n);
		free(dst);
	}
	free(src);
	b->ops->destroy(b);
}

static void test_mem__write_sets_mtime_ctime_and_read_keeps_atime(
	void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vsetattr old = { .valid = VSET_ATIME | VSET_MTIME | VSET_CTIME,
				.atime = { 1000, 0 }, .mtime = { 1000, 0 },
				.ctime = { 1000, 0 } };
	struct vattr a;
	char buf[4];

	assert_int_equal(t_setattr(b, &t_root, f, &old, NULL), 0);
	t_write_ok(b, f, 0, "abcd", 4);
	a = t_attr(b, f);
	assert_true(a.mtime.tv_sec > 1000);
	assert_true(a.ctime.tv_sec > 1000);
	assert_int_equal(a.atime.tv_sec, 1000);
	assert_int_equal(t_read(b, f, 0, 0, 4, buf, NULL), 0);
	assert_int_equal(t_attr(b, f).atime.tv_sec, 1000);
	b->ops->destroy(b);
}

static void test_mem__write_kills_suid_when_asked(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 06755);
	size_t n;

	assert_int_equal(t_attr(b, f).mode, S_IFREG | 06755);
	assert_int_equal(t_write(b, &t_root, f, 0, 0, "x", 1, 0, &n), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 06755);
	assert_int_equal(t_write(b, &t_root, f, 0, 0, "x", 1, 1, &n), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 0755);
	/* Set-group-ID without group exec stays. */
	f = t_mkfile(b, T_ROOT, "g", 06745);
	assert_int_equal(t_write(b, &t_root, f, 0, 0, "x", 1, 1, &n), 0);
	assert_int_equal(t_attr(b, f).mode, S_IFREG | 02745);
	b->ops->destroy(b);
}

static void test_mem__sparse_write_reads_zeros(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t off = (1 << 20) + 5;
	uint8_t *buf;
	struct vattr a;

	t_write_ok(b, f, off, "0123456789", 10);
	a = t_attr(b, f);
	assert_int_equal(a.size, off + 10);
	assert_int_equal(a.blocks, 4096 / 512);	/* one small block */
	buf = t_read_all(b, f, 0, off + 10);
	assert_true(t_zero(buf, off));
	assert_memory_equal(buf + off, "0123456789", 10);
	free(buf);
	b->ops->destroy(b);
}

static void test_mem__blocks_grow_with_the_data(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);

	assert_int_equal(t_attr(b, f).blocks, 0);
	t_fill_ok(b, f, 0, 100, 1);
	assert_int_equal(t_attr(b, f).blocks, 8);
	t_fill_ok(b, f, 100, 4900, 2);
	assert_int_equal(t_attr(b, f).blocks, 16);
	t_fill_ok(b, f, 5000, BLK - 5000, 3);
	assert_int_equal(t_attr(b, f).blocks, 128);
	t_fill_ok(b, f, BLK, 1, 4);
	assert_int_equal(t_attr(b, f).blocks, 136);
	/* Growing a block kept its contents. */
	uint8_t *buf = t_read_all(b, f, 0, BLK + 1);
	assert_true(t_all(buf, 100, 1));
	assert_true(t_all(buf + 100, 4900, 2));
	assert_true(t_all(buf + 5000, BLK - 5000, 3));
	assert_int_equal(buf[BLK], 4);
	free(buf);
	b->ops->destroy(b);
}

static void test_mem__seek_data_and_hole(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t g = t_mkfile(b, T_ROOT, "g", 0644);
	uint64_t r = 0;

	/* data | hole | hole | data | hole (to EOF) */
	t_fill_ok(b, f, 0, 10, 1);
	t_fill_ok(b, f, 3 * BLK, 10, 1);
	t_truncate(b, f, 5 * BLK);

	assert_int_equal(t_lseek(b, f, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, 0);
	assert_int_equal(t_lseek(b, f, 5, SEEK_DATA, &r), 0);
	assert_int_equal(r, 5);
	assert_int_equal(t_lseek(b, f, BLK, SEEK_DATA, &r), 0);
	assert_int_equal(r, 3 * BLK);
	assert_int_equal(t_lseek(b, f, 3 * BLK + 7, SEEK_DATA, &r), 0);
	assert_int_equal(r, 3 * BLK + 7);
	assert_int_equal(t_lseek(b, f, 4 * BLK, SEEK_DATA, NULL), -ENXIO);
	assert_int_equal(t_lseek(b, f, 5 * BLK, SEEK_DATA, NULL), -ENXIO);

	assert_int_equal(t_lseek(b, f, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, BLK);
	assert_int_equal(t_lseek(b, f, BLK + 1, SEEK_HOLE, &r), 0);
	assert_int_equal(r, BLK + 1);
	assert_int_equal(t_lseek(b, f, 3 * BLK, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 4 * BLK);
	assert_int_equal(t_lseek(b, f, 5 * BLK - 1, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 5 * BLK - 1);
	assert_int_equal(t_lseek(b, f, 5 * BLK, SEEK_HOLE, NULL), -ENXIO);

	/* No hole but the one at EOF. */
	t_fill_ok(b, g, 0, 100, 1);
	assert_int_equal(t_lseek(b, g, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 100);
	assert_int_equal(t_lseek(b, g, 99, SEEK_DATA, &r), 0);
	assert_int_equal(r, 99);
	assert_int_equal(t_lseek(b, g, 0, SEEK_SET, NULL), -EINVAL);
	assert_int_equal(t_lseek(b, T_ROOT, 0, SEEK_DATA, NULL), -EISDIR);
	b->ops->destroy(b);
}

static void test_mem__punch_hole_zeroes_and_frees(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vattr fifo;
	uint64_t r;
	uint8_t *buf;

	t_fill_ok(b, f, 0, 3 * BLK, 0xaa);
	assert_int_equal(t_attr(b, f).blocks, 3 * BLK / 512);
	assert_int_equal(t_fallocate(b, f,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     100, 2 * BLK),
			 0);
	assert_int_equal(t_attr(b, f).size, 3 * BLK);
	assert_int_equal(t_attr(b, f).blocks, 2 * BLK / 512);
	buf = t_read_all(b, f, 0, 3 * BLK);
	assert_true(t_all(buf, 100, 0xaa));
	assert_true(t_zero(buf + 100, 2 * BLK));
	assert_true(t_all(buf + 2 * BLK + 100, BLK - 100, 0xaa));
	free(buf);
	assert_int_equal(t_lseek(b, f, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, BLK);
	assert_int_equal(t_lseek(b, f, BLK, SEEK_DATA, &r), 0);
	assert_int_equal(r, 2 * BLK);

	/* Inside one block: zeroed, nothing freed. */
	assert_int_equal(t_fallocate(b, f,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     10, 20),
			 0);
	buf = t_read_all(b, f, 0, 40);
	assert_true(t_all(buf, 10, 0xaa));
	assert_true(t_zero(buf + 10, 20));
	assert_true(t_all(buf + 30, 10, 0xaa));
	free(buf);
	assert_int_equal(t_attr(b, f).blocks, 2 * BLK / 512);

	/* Past EOF: size unchanged. */
	assert_int_equal(t_fallocate(b, f,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     10 * BLK, BLK),
			 0);
	assert_int_equal(t_attr(b, f).size, 3 * BLK);

	assert_int_equal(t_fallocate(b, f, FALLOC_FL_PUNCH_HOLE, 0, 10),
			 -EOPNOTSUPP);
	assert_int_equal(t_fallocate(b, f, FALLOC_FL_COLLAPSE_RANGE, 0, BLK),
			 -EOPNOTSUPP);
	assert_int_equal(t_fallocate(b, f, FALLOC_FL_PUNCH_HOLE |
						   FALLOC_FL_ZERO_RANGE |
						   FALLOC_FL_KEEP_SIZE,
				     0, 10),
			 -EOPNOTSUPP);
	assert_int_equal(t_fallocate(b, f, 0, 0, 0), -EINVAL);
	assert_int_equal(t_fallocate(b, T_ROOT, 0, 0, 10), -EISDIR);
	assert_int_equal(t_mknod(b, &t_root, T_ROOT, "p", S_IFIFO | 0644, 0,
				 &fifo),
			 0);
	assert_int_equal(t_fallocate(b, fifo.ino, 0, 0, 10), -ENODEV);
	b->ops->destroy(b);
}

static void test_mem__fallocate_allocates_and_zeroes(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	struct vattr a;
	uint8_t *buf;
	uint64_t r;

	assert_int_equal(t_fallocate(b, f, 0, 0, 100 * 1024), 0);
	a = t_attr(b, f);
	assert_int_equal(a.size, 100 * 1024);
	assert_int_equal(a.blocks, 2 * BLK / 512);
	/* Allocated space is data for SEEK_DATA, and reads as zeros. */
	assert_int_equal(t_lseek(b, f, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 100 * 1024);
	buf = t_read_all(b, f, 0, 100 * 1024);
	assert_true(t_zero(buf, 100 * 1024));
	free(buf);

	/* KEEP_SIZE: blocks, no size. 200K..210K needs 18K of block 3. */
	assert_int_equal(t_fallocate(b, f, FALLOC_FL_KEEP_SIZE, 200 * 1024,
				     10 * 1024),
			 0);
	a = t_attr(b, f);
	assert_int_equal(a.size, 100 * 1024);
	assert_int_equal(a.blocks, (2 * BLK + 32768) / 512);

	/* ZERO_RANGE zeroes data in place and may extend. */
	t_fill_ok(b, f, 0, 10, 0xff);
	assert_int_equal(t_fallocate(b, f, FALLOC_FL_ZERO_RANGE, 2, 3), 0);
	buf = t_read_all(b, f, 0, 10);
	assert_memory_equal(buf, "\xff\xff\0\0\0\xff\xff\xff\xff\xff", 10);
	free(buf);
	assert_int_equal(t_attr(b, f).size, 100 * 1024);
	assert_int_equal(t_fallocate(b, f, FALLOC_FL_ZERO_RANGE, 100 * 1024,
				     10 * 1024),
			 0);
	assert_int_equal(t_attr(b, f).size, 110 * 1024);
	assert_int_equal(t_fallocate(b, f,
				     FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				     120 * 1024, 1024),
			 0);
	assert_int_equal(t_attr(b, f).size, 110 * 1024);
	b->ops->destroy(b);
}

static void test_mem__truncate_frees_and_zeroes_the_tail(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint8_t *buf;

	t_fill_ok(b, f, 0, 3 * BLK, 0xaa);
	t_truncate(b, f, BLK + 10);
	assert_int_equal(t_attr(b, f).size, BLK + 10);
	assert_int_equal(t_attr(b, f).blocks, 2 * BLK / 512);
	/* Up again: a hole, and the old tail reads as zeros. */
	t_truncate(b, f, 3 * BLK);
	assert_int_equal(t_attr(b, f).blocks, 2 * BLK / 512);
	buf = t_read_all(b, f, 0, 3 * BLK);
	assert_true(t_all(buf, BLK + 10, 0xaa));
	assert_true(t_zero(buf + BLK + 10, 2 * BLK - 10));
	free(buf);
	t_truncate(b, f, 0);
	assert_int_equal(t_attr(b, f).blocks, 0);
	assert_int_equal(t_lseek(b, f, 0, SEEK_DATA, NULL), -ENXIO);
	b->ops->destroy(b);
}

static void test_mem__open_trunc_empties_the_file(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644), fh;
	struct vattr a;

	t_fill_ok(b, f, 0, 1000, 1);
	assert_int_equal(t_open(b, &t_root, f, O_RDONLY, &fh), 0);
	assert_int_equal(t_release(b, f, fh), 0);
	assert_int_equal(t_attr(b, f).size, 1000);
	assert_int_equal(t_open(b, &t_root, f, O_WRONLY | O_TRUNC, &fh), 0);
	a = t_attr(b, f);
	assert_int_equal(a.size, 0);
	assert_int_equal(a.blocks, 0);
	assert_int_equal(t_release(b, f, fh), 0);
	b->ops->destroy(b);
}

static void test_mem__copy_file_range_copies_and_keeps_holes(void **state)
{
	struct backend *b = t_new(4 << 20);
	uint64_t src = t_mkfile(b, T_ROOT, "src", 0644);
	uint64_t dst = t_mkfile(b, T_ROOT, "dst", 0644);
	uint64_t size = 2 * BLK + 100, r;
	uint8_t *a, *c;
	size_t n = 0;

	t_fill_ok(b, src, 0, BLK, 'A');
	t_fill_ok(b, src, 2 * BLK, 100, 'C');
	assert_int_equal(t_copy(b, src, 0, dst, 0, size, &n), 0);
	assert_int_equal(n, size);
	assert_int_equal(t_attr(b, dst).size, size);
	a = t_read_all(b, src, 0, size);
	c = t_read_all(b, dst, 0, size);
	assert_memory_equal(a, c, size);
	free(a);
	free(c);
	/* The source hole stayed a hole. */
	assert_int_equal(t_lseek(b, dst, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, BLK);
	assert_int_equal(t_attr(b, dst).blocks, (BLK + 4096) / 512);

	/* Short at the source's EOF; nothing past it. */
	assert_int_equal(t_copy(b, src, 100, dst, 10 * BLK, 1 << 20, &n), 0);
	assert_int_equal(n, size - 100);
	assert_int_equal(t_attr(b, dst).size, 10 * BLK + size - 100);
	assert_int_equal(t_copy(b, src, size, dst, 0, 10, &n), 0);
	assert_int_equal(n, 0);

	/* A source hole over destination data zeroes it. */
	t_fill_ok(b, dst, BLK, 10, 'Z');
	assert_int_equal(t_copy(b, src, BLK, dst, BLK, 10, &n), 0);
	assert_int_equal(n, 10);
	c = t_read_all(b, dst, BLK, 10);
	assert_true(t_zero(c, 10));
	free(c);

	/* Within one file: fine apart, -EINVAL overlapping. */
	assert_int_equal(t_copy(b, src, 0, src, 4 * BLK, 100, &n), 0);
	assert_int_equal(n, 100);
	c = t_read_all(b, src, 4 * BLK, 100);
	assert_true(t_all(c, 100, 'A'));
	free(c);
	assert_int_equal(t_attr(b, src).size, 4 * BLK + 100);
	assert_int_equal(t_copy(b, src, 0, src, 50, 100, &n), -EINVAL);
	assert_int_equal(t_copy(b, src, 0, T_ROOT, 0, 100, &n), -EISDIR);
	assert_int_equal(t_copy(b, 999, 0, src, 0, 100, &n), -ENOENT);
	b->ops->destroy(b);
}

static void test_mem__enospc_past_max_bytes(void **state)
{
	struct backend *b = t_new(4 * BLK);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t g = t_mkfile(b, T_ROOT, "g", 0644);
	uint8_t *buf = calloc(1, 2 * BLK);
	struct vstatfs st;
	size_t n = 0;

	t_fill_ok(b, f, 0, 3 * BLK, 1);
	/* Room for one more block: a short write. */
	assert_int_equal(t_write(b, &t_root, g, 0, 0, buf, 2 * BLK, 0, &n), 0);
	assert_int_equal(n, BLK);
	assert_int_equal(t_attr(b, g).size, BLK);
	assert_int_equal(t_write(b, &t_root, g, 0, BLK, buf, 10, 0, &n),
			 -ENOSPC);
	assert_int_equal(n, 0);
	assert_int_equal(t_attr(b, g).size, BLK);
	assert_int_equal(t_fallocate(b, g, 0, BLK, 10), -ENOSPC);
	assert_int_equal(t_copy(b, f, 0, g, BLK, 10, &n), -ENOSPC);
	assert_int_equal(t_statfs(b, &st), 0);
	assert_int_equal(st.bfree, 0);
	/* Overwriting stored bytes needs no space. */
	t_fill_ok(b, g, 0, 100, 2);
	/* Space comes back when the file goes. */
	assert_int_equal(t_unlink(b, &t_root, T_ROOT, "f"), 0);
	b->ops->forget(b, f);
	assert_int_equal(t_statfs(b, &st), 0);
	assert_int_equal(st.bfree, 3 * BLK / 4096);
	t_fill_ok(b, g, BLK, 2 * BLK, 3);
	free(buf);
	b->ops->destroy(b);
}

static void test_mem__efbig_past_the_largest_offset(void **state)
{
	struct backend *b = t_new(1 << 20);
	uint64_t f = t_mkfile(b, T_ROOT, "f", 0644);
	uint64_t max = INT64_MAX, r = 0;
	size_t n = 0;
	char c = 0;

	assert_int_equal(t_write(b, &t_root, f, 0, max, "x", 1, 0, &n), -EFBIG);
	assert_int_equal(t_write(b, &t_root, f, 0, max - 1, "xyz", 3, 0, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(t_attr(b, f).size, max);
	/* The byte sits at the end of its block: a whole block. */
	assert_int_equal(t_attr(b, f).blocks, BLK / 512);
	assert_int_equal(t_read(b, f, 0, max - 1, 1, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c, 'x');
	assert_int_equal(t_lseek(b, f, 0, SEEK_DATA, &r), 0);
	assert_int_equal(r, (max - 1) & ~(uint64_t)(BLK - 1));
	assert_int_equal(t_lseek(b, f, 0, SEEK_HOLE, &r), 0);
	assert_int_equal(r, 0);
	assert_int_equal(t_fallocate(b, f, 0, max - 10, 100), -EFBIG);
	/* Still sparse: writing near 2^62 costs one small block. */
	t_truncate(b, f, 0);
	t_write_ok(b, f, 1ull << 62, "q", 1);
	assert_int_equal(t_attr(b, f).blocks, 8);
	t_truncate(b, f, 10);
	assert_int_equal(t_attr(b, f).blocks, 0);
	b->ops->destroy(b);
}

static void test_mem__data_ops_refuse_non_files(void **state)
{
	struct backend *b = t_new(1 << 20);
	struct vattr fifo;
	char buf[8];
	size_t n;

	assert_int_equal(t_mknod(b, &t_root, T_ROOT, "p", S_IFIFO | 0644, 0,
				 &fifo),
			 0);
	assert_int_equal(t_read(b, T_ROOT, 0, 0, 8, buf, &n), -EISDIR);
	assert_int_equal(t_write(b, &t_root, T_ROOT, 0, 0, "x", 1, 0, &n),
			 -EISDIR);
	assert_int_equal(t_read(b, fifo.ino, 0, 0, 8, buf, &n), -EINVAL);
	assert_int_equal(t_write(b, &t_root, 999, 0, 0, "x", 1, 0, &n),
			 -ENOENT);
	assert_int_equal(t_read(b, 999, 0, 0, 8, buf, &n), -ENOENT);
	b->ops->destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem__write_then_read_back),
		cmocka_unit_test(test_mem__large_writes_cross_blocks),
		cmocka_unit_test(
			test_mem__write_sets_mtime_ctime_and_read_keeps_atime),
		cmocka_unit_test(test_mem__write_kills_suid_when_asked),
		cmocka_unit_test(test_mem__sparse_write_reads_zeros),
		cmocka_unit_test(test_mem__blocks_grow_with_the_data),
		cmocka_unit_test(test_mem__seek_data_and_hole),
		cmocka_unit_test(test_mem__punch_hole_zeroes_and_frees),
		cmocka_unit_test(test_mem__fallocate_allocates_and_zeroes),
		cmocka_unit_test(test_mem__truncate_frees_and_zeroes_the_tail),
		cmocka_unit_test(test_mem__open_trunc_empties_the_file),
		cmocka_unit_test(
			test_mem__copy_file_range_copies_and_keeps_holes),
		cmocka_unit_test(test_mem__enospc_past_max_bytes),
		cmocka_unit_test(test_mem__efbig_past_the_largest_offset),
		cmocka_unit_test(test_mem__data_ops_refuse_non_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
