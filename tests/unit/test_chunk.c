/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of storage/chunk: partial writes touch only their blocks
 * (counted through the store's I/O table), block CRCs, holes, truncate,
 * remove, last-chunk and dump queries, the CRAQ version rules, corruption
 * detection, resync replace, and a close/reopen round trip. Each test owns
 * a mkdtemp directory and removes it.
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
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "storage/chunk.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define BS VCHUNK_BLOCK_SIZE

/* ---- Counting I/O table --------------------------------------------------- */

struct io_log {
	uint64_t rd_bytes, wr_bytes;
	uint64_t rd_lo, rd_hi, wr_lo, wr_hi; /* byte ranges touched */
	int fail_pwrite;
};
static struct io_log iolog;

static void io_note(uint64_t *lo, uint64_t *hi, uint64_t off, uint64_t n)
{
	if (!n)
		return;
	if (off < *lo)
		*lo = off;
	if (off + n > *hi)
		*hi = off + n;
}

static ssize_t io_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	if (r > 0) {
		iolog.rd_bytes += (uint64_t)r;
		io_note(&iolog.rd_lo, &iolog.rd_hi, (uint64_t)off, (uint64_t)r);
	}
	return r;
}

static ssize_t io_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	ssize_t r = preadv(fd, iov, cnt, off);

	if (r > 0) {
		iolog.rd_bytes += (uint64_t)r;
		io_note(&iolog.rd_lo, &iolog.rd_hi, (uint64_t)off, (uint64_t)r);
	}
	return r;
}

static ssize_t io_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r;

	if (iolog.fail_pwrite) {
		errno = EIO;
		return -1;
	}
	r = pwrite(fd, buf, n, off);
	if (r > 0) {
		iolog.wr_bytes += (uint64_t)r;
		io_note(&iolog.wr_lo, &iolog.wr_hi, (uint64_t)off, (uint64_t)r);
	}
	return r;
}

static const struct vchunk_io counting_io = {
	.pread = io_pread, .preadv = io_preadv, .pwrite = io_pwrite};

static void io_reset(void)
{
	memset(&iolog, 0, sizeof(iolog));
	iolog.rd_lo = iolog.wr_lo = UINT64_MAX;
}

/* ---- Fixtures --------------------------------------------------------------- */

struct fx {
	char dir[64];
	struct vchunk_store *st;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_chunk.XXXXXX");
	if (!mkdtemp(f->dir) || vchunk_store_open(f->dir, &f->st)) {
		free(f);
		return -1;
	}
	io_reset();
	vchunk_store_set_io(f->st, &counting_io);
	*state = f;
	return 0;
}

