/* SPDX-License-Identifier: MIT */
/*
 * craq.h - CRAQ chain replication over one target's chunk store, with no
 * transport: the caller moves updates between targets through a forward
 * callback and brings the successor's answer back with vcraq_on_commit().
 * valor-storaged wraps this with the network; the unit tests wire several
 * targets in one process.
 *
 * Roles come from the member list (the chain table): a member "takes
 * writes" when its public state is SERVING or SYNCING. The HEAD is the first
 * member taking writes, the TAIL the last, its SUCCESSOR the next member
 * after it taking writes. WAITING/OFFLINE/LASTSRV members are skipped.
 *
 * Write path (one update of one chunk, see notes/3fs.md §3.3):
 *	head	a client write (update_ver 0) takes the chunk's slot in the
 *		per-chunk lock table (later writes of that chunk queue behind
 *		it), gets version max(committed, pending) + 1, is applied as
 *		pending and forwarded; the successor's answer commits it here
 *		and answers the client.
 *	middle	applies as pending, forwards, commits on its successor's
 *		answer, answers its predecessor.
 *	tail	applies and commits at once, answers its predecessor.
 * Every target holds the chunk's slot from apply to commit, so updates of one
 * chunk reach the chunk store serialized (chunk.h's contract); different
 * chunks run in parallel (a bucket mutex only guards the table itself).
 *
 * FULL forwarding: the update sent on is the whole chunk (VCHUNK_F_FULL,
 * read back after applying here, the same version) when the successor is
 * SYNCING (it converges whatever it missed), when the update received was
 * itself FULL, or when the head finds a pending version left by a write that
 * failed earlier (the successors may have missed it: the gap rule would
 * refuse the next partial update).
 *
 * Truncates (VCRAQ_UPD_TRUNCATE) travel the same path under the same
 * rules; a FULL forward of one sends the chunk as it is after the cut.
 *
 * Idempotency (choice): the head remembers per chunk the last
 * (client_id, request_id) it committed and the version it got, in the
 * chunk's lock-table slot. A retry carrying the same pair answers success
 * with that version without applying again (also when it was queued behind
 * the original). The record lives as long as the slot: it is forgotten when
 * an idle slot is reused for another chunk (a bucket holds VCRAQ_WAYS
 * chunks), so only a retry of the chunk's last write is recognised. The
 * chunk store's own duplicate rule covers forwarded retries (same version).
 *
 * Chain versions: an update whose chain id or version differs from the
 * target's gets -ESTALE (the side with the older table refreshes routing).
 *
 * Errors: -errno throughout. Ops come from a pool sized at creation: the
 * write path does not allocate, except the whole-chunk buffer of a FULL
 * forward (syncing successor, recovery; rare by construction).
 */
#ifndef VALOR_STORAGE_CRAQ_H
#define VALOR_STORAGE_CRAQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "storage/chunk.h"

#define VCRAQ_MAX_MEMBERS 8 /* as WIRE_MAX_REPLICAS */

/* Public member states: the values of enum wire_public_state. */
enum vcraq_member_state {
	VCRAQ_SERVING = 0, /* reads and writes */
	VCRAQ_SYNCING = 1, /* writes (as FULL chunks), no reads */
	VCRAQ_WAITING = 2, /* neither */
	VCRAQ_LASTSRV = 3, /* neither */
	VCRAQ_OFFLINE = 4, /* neither */
};

struct vcraq_member {
	uint32_t target_id;
	uint32_t state; /* enum vcraq_member_state */
};

/* One chain as the routing table gives it, members in chain order. */
struct vcraq_chain {
	uint32_t chain_id;
	uint32_t chain_ver;
	uint32_t nmembers; /* <= VCRAQ_MAX_MEMBERS */
	struct vcraq_member members[VCRAQ_MAX_MEMBERS];
};

/*
 * One update as it travels (the fields of struct wire_write_req plus the
 * client's idempotency key). @data (len bytes) is owned by the sender and
 * must stay valid until the update is answered.
 */
enum vcraq_update_kind {
	VCRAQ_UPD_WRITE = 0,	/* @len bytes of @data at @off */
	VCRAQ_UPD_TRUNCATE = 1, /* cut or extend the chunk to @trunc_len */
};

