/* SPDX-License-Identifier: MIT */
/*
 * cluster_i.h - the cluster map's layout, shared by cluster.c and store.c.
 *
 * Nobody else includes this: the server goes through cluster.h. store.c
 * reads the arrays to save them and rebuilds a map through the restore
 * helpers below, which skip the rules (a stored map is taken as it was) and
 * finish with mgmtd_cluster_restore_done(), which checks every invariant.
 */
#ifndef VALOR_MGMTD_CLUSTER_I_H
#define VALOR_MGMTD_CLUSTER_I_H

#include "mgmtd/cluster.h"

/*
 * The whole map. Owned by one thread or one lock (cluster.h). The three
 * arrays are sorted by id with no gaps; ids are handed out from the
 * counters, which only go up, so appending keeps them sorted.
 */
struct mgmtd_cluster {
	struct mgmtd_config cfg;

	struct mgmtd_node *nodes;
	uint32_t nnodes, nodes_cap;
	struct mgmtd_target *targets;
	uint32_t ntargets, targets_cap;
	struct mgmtd_chain *chains;
	uint32_t nchains, chains_cap;

	/* The chain table: chain ids in table order; version 0 = none yet. */
	uint32_t *table;
	uint32_t ntable;
	uint32_t table_version;

	uint32_t next_node_id;	 /* next id to hand out, from 1 */
	uint32_t next_target_id; /* idem */
	uint64_t routing_version;
};

/* Storage nodes that have at least one target: where replicas can go. */
uint32_t mgmtd_place_node_count(const struct mgmtd_cluster *cl);

/*
 * Place nchains chains of @replicas members each over the map's targets
 * (place.c; the algorithm is documented at mgmtd_chain_table_create()).
 * out[c * replicas + p] is the index in cl->targets of chain c's member at
 * position p (0 = head). Needs mgmtd_place_node_count() >= replicas.
 * 0 or -ENOMEM; the map is not changed.
 */
int mgmtd_place_chains(const struct mgmtd_cluster *cl, uint32_t replicas,
		       uint32_t nchains, uint32_t *out);

/* Append one record as stored (order and rules are checked at the end). */
int mgmtd_cluster_restore_node(struct mgmtd_cluster *cl,
			       const struct mgmtd_node *n);
int mgmtd_cluster_restore_target(struct mgmtd_cluster *cl,
				 const struct mgmtd_target *t);
int mgmtd_cluster_restore_chain(struct mgmtd_cluster *cl,
				const struct mgmtd_chain *c);
/*
 * Replace the table by one of @version with @n chain ids, zeroed, and
 * point *ids at them for the caller to fill. 0 or -ENOMEM.
 */
int mgmtd_cluster_restore_table(struct mgmtd_cluster *cl, uint32_t version,
				uint32_t n, uint32_t **ids);

/*
 * Sort the arrays, mark every node that is not FAILED as PENDING, set every
 * heartbeat clock to now_ns, then mgmtd_cluster_check(). 0 or -EUCLEAN
 * (logged).
 */
int mgmtd_cluster_restore_done(struct mgmtd_cluster *cl, uint64_t now_ns);

#endif