static int fx_rm(const char *p, const struct stat *sb, int type,
		 struct FTW *ftw)
{
	return remove(p);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vchunk_store_close(f->st);
	nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void fx_reopen(struct fx *f)
{
	vchunk_store_close(f->st);
	assert_int_equal(vchunk_store_open(f->dir, &f->st), 0);
	vchunk_store_set_io(f->st, &counting_io);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* Write and commit in one go. */
static void put(struct fx *f, struct vchunk_id id, uint32_t off,
		const void *data, uint32_t len, uint64_t ver)
{
	assert_int_equal(vchunk_write(f->st, id, off, data, len,
				      vcrc32c(0, data, len), ver, 1, 0, NULL),
			 0);
	assert_int_equal(vchunk_commit(f->st, id, ver, NULL), 0);
}

/* The stored CRCs equal CRCs recomputed from @model (the chunk's bytes). */
static void check_crcs(struct fx *f, struct vchunk_id id, const uint8_t *model,
		       uint32_t len)
{
	uint32_t n = (len + BS - 1) / BS;
	uint32_t *crcs = calloc(n + 1, sizeof(*crcs));
	struct vchunk_meta m;

	assert_non_null(crcs);
	assert_int_equal(vchunk_stat(f->st, id, &m), 0);
	assert_int_equal(m.length, len);
	assert_int_equal(vchunk_crcs(f->st, id, 0, n, crcs), 0);
	for (uint32_t b = 0; b < n; b++) {
		uint32_t ext = len - b * BS < BS ? len - b * BS : BS;

		assert_int_equal(crcs[b], vcrc32c(0, model + (size_t)b * BS, ext));
	}
	assert_int_equal(vchunk_crcs(f->st, id, n, 1, crcs), -ERANGE);
	free(crcs);
}

static void check_data(struct fx *f, struct vchunk_id id, const uint8_t *model,
		       uint32_t len)
{
	uint8_t *buf = malloc(len + 1);

	assert_non_null(buf);
	assert_int_equal(vchunk_read(f->st, id, 0, len + 100, buf, 0, NULL), len);
	assert_memory_equal(buf, model, len);
	free(buf);
}

/* ---- Data path ---------------------------------------------------------------- */

static void test_chunk__partial_write_touches_only_its_blocks(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {0x1234, 0};
	uint8_t *model = malloc(MIB), *before = malloc(MIB / BS * 4);
	uint32_t *crcs = malloc(MIB / BS * 4);
	uint8_t patch[3 * KIB];

	assert_non_null(model);
	assert_non_null(crcs);
	assert_non_null(before);
	fill(model, MIB, 1);
	put(f, id, 0, model, MIB, 1);
	assert_int_equal(vchunk_crcs(f->st, id, 0, MIB / BS, crcs), 0);
	memcpy(before, crcs, MIB / BS * 4);

	/* 3 KiB at 5000 ends at 8072: inside block 1. Written: exactly the
	 * 3 KiB; read: block 1 (to merge and rehash it), nothing else. */
	fill(patch, sizeof(patch), 2);
	io_reset();
	assert_int_equal(vchunk_write(f->st, id, 5000, patch, sizeof(patch),
				      vcrc32c(0, patch, sizeof(patch)), 2, 1, 0,
				      NULL),
			 0);
	assert_int_equal(iolog.wr_bytes, sizeof(patch));
	assert_int_equal(iolog.wr_lo, 5000);
	assert_int_equal(iolog.wr_hi, 5000 + sizeof(patch));
	assert_int_equal(iolog.rd_bytes, BS);
	assert_int_equal(iolog.rd_lo, BS);
	assert_int_equal(iolog.rd_hi, 2 * BS);
	assert_int_equal(vchunk_commit(f->st, id, 2, NULL), 0);
	memcpy(model + 5000, patch, sizeof(patch));

	/* 3 KiB at 7000 straddles blocks 1 and 2: both read, nothing else. */
	fill(patch, sizeof(patch), 3);
	io_reset();
	assert_int_equal(vchunk_write(f->st, id, 7000, patch, sizeof(patch),
				      vcrc32c(0, patch, sizeof(patch)), 3, 1, 0,
				      NULL),
			 0);
	assert_int_equal(iolog.wr_bytes, sizeof(patch));
	assert_int_equal(iolog.wr_lo, 7000);
	assert_int_equal(iolog.rd_bytes, 2 * BS);
	assert_int_equal(iolog.rd_lo, BS);
	assert_int_equal(iolog.rd_hi, 3 * BS);
	memcpy(model + 7000, patch, sizeof(patch));

	/* Only blocks 1 and 2 changed their CRCs. */
	assert_int_equal(vchunk_crcs(f->st, id, 0, MIB / BS, crcs), 0);
	for (uint32_t b = 0; b < MIB / BS; b++)
		if (b != 1 && b != 2)
			assert_int_equal(crcs[b], ((uint32_t *)before)[b]);
	assert_int_not_equal(crcs[1], ((uint32_t *)before)[1]);
	assert_int_not_equal(crcs[2], ((uint32_t *)before)[2]);
	assert_int_equal(vchunk_commit(f->st, id, 3, NULL), 0);
	check_crcs(f, id, model, MIB);
	check_data(f, id, model, MIB);
	free(model);
	free(before);
	free(crcs);
}

static void test_chunk__aligned_write_reads_nothing(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {7, 3};
	uint8_t *model = calloc(1, 64 * KIB);

	assert_non_null(model);
	fill(model, 64 * KIB, 3);
	put(f, id, 0, model, 64 * KIB, 1);
	io_reset();
	put(f, id, 8 * KIB, model + 8 * KIB, 8 * KIB, 2);
	assert_int_equal(iolog.rd_bytes, 0);
	assert_int_equal(iolog.wr_bytes, 8 * KIB);
	free(model);
}

static void test_chunk__reads_across_block_boundaries(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {9, 1};
	uint32_t len = 5 * BS + 1000;
	uint8_t *model = malloc(len), *buf = malloc(len);
	static const uint32_t offs[] = {0, 1, BS - 1, BS, BS + 1, 3 * BS - 7};
	const uint32_t lens[] = {1, 7, BS - 1, BS, BS + 1, 2 * BS + 5, len};

	assert_non_null(model);
	assert_non_null(buf);
	fill(model, len, 4);
	put(f, id, 0, model, len, 1);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			uint32_t want = lens[j] < len - offs[i] ? lens[j]
								: len - offs[i];

			memset(buf, 0xee, len);
			assert_int_equal(vchunk_read(f->st, id, offs[i], lens[j],
						     buf, 0, NULL),
					 want);
			assert_memory_equal(buf, model + offs[i], want);
		}
	/* Short at the end, 0 past it. */
	assert_int_equal(vchunk_read(f->st, id, len - 10, 100, buf, 0, NULL), 10);
	assert_int_equal(vchunk_read(f->st, id, len, 100, buf, 0, NULL), 0);
	assert_int_equal(vchunk_read(f->st, id, len + 5000, 1, buf, 0, NULL), 0);
	free(model);
	free(buf);
}

static void test_chunk__holes_read_as_zeros(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {10, 0};
	uint32_t len = 50000;
	uint8_t *model = calloc(1, len);
	uint8_t a[100], b[3000];

	assert_non_null(model);
	fill(a, sizeof(a), 5);
	fill(b, sizeof(b), 6);
	put(f, id, 0, a, sizeof(a), 1);  /* partial last block ... */
	put(f, id, len - sizeof(b), b, sizeof(b), 2); /* ... then a hole */
	memcpy(model, a, sizeof(a));
	memcpy(model + len - sizeof(b), b, sizeof(b));
	check_crcs(f, id, model, len);
	check_data(f, id, model, len);
	free(model);
}

static void test_chunk__truncate_shrinks_and_extends(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {11, 2};
	uint32_t len = 10 * BS + 123;
	uint8_t *model = calloc(1, 20 * BS);
	struct vchunk_meta m;

	assert_non_null(model);
	fill(model, len, 7);
	put(f, id, 0, model, len, 1);
	/* Shrink mid-block: the new last block's CRC covers what is left. */
	assert_int_equal(vchunk_truncate(f->st, id, 3 * BS + 10, 2, 1, NULL), 0);
	assert_int_equal(vchunk_commit(f->st, id, 2, NULL), 0);
	memset(model + 3 * BS + 10, 0, 20 * BS - (3 * BS + 10));
	check_crcs(f, id, model, 3 * BS + 10);
	check_data(f, id, model, 3 * BS + 10);
	/* Extend: zeros, the old partial block rehashed. */
	assert_int_equal(vchunk_truncate(f->st, id, 12 * BS + 5, 3, 1, NULL), 0);
	assert_int_equal(vchunk_commit(f->st, id, 3, NULL), 0);
	check_crcs(f, id, model, 12 * BS + 5);
	check_data(f, id, model, 12 * BS + 5);
	/* To zero, and a missing chunk is created. */
	assert_int_equal(vchunk_truncate(f->st, id, 0, 4, 1, NULL), 0);
	assert_int_equal(vchunk_commit(f->st, id, 4, NULL), 0);
	assert_int_equal(vchunk_stat(f->st, id, &m), 0);
	assert_int_equal(m.length, 0);
	id.index = 77;
	assert_int_equal(vchunk_truncate(f->st, id, 5000, 1, 1, NULL), 0);
	assert_int_equal(vchunk_commit(f->st, id, 1, NULL), 0);
	memset(model, 0, 5000);
	check_crcs(f, id, model, 5000);
	check_data(f, id, model, 5000);
	free(model);
}

/* ---- Queries -------------------------------------------------------------------- */

static void test_chunk__remove_inode_removes_only_that_inode(void **state)
{
	struct fx *f = *state;
	uint8_t data[100];
	struct vchunk_meta m;
	uint32_t idx, len;

	fill(data, sizeof(data), 8);
	for (uint32_t i = 0; i < 5; i++) {
		put(f, (struct vchunk_id){100, i}, 0, data, sizeof(data), 1);
		put(f, (struct vchunk_id){101, i}, 0, data, sizeof(data), 1);
		/* Same low bytes: same fan-out directory. */
		put(f, (struct vchunk_id){100 + 0x10000, i}, 0, data,
		    sizeof(data), 1);
	}
	assert_int_equal(vchunk_remove_inode(f->st, 100), 5);
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(vchunk_stat(f->st, (struct vchunk_id){100, i}, &m),
				 -ENOENT);
		assert_int_equal(vchunk_read(f->st, (struct vchunk_id){100, i}, 0,
					     1, data, 0, NULL),
				 -ENOENT);
		assert_int_equal(vchunk_stat(f->st, (struct vchunk_id){101, i}, &m),
				 0);
		assert_int_equal(vchunk_stat(f->st,
					     (struct vchunk_id){100 + 0x10000, i},
					     &m),
				 0);
	}
	assert_int_equal(vchunk_last(f->st, 100, &idx, &len), -ENOENT);
	assert_int_equal(vchunk_remove_inode(f->st, 100), 0);
	assert_int_equal(vchunk_read(f->st, (struct vchunk_id){101, 4}, 0,
				     sizeof(data), data, 0, NULL),
			 sizeof(data));
}

