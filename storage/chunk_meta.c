/* SPDX-License-Identifier: MIT */
/*
 * chunk_meta.c - chunk records in LMDB: the env, keys and the record codec
 * (layout in chunk_i.h). Decoding is strict: the format byte, the exact
 * length for the block count, the block count for the length, pending
 * above committed.
 */
#include "storage/chunk_i.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "proto/wire_le.h"

#define VCHUNK_META_DB "chunks"
/* Address space for the records: ~1 KiB per 1 MiB chunk, so 64 GiB covers
 * a 64 TiB target. Only touched pages take memory or disk. */
#define VCHUNK_META_MAPSIZE ((size_t)64 << 30)

int vchunk_meta_errno(int rc)
{
	if (rc > 0)
		return -rc; /* LMDB passes system errors through */
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_NOTFOUND:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static int vchunk_meta_fail(const struct vchunk_store *st, const char *what,
			    int rc)
{
	vlog_err("chunk store %s: %s: %s", st->dir, what, mdb_strerror(rc));
	return vchunk_meta_errno(rc);
}

int vchunk_meta_open(struct vchunk_store *st, const char *path)
{
	MDB_txn *txn;
	int rc;

	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	rc = mdb_env_create(&st->env);
	if (rc)
		return vchunk_meta_fail(st, "mdb_env_create", rc);
	rc = mdb_env_set_maxdbs(st->env, 1);
	if (!rc)
		rc = mdb_env_set_mapsize(st->env, VCHUNK_META_MAPSIZE);
	/* NOSYNC: durability comes from vchunk_sync_inode(); NOTLS: read
	 * transactions are not tied to threads. */
	if (!rc)
		rc = mdb_env_open(st->env, path, MDB_NOSYNC | MDB_NOTLS, 0600);
	if (rc)
		goto out_close_env;
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		goto out_close_env;
	rc = mdb_dbi_open(txn, VCHUNK_META_DB, MDB_CREATE, &st->dbi);
	if (rc) {
		mdb_txn_abort(txn);
		goto out_close_env;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto out_close_env;
	return 0;

out_close_env:
	rc = vchunk_meta_fail(st, "open metadata", rc);
	mdb_env_close(st->env);
	st->env = NULL;
	return rc;
}

void vchunk_meta_close(struct vchunk_store *st)
{
	if (st->env)
		mdb_env_close(st->env);
	st->env = NULL;
}

void vchunk_meta_key(struct vchunk_id id, uint8_t key[VCHUNK_KEY_LEN])
{
	for (int i = 0; i < 8; i++)
		key[i] = (uint8_t)(id.inode >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		key[8 + i] = (uint8_t)(id.index >> (24 - 8 * i));
}

struct vchunk_id vchunk_meta_key_id(const uint8_t key[VCHUNK_KEY_LEN])
{
	struct vchunk_id id = {0, 0};

	for (int i = 0; i < 8; i++)
		id.inode = id.inode << 8 | key[i];
	for (int i = 0; i < 4; i++)
		id.index = id.index << 8 | key[8 + i];
	return id;
}

int vchunk_meta_decode(struct vchunk_id id, const MDB_val *v,
		       struct vchunk_rec *out)
{
	struct wire_r r;
	int err;

	wire_r_init(&r, v->mv_data, v->mv_size);
	if (wire_get_u8(&r) != VCHUNK_REC_FORMAT)
		return -EBADMSG;
	out->m.id = id;
	out->m.length = wire_get_u32(&r);
	out->m.committed_ver = wire_get_u64(&r);
	out->m.pending_ver = wire_get_u64(&r);
	out->m.chain_ver = wire_get_u32(&r);
	out->nblocks = wire_get_u32(&r);
	if (r.err)
		return r.err;
	if (out->m.length > VCHUNK_MAX_SIZE ||
	    out->nblocks != vchunk_blocks(out->m.length) ||
	    (out->m.pending_ver && out->m.pending_ver <= out->m.committed_ver))
		return -EBADMSG;
	out->crcs = wire_get_bytes(&r, (size_t)4 * out->nblocks);
	err = wire_r_finish(&r);
	return err;
}

int vchunk_meta_get(struct vchunk_store *st, MDB_txn *txn, struct vchunk_id id,
		    struct vchunk_rec *out)
{
	uint8_t key[VCHUNK_KEY_LEN];
	MDB_val k = {VCHUNK_KEY_LEN, key}, v;
	int rc;

	vchunk_meta_key(id, key);
	rc = mdb_get(txn, st->dbi, &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? -ENOENT
					  : vchunk_meta_fail(st, "get", rc);
	rc = vchunk_meta_decode(id, &v, out);
	if (rc)
		vlog_err("chunk store %s: record %llx/%u does not decode",
			 st->dir, (unsigned long long)id.inode, id.index);
	return rc;
}

static uint32_t vchunk_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t vchunk_rec_crc(const struct vchunk_rec *r, uint32_t b)
{
	return vchunk_le32(r->crcs + (size_t)4 * b);
}

void vchunk_meta_stage(struct vchunk_store *st, const struct vchunk_rec *old,
		       uint32_t len)
{
	uint32_t n = vchunk_blocks(len), keep = 0;
	uint8_t *crcs = st->scratch + VCHUNK_REC_HDR;

	if (old)
		keep = old->nblocks < n ? old->nblocks : n;
	if (keep)
		memcpy(crcs, old->crcs, (size_t)4 * keep);
	memset(crcs + (size_t)4 * keep, 0, (size_t)4 * (n - keep));
}

void vchunk_meta_set_crc(struct vchunk_store *st, uint32_t b, uint32_t crc)
{
	uint8_t *p = st->scratch + VCHUNK_REC_HDR + (size_t)4 * b;

	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

int vchunk_meta_put(struct vchunk_store *st, MDB_txn *txn,
		    const struct vchunk_meta *m)
{
	uint8_t key[VCHUNK_KEY_LEN];
	uint32_t n = vchunk_blocks(m->length);
	struct wire_w w;
	MDB_val k = {VCHUNK_KEY_LEN, key}, v;
	int rc;

	wire_w_init(&w, st->scratch, VCHUNK_REC_HDR);
	wire_put_u8(&w, VCHUNK_REC_FORMAT);
	wire_put_u32(&w, m->length);
	wire_put_u64(&w, m->committed_ver);
	wire_put_u64(&w, m->pending_ver);
	wire_put_u32(&w, m->chain_ver);
	wire_put_u32(&w, n);
	if (w.err)
		return w.err;
	vchunk_meta_key(m->id, key);
	v.mv_size = VCHUNK_REC_HDR + (size_t)4 * n;
	v.mv_data = st->scratch;
	rc = mdb_put(txn, st->dbi, &k, &v, 0);
	return rc ? vchunk_meta_fail(st, "put", rc) : 0;
}
