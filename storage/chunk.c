/* SPDX-License-Identifier: MIT */
/*
 * chunk.c - the chunk store: chunk files, block CRCs and the version rules
 * (contracts in chunk.h; records in chunk_meta.c).
 *
 * An update runs in three steps: (1) a write txn checks the version rules,
 * marks the update pending and notes the old length and the old CRCs of
 * the (at most three) blocks the update covers only partly; (2) outside
 * any txn, those blocks are read and verified, merged, and the data is
 * written; (3) a second write txn stores the new length and CRCs. The
 * reads in (2) are the only reads an update does: 4 KiB per partly covered
 * block, never the chunk.
 */
#include "storage/chunk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "storage/chunk_i.h"

#define VCHUNK_EDGES 3	   /* first, last and old-last block of an update */
#define VCHUNK_READ_TRIES 3 /* re-reads when a read races an update */
#define VCHUNK_NO_BLOCK UINT32_MAX

static const uint8_t vchunk_zeros[VCHUNK_BLOCK_SIZE];

static const struct vchunk_io vchunk_io_libc = {
	.pread = pread,
	.preadv = preadv,
	.pwrite = pwrite,
};

/* ---- Open, close --------------------------------------------------------- */

int vchunk_store_open(const char *dir, struct vchunk_store **out)
{
	struct vchunk_store *st;
	char path[PATH_MAX];
	int err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->io = &vchunk_io_libc;
	st->zero_crc = vcrc32c(0, vchunk_zeros, VCHUNK_BLOCK_SIZE);
	st->dir = strdup(dir);
	st->scratch = malloc(VCHUNK_REC_MAX);
	if (!st->dir || !st->scratch) {
		err = -ENOMEM;
		goto out_free;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		goto out_free;
	}
	if (snprintf(path, sizeof(path), "%s/chunks", dir) >= (int)sizeof(path)) {
		err = -ENAMETOOLONG;
		goto out_free;
	}
	if (mkdir(path, 0700) && errno != EEXIST) {
		err = -errno;
		goto out_free;
	}
	snprintf(path, sizeof(path), "%s/meta", dir);
	err = vchunk_meta_open(st, path);
	if (err)
		goto out_free;
	*out = st;
	return 0;

out_free:
	if (err != -ENOMEM)
		vlog_err("chunk store %s: open: %s", dir, strerror(-err));
	free(st->scratch);
	free(st->dir);
	free(st);
	return err;
}

void vchunk_store_close(struct vchunk_store *st)
{
	if (!st)
		return;
	vchunk_meta_close(st);
	free(st->scratch);
	free(st->dir);
	free(st);
}

void vchunk_store_set_io(struct vchunk_store *st, const struct vchunk_io *io)
{
	st->io = io ? io : &vchunk_io_libc;
}

void vchunk_store_stats(const struct vchunk_store *st, struct vchunk_stats *out)
{
	out->bad_blocks = __atomic_load_n(&st->bad_blocks, __ATOMIC_RELAXED);
}

/* ---- Paths and files ----------------------------------------------------- */

/* chunks/XX/YY/<inode> with @depth components after chunks/ (1..3). */
static int vchunk_dir_path(const struct vchunk_store *st, uint64_t inode,
			   int depth, char *path, size_t size)
{
	int n;

	if (depth == 1)
		n = snprintf(path, size, "%s/chunks/%02x", st->dir,
			     (unsigned)(inode & 0xff));
	else if (depth == 2)
		n = snprintf(path, size, "%s/chunks/%02x/%02x", st->dir,
			     (unsigned)(inode & 0xff),
			     (unsigned)((inode >> 8) & 0xff));
	else
		n = snprintf(path, size, "%s/chunks/%02x/%02x/%016llx",
			     st->dir, (unsigned)(inode & 0xff),
			     (unsigned)((inode >> 8) & 0xff),
			     (unsigned long long)inode);
	return n >= (int)size ? -ENAMETOOLONG : 0;
}

static int vchunk_file_path(const struct vchunk_store *st, struct vchunk_id id,
			    const char *suffix, char *path, size_t size)
{
	size_t n;

	if (vchunk_dir_path(st, id.inode, 3, path, size))
		return -ENAMETOOLONG;
	n = strlen(path);
	if (snprintf(path + n, size - n, "/%u%s", id.index, suffix) >=
	    (int)(size - n))
		return -ENAMETOOLONG;
	return 0;
}

