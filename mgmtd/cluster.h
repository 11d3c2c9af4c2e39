/* SPDX-License-Identifier: MIT */
/*
 * cluster.h - valor-mgmtd's cluster map and every rule that changes it.
 *
 * The map: nodes (servers and clients that registered), the targets storage
 * nodes offer, chains (ordered lists of targets on distinct nodes, head first
 * and tail last, each with a version) and the chain table over them, plus a
 * routing version that goes up on every change a client must see. The rules:
 * registration, heartbeats, failure detection, chain-table creation and the
 * public target-state machine of 3FS (notes/3fs.md §3.5), applied here and
 * nowhere else. This is logic only: no sockets, no clock, no files. The
 * caller passes the time (CLOCK_MONOTONIC nanoseconds) into every call that
 * needs one, so tests drive time; mgmtd/store.h persists the map.
 *
 * Requests and replies are the decoded wire structs of proto/wire_msg.h, so
 * the server hands a decoded body straight in and encodes what comes out.
 * Every call validates its whole request before it changes anything: an
 * error leaves the map exactly as it was.
 *
 * Public target states (enum wire_public_state), one per target per chain:
 *
 *   SERVING  up to date; serves reads and receives writes. The serving
 *            members of a chain come first, in chain order: the first is
 *            the head, the last serving one is the tail of the CRAQ chain.
 *   SYNCING  receiving writes and being filled by its predecessor, which is
 *            serving; not read from. At most one per chain, right after the
 *            serving block.
 *   WAITING  up, but not being filled yet: its predecessor is not serving
 *            (another member is syncing first, or the chain has no serving
 *            member). Neither read nor written.
 *   LASTSRV  was the chain's last serving member when it went down, so it
 *            holds the newest data and nobody else may serve before it comes
 *            back. A chain with a LASTSRV member has no SERVING one; the
 *            LASTSRV member stays first. Neither read nor written.
 *   OFFLINE  down (its node failed, or it reports itself offline); kept at
 *            the end of the chain, in the order the members went down.
 *
 * Invariants, checked by mgmtd_cluster_check() and kept by every call:
 *   - a chain reads SERVING+ or LASTSRV, then at most one SYNCING, then
 *     WAITING*, then OFFLINE*; so a chain never loses its last copy;
 *   - the members of a chain are distinct targets on distinct nodes;
 *   - node, target and chain ids are unique and below the id counters;
 *   - versions (routing, chain, chain table) never go down.
 *
 * Versions: a chain's version goes up by one whenever a call changes its
 * member order or any member's public state (once per call, however many
 * members moved), so storage refuses writes sent under an older view. The
 * routing version goes up by one per call that changed anything a routing
 * snapshot shows, except the figures storage reports in every heartbeat
 * (capacity, used, sync progress): those are refreshed in the map but do not
 * make clients pull a new snapshot by themselves.
 *
 * Not thread-safe: one thread owns a cluster (the server's loop), or the
 * caller serialises every call with one lock. Pointers returned by the
 * accessors stay valid until the next call that takes a non-const cluster.
 */
#ifndef VALOR_MGMTD_CLUSTER_H
#define VALOR_MGMTD_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/wire_msg.h"

struct mgmtd_cluster;

/* Timing rules told to registrants and used by mgmtd_tick(). */
struct mgmtd_config {
	uint32_t heartbeat_interval_ms; /* how often nodes beat; default 1000 */
	uint32_t heartbeat_timeout_ms; /* silent longer: failed; default 5000 */
};

/* 1 s interval, 5 s timeout (DESIGN.md §6). */
void mgmtd_config_defaults(struct mgmtd_config *cfg);

/*
 * An empty map (no nodes, no chain table, routing version 1). *out is owned
 * by the caller and freed with mgmtd_cluster_free(). 0; -EINVAL when an
 * interval or timeout is 0 or the interval is not below the timeout;
 * -ENOMEM.
 */
int mgmtd_cluster_new(const struct mgmtd_config *cfg,
		      struct mgmtd_cluster **out);
/* mgmtd_cluster_free(NULL) is a no-op. */
void mgmtd_cluster_free(struct mgmtd_cluster *cl);

