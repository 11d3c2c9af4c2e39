/* SPDX-License-Identifier: MIT */
/*
 * wire_storage.h - message bodies of the storaged service (opcodes 0x03xx of
 * proto/wire_msg.h) beyond the basic WRITE/READ bodies defined there.
 *
 * Same encoding and the same codec contracts as proto/wire_msg.h (read its
 * top comment): every field little-endian at its natural width in struct
 * order, booleans as one byte (0 or 1), counts as u32 before their
 * elements, nothing padded, canonical. Encoders return 0, -ENOSPC (does not
 * fit), -E2BIG (count/length over its limit), -EINVAL (flag or boolean out
 * of range); decoders parse exactly len bytes and return 0, -EBADMSG
 * (truncated or trailing bytes), -E2BIG, -EINVAL.
 *
 * Which body goes with which opcode (request -> reply body):
 *
 *   WRITE            wire_storage_write_req (+ data)  -> wire_write_resp
 *   FORWARD          wire_storage_write_req (+ data)  -> wire_write_resp
 *   READ             wire_read_req                     -> wire_read_resp (+ data)
 *   TRUNCATE         wire_storage_truncate_req         -> wire_write_resp
 *   REMOVE           wire_storage_remove_req           -> wire_storage_remove_resp
 *   SYNC             wire_storage_sync_req             -> empty body
 *   QUERY_LAST_CHUNK wire_storage_last_req             -> wire_storage_last_resp
 *   DUMP_META        wire_storage_dump_req             -> wire_storage_dump_resp
 *   SPACE            wire_storage_space_req            -> wire_storage_space_resp
 *   COMMIT           wire_storage_commit_req           -> empty body
 *   CUT              wire_storage_cut_req              -> wire_storage_remove_resp
 *   RESYNC           wire_storage_resync_req (+ data)  -> empty body
 *
 * A storaged resolves the target a message is for from its chain_id: the
 * targets of one chain sit on distinct nodes, so a node holds at most one
 * target per chain. Statuses travel in the frame (-errno); the contract
 * below is also in man/valor-storaged.8.
 *
 * ---- The client contract ----------------------------------------------
 *
 * Placement: chunk i of a file with layout {chunk_size, stripe, first
 * (an index into routing.table.chain_ids), table_version} lives on chain
 * table.chain_ids[(first + i % stripe) % table.nchains]
 * (rdma/mgmtc.h vrouting_chunk_chain). In a chain, the head is the first
 * member whose state is SERVING or SYNCING, the tail the last such member;
 * the readable members are the SERVING ones.
 *
 * Every request carries the chain id and the chain version of the sender's
 * routing. Statuses, and what the caller does:
 *   0         done.
 *   -ESTALE   chain unknown here or chain version differs: refresh routing
 *             (vmgmtc_refresh), retry. The server pulls routing too when
 *             the caller's version is newer than its own.
 *   -ENXIO    not the head (WRITE, TRUNCATE, CUT, REMOVE): refresh, retry.
 *   -EAGAIN   overloaded, an update gap, a chunk busy under CUT/REMOVE, a
 *             write that met a bad block (the replica repairs the chunk
 *             meanwhile), or a downstream member unreachable (the chain
 *             heals when mgmtd fails it): retry after a short backoff with
 *             the SAME (client_id, request_id). Also what a lost
 *             connection means.
 *   -EBADMSG  the payload's CRC32C did not match: resend.
 *   -ENOSPC, -EIO, -EFBIG, -EINVAL: final, for the application.
 * A write is applied once whatever the retries: the head keeps the last
 * (client_id, request_id) committed per chunk and answers a retry of it
 * with the first answer (duplicate); a retry of a write that did not
 * commit is applied again under a new version and forwarded as a whole
 * chunk, which repairs any replica that missed the first attempt.
 *
 * READ (any SERVING member): 0 + wire_read_resp + data. A chunk that does
 * not exist answers 0 with length 0 (a hole: zero-fill); a short read
 * means the chunk ends there. -EINPROGRESS: the chunk has an update in
 * flight here; read it at the tail. -EBUSY (this member does not serve
 * reads) or -ESTALE: refresh routing, try another member. A block whose
 * stored CRC does not match is never returned: the server fetches the
 * chunk from another SERVING member, repairs its copy and answers with
 * good data, or answers -EIO when no good copy is reachable (try another
 * member).
 *
 * TRUNCATE (head, like a WRITE with the same idempotency key): one chunk
 * cut or extended with zeros. CUT (head): a whole file on one chain in
 * one call, for truncate and O_TRUNC (see wire_storage_cut_req). SYNC
 * (head): every chunk of the inode on the chain durable on every replica
 * taking writes before the answer. REMOVE (head; metad's garbage
 * collector): every chunk of the inode on the chain, on every replica.
 * QUERY_LAST_CHUNK (any SERVING member). SPACE (any node).
 *
 * Pure code: no I/O, no globals, no allocation. struct
 * wire_storage_dump_resp is about 40 KiB: heap only; the others are small.
 */