static void test_chunk__last_chunk(void **state)
{
	struct fx *f = *state;
	uint8_t data[300];
	uint32_t idx = 0, len = 0;

	fill(data, sizeof(data), 9);
	assert_int_equal(vchunk_last(f->st, 50, &idx, &len), -ENOENT);
	put(f, (struct vchunk_id){49, 1000}, 0, data, 10, 1);
	put(f, (struct vchunk_id){51, 0}, 0, data, 10, 1);
	assert_int_equal(vchunk_last(f->st, 50, &idx, &len), -ENOENT);
	put(f, (struct vchunk_id){50, 0}, 0, data, 300, 1);
	put(f, (struct vchunk_id){50, 7}, 0, data, 123, 1);
	put(f, (struct vchunk_id){50, 3}, 0, data, 200, 1);
	assert_int_equal(vchunk_last(f->st, 50, &idx, &len), 0);
	assert_int_equal(idx, 7);
	assert_int_equal(len, 123);
	put(f, (struct vchunk_id){50, UINT32_MAX}, 0, data, 5, 1);
	assert_int_equal(vchunk_last(f->st, 50, &idx, &len), 0);
	assert_int_equal(idx, UINT32_MAX);
	assert_int_equal(len, 5);
	/* The very last key of the store. */
	put(f, (struct vchunk_id){UINT64_MAX, 2}, 0, data, 9, 1);
	assert_int_equal(vchunk_last(f->st, UINT64_MAX, &idx, &len), 0);
	assert_int_equal(idx, 2);
	assert_int_equal(len, 9);
}