/* ---- The map, read-only -------------------------------------------------- */

/* Liveness of a node. Set only through the state machine in cluster.c. */
enum mgmtd_node_state {
	/*
	 * Alive when the map was saved, not heard from since this mgmtd
	 * started. Its heartbeat clock started at load time, so it has a full
	 * timeout to come back; counted as alive in routing meanwhile.
	 * (A node that was FAILED when saved is loaded FAILED.)
	 */
	MGMTD_NODE_PENDING = 0,
	/* Registered or heartbeated within the timeout. */
	MGMTD_NODE_ALIVE = 1,
	/* Silent longer than the timeout: its targets are local OFFLINE. */
	MGMTD_NODE_FAILED = 2,
};

struct mgmtd_node {
	uint32_t id;	     /* from 1, never reused */
	enum wire_role role; /* fixed at first registration */
	enum mgmtd_node_state state;
	char url[WIRE_URL_MAX + 1]; /* where it listens; "" for clients */
	char hostname[WIRE_HOSTNAME_MAX + 1];
	uint64_t last_heartbeat_ns; /* caller's monotonic clock */
};

struct mgmtd_target {
	uint32_t id;		      /* from 1, never reused */
	uint32_t node_id;	      /* a storage node; never changes */
	char path[WIRE_PATH_MAX + 1]; /* directory on its node */
	uint64_t capacity;	      /* bytes, as last reported */
	uint64_t used;		      /* bytes, as last reported */
	uint64_t sync_done;	      /* resync progress in chunks, 0/0 idle */
	uint64_t sync_total;
	/* Last reported; OFFLINE while its node is failed. */
	enum wire_local_state local;
};

struct mgmtd_chain_member {
	uint32_t target_id;
	enum wire_public_state state; /* this target's state in this chain */
};

struct mgmtd_chain {
	uint32_t id;	   /* from 1 */
	uint32_t version;  /* from 1; +1 per call that changed it */
	uint32_t nmembers; /* the replica count, 1..WIRE_MAX_REPLICAS */
	struct mgmtd_chain_member members[WIRE_MAX_REPLICAS]; /* head first */
};

/*
 * Arrays are sorted by id; _at() takes an index below the count, _find()
 * an id (NULL if unknown).
 */
uint32_t mgmtd_node_count(const struct mgmtd_cluster *cl);
const struct mgmtd_node *mgmtd_node_at(const struct mgmtd_cluster *cl,
				       uint32_t i);
const struct mgmtd_node *mgmtd_node_find(const struct mgmtd_cluster *cl,
					 uint32_t id);
uint32_t mgmtd_target_count(const struct mgmtd_cluster *cl);
const struct mgmtd_target *mgmtd_target_at(const struct mgmtd_cluster *cl,
					   uint32_t i);
const struct mgmtd_target *mgmtd_target_find(const struct mgmtd_cluster *cl,
					     uint32_t id);
uint32_t mgmtd_chain_count(const struct mgmtd_cluster *cl);
const struct mgmtd_chain *mgmtd_chain_at(const struct mgmtd_cluster *cl,
					 uint32_t i);
const struct mgmtd_chain *mgmtd_chain_find(const struct mgmtd_cluster *cl,
					   uint32_t id);

/*
 * The chain table: its version (0 while none exists) and chain ids in table
 * order, *n of them. The array is the cluster's (see top for lifetime).
 */
const uint32_t *mgmtd_chain_table(const struct mgmtd_cluster *cl,
				  uint32_t *version, uint32_t *n);

uint64_t mgmtd_routing_version(const struct mgmtd_cluster *cl);
const struct mgmtd_config *mgmtd_cluster_config(const struct mgmtd_cluster *cl);

/*
 * Check every invariant listed at the top. 0, or -EUCLEAN after logging
 * the first violation at error level. Used by the store on load and by
 * tests after each step.
 */
int mgmtd_cluster_check(const struct mgmtd_cluster *cl);

/* ---- The target-state machine -------------------------------------------- */