struct vcraq_update {
	uint32_t kind; /* enum vcraq_update_kind */
	struct vchunk_id id;
	uint32_t chain_id;
	uint32_t chain_ver;
	uint32_t off;
	uint32_t len;
	uint32_t crc;	     /* vcrc32c(0, data, len) */
	uint32_t flags;	     /* VCHUNK_F_FULL or 0 */
	uint64_t update_ver; /* 0 from a client; set by the head */
	uint64_t client_id;  /* head idempotency key; 0: none */
	uint64_t request_id;
	uint32_t trunc_len; /* TRUNCATE: the new length (len 0, no data) */
	const void *data;
};

/* What an answered update did (struct wire_write_resp). */
struct vcraq_reply {
	uint64_t update_ver;   /* the version the write committed as */
	uint32_t length;       /* bytes of the update */
	uint32_t chunk_length; /* chunk length after it */
	int duplicate;	       /* 1: a retry, nothing applied again */
};

struct vcraq_target;
struct vcraq_op; /* one update in flight at one target (opaque) */

/*
 * The answer to vcraq_write(): called exactly once, with 0 and @r, or
 * -errno and @r NULL. Runs with no lock of the library held; it may call
 * back into any target (e.g. vcraq_on_commit() of the predecessor).
 */
typedef void (*vcraq_done_fn)(void *arg, int status,
			      const struct vcraq_reply *r);

struct vcraq_ops {
	/*
	 * Send @u to chain member @succ_idx (index in the member list; its
	 * target id is @succ_target). 0: sent, and the caller must call
	 * vcraq_on_commit(t, op, status) exactly once with the successor's
	 * answer (it may do so before returning). -errno: not sent, and
	 * vcraq_on_commit() must not be called. @u and its data stay valid
	 * until vcraq_on_commit(); copy the struct if needed longer.
	 */
	int (*forward)(void *arg, struct vcraq_target *t, uint32_t succ_idx,
		       uint32_t succ_target, const struct vcraq_update *u,
		       struct vcraq_op *op);
	void *arg;
};

/*
 * Create the replication state of target @target_id over @store (kept by
 * pointer, not owned: close it after vcraq_target_free()). @chain is copied;
 * @target_id must be a member (-EINVAL). @ops is copied. @max_inflight ops
 * (0: 1024) bound the updates queued or in flight here; past it vcraq_write()
 * answers -EAGAIN. @nbuckets (0: 1024) sizes the per-chunk lock table.
 */
int vcraq_target_new(struct vchunk_store *store, uint32_t target_id,
		     const struct vcraq_chain *chain,
		     const struct vcraq_ops *ops, uint32_t max_inflight,
		     uint32_t nbuckets, struct vcraq_target **out);
/* Free; NULL is a no-op. No update may be queued or in flight. */
void vcraq_target_free(struct vcraq_target *t);

/*
 * Install a new chain table entry (same chain id, version >= current, else
 * -ESTALE; @t's target a member, else -EINVAL). Updates already started
 * finish under the table they started with; new ones use this one.
 */
int vcraq_target_set_chain(struct vcraq_target *t,
			   const struct vcraq_chain *chain);
/* The chain version the target runs with. */
uint32_t vcraq_target_chain_ver(struct vcraq_target *t);
struct vchunk_store *vcraq_target_store(struct vcraq_target *t);

/*
 * An update arrives: from a client at the head (update_ver 0), or from the
 * predecessor (update_ver set). Returns 0: accepted, @done will be called
 * exactly once (maybe before this returns). -errno: refused, @done is not
 * called: -ESTALE chain id/version mismatch or this target takes no writes;
 * -ENXIO a client write at a non-head or a versioned update at the head;
 * -EINVAL malformed; -EAGAIN no free op. Errors found later (chunk store:
 * -EBADMSG, -EAGAIN gap, -EIO...; the successor's answer) go to @done.
 * @u is copied; u->data must stay valid until @done.
 */
int vcraq_write(struct vcraq_target *t, const struct vcraq_update *u,
		vcraq_done_fn done, void *done_arg);

/*
 * The successor answered the update forwarded as @op: 0 commits it here,
 * -errno fails it (the chunk stays pending here; the head's next write of
 * the chunk goes FULL). Either way the update is answered to its sender
 * and @op is gone.
 */