struct dump_acc {
	int n;
	struct vchunk_meta m[8];
};

static int dump_cb(void *arg, const struct vchunk_meta *m)
{
	struct dump_acc *a = arg;

	if (a->n < 8)
		a->m[a->n] = *m;
	a->n++;
	return 0;
}

static int dump_stop(void *arg, const struct vchunk_meta *m)
{
	return 42;
}

static void test_chunk__dump_lists_all_records(void **state)
{
	struct fx *f = *state;
	struct dump_acc acc = {0};
	uint8_t data[64];

	fill(data, sizeof(data), 10);
	put(f, (struct vchunk_id){3, 1}, 0, data, 64, 1);
	put(f, (struct vchunk_id){1, 9}, 0, data, 10, 1);
	put(f, (struct vchunk_id){1, 9}, 10, data, 10, 2);
	assert_int_equal(vchunk_write(f->st, (struct vchunk_id){2, 0}, 0, data, 5,
				      vcrc32c(0, data, 5), 1, 4, 0, NULL),
			 0);
	assert_int_equal(vchunk_dump(f->st, dump_cb, &acc), 0);
	assert_int_equal(acc.n, 3);
	assert_true(acc.m[0].id.inode == 1 && acc.m[0].id.index == 9);
	assert_int_equal(acc.m[0].length, 20);
	assert_int_equal(acc.m[0].committed_ver, 2);
	assert_int_equal(acc.m[0].pending_ver, 0);
	assert_true(acc.m[1].id.inode == 2);
	assert_int_equal(acc.m[1].committed_ver, 0);
	assert_int_equal(acc.m[1].pending_ver, 1);
	assert_int_equal(acc.m[1].chain_ver, 4);
	assert_true(acc.m[2].id.inode == 3 && acc.m[2].length == 64);
	assert_int_equal(vchunk_dump(f->st, dump_stop, NULL), 42);
}