/*
 * The public state a chain member moves to, from its current public state,
 * its target's local state and its place in the chain (3FS's table, §3.5
 * of notes/3fs.md):
 *
 *   public \ local | UPTODATE    | ONLINE          | OFFLINE
 *   ---------------+-------------+-----------------+-------------------
 *   SERVING        | SERVING     | SERVING         | LASTSRV if last,
 *                  |             |                 | else OFFLINE
 *   SYNCING        | SERVING     | SYNCING if pred,| OFFLINE
 *                  |             | else WAITING    |
 *   WAITING        | WAITING (a) | SYNCING if pred,| OFFLINE
 *                  |             | else WAITING    |
 *   LASTSRV        | SERVING     | SERVING (b)     | LASTSRV
 *   OFFLINE        | WAITING (c) | WAITING (c)     | OFFLINE
 *
 *   last = is_last_serving: no other member of the chain is SERVING.
 *   pred = has_serving_predecessor: the member just before it is SERVING.
 *   (a) an up-to-date claim from a member that no predecessor filled under
 *       this chain is not believed: storage must report ONLINE to be synced.
 *   (b) the last serving member is back and holds the newest data.
 *   (c) a returning member first waits at the end of the chain; the next
 *       evaluation (same call) makes it SYNCING when its predecessor serves.
 *
 * Pure; every result is a legal transition (mgmtd_public_transition_legal).
 * Out-of-range inputs return cur unchanged.
 */
enum wire_public_state mgmtd_target_next_state(enum wire_public_state cur,
					       enum wire_local_state local,
					       bool is_last_serving,
					       bool has_serving_predecessor);

/*
 * The legal public-state moves (staying put is always legal):
 *   SERVING -> LASTSRV, OFFLINE       SYNCING -> SERVING, WAITING, OFFLINE
 *   WAITING -> SYNCING, OFFLINE       LASTSRV -> SERVING
 *   OFFLINE -> WAITING
 * A member never serves again without being synced or having been LASTSRV,
 * and a LASTSRV member is never demoted while it holds the only copy.
 */
bool mgmtd_public_transition_legal(enum wire_public_state from,
				   enum wire_public_state to);

/* "serving", ...; "pending", "alive", "failed"; "?" when out of range. */
const char *mgmtd_public_state_name(enum wire_public_state s);
const char *mgmtd_local_state_name(enum wire_local_state s);
const char *mgmtd_node_state_name(enum mgmtd_node_state s);

/* ---- Operations ---------------------------------------------------------- */

/*
 * REGISTER at time now_ns. Identity rules:
 *   - req->node_id 0: a node with the same non-empty url and role is that
 *     node coming back (it keeps its id); otherwise a new id is assigned.
 *     When the node table is full, the failed target-less node silent the
 *     longest is forgotten to make room; -ENOSPC if there is none.
 *   - req->node_id != 0: must be known (-ENOENT) with the same role
 *     (-EINVAL); url and hostname are updated (-EEXIST if the url belongs to
 *     another node).
 *   - a target with id 0 is matched by path among the node's targets, else
 *     gets a new id (-ENOSPC past WIRE_MAX_TARGETS); a target id != 0 must
 *     be one of this node's (-ENOENT unknown, -EINVAL another node's). Only
 *     storage nodes may have targets (-EINVAL). Paths must be non-empty and
 *     distinct (-EINVAL).
 * The node becomes ALIVE with its heartbeat clock at now_ns. New targets
 * start local ONLINE; known ones keep their last local state (heartbeats
 * report it), except the node's targets missing from the request, which go
 * local OFFLINE. resp->target_ids follow the request's order. 0 or -errno
 * (-EINVAL also for a bad role, string or count); nothing changes on error.
 *
 * A storage service that restarted must not register or heartbeat its
 * targets as serving before they show OFFLINE in routing (3FS §3.6): mgmtd
 * cannot tell a quick restart from a live node.
 */
int mgmtd_register(struct mgmtd_cluster *cl,
		   const struct wire_register_req *req, uint64_t now_ns,
		   struct wire_register_resp *resp);

