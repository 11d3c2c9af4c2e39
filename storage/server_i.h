/* SPDX-License-Identifier: MIT */
/*
 * server_i.h - what the files of the storage server share (server.h):
 *	server.c		lifecycle, routing, local states, contexts,
 *				dispatch, the report
 *	server_io.c		WRITE, FORWARD, TRUNCATE, READ (+ repair),
 *				QUERY_LAST_CHUNK, SPACE, DUMP_META
 *	server_inode.c		SYNC, REMOVE, CUT
 *	server_resync.c		the resync driver and RESYNC
 *	server_net.c		the RPC network
 * Everything runs on the server's loop thread: no locks.
 */
#ifndef VALOR_STORAGE_SERVER_I_H
#define VALOR_STORAGE_SERVER_I_H

#include <limits.h>
#include <stdint.h>

#include "common/stats.h"
#include "proto/wire_storage.h"
#include "storage/chunk.h"
#include "storage/craq.h"
#include "storage/server.h"

#define vstor_container_of(p, type, member)                                    \
	((type *)((char *)(p)-offsetof(type, member)))

/* Served opcodes 0x0301..0x030c: index = opcode - WIRE_STORAGE_WRITE. */
#define VSTOR_OP_FIRST WIRE_STORAGE_WRITE
#define VSTOR_NOPS (WIRE_STORAGE_RESYNC - WIRE_STORAGE_WRITE + 1)

struct vstor_resync;

struct vstor_target {
	char path[PATH_MAX];
	uint32_t id; /* 0 until registered */
	/* Reports OFFLINE and takes no requests until routing shows it
	 * serving in no chain (a restart mgmtd has noticed). */
	int fenced;
	uint32_t local_state; /* enum wire_local_state, last computed */
};

/* One chain a local target is a member of. Never freed before vstor_free. */
struct vstor_chain {
	struct vstor *s;
	uint32_t chain_id;
	uint32_t ti; /* local target index */
	struct vchunk_store *store;
	struct vcraq_target *craq;
	struct vcraq_chain view; /* as installed into craq */
	int my_idx;		 /* our member index in view, -1: none */
	char urls[VCRAQ_MAX_MEMBERS][WIRE_URL_MAX + 1];

	/* Successor side of a resync, while we are SYNCING. */
	int sync_complete;
	uint64_t sync_done, sync_total;
	uint32_t sync_ver; /* chain version the figures belong to */

	/* Predecessor side: the running job, and the (chain version,
	 * successor) a finished one covered. */
	struct vstor_resync *job;
	uint32_t done_ver, done_succ;
};

/* A pooled context block: every per-request struct fits in one. */
#define VSTOR_CTX_SIZE 1024
struct vstor_ctx {
	struct vstor_ctx *next;
	_Alignas(16) unsigned char mem[VSTOR_CTX_SIZE];
};

/* A pooled data buffer (reads, repairs, resync). */
struct vstor_buf {
	struct vstor_buf *next;
	size_t cap;
	_Alignas(64) unsigned char data[];
};

struct vstor {
	struct vloop *loop;
	struct vstor_net net;
	struct vstor_opts o;
	uint32_t node_id;
	uint32_t ntargets;
	struct vstor_target *targets;
	struct vstor_chain **chains;
	uint32_t nchains, chains_cap;
	uint64_t routing_version;

	struct vstor_ctx *free_ctx;
	struct vstor_buf *free_bufs;
	uint32_t nfree_bufs;

	struct vstats_op ops[VSTOR_NOPS];
	struct vstor_counters c;

	/* Scratch of DUMP_META (one request at a time on this thread). */
	struct wire_storage_dump_resp *dump;
	uint8_t *dump_out;
};

/* ---- server.c ---- */
void *vstor_ctx_get(struct vstor *s);
void vstor_ctx_put(struct vstor *s, void *p);
/* A buffer of at least @len bytes, or NULL. */
struct vstor_buf *vstor_buf_get(struct vstor *s, size_t len);
void vstor_buf_put(struct vstor *s, struct vstor_buf *b);

/* Answer @req and count it under its opcode (status 0 or -errno). */
void vstor_reply(struct vstor *s, struct vrpc_req *req, uint64_t t0,
		 int status, const void *body, uint32_t body_len,
		 const struct iovec *data, int data_n);
/* A body that did not decode: counted, logged, -EBADMSG. */
int vstor_bad_body(struct vstor *s, struct vrpc_req *req, int err);

/* The replica of @chain_id, or NULL when no local target serves it. */
struct vstor_chain *vstor_chain_find(struct vstor *s, uint32_t chain_id);
/*
 * The replica a request for (@chain_id, @chain_ver) goes to: 0 and *out,
 * or -ESTALE (unknown chain, or another version; a newer one than ours
 * makes us pull routing).
 */
int vstor_chain_check(struct vstor *s, uint32_t chain_id, uint32_t chain_ver,
		      struct vstor_chain **out);
/* Our state in the chain (VCRAQ_*), OFFLINE when not a member. */
uint32_t vstor_chain_my_state(const struct vstor_chain *ch);
/* 1 when we are the chain's head (first member taking writes). */
int vstor_chain_is_head(const struct vstor_chain *ch);
/* Index of our successor taking writes, or -1. */
int vstor_chain_succ(const struct vstor_chain *ch);
/* Members taking writes after us (forward timeouts scale with it). */
uint32_t vstor_chain_downstream(const struct vstor_chain *ch);

/* A peer's failure as the caller should see it: transport errors and a
 * peer with another view become -EAGAIN (and routing is pulled). */
int vstor_peer_status(struct vstor *s, const struct vrpc_result *res);
void vstor_refresh(struct vstor *s);
/* Recompute local states; heartbeat now when one changed. */
void vstor_states_update(struct vstor *s);

/* ---- server_io.c ---- */
void vstor_on_write(struct vstor *s, struct vrpc_req *req);
void vstor_on_truncate(struct vstor *s, struct vrpc_req *req);
void vstor_on_read(struct vstor *s, struct vrpc_req *req);
void vstor_on_last(struct vstor *s, struct vrpc_req *req);
void vstor_on_space(struct vstor *s, struct vrpc_req *req);
void vstor_on_dump(struct vstor *s, struct vrpc_req *req);
/* The vcraq forward callback (ops.arg is the struct vstor_chain). */
int vstor_forward(void *arg, struct vcraq_target *t, uint32_t succ_idx,
		  uint32_t succ_target, const struct vcraq_update *u,
		  struct vcraq_op *op);

/* ---- server_inode.c ---- */
void vstor_on_sync(struct vstor *s, struct vrpc_req *req);
void vstor_on_remove(struct vstor *s, struct vrpc_req *req);
void vstor_on_cut(struct vstor *s, struct vrpc_req *req);

/* ---- server_resync.c ---- */
void vstor_on_resync(struct vstor *s, struct vrpc_req *req);
/* Start, keep or stop the predecessor-side job of @ch after a routing
 * change. */
void vstor_resync_check(struct vstor_chain *ch);
/* Stop a job at once (shutdown): no callback of it runs afterwards. */
void vstor_resync_abort(struct vstor_chain *ch);

#endif