/* Open (creating it and its directories when missing): fd or -errno. */
static int vchunk_file_create(const struct vchunk_store *st,
			      struct vchunk_id id, const char *suffix,
			      int oflags)
{
	char path[PATH_MAX];
	int fd, err;

	err = vchunk_file_path(st, id, suffix, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, oflags | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	for (int depth = 1; depth <= 3; depth++) {
		char dpath[PATH_MAX];

		vchunk_dir_path(st, id.inode, depth, dpath, sizeof(dpath));
		if (mkdir(dpath, 0700) && errno != EEXIST)
			return -errno;
	}
	fd = open(path, oflags | O_CREAT | O_CLOEXEC, 0600);
	return fd >= 0 ? fd : -errno;
}

static int vchunk_pwrite_all(const struct vchunk_store *st, int fd,
			     const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = st->io->pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Read n bytes; what lies past the file's end reads as zeros. */
static int vchunk_pread_all(const struct vchunk_store *st, int fd, uint8_t *p,
			    size_t n, off_t off)
{
	while (n) {
		ssize_t r = st->io->pread(fd, p, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			memset(p, 0, n);
			return 0;
		}
		p += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static void vchunk_count_bad(struct vchunk_store *st, struct vchunk_id id,
			     uint32_t b)
{
	__atomic_fetch_add(&st->bad_blocks, 1, __ATOMIC_RELAXED);
	vlog_err("chunk store %s: chunk %llx/%u block %u: CRC mismatch",
		 st->dir, (unsigned long long)id.inode, id.index, b);
}

/* ---- Updates: version rules, the two metadata steps ---------------------- */

/* One block an update covers partly: its old CRC (step 1), its merged
 * contents and new CRC (step 2). */
struct vchunk_edge {
	uint32_t b; /* VCHUNK_NO_BLOCK: slot unused */
	uint32_t old_crc;
	uint32_t new_crc;
	uint8_t data[VCHUNK_BLOCK_SIZE];
};

struct vchunk_update {
	struct vchunk_id id;
	uint64_t ver;
	uint32_t chain_ver;
	int full;		     /* VCHUNK_F_FULL: no gap rule */
	struct vchunk_meta old;	     /* the record before step 1 */
	uint32_t old_last_crc;	     /* old CRC of the old last block */
	struct vchunk_edge edge[VCHUNK_EDGES];
};

/*
 * The rules of chunk.h: 1 duplicate, 0 apply, -ESTALE, -EAGAIN.
 * @m is the stored record (zeros for a missing chunk).
 */
static int vchunk_version_check(const struct vchunk_meta *m, uint64_t u,
				uint32_t chain_ver, int full)
{
	if (chain_ver < m->chain_ver)
		return -ESTALE;
	if (u <= m->committed_ver || (m->pending_ver && u < m->pending_ver))
		return 1;
	/* The pending update again: re-applied, which completes one cut
	 * short by an error or crash (same version, same data). */
	if (full || u == m->pending_ver)
		return 0;
	if (u == (m->pending_ver ? m->pending_ver : m->committed_ver) + 1)
		return 0;
	return -EAGAIN;
}

static void vchunk_res_set(struct vchunk_result *res,
			   const struct vchunk_meta *m, int dup)
{
	if (!res)
		return;
	res->meta = *m;
	res->duplicate = dup;
	res->bad_block = -1;
}

/*
 * Step 1: check the rules; on "apply", store the record with pending = ver
 * and the new chain version, and note the old CRCs of the edge blocks
 * (u->edge[].b set by the caller). 1 duplicate (res filled), 0 go, -errno.
 */
static int vchunk_update_begin(struct vchunk_store *st, struct vchunk_update *u,
			       struct vchunk_result *res)
{
	struct vchunk_rec rec;
	struct vchunk_meta m;
	MDB_txn *txn;
	int rc, err, exists;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	err = vchunk_meta_get(st, txn, u->id, &rec);
	exists = !err;
	if (err == -ENOENT) {
		memset(&rec, 0, sizeof(rec));
		rec.m.id = u->id;
		err = 0;
	}
	if (err)
		goto out_abort;
	u->old = rec.m;
	err = vchunk_version_check(&rec.m, u->ver, u->chain_ver, u->full);
	if (err) {
		if (err == 1)
			vchunk_res_set(res, &rec.m, 1);
		goto out_abort;
	}
	for (int i = 0; i < VCHUNK_EDGES; i++)
		if (u->edge[i].b < rec.nblocks)
			u->edge[i].old_crc = vchunk_rec_crc(&rec, u->edge[i].b);
	u->old_last_crc = rec.nblocks ? vchunk_rec_crc(&rec, rec.nblocks - 1)
				      : 0;
	m = rec.m;
	m.pending_ver = u->ver;
	m.chain_ver = u->chain_ver;
	vchunk_meta_stage(st, exists ? &rec : NULL, m.length);
	err = vchunk_meta_put(st, txn, &m);
	if (err)
		goto out_abort;
	rc = mdb_txn_commit(txn);
	return vchunk_meta_errno(rc);

out_abort:
	mdb_txn_abort(txn);
	return err;
}

typedef void (*vchunk_fill_fn)(struct vchunk_store *st,
			       const struct vchunk_update *u, uint32_t new_len,
			       const void *ctx);

/*
 * Step 3: store @new_len and the CRCs: the old ones staged, then @fill
 * sets every block whose contents or extent changed.
 */
static int vchunk_update_finish(struct vchunk_store *st,
				const struct vchunk_update *u, uint32_t new_len,
				vchunk_fill_fn fill, const void *ctx,
				struct vchunk_result *res)
{
	struct vchunk_rec rec;
	struct vchunk_meta m;
	MDB_txn *txn;
	int rc, err;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	err = vchunk_meta_get(st, txn, u->id, &rec);
	if (!err && rec.m.pending_ver != u->ver)
		err = -EBUSY; /* a concurrent update: the caller's lock failed */
	if (err)
		goto out_abort;
	m = rec.m;
	m.length = new_len;
	vchunk_meta_stage(st, &rec, new_len);
	fill(st, u, new_len, ctx);
	err = vchunk_meta_put(st, txn, &m);
	if (err)
		goto out_abort;
	rc = mdb_txn_commit(txn);
	if (rc)
		return vchunk_meta_errno(rc);
	vchunk_res_set(res, &m, 0);
	return 0;

out_abort:
	mdb_txn_abort(txn);
	return err;
}

/*
 * Step 2 for one edge block: its old bytes below @old_len, verified
 * against the old CRC, zeros after them.
 */
static int vchunk_edge_load(struct vchunk_store *st, int fd,
			    const struct vchunk_update *u,
			    struct vchunk_edge *e)
{
	uint32_t ext = vchunk_block_extent(e->b, u->old.length);
	int err;

	memset(e->data + ext, 0, VCHUNK_BLOCK_SIZE - ext);
	if (!ext)
		return 0;
	err = vchunk_pread_all(st, fd, e->data, ext,
			       (off_t)e->b << VCHUNK_BLOCK_SHIFT);
	if (err)
		return err;
	if (vcrc32c(0, e->data, ext) != e->old_crc) {
		vchunk_count_bad(st, u->id, e->b);
		return -EIO;
	}
	return 0;
}

static const struct vchunk_edge *vchunk_edge_find(const struct vchunk_update *u,
						  uint32_t b)
{
	for (int i = 0; i < VCHUNK_EDGES; i++)
		if (u->edge[i].b == b)
			return &u->edge[i];
	return NULL;
}

static void vchunk_edges_clear(struct vchunk_update *u)
{
	for (int i = 0; i < VCHUNK_EDGES; i++) {
		u->edge[i].b = VCHUNK_NO_BLOCK;
		u->edge[i].old_crc = 0;
	}
}

/*
 * Add block @b as an edge unless it is already one. Before step 1 the old
 * CRC is filled in by step 1; after it only the old last block can be
 * added, and its CRC is at hand.
 */
static void vchunk_edge_add(struct vchunk_update *u, uint32_t b)
{
	for (int i = 0; i < VCHUNK_EDGES; i++) {
		if (u->edge[i].b == b)
			return;
		if (u->edge[i].b == VCHUNK_NO_BLOCK) {
			u->edge[i].b = b;
			u->edge[i].old_crc = u->old_last_crc;
			return;
		}
	}
}

/* ---- Write ---------------------------------------------------------------- */

struct vchunk_wctx {
	const uint8_t *data;
	uint32_t off, len;
};

/*
 * CRCs after a write of [off, off + len): the holes between the old end
 * and off are zero blocks, edges come from step 2, blocks the write covers
 * whole are hashed from the caller's data.
 */
static void vchunk_write_fill(struct vchunk_store *st,
			      const struct vchunk_update *u, uint32_t new_len,
			      const void *arg)
{
	const struct vchunk_wctx *w = arg;
	uint32_t b, first = 0, last;

	if (!u->full && w->len) {
		for (b = vchunk_blocks(u->old.length);
		     b < (w->off >> VCHUNK_BLOCK_SHIFT); b++)
			vchunk_meta_set_crc(st, b, st->zero_crc);
		first = w->off >> VCHUNK_BLOCK_SHIFT;
	}
	if (!w->len)
		return; /* nothing changed but the version */
	last = (w->off + w->len - 1) >> VCHUNK_BLOCK_SHIFT;
	for (b = first; b <= last; b++) {
		const struct vchunk_edge *e = vchunk_edge_find(u, b);
		uint64_t bs = (uint64_t)b << VCHUNK_BLOCK_SHIFT;

		if (e)
			vchunk_meta_set_crc(st, b, e->new_crc);
		else
			vchunk_meta_set_crc(
				st, b,
				vcrc32c(0, w->data + (bs - w->off),
					vchunk_block_extent(b, new_len)));
	}
	for (int i = 0; i < VCHUNK_EDGES; i++)
		if (u->edge[i].b != VCHUNK_NO_BLOCK && u->edge[i].b < first)
			vchunk_meta_set_crc(st, u->edge[i].b, u->edge[i].new_crc);
}

/* Is block @b covered by [off, end) up to its extent in a chunk of len? */
static int vchunk_block_covered(uint32_t b, uint32_t off, uint32_t end,
				uint32_t len)
{
	uint64_t bs = (uint64_t)b << VCHUNK_BLOCK_SHIFT;

	return off <= bs && end >= bs + vchunk_block_extent(b, len);
}

int vchunk_write(struct vchunk_store *st, struct vchunk_id id, uint32_t off,
		 const void *data, uint32_t len, uint32_t crc_of_data,
		 uint64_t update_ver, uint32_t chain_ver, unsigned flags,
		 struct vchunk_result *res)
{
	struct vchunk_update u; /* ~12 KiB: three edge blocks */
	struct vchunk_wctx w = {data, off, len};
	uint32_t end = off + len, new_len;
	int fd, err;

	if (!update_ver || ((flags & VCHUNK_F_FULL) && off) || (len && !data))
		return -EINVAL;
	if ((uint64_t)off + len > VCHUNK_MAX_SIZE)
		return -EFBIG;
	if (vcrc32c(0, data, len) != crc_of_data)
		return -EBADMSG;
	u.id = id;
	u.ver = update_ver;
	u.chain_ver = chain_ver;
	u.full = !!(flags & VCHUNK_F_FULL);
	u.old_last_crc = 0;
	vchunk_edges_clear(&u);
	/* Edge candidates; those the write covers whole are dropped once
	 * the old length is known. */
	if (!u.full && len) {
		vchunk_edge_add(&u, off >> VCHUNK_BLOCK_SHIFT);
		vchunk_edge_add(&u, (end - 1) >> VCHUNK_BLOCK_SHIFT);
	}
	err = vchunk_update_begin(st, &u, res);
	if (err)
		return err < 0 ? err : 0;
	if (u.full)
		new_len = len;
	else if (!len) /* like write(2) of 0 bytes: the length stays */
		new_len = u.old.length;
	else
		new_len = end > u.old.length ? end : u.old.length;
	if (!u.full && len) {
		/* The old last block grows with zeros when the write starts
		 * past it. */
		if (u.old.length % VCHUNK_BLOCK_SIZE && off > u.old.length)
			vchunk_edge_add(&u, u.old.length >> VCHUNK_BLOCK_SHIFT);
		for (int i = 0; i < VCHUNK_EDGES; i++) {
			struct vchunk_edge *e = &u.edge[i];

			if (e->b != VCHUNK_NO_BLOCK &&
			    vchunk_block_covered(e->b, off, end, new_len))
				e->b = VCHUNK_NO_BLOCK;
		}
	}
	fd = vchunk_file_create(st, id, "", O_RDWR);
	if (fd < 0)
		return fd;
	for (int i = 0; i < VCHUNK_EDGES; i++) {
		struct vchunk_edge *e = &u.edge[i];
		uint64_t bs = (uint64_t)e->b << VCHUNK_BLOCK_SHIFT;
		uint64_t lo, hi;

		if (e->b == VCHUNK_NO_BLOCK)
			continue;
		err = vchunk_edge_load(st, fd, &u, e);
		if (err)
			goto out_close;
		lo = off > bs ? off : bs;
		hi = end < bs + VCHUNK_BLOCK_SIZE ? end : bs + VCHUNK_BLOCK_SIZE;
		if (lo < hi)
			memcpy(e->data + (lo - bs), w.data + (lo - off), hi - lo);
		e->new_crc = vcrc32c(0, e->data,
				     vchunk_block_extent(e->b, new_len));
	}
	err = vchunk_pwrite_all(st, fd, data, len, off);
	if (!err && (u.full || new_len > u.old.length) &&
	    ftruncate(fd, new_len))
		err = -errno;
	if (!err)
		err = vchunk_update_finish(st, &u, new_len, vchunk_write_fill,
					   &w, res);
out_close:
	close(fd);
	return err;
}

/* ---- Truncate, commit ----------------------------------------------------- */

/* CRCs after a truncate: the new last block if it is an edge, and zero
 * blocks (the last one possibly partial) past the old end. */
static void vchunk_truncate_fill(struct vchunk_store *st,
				 const struct vchunk_update *u,
				 uint32_t new_len, const void *arg)
{
	uint32_t n = vchunk_blocks(new_len);

	for (uint32_t b = vchunk_blocks(u->old.length); b < n; b++)
		vchunk_meta_set_crc(st, b,
				    vcrc32c(0, vchunk_zeros,
					    vchunk_block_extent(b, new_len)));
	for (int i = 0; i < VCHUNK_EDGES; i++)
		if (u->edge[i].b != VCHUNK_NO_BLOCK)
			vchunk_meta_set_crc(st, u->edge[i].b, u->edge[i].new_crc);
}

int vchunk_truncate(struct vchunk_store *st, struct vchunk_id id,
		    uint32_t len, uint64_t update_ver, uint32_t chain_ver,
		    struct vchunk_result *res)
{
	struct vchunk_update u;
	struct vchunk_edge *e = &u.edge[0];
	int fd, err = 0;

	if (!update_ver)
		return -EINVAL;
	if (len > VCHUNK_MAX_SIZE)
		return -EFBIG;
	u.id = id;
	u.ver = update_ver;
	u.chain_ver = chain_ver;
	u.full = 0;
	u.old_last_crc = 0;
	vchunk_edges_clear(&u);
	/* A shrink to mid-block rehashes the new last block. */
	if (len % VCHUNK_BLOCK_SIZE)
		vchunk_edge_add(&u, len >> VCHUNK_BLOCK_SHIFT);
	err = vchunk_update_begin(st, &u, res);
	if (err)
		return err < 0 ? err : 0;
	if (len >= u.old.length) {
		/* Growing: only a partial old last block changes. */
		vchunk_edges_clear(&u);
		if (len > u.old.length && u.old.length % VCHUNK_BLOCK_SIZE)
			vchunk_edge_add(&u,
					u.old.length >> VCHUNK_BLOCK_SHIFT);
	}
	fd = vchunk_file_create(st, id, "", O_RDWR);
	if (fd < 0)
		return fd;
	if (e->b != VCHUNK_NO_BLOCK) {
		err = vchunk_edge_load(st, fd, &u, e);
		if (err)
			goto out_close;
		/* Bytes past the new length are gone, past the old are zero. */
		e->new_crc = vcrc32c(0, e->data, vchunk_block_extent(e->b, len));
	}
	if (ftruncate(fd, len)) {
		err = -errno;
		goto out_close;
	}
	err = vchunk_update_finish(st, &u, len, vchunk_truncate_fill, NULL,
				   res);
out_close:
	close(fd);
	return err;
}

int vchunk_commit(struct vchunk_store *st, struct vchunk_id id, uint64_t ver,
		  struct vchunk_result *res)
{
	struct vchunk_rec rec;
	struct vchunk_meta m;
	MDB_txn *txn;
	int rc, err;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	err = vchunk_meta_get(st, txn, id, &rec);
	if (err)
		goto out_abort;
	m = rec.m;
	if (ver <= m.committed_ver || (m.pending_ver && ver < m.pending_ver)) {
		vchunk_res_set(res, &m, 1);
		goto out_abort; /* err == 0: nothing to do */
	}
	if (ver != m.pending_ver) {
		err = -EAGAIN;
		goto out_abort;
	}
	m.committed_ver = ver;
	m.pending_ver = 0;
	vchunk_meta_stage(st, &rec, m.length);
	err = vchunk_meta_put(st, txn, &m);
	if (err)
		goto out_abort;
	rc = mdb_txn_commit(txn);
	if (rc)
		return vchunk_meta_errno(rc);
	vchunk_res_set(res, &m, 0);
	return 0;

out_abort:
	mdb_txn_abort(txn);
	return err;
}

/* ---- Read ----------------------------------------------------------------- */

/* Has the record changed since @m was read (an update raced a read)? */
static int vchunk_changed(struct vchunk_store *st, const struct vchunk_meta *m)
{
	struct vchunk_meta now;

	if (vchunk_stat(st, m->id, &now))
		return 1;
	return now.length != m->length || now.committed_ver != m->committed_ver ||
	       now.pending_ver != m->pending_ver;
}

/*
 * One attempt under one snapshot: the requested range widened to whole
 * blocks, the partial first and last blocks through bounce buffers, all in
 * one preadv, then every block checked. Bytes read, or -errno with
 * *bad the first bad block.
 */
static ssize_t vchunk_read_once(struct vchunk_store *st, int fd,
				const struct vchunk_rec *rec, uint32_t off,
				uint32_t end, uint8_t *buf, int64_t *bad)
{
	uint8_t head[VCHUNK_BLOCK_SIZE], tail[VCHUNK_BLOCK_SIZE];
	uint32_t b0 = off >> VCHUNK_BLOCK_SHIFT, b1 = (end - 1) >> VCHUNK_BLOCK_SHIFT;
	uint32_t len = rec->m.length;
	uint64_t bs0 = (uint64_t)b0 << VCHUNK_BLOCK_SHIFT;
	uint64_t bs1 = (uint64_t)b1 << VCHUNK_BLOCK_SHIFT;
	uint64_t wend = bs1 + vchunk_block_extent(b1, len); /* widened end */
	int head_bounce = off != bs0 || (b0 == b1 && end != wend);
	int tail_bounce = b1 != b0 && end != wend;
	struct iovec iov[3];
	size_t want = wend - bs0, got = 0;
	int cnt = 0;

	if (head_bounce) {
		iov[cnt].iov_base = head;
		iov[cnt++].iov_len = b0 == b1 ? want : VCHUNK_BLOCK_SIZE;
	}
	{
		uint64_t mid_lo = head_bounce ? bs0 + VCHUNK_BLOCK_SIZE : bs0;
		uint64_t mid_hi = tail_bounce ? bs1 : wend;

		if (mid_hi > mid_lo) {
			iov[cnt].iov_base = buf + (mid_lo - off);
			iov[cnt++].iov_len = mid_hi - mid_lo;
		}
	}
	if (tail_bounce) {
		iov[cnt].iov_base = tail;
		iov[cnt++].iov_len = wend - bs1;
	}
	while (got < want) {
		struct iovec *v = iov;
		int n = cnt;
		size_t skip = got;
		ssize_t r;

		while (skip >= v->iov_len) { /* resume after a short read */
			skip -= v->iov_len;
			v++;
			n--;
		}
		v->iov_base = (uint8_t *)v->iov_base + skip;
		v->iov_len -= skip;
		r = st->io->preadv(fd, v, n, (off_t)(bs0 + got));
		v->iov_base = (uint8_t *)v->iov_base - skip;
		v->iov_len += skip;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO; /* the file is shorter than its record */
		got += (size_t)r;
	}
	for (uint32_t b = b0; b <= b1; b++) {
		uint64_t bs = (uint64_t)b << VCHUNK_BLOCK_SHIFT;
		const uint8_t *p;

		if (b == b0 && head_bounce)
			p = head;
		else if (b == b1 && tail_bounce)
			p = tail;
		else
			p = buf + (bs - off);
		if (vcrc32c(0, p, vchunk_block_extent(b, len)) !=
		    vchunk_rec_crc(rec, b)) {
			*bad = b;
			return -EIO;
		}
	}
	if (head_bounce)
		memcpy(buf, head + (off - bs0),
		       (b0 == b1 ? end : bs0 + VCHUNK_BLOCK_SIZE) - off);
	if (tail_bounce)
		memcpy(buf + (bs1 - off), tail, end - bs1);
	return end - off;
}

ssize_t vchunk_read(struct vchunk_store *st, struct vchunk_id id,
		    uint32_t off, uint32_t len, void *buf, unsigned flags,
		    struct vchunk_result *res)
{
	struct vchunk_result dummy;
	ssize_t n = -EIO;

	if (!res)
		res = &dummy;
	for (int tries = 0; tries < VCHUNK_READ_TRIES; tries++) {
		struct vchunk_rec rec;
		char path[PATH_MAX];
		MDB_txn *txn;
		uint32_t end;
		int rc, fd;

		res->bad_block = -1;
		res->duplicate = 0;
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
		if (rc)
			return vchunk_meta_errno(rc);
		n = vchunk_meta_get(st, txn, id, &rec);
		if (n) {
			memset(&res->meta, 0, sizeof(res->meta));
			res->meta.id = id;
			mdb_txn_abort(txn);
			return n;
		}
		res->meta = rec.m;
		if (rec.m.pending_ver && !(flags & VCHUNK_F_ANY)) {
			mdb_txn_abort(txn);
			return -EINPROGRESS;
		}
		if (off >= rec.m.length || !len) {
			mdb_txn_abort(txn);
			return 0;
		}
		end = len < rec.m.length - off ? off + len : rec.m.length;
		n = vchunk_file_path(st, id, "", path, sizeof(path));
		fd = n ? -1 : open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			n = n ? n : (errno == ENOENT ? -EIO : -errno);
		} else {
			n = vchunk_read_once(st, fd, &rec, off, end, buf,
					     &res->bad_block);
			close(fd);
		}
		mdb_txn_abort(txn);
		if (n != -EIO || !vchunk_changed(st, &res->meta))
			break;
	}
	if (n == -EIO && res->bad_block >= 0)
		vchunk_count_bad(st, id, (uint32_t)res->bad_block);
	return n;
}

int vchunk_stat(struct vchunk_store *st, struct vchunk_id id,
		struct vchunk_meta *out)
{
	struct vchunk_rec rec;
	MDB_txn *txn;
	int rc, err;

	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	err = vchunk_meta_get(st, txn, id, &rec);
	if (!err)
		*out = rec.m;
	mdb_txn_abort(txn);
	return err;
}

int vchunk_crcs(struct vchunk_store *st, struct vchunk_id id, uint32_t first,
		uint32_t n, uint32_t *out)
{
	struct vchunk_rec rec;
	MDB_txn *txn;
	int rc, err;

	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	err = vchunk_meta_get(st, txn, id, &rec);
	if (!err && ((uint64_t)first + n > rec.nblocks))
		err = -ERANGE;
	for (uint32_t i = 0; !err && i < n; i++)
		out[i] = vchunk_rec_crc(&rec, first + i);
	mdb_txn_abort(txn);
	return err;
}

/* ---- Resync, garbage collection, queries ---------------------------------- */

int vchunk_replace(struct vchunk_store *st, struct vchunk_id id,
		   const void *data, uint32_t len, uint64_t committed_ver,
		   uint32_t chain_ver)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct vchunk_meta m = {id, len, chain_ver, committed_ver, 0};
	MDB_txn *txn;
	int fd, rc, err;

	if (len > VCHUNK_MAX_SIZE)
		return -EFBIG;
	if ((len && !data) || vchunk_file_path(st, id, ".tmp", tmp, sizeof(tmp)) ||
	    vchunk_file_path(st, id, "", path, sizeof(path)))
		return -EINVAL;
	fd = vchunk_file_create(st, id, ".tmp", O_WRONLY | O_TRUNC);
	if (fd < 0)
		return fd;
	err = vchunk_pwrite_all(st, fd, data, len, 0);
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	vchunk_meta_stage(st, NULL, len);
	for (uint32_t b = 0; b < vchunk_blocks(len); b++)
		vchunk_meta_set_crc(st, b,
				    vcrc32c(0, (const uint8_t *)data +
						       ((size_t)b << VCHUNK_BLOCK_SHIFT),
					    vchunk_block_extent(b, len)));
	err = vchunk_meta_put(st, txn, &m);
	if (err) {
		mdb_txn_abort(txn);
		return err;
	}
	return vchunk_meta_errno(mdb_txn_commit(txn));
}

/* Run @fn on every entry of the inode's chunk directory (fd of the dir
 * passed); -ENOENT when there is none. */
static int vchunk_inode_dir_each(struct vchunk_store *st, uint64_t inode,
				 int (*fn)(int dfd, const char *name,
					   const void *arg),
				 const void *arg)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (vchunk_dir_path(st, inode, 3, path, sizeof(path)))
		return -ENAMETOOLONG;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		err = fn(dirfd(d), de->d_name, arg);
		if (err)
			break;
	}
	if (!err)
		err = fn(dirfd(d), NULL, arg); /* NULL: the directory itself */
	closedir(d);
	return err;
}