#ifndef VALOR_PROTO_WIRE_STORAGE_H
#define VALOR_PROTO_WIRE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/wire_msg.h"

/*
 * WRITE request (client -> head) and FORWARD (member -> its successor): the
 * basic write body of wire_msg.h, then the client's idempotency key.
 * `w.length` bytes follow in the frame's data part; w.crc32c is their
 * CRC32C, checked at every replica (-EBADMSG on mismatch). A client sends
 * w.update_version 0 and w.flags 0; the head sets update_version; FORWARD
 * carries it, and WIRE_WRITE_F_FULL_CHUNK when the whole chunk is sent (to a
 * syncing successor, or after a failed update).
 *
 * The head remembers per chunk the last (client_id, request_id) committed:
 * a retry of the same write with the same key succeeds without applying
 * twice. client_id 0: no key. A client picks a random nonzero client_id
 * once and numbers its writes.
 */
struct wire_storage_write_req {
	struct wire_write_req w;
	uint64_t client_id;
	uint64_t request_id;
};

/*
 * TRUNCATE request (client -> head, forwarded like a write): cut or extend
 * (with zeros) the chunk to `length` bytes. Answered with wire_write_resp
 * (length 0, chunk_length the new length). update_version: 0 from the
 * client, set by the head in forwards.
 */
struct wire_storage_truncate_req {
	struct wire_chunk_id chunk;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
	uint32_t length; /* <= WIRE_CHUNK_SIZE_MAX */
	uint64_t update_version;
	uint64_t client_id; /* idempotency key, as for WRITE */
	uint64_t request_id;
};

/*
 * REMOVE request (metad GC -> head, forwarded): remove every chunk of
 * `inode` held on chain `chain_id`. Removing an inode with no chunks there
 * succeeds with removed 0 (so a retry is harmless).
 */
struct wire_storage_remove_req {
	uint64_t inode;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
};

struct wire_storage_remove_resp {
	uint32_t removed; /* chunks removed at the answering member */
};

/*
 * SYNC request (client -> head, forwarded): make every chunk of `inode` on
 * this chain durable (data and metadata) on every replica taking writes
 * before the answer (empty body) comes back.
 */
struct wire_storage_sync_req {
	uint64_t inode;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
};

/*
 * QUERY_LAST_CHUNK request (client -> any serving member, the tail is best):
 * the highest chunk index of `inode` on this chain and its length. A file's
 * chunks are striped over several chains: ask each chain of the file's
 * stripe and take the largest index.
 */
struct wire_storage_last_req {
	uint64_t inode;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
};

struct wire_storage_last_resp {
	bool found;		/* false: no chunk of inode on this chain */
	uint32_t index;		/* 0 when !found */
	uint32_t length;	/* that chunk's length; 0 when !found */
	uint64_t committed_ver; /* that chunk's committed version */
};

/*
 * DUMP_META request (predecessor -> successor, resync; also valor-chunk
 * verify): a page of the chunk records of the target of `chain_id` on the
 * receiving node, in key order (inode, then index) starting at `start`
 * (inclusive), at most max_records (1..WIRE_DUMP_META_MAX). No chain
 * version check: a syncing target answers it.
 */
#define WIRE_DUMP_META_MAX 1024

struct wire_storage_dump_req {
	wire_chain_id_t chain_id;
	struct wire_chunk_id start;
	uint32_t max_records;
};

/* One chunk record (storage/chunk.h struct vchunk_meta). */
struct wire_chunk_meta {
	struct wire_chunk_id chunk;
	uint32_t length; /* <= WIRE_CHUNK_SIZE_MAX */
	uint32_t chain_version;
	uint64_t committed_ver;
	uint64_t pending_ver; /* 0: none */
};

/*
 * DUMP_META reply: nrecords records; when `more`, the next page starts at
 * `next` (the key after the last record). Heap only (~40 KiB).
 */
struct wire_storage_dump_resp {
	bool more;
	struct wire_chunk_id next; /* zero when !more */
	uint32_t nrecords;	   /* <= WIRE_DUMP_META_MAX */
	struct wire_chunk_meta records[WIRE_DUMP_META_MAX];
};

/*
 * SPACE request (metad statfs, any node): capacity figures of one target
 * (its id) or, with target_id 0, the sum over every target of the node.
 */
struct wire_storage_space_req {
	wire_target_id_t target_id;
};

