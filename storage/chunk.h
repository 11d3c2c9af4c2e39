/* SPDX-License-Identifier: MIT */
/*
 * chunk.h - the chunk store of one storage target.
 *
 * A target directory holds
 *	chunks/XX/YY/<inode, 16 hex>/<index>	one file per chunk
 *	meta/					an LMDB env: one record per chunk
 * where XX and YY are the inode's two low bytes in hex (fan-out). A chunk
 * file is only as long as the data written to it; holes read as zeros.
 *
 * The record of a chunk (chunk_meta.c; little-endian, format byte first):
 * length, committed version, pending version (0 = none), chain version,
 * and one CRC32C per 4 KiB block (the last block's CRC covers only the
 * bytes below length). Keys are inode and index big-endian, so the records
 * of one inode are adjacent and sorted by index.
 *
 * Writes are applied in place and only touch the blocks they cover: a block
 * the write covers partly is read (4 KiB, its old CRC verified), merged and
 * its CRC recomputed; no operation reads or rewrites the whole chunk.
 *
 * Versions (the CRAQ rules; u = update_ver, c = committed, p = pending):
 *	chain_ver < stored chain version	-ESTALE (sender refreshes routing)
 *	u <= c, or c < u < p			duplicate: success, not applied
 *	p == 0 and u == c + 1			applied, p = u
 *	p != 0 and u == p			applied again (a retry; completes
 *						one cut short by an error)
 *	p != 0 and u == p + 1			applied, p = u (supersedes p: its
 *						data is already in place)
 *	otherwise (a gap)			-EAGAIN: an update is missing
 * VCHUNK_F_FULL writes (a whole chunk from offset 0, resync of a syncing
 * successor) skip the gap rule: any u > c is applied. Applying an update
 * records the request's chain version. vchunk_commit(u) then makes it the
 * committed version. Reads of a chunk with a pending version answer
 * -EINPROGRESS (CRAQ "not committed": ask the tail) unless VCHUNK_F_ANY.
 *
 * Durability: the env runs with MDB_NOSYNC and chunk files are written
 * buffered; vchunk_sync_inode() makes one inode's chunks and all metadata
 * durable. An update writes its data between two metadata transactions
 * (mark pending, then length/CRCs), so a crash in between leaves the chunk
 * pending and a retry of the same version re-applies it.
 *
 * Concurrency: any function may be called from any thread. Updates of ONE
 * chunk (write, truncate, commit, replace) must be serialized by the caller
 * (the CRAQ chunk lock); updates of different chunks and all reads run in
 * parallel. A read racing an update of its chunk re-checks the record
 * before reporting a CRC mismatch, so it answers -EINPROGRESS, not -EIO.
 * Every function returns >= 0 on success or -errno.
 */
#ifndef VALOR_STORAGE_CHUNK_H
#define VALOR_STORAGE_CHUNK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VCHUNK_BLOCK_SIZE 4096u
#define VCHUNK_BLOCK_SHIFT 12
/* Largest chunk: 64 MiB (16384 block CRCs, a 64 KiB record). */
#define VCHUNK_MAX_SIZE ((uint32_t)64 << 20)
#define VCHUNK_MAX_BLOCKS (VCHUNK_MAX_SIZE / VCHUNK_BLOCK_SIZE)

/* vchunk_write() flags. */
#define VCHUNK_F_FULL 0x1u /* data is the whole chunk: off 0, no gap rule */
/* vchunk_read() flags. */
#define VCHUNK_F_ANY 0x2u /* read even when an update is pending */

struct vchunk_store;

struct vchunk_id {
	uint64_t inode;
	uint32_t index;
};

/* A chunk's record without its CRCs (vchunk_stat(), vchunk_dump()). */
struct vchunk_meta {
	struct vchunk_id id;
	uint32_t length;
	uint32_t chain_ver;
	uint64_t committed_ver;
	uint64_t pending_ver; /* 0: none */
};

/* What an update or read found and did. */
struct vchunk_result {
	struct vchunk_meta meta; /* the record after the operation */
	int duplicate;		 /* 1: already applied, nothing done */
	int64_t bad_block;	 /* read -EIO: first bad block, else -1 */
};

/* Store counters (relaxed atomics: a snapshot, not a consistent cut). */
struct vchunk_stats {
	uint64_t bad_blocks; /* blocks whose CRC did not match on read */
};

/*
 * The system calls on chunk files, replaceable for tests and fault
 * injection. Each behaves like the libc function (-1 and errno on error).
 */
struct vchunk_io {
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	ssize_t (*preadv)(int fd, const struct iovec *iov, int cnt, off_t off);
	ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
};

/*
 * Open the store in @dir (created with chunks/ and meta/ when missing).
 * *out is owned by the caller: vchunk_store_close() it.
 */
int vchunk_store_open(const char *dir, struct vchunk_store **out);
/* Close; NULL is a no-op. No call may be running. */
void vchunk_store_close(struct vchunk_store *st);
/* Replace the chunk-file system calls (@io kept by pointer; NULL: libc).
 * Set before any I/O runs. */