static void test_chunk__remove_from_keeps_lower_chunks(void **state)
{
	struct fx *f = *state;
	uint8_t data[100];
	struct vchunk_meta m;
	uint32_t idx = 0, len = 0;

	fill(data, sizeof(data), 11);
	for (uint32_t i = 0; i < 12; i++)
		put(f, (struct vchunk_id){7, i}, 0, data, sizeof(data), 1);
	put(f, (struct vchunk_id){8, 20}, 0, data, sizeof(data), 1);
	assert_int_equal(vchunk_remove_from(f->st, 7, 5), 7);
	assert_int_equal(vchunk_last(f->st, 7, &idx, &len), 0);
	assert_int_equal(idx, 4);
	for (uint32_t i = 0; i < 12; i++)
		assert_int_equal(vchunk_stat(f->st, (struct vchunk_id){7, i}, &m),
				 i < 5 ? 0 : -ENOENT);
	/* the files went too: a new chunk 10 starts empty */
	put(f, (struct vchunk_id){7, 10}, 50, data, 10, 1);
	assert_int_equal(vchunk_read(f->st, (struct vchunk_id){7, 10}, 0, 100,
				     data, 0, NULL),
			 60);
	for (int i = 0; i < 50; i++)
		assert_int_equal(data[i], 0);
	assert_int_equal(vchunk_remove_from(f->st, 7, 100), 0);
	assert_int_equal(vchunk_stat(f->st, (struct vchunk_id){8, 20}, &m), 0);
	/* one chunk at a time */
	assert_int_equal(vchunk_remove(f->st, (struct vchunk_id){7, 3}), 1);
	assert_int_equal(vchunk_remove(f->st, (struct vchunk_id){7, 3}), 0);
	assert_int_equal(vchunk_stat(f->st, (struct vchunk_id){7, 3}, &m),
			 -ENOENT);
	assert_int_equal(vchunk_stat(f->st, (struct vchunk_id){7, 4}, &m), 0);
}

static void test_chunk__dump_from_starts_at_key(void **state)
{
	struct fx *f = *state;
	struct dump_acc acc = {0};
	uint8_t data[16];

	fill(data, sizeof(data), 12);
	put(f, (struct vchunk_id){1, 5}, 0, data, 16, 1);
	put(f, (struct vchunk_id){2, 0}, 0, data, 16, 1);
	put(f, (struct vchunk_id){2, 7}, 0, data, 16, 1);
	put(f, (struct vchunk_id){3, 1}, 0, data, 16, 1);
	assert_int_equal(vchunk_dump_from(f->st, (struct vchunk_id){2, 1},
					  dump_cb, &acc),
			 0);
	assert_int_equal(acc.n, 2);
	assert_true(acc.m[0].id.inode == 2 && acc.m[0].id.index == 7);
	assert_true(acc.m[1].id.inode == 3 && acc.m[1].id.index == 1);
	acc.n = 0;
	assert_int_equal(vchunk_dump_from(f->st, (struct vchunk_id){3, 2},
					  dump_cb, &acc),
			 0);
	assert_int_equal(acc.n, 0);
}

static void test_chunk__space_and_sync(void **state)
{
	struct fx *f = *state;
	uint64_t total = 0, avail = 0;
	uint8_t data[10] = {1};

	assert_int_equal(vchunk_space(f->st, &total, &avail), 0);
	assert_true(total > 0 && avail <= total);
	put(f, (struct vchunk_id){5, 0}, 0, data, 10, 1);
	assert_int_equal(vchunk_sync_inode(f->st, 5), 0);
	assert_int_equal(vchunk_sync_inode(f->st, 6), 0); /* no chunks */
}

