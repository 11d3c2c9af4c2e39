/* SPDX-License-Identifier: MIT */
/*
 * store.h - valor-mgmtd's cluster map on disk (LMDB).
 *
 * One LMDB environment in a directory of its own, one named database
 * ("mgmtd") holding one record per key, every integer little-endian and
 * written field by field (no struct is ever copied to disk):
 *
 *   "meta"              format, id counters, routing version, record counts
 *   "table"             chain-table version and its chain ids in order
 *   "node/0000000001"   id, role, url, hostname, failed flag
 *   "target/0000000001" id, node, path, capacity, used, sync progress,
 *                       local state
 *   "chain/0000000001"  id, version, members (target id, public state)
 *
 * Ids in keys are zero-padded decimal, so keys sort by id. A save replaces
 * every record in one write transaction, durable when it returns (LMDB
 * syncs on commit): a crash leaves either the old map or the new one.
 *
 * What a restart keeps: nodes (failed ones stay FAILED), targets with their
 * last local states, chains with their member order, public states and
 * versions, the chain table and the routing version (versions never go
 * back), so the routing snapshot at the stored version is the same before
 * and after. What it resets: every node that was not failed is PENDING
 * with its heartbeat clock at load time, so each gets a full heartbeat
 * timeout to come back before mgmtd_tick() fails it.
 *
 * Ownership rule for the server: the map on disk must never be behind what
 * anybody was told. Call mgmtd_store_save() after every call that moved
 * mgmtd_routing_version() (register, heartbeat, tick, chain-table create)
 * and before sending that call's reply or serving routing at the new
 * version; reply -EIO (and do not publish) if the save fails. Calls that
 * left the routing version alone changed only heartbeat figures (capacity,
 * used, sync progress), which the next save picks up.
 *
 * Not thread-safe: one thread uses a store (the one that owns the map).
 */
#ifndef VALOR_MGMTD_STORE_H
#define VALOR_MGMTD_STORE_H

#include <stdint.h>

#include "mgmtd/cluster.h"

struct mgmtd_store;

/*
 * Open (creating if needed, mode 0700) the store in directory @dir. *out is
 * the caller's, closed with mgmtd_store_close(). 0 or -errno (-ENOMEM, the
 * errno of mkdir or of opening the LMDB files, -EIO for other LMDB errors).
 */
int mgmtd_store_open(const char *dir, struct mgmtd_store **out);
/* mgmtd_store_close(NULL) is a no-op. */
void mgmtd_store_close(struct mgmtd_store *st);

/*
 * Replace the stored map by @cl in one durable transaction. -ESTALE (and
 * nothing written) when the stored routing version is above @cl's: a map
 * never overwrites a newer one, e.g. an empty map made after a failed load.
 * 0, -ESTALE, -ENOSPC (the LMDB map is full), -ENOMEM or -EIO.
 */
int mgmtd_store_save(struct mgmtd_store *st, const struct mgmtd_cluster *cl);

/*
 * Build a map from the store: *out is a new cluster with @cfg, owned by the
 * caller (mgmtd_cluster_free). An empty store gives an empty map. Nodes are
 * PENDING (or FAILED, if they were) with their heartbeat clock at @now_ns.
 * -EBADMSG (logged, naming the record and what is wrong) for a record that does
 * not decode, a key that is not ours, a missing or extra record, or a map that
 * breaks an invariant of cluster.h; -EINVAL a bad @cfg; -ENOMEM; -EIO.
 */
int mgmtd_store_load(struct mgmtd_store *st, const struct mgmtd_config *cfg,
		     uint64_t now_ns, struct mgmtd_cluster **out);

#endif