/*
 * HEARTBEAT at time now_ns: the node is ALIVE again with its clock at
 * now_ns, each listed target's local state and figures are taken, and the
 * chains are re-evaluated. Targets not listed keep what they had. -ENOENT
 * unknown node or target id (the node must register again); -EINVAL a
 * target of another node, a repeated target or a bad local state or count;
 * nothing changes on error. resp->routing_version is the version after the
 * call.
 */
int mgmtd_heartbeat(struct mgmtd_cluster *cl,
		    const struct wire_heartbeat_req *req, uint64_t now_ns,
		    struct wire_heartbeat_resp *resp);

/*
 * Failure detection, to be called about once per heartbeat interval: every
 * PENDING or ALIVE node silent for longer than heartbeat_timeout_ms before
 * now_ns becomes FAILED and its targets local OFFLINE; chains are then
 * re-evaluated (failed serving members go to the end as OFFLINE, or stay as
 * LASTSRV). Returns the number of nodes that failed in this call.
 */
int mgmtd_tick(struct mgmtd_cluster *cl, uint64_t now_ns);

/*
 * Build the chain table: nchains chains of `replicas` members (nchains 0:
 * as many as there are targets divided by replicas, at least 1), every
 * chain on distinct storage nodes, chain ids 1..nchains in table order,
 * table version 1, every chain at version 1 with its members SERVING (a new
 * chain holds no data, so every replica is in sync), then evaluated at once
 * so members on failed nodes start OFFLINE.
 *
 * Placement (mgmtd/place.c), greedy, one chain at a time, filling
 * positions head first:
 *   1. For each storage node not yet in this chain, its candidate is its
 *      least-used target (use = chains the target is in so far; ties: the
 *      one least often at this position, then the lowest id).
 *   2. The member is the candidate whose node is furthest behind its share
 *      (its fraction of all targets times the members placed so far, minus
 *      the members it got), so a node with twice the targets joins twice
 *      the chains; ties: the candidate's use, then its count at this
 *      position, then how often its node already shares a chain with the
 *      nodes chosen for this one (spreads recovery reads over many peers),
 *      then how long ago its node was last chosen, then the node id.
 *   3. Heads are then evened out: while a target heads two chains more
 *      than some other target it can reach through a path of chains (from
 *      a head to the other members of the chains it heads), the head role
 *      is shifted one step along that path, which moves one head from the
 *      first to the last and leaves the targets between unchanged.
 * With the same number of targets on every node, step 2 always takes the
 * least-loaded nodes, which keeps node loads within one of each other, so
 * every target is in floor or ceil of nchains*replicas/targets chains
 * (max - min <= 1); step 3 stops only when no such path is left, so head
 * counts are as even as the chains allow (max - min <= 1 whenever that is
 * possible at all). Cost: about a second at the wire limits (4096 targets,
 * 4096 chains of 8), milliseconds for usual clusters; an admin call, once.
 *
 * 0 with resp filled; -EINVAL replicas outside 1..WIRE_MAX_REPLICAS or
 * more than the storage nodes that have targets, or nchains over
 * WIRE_MAX_CHAINS; -EEXIST a table already exists; -ENOMEM.
 */
int mgmtd_chain_table_create(struct mgmtd_cluster *cl, uint32_t replicas,
			     uint32_t nchains,
			     struct wire_chain_table_create_resp *resp);

/*
 * GET_ROUTING: when the routing version is above since_version, fill *out
 * with the whole map at that version (unchanged false); otherwise only
 * out->version (the current one) and unchanged true, with empty arrays and
 * table. *out is the caller's, on the heap (it is ~480 KiB); only the used
 * array slots are written.
 *
 * Each routing target's public_state sums up its states in the chains that
 * hold it: the first of LASTSRV, OFFLINE, WAITING, SYNCING, SERVING found
 * among them; a target in no chain shows OFFLINE when its local state is
 * OFFLINE, else SERVING. The per-chain states are in mgmtd_chain_find();
 * they are exact as long as each target is in one chain.
 */
void mgmtd_routing(const struct mgmtd_cluster *cl, uint64_t since_version,
		   struct wire_routing *out);

#endif
