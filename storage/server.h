/* SPDX-License-Identifier: MIT */
/*
 * server.h - the request handling of valor-storaged, apart from its
 * transport and its link to mgmtd.
 *
 * A struct vstor serves the targets of one node. Each target is a directory;
 * for every chain the target is a member of (routing), it keeps one chunk
 * store in DIR/chain-<id>/ (storage/chunk.h) and one CRAQ replica over it
 * (storage/craq.h). Requests name a chain id (wire_storage.h); the node
 * holds at most one target per chain, so the chain id finds the replica.
 *
 * The server is transport-neutral: requests arrive as struct vrpc_req
 * (rdma/rpc.h: opcode, body, data) through vstor_handle(), answers and
 * calls to other storage nodes (forwards, resync, repair reads) leave
 * through struct vstor_net. valor-storaged plugs in the RPC layer
 * (vstor_rpcnet_new); unit tests plug in an in-process network that
 * delivers calls to other struct vstor of the same process.
 *
 * What it does per opcode (the client contract is in wire_storage.h):
 *   WRITE, TRUNCATE   client -> head: CRAQ update (vcraq_write), forwarded
 *   FORWARD           member -> successor: a versioned update
 *   TRUNCATE (versioned) member -> successor
 *   READ              any SERVING member; a bad block repairs the chunk
 *                     from another SERVING member first
 *   SYNC, REMOVE, CUT inode-wide, done here and then passed down the chain
 *   QUERY_LAST_CHUNK, SPACE, DUMP_META  local queries
 *   RESYNC            predecessor -> this SYNCING replica
 * A member whose successor is SYNCING runs the resync (server_resync.c):
 * DUMP_META pages of the successor, the plan of craq.h, one RESYNC per
 * chunk that differs, then RESYNC DONE.
 *
 * Local states (heartbeats): a target starts "fenced": it takes no
 * requests and reports ONLINE until the first routing, then OFFLINE while
 * routing still shows it SERVING or SYNCING somewhere (a restart mgmtd has
 * not noticed: notes/3fs.md §3.6; OFFLINE moves it to the end of its
 * chains). Once routing shows it serving nowhere it is unfenced and
 * reports ONLINE while it is OFFLINE/WAITING anywhere or SYNCING without
 * a finished resync, else UPTODATE.
 *
 * Threading: everything runs on the loop given to vstor_new(); no call is
 * thread-safe. Disk I/O is synchronous on that thread.
 */
#ifndef VALOR_STORAGE_SERVER_H
#define VALOR_STORAGE_SERVER_H

#include <stdint.h>
#include <sys/uio.h>

#include "common/ctlsock.h"
#include "proto/wire_msg.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

struct vstor;
struct vauth_secret;

/* ---- The network seam ---------------------------------------------------- */

struct vstor_call;
/* A call ended: @res as rdma/rpc.h describes it (valid during the call). */
typedef void (*vstor_call_fn)(struct vstor_call *c,
			      const struct vrpc_result *res);

/* One outgoing call, embedded by the server in whatever tracks it. */
struct vstor_call {
	vstor_call_fn done;
	struct vrpc_call rpc; /* the RPC network's; others ignore it */
	void *net_priv;	      /* the network's */
};

struct vstor_net {
	/*
	 * Call @opcode on the storage node listening at @url (tcp://...),
	 * with @body and the bulk data of @data[0..@data_n) (not copied:
	 * valid until c->done runs). The reply's data goes into @reply_buf
	 * (@reply_cap bytes; NULL: lent to the callback). 0: c->done runs
	 * exactly once, later, from the loop. -errno: not sent, c->done never
	 * runs (-ENOTCONN: the peer has been unreachable for a while).
	 */
	int (*call)(void *arg, const char *url, uint16_t opcode,
		    const void *body, uint32_t body_len,
		    const struct iovec *data, int data_n, void *reply_buf,
		    size_t reply_cap, int timeout_ms, struct vstor_call *c);
	/* Answer @req, as vrpc_reply() (consumes @req, runs on_sent). */
	int (*reply)(void *arg, struct vrpc_req *req, int status,
		     const void *body, uint32_t body_len,
		     const struct iovec *data, int data_n);
	/* Optional: routing looks stale, pull it now. */
	void (*refresh)(void *arg);
	/* Optional: a target's local state changed, heartbeat now. */
	void (*heartbeat)(void *arg);
	void *arg;
};