void vcraq_on_commit(struct vcraq_target *t, struct vcraq_op *op, int status);

/*
 * Read at this replica: bytes read (see vchunk_read()), -EINPROGRESS when
 * the chunk has a pending update (the client asks the tail), -EBUSY when
 * this target does not serve reads (not SERVING), -ENOENT no chunk.
 * @res may be NULL; res->meta.committed_ver is the data's version.
 */
ssize_t vcraq_read(struct vcraq_target *t, struct vchunk_id id, uint32_t off,
		   uint32_t len, void *buf, struct vchunk_result *res);

/*
 * Run @fn(@arg, op) once this thread owns chunk @id's slot of the lock
 * table (maybe before this returns): no update of the chunk runs here
 * until the owner calls vcraq_chunk_unlock(t, op). For work that must not
 * interleave with the chunk's updates and may wait on the network while
 * it holds the chunk (a resync transfer, a repair). 0, or -EAGAIN (no free
 * op, or every way of the chunk's bucket is busy).
 */
typedef void (*vcraq_locked_fn)(void *arg, struct vcraq_op *op);
int vcraq_chunk_lock(struct vcraq_target *t, struct vchunk_id id,
		     vcraq_locked_fn fn, void *arg);
void vcraq_chunk_unlock(struct vcraq_target *t, struct vcraq_op *op);

/*
 * 1 when an update or a lock holds a chunk of @inode whose index is >=
 * @first_index, else 0 (a snapshot: scans the lock table). Inode-wide
 * operations (remove, cut) refuse to race updates with it.
 */
int vcraq_inode_busy(struct vcraq_target *t, uint64_t inode,
		     uint32_t first_index);

/* The public state of this target in its chain (enum vcraq_member_state),
 * and a copy of the chain. */
uint32_t vcraq_target_state(struct vcraq_target *t);
void vcraq_target_chain(struct vcraq_target *t, struct vcraq_chain *out);

/* ---- Resync ----------------------------------------------------------- */

/*
 * Collect vchunk_dump() of @st into a malloc'd array in key order: *out
 * owned by the caller (free()), *n records. 0 or -errno.
 */
int vcraq_dump_collect(struct vchunk_store *st, struct vchunk_meta **out,
		       size_t *n);

enum vcraq_resync_action {
	VCRAQ_RESYNC_SEND = 1,	 /* send the predecessor's chunk (replace) */
	VCRAQ_RESYNC_REMOVE = 2, /* successor has a chunk the pred lacks */
};

struct vcraq_resync_item {
	uint32_t action;	 /* enum vcraq_resync_action */
	struct vchunk_meta meta; /* SEND: pred's record; REMOVE: succ's */
	int inode_gone;		 /* REMOVE: pred has no chunk of the inode */
	uint64_t done;		 /* items handled before this one */
	uint64_t total;		 /* items in the whole plan */
};

/* Nonzero stops the plan and is returned by vcraq_resync_plan(). */
typedef int (*vcraq_resync_cb)(void *arg, const struct vcraq_resync_item *it);

/*
 * Compare @pred's records with the successor's dump @succ (@nsucc records
 * in key order, as vchunk_dump() gives them) and call @cb for every chunk to
 * send (missing at the successor, or committed/pending/chain version or
 * length differ) and every chunk to remove (only at the successor), in key
 * order. @cb may call into either store. 0, @cb's nonzero value, or -errno.
 */
int vcraq_resync_plan(struct vchunk_store *pred, const struct vchunk_meta *succ,
		      size_t nsucc, vcraq_resync_cb cb, void *arg);

/*
 * Apply one plan item between two stores of this process (the server sends
 * the same over the network): SEND reads the committed chunk at @pred and
 * vchunk_replace()s it into @succ with its versions (-EINPROGRESS when it
 * is pending at @pred: a live FULL write delivers it); REMOVE with
 * inode_gone removes the inode's chunks at @succ (repeats are no-ops);
 * REMOVE of one chunk of a live inode: -EOPNOTSUPP (chunk.h has no
 * per-chunk remove).
 */
int vcraq_resync_apply(struct vchunk_store *pred, struct vchunk_store *succ,
		       const struct vcraq_resync_item *it);

#endif