static int vchunk_unlink_entry(int dfd, const char *name, const void *arg)
{
	if (!name)
		return 0;
	return unlinkat(dfd, name, 0) && errno != ENOENT ? -errno : 0;
}

static int vchunk_fsync_entry(int dfd, const char *name, const void *arg)
{
	int fd, err = 0;

	if (!name)
		return fsync(dfd) ? -errno : 0;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* The index a chunk file name stands for ("12", "12.tmp"), or -1. */
static int64_t vchunk_name_index(const char *name)
{
	char *end;
	unsigned long long v;

	if (name[0] < '0' || name[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(name, &end, 10);
	if (errno || v > UINT32_MAX || (*end && strcmp(end, ".tmp")))
		return -1;
	return (int64_t)v;
}

/* Unlink one entry of an inode directory if its index is >= *arg. */
static int vchunk_unlink_from_entry(int dfd, const char *name,
				    const void *arg)
{
	const uint32_t *first = arg;
	int64_t idx;

	if (!name)
		return 0;
	idx = vchunk_name_index(name);
	if (idx < 0 || idx < (int64_t)*first)
		return 0;
	return unlinkat(dfd, name, 0) && errno != ENOENT ? -errno : 0;
}

int vchunk_remove_from(struct vchunk_store *st, uint64_t inode,
		       uint32_t first_index)
{
	uint8_t key[VCHUNK_KEY_LEN];
	struct vchunk_id first = {inode, first_index};
	MDB_val k = {VCHUNK_KEY_LEN, key}, v;
	MDB_cursor *cur;
	MDB_txn *txn;
	char path[PATH_MAX];
	int rc, err, removed = 0;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	rc = mdb_cursor_open(txn, st->dbi, &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return vchunk_meta_errno(rc);
	}
	for (;;) {
		/* Re-seek after each delete rather than trust the cursor's
		 * position across mdb_cursor_del(). */
		vchunk_meta_key(first, key);
		k.mv_size = VCHUNK_KEY_LEN;
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc)
			break;
		if (k.mv_size != VCHUNK_KEY_LEN ||
		    vchunk_meta_key_id(k.mv_data).inode != inode)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		removed++;
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return vchunk_meta_errno(rc);
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return vchunk_meta_errno(rc);
	/* Records first: a crash now leaves orphan files, never records
	 * without data. The directory pass also takes any orphans. */
	if (first_index) {
		err = vchunk_inode_dir_each(st, inode, vchunk_unlink_from_entry,
					    &first_index);
		return err && err != -ENOENT ? err : removed;
	}
	err = vchunk_inode_dir_each(st, inode, vchunk_unlink_entry, NULL);
	if (err && err != -ENOENT)
		return err;
	if (!err && !vchunk_dir_path(st, inode, 3, path, sizeof(path)) &&
	    rmdir(path) && errno != ENOENT)
		return -errno;
	return removed;
}

int vchunk_remove_inode(struct vchunk_store *st, uint64_t inode)
{
	return vchunk_remove_from(st, inode, 0);
}

int vchunk_remove(struct vchunk_store *st, struct vchunk_id id)
{
	uint8_t key[VCHUNK_KEY_LEN];
	MDB_val k = {VCHUNK_KEY_LEN, key};
	char path[PATH_MAX];
	MDB_txn *txn;
	int rc, removed;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	vchunk_meta_key(id, key);
	rc = mdb_del(txn, st->dbi, &k, NULL);
	if (rc && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return vchunk_meta_errno(rc);
	}
	removed = rc == 0;
	rc = mdb_txn_commit(txn);
	if (rc)
		return vchunk_meta_errno(rc);
	if (!vchunk_file_path(st, id, "", path, sizeof(path)) && unlink(path) &&
	    errno != ENOENT)
		return -errno;
	return removed;
}

int vchunk_last(struct vchunk_store *st, uint64_t inode, uint32_t *index,
		uint32_t *len)
{
	uint8_t key[VCHUNK_KEY_LEN];
	struct vchunk_id hi = {inode, UINT32_MAX};
	MDB_val k = {VCHUNK_KEY_LEN, key}, v;
	struct vchunk_rec rec;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc, err;

	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	rc = mdb_cursor_open(txn, st->dbi, &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return vchunk_meta_errno(rc);
	}
	/* The first key >= (inode, max); if it is not that exact key, the
	 * one before it is the inode's last, if any. */
	vchunk_meta_key(hi, key);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	else if (!rc && memcmp(k.mv_data, key, VCHUNK_KEY_LEN))
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	err = vchunk_meta_errno(rc);
	if (!err && (k.mv_size != VCHUNK_KEY_LEN ||
		     vchunk_meta_key_id(k.mv_data).inode != inode))
		err = -ENOENT;
	if (!err)
		err = vchunk_meta_decode(vchunk_meta_key_id(k.mv_data), &v, &rec);
	if (!err) {
		*index = rec.m.id.index;
		*len = rec.m.length;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return err;
}

int vchunk_dump(struct vchunk_store *st, vchunk_dump_cb cb, void *arg)
{
	struct vchunk_id zero = {0, 0};

	return vchunk_dump_from(st, zero, cb, arg);
}

int vchunk_dump_from(struct vchunk_store *st, struct vchunk_id start,
		     vchunk_dump_cb cb, void *arg)
{
	uint8_t key[VCHUNK_KEY_LEN];
	MDB_val k = {VCHUNK_KEY_LEN, key}, v;
	struct vchunk_rec rec;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc, err = 0;

	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return vchunk_meta_errno(rc);
	rc = mdb_cursor_open(txn, st->dbi, &cur);
	if (rc) {
		mdb_txn_abort(txn);
		return vchunk_meta_errno(rc);
	}
	vchunk_meta_key(start, key);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != VCHUNK_KEY_LEN) {
			err = -EBADMSG;
			break;
		}
		err = vchunk_meta_decode(vchunk_meta_key_id(k.mv_data), &v,
					 &rec);
		if (!err)
			err = cb(arg, &rec.m);
		if (err)
			break;
	}
	if (!err && rc != MDB_NOTFOUND)
		err = vchunk_meta_errno(rc);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return err;
}

int vchunk_space(struct vchunk_store *st, uint64_t *total, uint64_t *avail)
{
	struct statvfs sv;

	if (statvfs(st->dir, &sv))
		return -errno;
	*total = (uint64_t)sv.f_blocks * sv.f_frsize;
	*avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return 0;
}

int vchunk_sync_inode(struct vchunk_store *st, uint64_t inode)
{
	int err, rc;

	err = vchunk_inode_dir_each(st, inode, vchunk_fsync_entry, NULL);
	if (err == -ENOENT)
		err = 0;
	rc = mdb_env_sync(st->env, 1);
	if (!err && rc)
		err = vchunk_meta_errno(rc);
	return err;
}