/* ---- Version rules ---------------------------------------------------------------- */

static void test_chunk__duplicate_succeeds_without_applying(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {20, 0};
	struct vchunk_result res;
	uint8_t a[100], b[100], buf[100];

	fill(a, sizeof(a), 11);
	fill(b, sizeof(b), 12);
	put(f, id, 0, a, sizeof(a), 1);
	put(f, id, 0, a, sizeof(a), 2);
	io_reset();
	assert_int_equal(vchunk_write(f->st, id, 0, b, sizeof(b),
				      vcrc32c(0, b, sizeof(b)), 2, 1, 0, &res),
			 0);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(res.meta.committed_ver, 2);
	assert_int_equal(iolog.wr_bytes, 0);
	assert_int_equal(vchunk_write(f->st, id, 0, b, sizeof(b),
				      vcrc32c(0, b, sizeof(b)), 1, 1, 0, &res),
			 0);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(vchunk_read(f->st, id, 0, 100, buf, 0, NULL), 100);
	assert_memory_equal(buf, a, 100);
	/* A duplicate commit is fine too. */
	assert_int_equal(vchunk_commit(f->st, id, 1, &res), 0);
	assert_int_equal(res.duplicate, 1);
}

static void test_chunk__gap_is_eagain(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {21, 0};
	uint8_t a[10] = {1, 2, 3};
	uint32_t crc = vcrc32c(0, a, sizeof(a));

	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, crc, 2, 1, 0, NULL),
			 -EAGAIN);
	put(f, id, 0, a, 10, 1);
	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, crc, 3, 1, 0, NULL),
			 -EAGAIN);
	assert_int_equal(vchunk_commit(f->st, id, 5, NULL), -EAGAIN);
	assert_int_equal(vchunk_commit(f->st, (struct vchunk_id){99, 0}, 1, NULL),
			 -ENOENT);
	/* A full-chunk write (resync) may skip versions. */
	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, crc, 7, 1,
				      VCHUNK_F_FULL, NULL),
			 0);
	assert_int_equal(vchunk_commit(f->st, id, 7, NULL), 0);
}

static void test_chunk__stale_chain_version_is_estale(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {22, 0};
	uint8_t a[10] = {4};
	uint32_t crc = vcrc32c(0, a, sizeof(a));
	struct vchunk_result res;

	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, crc, 1, 5, 0, &res), 0);
	assert_int_equal(res.meta.chain_ver, 5);
	assert_int_equal(vchunk_commit(f->st, id, 1, NULL), 0);
	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, crc, 2, 4, 0, NULL),
			 -ESTALE);
	assert_int_equal(vchunk_truncate(f->st, id, 0, 2, 4, NULL), -ESTALE);
	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, crc, 2, 6, 0, &res), 0);
	assert_int_equal(res.meta.chain_ver, 6);
}

static void test_chunk__pending_read_is_einprogress(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {23, 0};
	uint8_t a[5000], b[5000], buf[5000];
	struct vchunk_result res;

	fill(a, sizeof(a), 13);
	fill(b, sizeof(b), 14);
	put(f, id, 0, a, sizeof(a), 1);
	assert_int_equal(vchunk_write(f->st, id, 0, b, sizeof(b),
				      vcrc32c(0, b, sizeof(b)), 2, 1, 0, NULL),
			 0);
	assert_int_equal(vchunk_read(f->st, id, 0, sizeof(buf), buf, 0, &res),
			 -EINPROGRESS);
	assert_int_equal(res.meta.pending_ver, 2);
	assert_int_equal(vchunk_read(f->st, id, 0, sizeof(buf), buf,
				     VCHUNK_F_ANY, NULL),
			 sizeof(buf));
	assert_memory_equal(buf, b, sizeof(buf));
	/* The same update again (a re-forward) is applied again; the next
	 * one supersedes the pending one, and then the older is a duplicate. */
	assert_int_equal(vchunk_write(f->st, id, 0, b, sizeof(b),
				      vcrc32c(0, b, sizeof(b)), 2, 1, 0, &res),
			 0);
	assert_int_equal(res.duplicate, 0);
	assert_int_equal(vchunk_write(f->st, id, 10, a, 10, vcrc32c(0, a, 10), 3,
				      1, 0, &res),
			 0);
	assert_int_equal(res.meta.pending_ver, 3);
	assert_int_equal(vchunk_write(f->st, id, 0, a, 10, vcrc32c(0, a, 10), 2,
				      1, 0, &res),
			 0);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(vchunk_commit(f->st, id, 2, &res), 0);
	assert_int_equal(res.duplicate, 1);
	assert_int_equal(vchunk_read(f->st, id, 0, 1, buf, 0, NULL), -EINPROGRESS);
	assert_int_equal(vchunk_commit(f->st, id, 3, &res), 0);
	assert_int_equal(res.meta.committed_ver, 3);
	assert_int_equal(res.meta.pending_ver, 0);
	memcpy(b + 10, a, 10);
	assert_int_equal(vchunk_read(f->st, id, 0, sizeof(buf), buf, 0, NULL),
			 sizeof(buf));
	assert_memory_equal(buf, b, sizeof(buf));
}

