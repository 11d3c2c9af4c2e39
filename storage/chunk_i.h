/* SPDX-License-Identifier: MIT */
/*
 * chunk_i.h - what storage/chunk.c and storage/chunk_meta.c share: the
 * store struct and the LMDB record codec.
 */
#ifndef VALOR_STORAGE_CHUNK_I_H
#define VALOR_STORAGE_CHUNK_I_H

#include <lmdb.h>
#include <stdint.h>

#include "storage/chunk.h"

/* Record: format u8, length u32, committed u64, pending u64, chain u32,
 * nblocks u32, then nblocks CRCs (u32 each), all little-endian. */
#define VCHUNK_REC_FORMAT 1
#define VCHUNK_REC_HDR (1 + 4 + 8 + 8 + 4 + 4)
#define VCHUNK_REC_MAX (VCHUNK_REC_HDR + 4 * VCHUNK_MAX_BLOCKS)
#define VCHUNK_KEY_LEN 12 /* inode u64 + index u32, big-endian */

struct vchunk_store {
	char *dir;
	MDB_env *env;
	MDB_dbi dbi;
	const struct vchunk_io *io; /* never NULL */
	/*
	 * Staging area for one record being written. Used only inside a
	 * write transaction: LMDB's writer lock serializes its users.
	 */
	uint8_t *scratch;
	uint64_t bad_blocks; /* relaxed atomic: a counter only */
	uint32_t zero_crc;   /* CRC32C of one all-zero block */
};

/* A decoded record. crcs points into the LMDB value: valid while the
 * transaction it was read in is open. */
struct vchunk_rec {
	struct vchunk_meta m;
	uint32_t nblocks;
	const uint8_t *crcs;
};

static inline uint32_t vchunk_blocks(uint64_t len)
{
	return (uint32_t)((len + VCHUNK_BLOCK_SIZE - 1) >> VCHUNK_BLOCK_SHIFT);
}

/* Bytes of block @b below @len (0 when the block starts at or past it). */
static inline uint32_t vchunk_block_extent(uint32_t b, uint32_t len)
{
	uint64_t bs = (uint64_t)b << VCHUNK_BLOCK_SHIFT;

	if (bs >= len)
		return 0;
	return len - bs < VCHUNK_BLOCK_SIZE ? (uint32_t)(len - bs)
					    : VCHUNK_BLOCK_SIZE;
}

/* LMDB return code to -errno (the one place it happens). */
int vchunk_meta_errno(int rc);
int vchunk_meta_open(struct vchunk_store *st, const char *path);
void vchunk_meta_close(struct vchunk_store *st);

void vchunk_meta_key(struct vchunk_id id, uint8_t key[VCHUNK_KEY_LEN]);
struct vchunk_id vchunk_meta_key_id(const uint8_t key[VCHUNK_KEY_LEN]);

/* Look @id up in @txn: 0, -ENOENT, or -EBADMSG (a record that does not
 * decode; logged). */
int vchunk_meta_get(struct vchunk_store *st, MDB_txn *txn, struct vchunk_id id,
		    struct vchunk_rec *out);
int vchunk_meta_decode(struct vchunk_id id, const MDB_val *v,
		       struct vchunk_rec *out);
uint32_t vchunk_rec_crc(const struct vchunk_rec *r, uint32_t b);

/*
 * Build a record in st->scratch (inside a write txn only): stage copies
 * @old's CRCs (NULL: none) for the first min(old, new) blocks of a chunk of
 * @len bytes and zeroes the rest; set_crc changes one; put writes the header
 * from @m (whose length must be the staged one) and stores the record.
 */
void vchunk_meta_stage(struct vchunk_store *st, const struct vchunk_rec *old,
		       uint32_t len);
void vchunk_meta_set_crc(struct vchunk_store *st, uint32_t b, uint32_t crc);
int vchunk_meta_put(struct vchunk_store *st, MDB_txn *txn,
		    const struct vchunk_meta *m);

#endif