void vchunk_store_set_io(struct vchunk_store *st, const struct vchunk_io *io);
void vchunk_store_stats(const struct vchunk_store *st,
			struct vchunk_stats *out);

/*
 * Write @len bytes of @data at @off (off + len <= VCHUNK_MAX_SIZE, else
 * -EFBIG) as update @update_ver (>= 1) under @chain_ver, following the
 * version rules above. @crc_of_data is the sender's vcrc32c(0, data, len),
 * checked first: -EBADMSG and nothing written on a mismatch. Bytes between
 * the old length and @off become a hole (zeros). With VCHUNK_F_FULL, @off
 * must be 0 (-EINVAL) and the chunk becomes exactly @data. A partly covered
 * block whose stored CRC does not match gives -EIO (the chunk needs a
 * resync). @res (may be NULL) gets the record after the write.
 */
int vchunk_write(struct vchunk_store *st, struct vchunk_id id, uint32_t off,
		 const void *data, uint32_t len, uint32_t crc_of_data,
		 uint64_t update_ver, uint32_t chain_ver, unsigned flags,
		 struct vchunk_result *res);

/*
 * Set the chunk's length to @len (zeros when it grows) as update
 * @update_ver under @chain_ver: the same version rules as a write, applied
 * as pending. A missing chunk is created (so later versions follow on).
 */
int vchunk_truncate(struct vchunk_store *st, struct vchunk_id id,
		    uint32_t len, uint64_t update_ver, uint32_t chain_ver,
		    struct vchunk_result *res);

/*
 * Commit update @ver: pending == ver makes it committed (pending 0).
 * ver <= committed, or below a pending version that superseded it: 0, no
 * change. -ENOENT: no such chunk; -EAGAIN: @ver was never applied here.
 */
int vchunk_commit(struct vchunk_store *st, struct vchunk_id id, uint64_t ver,
		  struct vchunk_result *res);

/*
 * Read up to @len bytes at @off into @buf: the number of bytes read, short
 * at the chunk's end (0 at or past it). Every block returned has its CRC
 * checked: -EIO on a mismatch, with res->bad_block the first bad block
 * (other blocks stay readable). -ENOENT: no such chunk (length 0);
 * -EINPROGRESS: an update is pending and @flags lacks VCHUNK_F_ANY.
 */
ssize_t vchunk_read(struct vchunk_store *st, struct vchunk_id id,
		    uint32_t off, uint32_t len, void *buf, unsigned flags,
		    struct vchunk_result *res);

/* The record of one chunk: 0, or -ENOENT. */
int vchunk_stat(struct vchunk_store *st, struct vchunk_id id,
		struct vchunk_meta *out);

/*
 * Copy the stored CRCs of blocks [@first, @first + @n) into @out: 0, or
 * -ENOENT (no chunk), -ERANGE (past the chunk's last block).
 */
int vchunk_crcs(struct vchunk_store *st, struct vchunk_id id, uint32_t first,
		uint32_t n, uint32_t *out);

/*
 * Resync: make the chunk exactly @data (temporary file, fsync, rename) with
 * the given committed and chain versions, nothing pending, CRCs computed
 * here. Not subject to the version rules.
 */
int vchunk_replace(struct vchunk_store *st, struct vchunk_id id,
		   const void *data, uint32_t len, uint64_t committed_ver,
		   uint32_t chain_ver);

/*
 * Garbage collection: remove every chunk of @inode (records first, then
 * files). The number of records removed (0 when there were none).
 */
int vchunk_remove_inode(struct vchunk_store *st, uint64_t inode);
/*
 * Remove the chunks of @inode whose index is >= @first_index (0: all, as
 * vchunk_remove_inode()). The number of records removed.
 */
int vchunk_remove_from(struct vchunk_store *st, uint64_t inode,
		       uint32_t first_index);
/* Remove one chunk: 1 removed, 0 there was none. Not serialized with
 * updates of the chunk: the caller holds its chunk lock. */
int vchunk_remove(struct vchunk_store *st, struct vchunk_id id);

/*
 * The highest chunk index of @inode and that chunk's length (pending
 * updates included): 0, or -ENOENT when the inode has no chunk here.
 */
int vchunk_last(struct vchunk_store *st, uint64_t inode, uint32_t *index,
		uint32_t *len);

/*
 * Call @cb for every record in key order (a consistent snapshot). @cb must
 * not call into the store; a nonzero return stops the walk and is
 * returned. 0 after the last record.
 */
typedef int (*vchunk_dump_cb)(void *arg, const struct vchunk_meta *m);
int vchunk_dump(struct vchunk_store *st, vchunk_dump_cb cb, void *arg);
/* The same from the first record whose key is >= @start (DUMP_META pages). */
int vchunk_dump_from(struct vchunk_store *st, struct vchunk_id start,
		     vchunk_dump_cb cb, void *arg);

/* Bytes in and free (for unprivileged users) on the target's file system. */
int vchunk_space(struct vchunk_store *st, uint64_t *total, uint64_t *avail);

/* fsync every chunk file of @inode, its directory and the metadata. */
int vchunk_sync_inode(struct vchunk_store *st, uint64_t inode);

#endif