/*
 * The RPC network: one rpc client per peer URL (made on first use, kept),
 * answers with vrpc_reply(). @secret is kept by pointer. Calls to a peer
 * whose connection has been down for VSTOR_PEER_DOWN_MS fail at once with
 * -ENOTCONN, so a dead successor costs no timeout per write. *out is
 * filled; free with vstor_rpcnet_free(net->arg).
 */
#define VSTOR_PEER_DOWN_MS 500
int vstor_rpcnet_new(struct vloop *loop, const struct vauth_secret *secret,
		     struct vstor_net *out);
void vstor_rpcnet_free(void *net_arg);
/* Set the refresh/heartbeat hooks of an rpcnet (the link to mgmtd). */
void vstor_rpcnet_hooks(void *net_arg, void (*refresh)(void *),
			void (*heartbeat)(void *), void *arg);

/* ---- The server ---------------------------------------------------------- */

struct vstor_opts {
	uint32_t ntargets; /* 1..WIRE_MAX_TARGETS_PER_NODE */
	const char *const *target_paths; /* existing directories; copied */
	/* Bound on a forward to the successor, per member downstream (a
	 * head of three waits twice this). 0: 2000. */
	uint32_t forward_timeout_ms;
	/* Bound on repair reads and resync calls. 0: 5000. */
	uint32_t peer_timeout_ms;
	/* Pause between two chunks of a resync (tests make a resync last
	 * long enough to watch its progress). 0: none. */
	uint32_t resync_pause_ms;
};

/*
 * A server on @loop (kept), answering and calling through @net (copied).
 * Nothing is opened until routing names a chain. 0 and *out, or -errno
 * (-EINVAL bad options, -ENOMEM).
 */
int vstor_new(struct vloop *loop, const struct vstor_opts *o,
	      const struct vstor_net *net, struct vstor **out);
/*
 * Close every store and free. Calls still in flight must have been failed
 * first (the network freed), so no callback runs afterwards. NULL: no-op.
 */
void vstor_free(struct vstor *s);

/* The ids mgmtd gave: the node's and target_ids[i] of target_paths[i]. */
void vstor_set_ids(struct vstor *s, uint32_t node_id,
		   const uint32_t *target_ids);
/* A newer routing: install each chain holding a local target. */
void vstor_set_routing(struct vstor *s, const struct wire_routing *r);
/* Fill target @i's heartbeat line (local state, space, sync progress). */
void vstor_fill_target(struct vstor *s, uint32_t i,
		       struct wire_heartbeat_target *t);
/*
 * Handle one request (any storage opcode; others answer -ENOSYS). @req is
 * answered through net->reply exactly once, now or later.
 */
void vstor_handle(struct vstor *s, struct vrpc_req *req);
/* The control-socket report (valorctl stats). */
void vstor_report(struct vstor *s, int json, struct vctl_buf *b);

/* Counters, for tests and the report. */
struct vstor_counters {
	uint64_t repairs;	 /* chunks repaired from another replica */
	uint64_t repair_fails;	 /* bad reads no replica could repair */
	uint64_t bad_blocks;	 /* blocks found bad on read (all stores) */
	uint64_t resync_jobs;	 /* resyncs started as predecessor */
	uint64_t resync_done;	 /* ... and finished */
	uint64_t resync_sent;	 /* chunks sent to syncing successors */
	uint64_t resync_removed; /* chunks removed at syncing successors */
	uint64_t resync_recv;	 /* RESYNC messages applied here */
	uint64_t forwards;	 /* updates forwarded */
	uint64_t forward_errors;
	uint64_t bytes_written; /* client WRITE payload */
	uint64_t bytes_read;	/* READ payload returned */
	uint64_t bad_requests;	/* bodies that did not decode */
};
void vstor_counters(const struct vstor *s, struct vstor_counters *out);

/* Resync progress of target @i (sum over its chains), and whether it is
 * fenced (see the top of this file). */
void vstor_target_sync(const struct vstor *s, uint32_t i, uint64_t *done,
		       uint64_t *total);

#endif