struct wire_storage_space_resp {
	uint32_t ntargets;  /* targets summed */
	uint64_t capacity;  /* bytes of the file systems under the targets */
	uint64_t available; /* bytes free for chunk data */
	uint64_t used;	    /* bytes of chunk data stored */
};

/*
 * COMMIT (member -> predecessor): the update `update_version` of `chunk` is
 * committed downstream. valor-storaged answers a FORWARD with its reply
 * once committed downstream, which is the commit; this separate message is
 * reserved for an asynchronous commit path and not sent today.
 */
struct wire_storage_commit_req {
	struct wire_chunk_id chunk;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
	uint64_t update_version;
};

/*
 * CUT request (client -> head): cut a file on one chain in one call.
 *
 * Without WIRE_CUT_F_ALL: every chunk of `inode` on this chain whose index
 * is above `index` is removed on every replica, and chunk `index`, when
 * this chain holds it and it is longer than `length`, is cut to `length`
 * bytes (a versioned update, like TRUNCATE). Nothing is extended. To cut a
 * file to F > 0 bytes with chunk size S, send the same body to every chain
 * of its stripe: index = (F - 1) / S, length = F - index * S.
 * With WIRE_CUT_F_ALL (F = 0, O_TRUNC): every chunk of the inode on this
 * chain is removed; index and length must be 0.
 *
 * Idempotent: a retry (same key) removes nothing more and cuts nothing
 * more. -EAGAIN while a write to one of the chunks to remove is in flight
 * (retry). Answered with wire_storage_remove_resp (chunks removed at the
 * head). WIRE_CUT_F_FORWARDED marks the removal step a member sends its
 * successor (index/length/F_ALL as above, no cut: that travels as a
 * versioned TRUNCATE); a client never sets it (-ENXIO at the head).
 */
#define WIRE_CUT_F_ALL 0x1u
#define WIRE_CUT_F_FORWARDED 0x2u
#define WIRE_CUT_F_KNOWN (WIRE_CUT_F_ALL | WIRE_CUT_F_FORWARDED)

struct wire_storage_cut_req {
	uint64_t inode;
	wire_chain_id_t chain_id;
	uint32_t chain_version;
	uint32_t index;	 /* last chunk kept */
	uint32_t length; /* its new length, <= WIRE_CHUNK_SIZE_MAX */
	uint32_t flags;	 /* WIRE_CUT_F_* */
	uint64_t client_id;
	uint64_t request_id;
};

/*
 * RESYNC request (predecessor -> its SYNCING successor, valor-storaged
 * only). The predecessor compares DUMP_META pages of the successor with
 * its own records and sends, one chunk at a time and under its chunk
 * lock (so live writes of the chunk stay ordered):
 *   WIRE_RESYNC_CHUNK   the whole chunk (`length` bytes of data, CRC32C
 *                       `crc32c`): the successor replaces its copy and
 *                       records committed_ver and chunk_chain_ver;
 *   WIRE_RESYNC_REMOVE  the successor removes the chunk;
 *   WIRE_RESYNC_DONE    every difference is sent: the successor reports
 *                       its target up to date (and mgmtd makes it serve).
 * done/total (items handled before this one, items in the plan) let the
 * successor report progress in its heartbeats (valorctl status). -ESTALE
 * when the chain version differs or the receiver is not SYNCING.
 */
enum wire_resync_action {
	WIRE_RESYNC_CHUNK = 1,
	WIRE_RESYNC_REMOVE = 2,
	WIRE_RESYNC_DONE = 3,
};

struct wire_storage_resync_req {
	wire_chain_id_t chain_id;
	uint32_t chain_version;
	uint8_t action; /* enum wire_resync_action */
	struct wire_chunk_id chunk;
	uint32_t length; /* CHUNK: bytes of data; else 0 */
	uint32_t crc32c;
	uint64_t committed_ver;
	uint32_t chunk_chain_ver;
	uint64_t done;
	uint64_t total;
};

/* ---- Encoded sizes ---------------------------------------------------- */

#define WIRE_STORAGE_WRITE_REQ_LEN (WIRE_WRITE_REQ_LEN + 16)
#define WIRE_STORAGE_TRUNCATE_REQ_LEN (WIRE_CHUNK_ID_LEN + 12 + 24)
#define WIRE_STORAGE_REMOVE_REQ_LEN 16
#define WIRE_STORAGE_REMOVE_RESP_LEN 4
#define WIRE_STORAGE_SYNC_REQ_LEN 16
#define WIRE_STORAGE_LAST_REQ_LEN 16
#define WIRE_STORAGE_LAST_RESP_LEN (1 + 4 + 4 + 8)
#define WIRE_STORAGE_DUMP_REQ_LEN (4 + WIRE_CHUNK_ID_LEN + 4)
#define WIRE_CHUNK_META_LEN (WIRE_CHUNK_ID_LEN + 4 + 4 + 8 + 8)
#define WIRE_STORAGE_DUMP_RESP_MAX_LEN                                         \
	(1 + WIRE_CHUNK_ID_LEN + 4 + WIRE_DUMP_META_MAX * WIRE_CHUNK_META_LEN)
