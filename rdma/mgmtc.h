/* SPDX-License-Identifier: MIT */
/*
 * mgmtc.h - a process's link to mgmtd: registration, heartbeats, routing.
 *
 * Every cluster process keeps one: valor-storaged and valor-metad register
 * (role, url, targets), heartbeat every interval mgmtd gives and pull the
 * routing table when a heartbeat reply announces a newer version; the FUSE
 * client and the command-line tools register nothing (role 0) and poll
 * GET_ROUTING instead. Whoever holds the link learns of each new routing
 * through on_routing and can ask for a pull at once (vmgmtc_refresh) when a
 * server answered -ESTALE.
 *
 * Rules the link follows (see mgmtd/cluster.h for mgmtd's side):
 *  - REGISTER goes with node_id 0: mgmtd matches a returning node by url
 *    and role and its targets by path, so nothing needs to be saved here.
 *  - A heartbeat answered -ENOENT (mgmtd forgot the node) registers again.
 *  - mgmtd unreachable is not an error: calls are retried every interval
 *    and the last failure is kept (vmgmtc_last_error) for messages.
 *
 * Threading: a vmgmtc belongs to the loop it was made on; every function
 * below and every callback runs on that loop's thread.
 *
 * Memory: the link keeps two routing tables (about 470 KiB each, heap) and
 * one encode buffer; nothing is allocated per call after vmgmtc_new().
 */
#ifndef VALOR_RDMA_MGMTC_H
#define VALOR_RDMA_MGMTC_H

#include <stdint.h>

#include "proto/wire_msg.h"
#include "ring/loop.h"

struct vauth_secret;
struct vmgmtc;

struct vmgmtc_opts {
	/* tcp://HOST:PORT of mgmtd. Copied. */
	const char *mgmtd_url;
	/* Cluster secret or NULL; kept by pointer, must outlive the link. */
	const struct vauth_secret *secret;
	/* enum wire_role to register as; 0: register nothing, only poll
	 * routing every poll_ms (clients, tools). */
	uint32_t role;
	/* Where this node listens, "" or NULL for nowhere. Copied. */
	const char *url;
	/* NULL: gethostname(). Copied. */
	const char *hostname;
	/* Storage nodes: the targets offered, their directories (copied). */
	uint32_t ntargets; /* <= WIRE_MAX_TARGETS_PER_NODE */
	const char *const *target_paths;
	/*
	 * Optional: fill target @i's heartbeat line (local_state, used,
	 * capacity, sync_done, sync_total; id is set already). Called before
	 * every REGISTER (only capacity and used are sent) and HEARTBEAT.
	 * NULL: uptodate, capacity and used from statvfs(path).
	 */
	void (*fill_target)(void *arg, uint32_t i,
			    struct wire_heartbeat_target *t);
	/* Optional: (re)registered; target_ids[i] is target_paths[i]'s id. */
	void (*on_registered)(void *arg, uint32_t node_id,
			      const uint32_t *target_ids);
	/*
	 * Optional: a routing newer than the last one arrived. @r is the
	 * link's own copy, valid until the next on_routing or vmgmtc_free()
	 * (vmgmtc_routing() returns the same pointer).
	 */
	void (*on_routing)(void *arg, const struct wire_routing *r);
	void *arg;
	/* role 0: routing poll interval. 0: 1000 ms. */
	uint32_t poll_ms;
	/* Bound on each call to mgmtd. 0: 2000 ms. */
	uint32_t call_timeout_ms;
};

struct vmgmtc_stats {
	uint64_t registrations, heartbeats, routing_pulls, errors;
	uint32_t node_id;
	uint64_t routing_version; /* 0: none yet */
};

/*
 * Start the link on @loop: the first call goes out at the next iteration.
 * Returns 0 and *@out, or -errno: -EINVAL (bad URL or options, logged),
 * -ENOMEM. Free with vmgmtc_free().
 */
int vmgmtc_new(struct vloop *loop, const struct vmgmtc_opts *o,
	       struct vmgmtc **out);
/* Stop and free; callbacks do not run. NULL: no-op. Not from a callback. */
void vmgmtc_free(struct vmgmtc *m);

/* Pull routing now (or right after the pull in flight). */
void vmgmtc_refresh(struct vmgmtc *m);
/* Send a heartbeat now (a target's state changed), or register. */
void vmgmtc_heartbeat_now(struct vmgmtc *m);

/* The newest routing, or NULL before the first arrived. */
const struct wire_routing *vmgmtc_routing(const struct vmgmtc *m);
/* Node id mgmtd gave (0: not registered). */
uint32_t vmgmtc_node_id(const struct vmgmtc *m);
/* Last failure of a call to mgmtd (-errno), 0 after a success. */
int vmgmtc_last_error(const struct vmgmtc *m);
void vmgmtc_stats(const struct vmgmtc *m, struct vmgmtc_stats *out);

/*
 * Before the loop runs (start-up, tools): run @loop until a routing
 * arrived, at most @timeout_ms. 0, or the last call's error (-EACCES:
 * authentication failed; -ECONNREFUSED/-ECONNRESET/-ETIMEDOUT: mgmtd
 * unreachable), -ETIMEDOUT if nothing came back at all.
 */
int vmgmtc_wait_routing(struct vmgmtc *m, int timeout_ms);

/* ---- Lookups over a routing table (linear; control paths) -------------- */

const struct wire_routing_node *vrouting_node(const struct wire_routing *r,
					      uint32_t node_id);
const struct wire_routing_target *
vrouting_target(const struct wire_routing *r, uint32_t target_id);
const struct wire_routing_chain *vrouting_chain(const struct wire_routing *r,
						uint32_t chain_id);
/* URL of the node holding @target_id, or NULL. */
const char *vrouting_target_url(const struct wire_routing *r,
				uint32_t target_id);
/* A member takes writes when its state in the chain is SERVING/SYNCING. */
static inline int vrouting_takes_writes(uint8_t state)
{
	return state == WIRE_PUBLIC_SERVING || state == WIRE_PUBLIC_SYNCING;
}
/* Index of the chain's head (first member taking writes), -1 if none. */
int vrouting_chain_head(const struct wire_routing_chain *c);
/* Index of the chain's tail (last member taking writes), -1 if none. */
int vrouting_chain_tail(const struct wire_routing_chain *c);
/*
 * Chain id of chunk @index of a file whose layout starts at table index
 * @first over @stripe chains: table.chain_ids[(first + index % stripe) %
 * nchains]. 0 when the table is empty.
 */
uint32_t vrouting_chunk_chain(const struct wire_routing *r, uint32_t first,
			      uint32_t stripe, uint64_t index);

#endif