static void test_chunk__bad_caller_crc_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {24, 0};
	uint8_t a[100] = {5};
	struct vchunk_meta m;

	io_reset();
	assert_int_equal(vchunk_write(f->st, id, 0, a, sizeof(a),
				      vcrc32c(0, a, sizeof(a)) ^ 1, 1, 1, 0, NULL),
			 -EBADMSG);
	assert_int_equal(iolog.wr_bytes, 0);
	assert_int_equal(vchunk_stat(f->st, id, &m), -ENOENT);
	assert_int_equal(vchunk_write(f->st, id, 0, a, sizeof(a),
				      vcrc32c(0, a, sizeof(a)), 0, 1, 0, NULL),
			 -EINVAL);
	assert_int_equal(vchunk_write(f->st, id, VCHUNK_MAX_SIZE - 1, a, 2,
				      vcrc32c(0, a, 2), 1, 1, 0, NULL),
			 -EFBIG);
}

static void test_chunk__failed_write_stays_pending_and_retries(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {25, 0};
	uint8_t a[6000], b[6000];
	struct vchunk_meta m;

	fill(a, sizeof(a), 15);
	fill(b, sizeof(b), 16);
	put(f, id, 0, a, sizeof(a), 1);
	iolog.fail_pwrite = 1;
	assert_int_equal(vchunk_write(f->st, id, 100, b, 3000,
				      vcrc32c(0, b, 3000), 2, 1, 0, NULL),
			 -EIO);
	iolog.fail_pwrite = 0;
	assert_int_equal(vchunk_stat(f->st, id, &m), 0);
	assert_int_equal(m.pending_ver, 2);
	/* The retry of the same version re-applies it. */
	assert_int_equal(vchunk_write(f->st, id, 100, b, 3000,
				      vcrc32c(0, b, 3000), 2, 1, 0, NULL),
			 0);
	assert_int_equal(vchunk_commit(f->st, id, 2, NULL), 0);
	memcpy(a + 100, b, 3000);
	check_crcs(f, id, a, sizeof(a));
	check_data(f, id, a, sizeof(a));
}

/* ---- Corruption, resync, persistence ----------------------------------------------- */