#define WIRE_STORAGE_SPACE_REQ_LEN 4
#define WIRE_STORAGE_SPACE_RESP_LEN (4 + 24)
#define WIRE_STORAGE_COMMIT_REQ_LEN (WIRE_CHUNK_ID_LEN + 8 + 8)
#define WIRE_STORAGE_CUT_REQ_LEN (8 + 4 * 5 + 16)
#define WIRE_STORAGE_RESYNC_REQ_LEN (4 + 4 + 1 + WIRE_CHUNK_ID_LEN + 8 + 8 + 4 + 16)

/* ---- Codecs ------------------------------------------------------------ */

int wire_storage_write_req_encode(const struct wire_storage_write_req *m,
				  uint8_t *buf, size_t cap, size_t *len);
int wire_storage_write_req_decode(const uint8_t *buf, size_t len,
				  struct wire_storage_write_req *out);
int wire_storage_truncate_req_encode(const struct wire_storage_truncate_req *m,
				     uint8_t *buf, size_t cap, size_t *len);
int wire_storage_truncate_req_decode(const uint8_t *buf, size_t len,
				     struct wire_storage_truncate_req *out);
int wire_storage_remove_req_encode(const struct wire_storage_remove_req *m,
				   uint8_t *buf, size_t cap, size_t *len);
int wire_storage_remove_req_decode(const uint8_t *buf, size_t len,
				   struct wire_storage_remove_req *out);
int wire_storage_remove_resp_encode(const struct wire_storage_remove_resp *m,
				    uint8_t *buf, size_t cap, size_t *len);
int wire_storage_remove_resp_decode(const uint8_t *buf, size_t len,
				    struct wire_storage_remove_resp *out);
int wire_storage_sync_req_encode(const struct wire_storage_sync_req *m,
				 uint8_t *buf, size_t cap, size_t *len);
int wire_storage_sync_req_decode(const uint8_t *buf, size_t len,
				 struct wire_storage_sync_req *out);
int wire_storage_last_req_encode(const struct wire_storage_last_req *m,
				 uint8_t *buf, size_t cap, size_t *len);
int wire_storage_last_req_decode(const uint8_t *buf, size_t len,
				 struct wire_storage_last_req *out);
int wire_storage_last_resp_encode(const struct wire_storage_last_resp *m,
				  uint8_t *buf, size_t cap, size_t *len);
int wire_storage_last_resp_decode(const uint8_t *buf, size_t len,
				  struct wire_storage_last_resp *out);
int wire_storage_dump_req_encode(const struct wire_storage_dump_req *m,
				 uint8_t *buf, size_t cap, size_t *len);
int wire_storage_dump_req_decode(const uint8_t *buf, size_t len,
				 struct wire_storage_dump_req *out);
int wire_storage_dump_resp_encode(const struct wire_storage_dump_resp *m,
				  uint8_t *buf, size_t cap, size_t *len);
int wire_storage_dump_resp_decode(const uint8_t *buf, size_t len,
				  struct wire_storage_dump_resp *out);
int wire_storage_space_req_encode(const struct wire_storage_space_req *m,
				  uint8_t *buf, size_t cap, size_t *len);
int wire_storage_space_req_decode(const uint8_t *buf, size_t len,
				  struct wire_storage_space_req *out);
int wire_storage_space_resp_encode(const struct wire_storage_space_resp *m,
				   uint8_t *buf, size_t cap, size_t *len);
int wire_storage_space_resp_decode(const uint8_t *buf, size_t len,
				   struct wire_storage_space_resp *out);
int wire_storage_commit_req_encode(const struct wire_storage_commit_req *m,
				   uint8_t *buf, size_t cap, size_t *len);
int wire_storage_commit_req_decode(const uint8_t *buf, size_t len,
				   struct wire_storage_commit_req *out);
int wire_storage_cut_req_encode(const struct wire_storage_cut_req *m,
				uint8_t *buf, size_t cap, size_t *len);
int wire_storage_cut_req_decode(const uint8_t *buf, size_t len,
				struct wire_storage_cut_req *out);
int wire_storage_resync_req_encode(const struct wire_storage_resync_req *m,
				   uint8_t *buf, size_t cap, size_t *len);
int wire_storage_resync_req_decode(const uint8_t *buf, size_t len,
				   struct wire_storage_resync_req *out);

#endif /* VALOR_PROTO_WIRE_STORAGE_H */