static void flip_byte(struct fx *f, struct vchunk_id id, off_t off)
{
	char path[256];
	uint8_t c;
	int fd;

	snprintf(path, sizeof(path), "%s/chunks/%02x/%02x/%016llx/%u", f->dir,
		 (unsigned)(id.inode & 0xff), (unsigned)((id.inode >> 8) & 0xff),
		 (unsigned long long)id.inode, id.index);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void test_chunk__flipped_byte_is_eio(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {0xabcdef, 4};
	uint32_t len = 8 * BS;
	uint8_t *model = malloc(len), *buf = malloc(len);
	struct vchunk_result res;
	struct vchunk_stats stats;
	uint8_t patch[10] = {0};

	assert_non_null(model);
	assert_non_null(buf);
	fill(model, len, 17);
	put(f, id, 0, model, len, 1);
	flip_byte(f, id, 5 * BS + 17);
	assert_int_equal(vchunk_read(f->st, id, 0, len, buf, 0, &res), -EIO);
	assert_int_equal(res.bad_block, 5);
	assert_int_equal(vchunk_read(f->st, id, 5 * BS + 100, 10, buf, 0, &res),
			 -EIO);
	assert_int_equal(res.bad_block, 5);
	vchunk_store_stats(f->st, &stats);
	assert_int_equal(stats.bad_blocks, 2);
	/* The other blocks still read. */
	assert_int_equal(vchunk_read(f->st, id, 0, 5 * BS, buf, 0, &res),
			 5 * BS);
	assert_memory_equal(buf, model, 5 * BS);
	assert_int_equal(vchunk_read(f->st, id, 6 * BS, len, buf, 0, NULL),
			 2 * BS);
	assert_memory_equal(buf, model + 6 * BS, 2 * BS);
	/* A partial write into the bad block refuses to launder it. */
	assert_int_equal(vchunk_write(f->st, id, 5 * BS + 1, patch, 10,
				      vcrc32c(0, patch, 10), 2, 1, 0, NULL),
			 -EIO);
	free(model);
	free(buf);
}

static void test_chunk__replace_writes_whole_chunk(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {30, 1};
	uint32_t len = 3 * BS + 77;
	uint8_t *model = malloc(len), old[BS * 5];
	struct vchunk_meta m;

	assert_non_null(model);
	fill(old, sizeof(old), 18);
	put(f, id, 0, old, sizeof(old), 1);
	assert_int_equal(vchunk_write(f->st, id, 0, old, 10, vcrc32c(0, old, 10),
				      2, 1, 0, NULL),
			 0); /* pending: replace overrides it */
	fill(model, len, 19);
	assert_int_equal(vchunk_replace(f->st, id, model, len, 9, 3), 0);
	assert_int_equal(vchunk_stat(f->st, id, &m), 0);
	assert_int_equal(m.length, len);
	assert_int_equal(m.committed_ver, 9);
	assert_int_equal(m.pending_ver, 0);
	assert_int_equal(m.chain_ver, 3);
	check_crcs(f, id, model, len);
	check_data(f, id, model, len);
	/* And a new chunk. */
	id.index = 2;
	assert_int_equal(vchunk_replace(f->st, id, model, 100, 4, 3), 0);
	check_data(f, id, model, 100);
	free(model);
}

static void test_chunk__reopen_keeps_everything(void **state)
{
	struct fx *f = *state;
	struct vchunk_id id = {40, 0}, id2 = {40, 1};
	uint32_t len = 2 * BS + 5;
	uint8_t *model = malloc(len);
	struct vchunk_meta m;

	assert_non_null(model);
	fill(model, len, 20);
	put(f, id, 0, model, len, 1);
	assert_int_equal(vchunk_write(f->st, id2, 0, model, 10,
				      vcrc32c(0, model, 10), 1, 2, 0, NULL),
			 0);
	fx_reopen(f);
	check_crcs(f, id, model, len);
	check_data(f, id, model, len);
	assert_int_equal(vchunk_stat(f->st, id2, &m), 0);
	assert_int_equal(m.pending_ver, 1);
	assert_int_equal(m.chain_ver, 2);
	assert_int_equal(vchunk_commit(f->st, id2, 1, NULL), 0);
	check_data(f, id2, model, 10);
	free(model);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(test_chunk__##name, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(partial_write_touches_only_its_blocks),
		T(aligned_write_reads_nothing),
		T(reads_across_block_boundaries),
		T(holes_read_as_zeros),
		T(truncate_shrinks_and_extends),
		T(remove_inode_removes_only_that_inode),
		T(last_chunk),
		T(dump_lists_all_records),
		T(remove_from_keeps_lower_chunks),
		T(dump_from_starts_at_key),
		T(space_and_sync),
		T(duplicate_succeeds_without_applying),
		T(gap_is_eagain),
		T(stale_chain_version_is_estale),
		T(pending_read_is_einprogress),
		T(bad_caller_crc_writes_nothing),
		T(failed_write_stays_pending_and_retries),
		T(flipped_byte_is_eio),
		T(replace_writes_whole_chunk),
		T(reopen_keeps_everything),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
