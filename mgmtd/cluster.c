/* SPDX-License-Identifier: MIT */
/*
 * cluster.c - the cluster map and its rules (contracts in cluster.h).
 *
 * Layout: lookups and growth; the node and target state machines; chain
 * evaluation; the operations (register, heartbeat, tick); chain-table
 * placement; routing snapshots; the invariant check and the restore helpers
 * store.c uses.
 */
#include "mgmtd/cluster_i.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define MGMTD_NS_PER_MS 1000000ull

/* Sentinel for "no index". */
#define MGMTD_NONE UINT32_MAX

void mgmtd_config_defaults(struct mgmtd_config *cfg)
{
	cfg->heartbeat_interval_ms = 1000;
	cfg->heartbeat_timeout_ms = 5000;
}

int mgmtd_cluster_new(const struct mgmtd_config *cfg,
		      struct mgmtd_cluster **out)
{
	struct mgmtd_cluster *cl;

	if (!cfg->heartbeat_interval_ms || !cfg->heartbeat_timeout_ms ||
	    cfg->heartbeat_interval_ms >= cfg->heartbeat_timeout_ms)
		return -EINVAL;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->cfg = *cfg;
	cl->next_node_id = 1;
	cl->next_target_id = 1;
	/* From 1, so a caller asking with since_version 0 always gets it. */
	cl->routing_version = 1;
	*out = cl;
	return 0;
}

void mgmtd_cluster_free(struct mgmtd_cluster *cl)
{
	if (!cl)
		return;
	free(cl->nodes);
	free(cl->targets);
	free(cl->chains);
	free(cl->table);
	free(cl);
}

/* ---- Lookups and growth -------------------------------------------------- */

/*
 * Index of the record with @id in an array sorted by id, each record
 * starting with its u32 id; MGMTD_NONE if absent.
 */
static uint32_t mgmtd_bsearch(const void *base, uint32_t n, size_t size,
			      uint32_t id)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t v;

		memcpy(&v, (const char *)base + (size_t)mid * size, sizeof(v));
		if (v == id)
			return mid;
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return MGMTD_NONE;
}

/* Make room for @need elements of @size in *arr. 0 or -ENOMEM. */
static int mgmtd_grow(void **arr, uint32_t *cap, uint32_t need, size_t size)
{
	uint32_t ncap = *cap ? *cap : 8;
	void *p;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct mgmtd_node *mgmtd_node_lookup(struct mgmtd_cluster *cl,
					    uint32_t id)
{
	uint32_t i =
		mgmtd_bsearch(cl->nodes, cl->nnodes, sizeof(*cl->nodes), id);

	return i == MGMTD_NONE ? NULL : &cl->nodes[i];
}

static struct mgmtd_target *mgmtd_target_lookup(struct mgmtd_cluster *cl,
						uint32_t id)
{
	uint32_t i = mgmtd_bsearch(cl->targets, cl->ntargets,
				   sizeof(*cl->targets), id);

	return i == MGMTD_NONE ? NULL : &cl->targets[i];
}

uint32_t mgmtd_node_count(const struct mgmtd_cluster *cl)
{
	return cl->nnodes;
}

const struct mgmtd_node *mgmtd_node_at(const struct mgmtd_cluster *cl,
				       uint32_t i)
{
	return i < cl->nnodes ? &cl->nodes[i] : NULL;
}

const struct mgmtd_node *mgmtd_node_find(const struct mgmtd_cluster *cl,
					 uint32_t id)
{
	return mgmtd_node_lookup((struct mgmtd_cluster *)cl, id);
}

uint32_t mgmtd_target_count(const struct mgmtd_cluster *cl)
{
	return cl->ntargets;
}

const struct mgmtd_target *mgmtd_target_at(const struct mgmtd_cluster *cl,
					   uint32_t i)
{
	return i < cl->ntargets ? &cl->targets[i] : NULL;
}

const struct mgmtd_target *mgmtd_target_find(const struct mgmtd_cluster *cl,
					     uint32_t id)
{
	return mgmtd_target_lookup((struct mgmtd_cluster *)cl, id);
}

uint32_t mgmtd_chain_count(const struct mgmtd_cluster *cl)
{
	return cl->nchains;
}

const struct mgmtd_chain *mgmtd_chain_at(const struct mgmtd_cluster *cl,
					 uint32_t i)
{
	return i < cl->nchains ? &cl->chains[i] : NULL;
}

const struct mgmtd_chain *mgmtd_chain_find(const struct mgmtd_cluster *cl,
					   uint32_t id)
{
	uint32_t i =
		mgmtd_bsearch(cl->chains, cl->nchains, sizeof(*cl->chains), id);

	return i == MGMTD_NONE ? NULL : &cl->chains[i];
}

const uint32_t *mgmtd_chain_table(const struct mgmtd_cluster *cl,
				  uint32_t *version, uint32_t *n)
{
	*version = cl->table_version;
	*n = cl->ntable;
	return cl->table;
}

uint64_t mgmtd_routing_version(const struct mgmtd_cluster *cl)
{
	return cl->routing_version;
}

const struct mgmtd_config *mgmtd_cluster_config(const struct mgmtd_cluster *cl)
{
	return &cl->cfg;
}

/* ---- State names --------------------------------------------------------- */

static const char *const mgmtd_public_names[] = {
	[WIRE_PUBLIC_SERVING] = "serving", [WIRE_PUBLIC_SYNCING] = "syncing",
	[WIRE_PUBLIC_WAITING] = "waiting", [WIRE_PUBLIC_LASTSRV] = "lastsrv",
	[WIRE_PUBLIC_OFFLINE] = "offline",
};

static const char *const mgmtd_local_names[] = {
	[WIRE_LOCAL_UPTODATE] = "uptodate",
	[WIRE_LOCAL_ONLINE] = "online",
	[WIRE_LOCAL_OFFLINE] = "offline",
};

static const char *const mgmtd_node_names[] = {
	[MGMTD_NODE_PENDING] = "pending",
	[MGMTD_NODE_ALIVE] = "alive",
	[MGMTD_NODE_FAILED] = "failed",
};

const char *mgmtd_public_state_name(enum wire_public_state s)
{
	return (unsigned)s <= WIRE_PUBLIC_OFFLINE ? mgmtd_public_names[s] : "?";
}

const char *mgmtd_local_state_name(enum wire_local_state s)
{
	return (unsigned)s <= WIRE_LOCAL_OFFLINE ? mgmtd_local_names[s] : "?";
}

const char *mgmtd_node_state_name(enum mgmtd_node_state s)
{
	return (unsigned)s <= MGMTD_NODE_FAILED ? mgmtd_node_names[s] : "?";
}

static bool mgmtd_public_valid(uint32_t s)
{
	return s <= WIRE_PUBLIC_OFFLINE;
}

static bool mgmtd_local_valid(uint32_t s)
{
	return s <= WIRE_LOCAL_OFFLINE;
}

/* ---- Node state machine -------------------------------------------------- */

/*
 * PENDING -> ALIVE (heard from after a restart of mgmtd), PENDING -> FAILED
 * (not heard from within a timeout of the restart), ALIVE -> FAILED (silent),
 * FAILED -> ALIVE (heard from again). New nodes are born ALIVE.
 */
static bool mgmtd_node_transition_legal(enum mgmtd_node_state from,
					enum mgmtd_node_state to)
{
	switch (from) {
	case MGMTD_NODE_PENDING:
		return to == MGMTD_NODE_ALIVE || to == MGMTD_NODE_FAILED;
	case MGMTD_NODE_ALIVE:
		return to == MGMTD_NODE_FAILED;
	case MGMTD_NODE_FAILED:
		return to == MGMTD_NODE_ALIVE;
	}
	return false;
}

static void mgmtd_node_set_state(struct mgmtd_node *n, enum mgmtd_node_state to)
{
	if (n->state == to)
		return;
	assert(mgmtd_node_transition_legal(n->state, to));
	vlog_debug("mgmtd: node %u %s -> %s", n->id,
		   mgmtd_node_state_name(n->state), mgmtd_node_state_name(to));
	n->state = to;
}

/* ---- Target public-state machine (table in cluster.h) -------------------- */

#define MGMTD_PS_BIT(s) (1u << (s))

/* Legal moves out of each state, staying put included. */
static const uint8_t mgmtd_public_moves[] = {
	[WIRE_PUBLIC_SERVING] = MGMTD_PS_BIT(WIRE_PUBLIC_SERVING) |
				MGMTD_PS_BIT(WIRE_PUBLIC_LASTSRV) |
				MGMTD_PS_BIT(WIRE_PUBLIC_OFFLINE),
	[WIRE_PUBLIC_SYNCING] = MGMTD_PS_BIT(WIRE_PUBLIC_SYNCING) |
				MGMTD_PS_BIT(WIRE_PUBLIC_SERVING) |
				MGMTD_PS_BIT(WIRE_PUBLIC_WAITING) |
				MGMTD_PS_BIT(WIRE_PUBLIC_OFFLINE),
	[WIRE_PUBLIC_WAITING] = MGMTD_PS_BIT(WIRE_PUBLIC_WAITING) |
				MGMTD_PS_BIT(WIRE_PUBLIC_SYNCING) |
				MGMTD_PS_BIT(WIRE_PUBLIC_OFFLINE),
	[WIRE_PUBLIC_LASTSRV] = MGMTD_PS_BIT(WIRE_PUBLIC_LASTSRV) |
				MGMTD_PS_BIT(WIRE_PUBLIC_SERVING),
	[WIRE_PUBLIC_OFFLINE] = MGMTD_PS_BIT(WIRE_PUBLIC_OFFLINE) |
				MGMTD_PS_BIT(WIRE_PUBLIC_WAITING),
};

bool mgmtd_public_transition_legal(enum wire_public_state from,
				   enum wire_public_state to)
{
	if (!mgmtd_public_valid(from) || !mgmtd_public_valid(to))
		return false;
	return mgmtd_public_moves[from] & MGMTD_PS_BIT(to);
}

enum wire_public_state mgmtd_target_next_state(enum wire_public_state cur,
					       enum wire_local_state local,
					       bool is_last_serving,
					       bool has_serving_predecessor)
{
	enum wire_public_state fill = has_serving_predecessor
					      ? WIRE_PUBLIC_SYNCING
					      : WIRE_PUBLIC_WAITING;

	if (!mgmtd_public_valid(cur) || !mgmtd_local_valid(local))
		return cur;
	switch (local) {
	case WIRE_LOCAL_UPTODATE:
		switch (cur) {
		case WIRE_PUBLIC_SERVING:
		case WIRE_PUBLIC_SYNCING:
		case WIRE_PUBLIC_LASTSRV:
			return WIRE_PUBLIC_SERVING;
		case WIRE_PUBLIC_WAITING: /* not filled here: not believed */
		case WIRE_PUBLIC_OFFLINE:
			return WIRE_PUBLIC_WAITING;
		}
		break;
	case WIRE_LOCAL_ONLINE:
		switch (cur) {
		case WIRE_PUBLIC_SERVING:
		case WIRE_PUBLIC_LASTSRV:
			return WIRE_PUBLIC_SERVING;
		case WIRE_PUBLIC_SYNCING:
		case WIRE_PUBLIC_WAITING:
			return fill;
		case WIRE_PUBLIC_OFFLINE:
			return WIRE_PUBLIC_WAITING;
		}
		break;
	case WIRE_LOCAL_OFFLINE:
		switch (cur) {
		case WIRE_PUBLIC_SERVING:
			return is_last_serving ? WIRE_PUBLIC_LASTSRV
					       : WIRE_PUBLIC_OFFLINE;
		case WIRE_PUBLIC_LASTSRV:
			return WIRE_PUBLIC_LASTSRV;
		case WIRE_PUBLIC_SYNCING:
		case WIRE_PUBLIC_WAITING:
		case WIRE_PUBLIC_OFFLINE:
			return WIRE_PUBLIC_OFFLINE;
		}
		break;
	}
	return cur;
}

/* The one place a member's public state changes. */
static void mgmtd_target_set_state(struct mgmtd_chain *ch, uint32_t idx,
				   enum wire_public_state to)
{
	struct mgmtd_chain_member *m = &ch->members[idx];

	if (m->state == to)
		return;
	assert(mgmtd_public_transition_legal(m->state, to));
	vlog_debug("mgmtd: chain %u target %u %s -> %s", ch->id, m->target_id,
		   mgmtd_public_state_name(m->state),
		   mgmtd_public_state_name(to));
	m->state = to;
}

/* ---- Chain evaluation ---------------------------------------------------- */

/*
 * Place of a state in the chain order: SERVING (or the LASTSRV that stands
 * in for it) first, then SYNCING, WAITING, OFFLINE.
 */
static int mgmtd_public_rank(enum wire_public_state s)
{
	switch (s) {
	case WIRE_PUBLIC_SERVING:
	case WIRE_PUBLIC_LASTSRV:
		return 0;
	case WIRE_PUBLIC_SYNCING:
		return 1;
	case WIRE_PUBLIC_WAITING:
		return 2;
	case WIRE_PUBLIC_OFFLINE:
		return 3;
	}
	return 3;
}

static uint32_t mgmtd_chain_index_of(const struct mgmtd_chain *ch,
				     uint32_t target_id)
{
	for (uint32_t i = 0; i < ch->nmembers; i++)
		if (ch->members[i].target_id == target_id)
			return i;
	return MGMTD_NONE;
}

/* Move member @i to the end, keeping the others' order. */
static void mgmtd_chain_move_to_end(struct mgmtd_chain *ch, uint32_t i)
{
	struct mgmtd_chain_member m = ch->members[i];

	memmove(&ch->members[i], &ch->members[i + 1],
		(ch->nmembers - i - 1) * sizeof(m));
	ch->members[ch->nmembers - 1] = m;
}

/* Stable sort by rank (insertion sort: at most WIRE_MAX_REPLICAS). */
static bool mgmtd_chain_sort(struct mgmtd_chain *ch)
{
	bool moved = false;

	for (uint32_t i = 1; i < ch->nmembers; i++) {
		struct mgmtd_chain_member m = ch->members[i];
		uint32_t j = i;

		while (j > 0 && mgmtd_public_rank(ch->members[j - 1].state) >
					mgmtd_public_rank(m.state)) {
			ch->members[j] = ch->members[j - 1];
			j--;
		}
		if (j != i) {
			ch->members[j] = m;
			moved = true;
		}
	}
	return moved;
}

static enum wire_local_state mgmtd_local_of(struct mgmtd_cluster *cl,
					    uint32_t target_id)
{
	struct mgmtd_target *t = mgmtd_target_lookup(cl, target_id);

	/* Members always exist (checked on load, never removed). */
	assert(t);
	return t ? t->local : WIRE_LOCAL_OFFLINE;
}

/*
 * Apply the transition table to the members of one phase, in chain order:
 * the members whose target is up (@down false) or down (@down true). A
 * member that becomes OFFLINE goes to the end at once, so the members after
 * it see their new predecessor. True if a state changed.
 */
static bool mgmtd_chain_pass(struct mgmtd_cluster *cl, struct mgmtd_chain *ch,
			     bool down)
{
	uint32_t order[WIRE_MAX_REPLICAS];
	uint32_t n = ch->nmembers;
	bool changed = false;

	for (uint32_t i = 0; i < n; i++)
		order[i] = ch->members[i].target_id;
	for (uint32_t k = 0; k < n; k++) {
		enum wire_local_state local = mgmtd_local_of(cl, order[k]);
		uint32_t i = mgmtd_chain_index_of(ch, order[k]);
		enum wire_public_state cur, next;
		bool last = true, pred;

		if ((local == WIRE_LOCAL_OFFLINE) != down)
			continue;
		cur = ch->members[i].state;
		for (uint32_t j = 0; j < n; j++)
			if (j != i &&
			    ch->members[j].state == WIRE_PUBLIC_SERVING)
				last = false;
		pred = i > 0 && ch->members[i - 1].state == WIRE_PUBLIC_SERVING;
		next = mgmtd_target_next_state(cur, local, last, pred);
		if (next == cur)
			continue;
		mgmtd_target_set_state(ch, i, next);
		changed = true;
		if (next == WIRE_PUBLIC_OFFLINE)
			mgmtd_chain_move_to_end(ch, i);
	}
	return changed;
}

/*
 * Re-evaluate one chain until nothing moves. Each pass first applies the
 * table to members that are up, then to members that are down: every
 * promotion to SERVING (SYNCING or LASTSRV reported up) happens before any
 * serving member going down asks "am I the last one serving?", so a member
 * that finished its sync in the same heartbeat round keeps the chain
 * serving instead of leaving a LASTSRV beside a SERVING member. Then the
 * members are sorted into state order (stable, so failed ones stay in the
 * order they failed). Bumps the version once if anything changed; true then.
 */
static bool mgmtd_chain_update(struct mgmtd_cluster *cl, struct mgmtd_chain *ch)
{
	/* Each member moves a bounded number of times with local states fixed.
	 */
	uint32_t max_passes = 4 * ch->nmembers + 4, pass;
	bool changed = false;

	for (pass = 0; pass < max_passes; pass++) {
		bool moved = mgmtd_chain_pass(cl, ch, false);

		moved |= mgmtd_chain_pass(cl, ch, true);
		moved |= mgmtd_chain_sort(ch);
		if (!moved)
			break;
		changed = true;
	}
	assert(pass < max_passes);
	if (changed) {
		ch->version++;
		vlog_debug("mgmtd: chain %u now version %u", ch->id,
			   ch->version);
	}
	return changed;
}

static bool mgmtd_chains_update(struct mgmtd_cluster *cl)
{
	bool changed = false;

	for (uint32_t i = 0; i < cl->nchains; i++)
		changed |= mgmtd_chain_update(cl, &cl->chains[i]);
	return changed;
}

/* Set a target's local state; true if it changed. */
static bool mgmtd_target_set_local(struct mgmtd_target *t,
				   enum wire_local_state local)
{
	if (t->local == local)
		return false;
	vlog_debug("mgmtd: target %u local %s -> %s", t->id,
		   mgmtd_local_state_name(t->local),
		   mgmtd_local_state_name(local));
	t->local = local;
	return true;
}

/* Every target of @node_id local OFFLINE; true if one changed. */
static bool mgmtd_node_targets_offline(struct mgmtd_cluster *cl,
				       uint32_t node_id)
{
	bool changed = false;

	for (uint32_t i = 0; i < cl->ntargets; i++)
		if (cl->targets[i].node_id == node_id)
			changed |= mgmtd_target_set_local(&cl->targets[i],
							  WIRE_LOCAL_OFFLINE);
	return changed;
}

static void mgmtd_routing_bump(struct mgmtd_cluster *cl)
{
	cl->routing_version++;
	vlog_debug("mgmtd: routing version %llu",
		   (unsigned long long)cl->routing_version);
}

/* ---- Register ------------------------------------------------------------ */

static bool mgmtd_str_ok(const char *s, size_t size, bool nonempty)
{
	return memchr(s, '\0', size) && (!nonempty || s[0]);
}

static bool mgmtd_role_valid(uint32_t role)
{
	return role >= WIRE_ROLE_MGMTD && role <= WIRE_ROLE_CLIENT;
}

/* The node (other than @self) that has @url, or NULL. "" matches none. */
static struct mgmtd_node *mgmtd_node_by_url(struct mgmtd_cluster *cl,
					    const char *url,
					    const struct mgmtd_node *self)
{
	if (!url[0])
		return NULL;
	for (uint32_t i = 0; i < cl->nnodes; i++)
		if (&cl->nodes[i] != self && !strcmp(cl->nodes[i].url, url))
			return &cl->nodes[i];
	return NULL;
}

static bool mgmtd_node_has_targets(const struct mgmtd_cluster *cl,
				   uint32_t node_id)
{
	for (uint32_t i = 0; i < cl->ntargets; i++)
		if (cl->targets[i].node_id == node_id)
			return true;
	return false;
}

/*
 * The failed node without targets that has been silent the longest, to
 * forget when the node table is full (clients and meta servers that went
 * away); MGMTD_NONE if there is none.
 */
static uint32_t mgmtd_node_evictable(const struct mgmtd_cluster *cl)
{
	uint32_t best = MGMTD_NONE;

	for (uint32_t i = 0; i < cl->nnodes; i++) {
		const struct mgmtd_node *n = &cl->nodes[i];

		if (n->state != MGMTD_NODE_FAILED ||
		    mgmtd_node_has_targets(cl, n->id))
			continue;
		if (best == MGMTD_NONE ||
		    n->last_heartbeat_ns < cl->nodes[best].last_heartbeat_ns)
			best = i;
	}
	return best;
}

/*
 * Resolve each request target to an existing target index or MGMTD_NONE
 * (new), checking every rule in cluster.h. @node is NULL for a new node.
 * *nnew gets the count of new targets. 0 or -errno; changes nothing.
 */
static int mgmtd_register_resolve(struct mgmtd_cluster *cl,
				  const struct wire_register_req *req,
				  const struct mgmtd_node *node, uint32_t *idx,
				  uint32_t *nnew)
{
	*nnew = 0;
	for (uint32_t i = 0; i < req->ntargets; i++) {
		const struct wire_register_target *rt = &req->targets[i];
		uint32_t found = MGMTD_NONE;

		if (!mgmtd_str_ok(rt->path, sizeof(rt->path), true))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(req->targets[j].path, rt->path))
				return -EINVAL;
		if (rt->id) {
			found = mgmtd_bsearch(cl->targets, cl->ntargets,
					      sizeof(*cl->targets), rt->id);
			if (found == MGMTD_NONE)
				return -ENOENT;
			if (!node || cl->targets[found].node_id != node->id)
				return -EINVAL;
		} else if (node) {
			for (uint32_t j = 0; j < cl->ntargets; j++)
				if (cl->targets[j].node_id == node->id &&
				    !strcmp(cl->targets[j].path, rt->path))
					found = j;
		}
		/* Two entries must not name one target (by id and by path). */
		for (uint32_t j = 0; j < i && found != MGMTD_NONE; j++)
			if (idx[j] == found)
				return -EINVAL;
		idx[i] = found;
		if (found == MGMTD_NONE)
			(*nnew)++;
	}
	if (cl->ntargets + *nnew > WIRE_MAX_TARGETS)
		return -ENOSPC;
	return 0;
}

int mgmtd_register(struct mgmtd_cluster *cl,
		   const struct wire_register_req *req, uint64_t now_ns,
		   struct wire_register_resp *resp)
{
	uint32_t idx[WIRE_MAX_TARGETS_PER_NODE];
	uint32_t nnew, evict = MGMTD_NONE, node_id;
	struct mgmtd_node *node = NULL, *other;
	bool visible = false, reeval = false;
	int err;

	/* Parse: every check before any change. */
	if (!mgmtd_role_valid(req->role) ||
	    !mgmtd_str_ok(req->url, sizeof(req->url), false) ||
	    !mgmtd_str_ok(req->hostname, sizeof(req->hostname), false) ||
	    req->ntargets > WIRE_MAX_TARGETS_PER_NODE ||
	    (req->ntargets && req->role != WIRE_ROLE_STORAGE))
		return -EINVAL;
	if (req->node_id) {
		node = mgmtd_node_lookup(cl, req->node_id);
		if (!node)
			return -ENOENT;
		if (node->role != req->role)
			return -EINVAL;
	} else {
		node = mgmtd_node_by_url(cl, req->url, NULL);
		if (node && node->role != req->role)
			return -EEXIST;
	}
	other = mgmtd_node_by_url(cl, req->url, node);
	if (other)
		return -EEXIST;
	err = mgmtd_register_resolve(cl, req, node, idx, &nnew);
	if (err)
		return err;
	if (!node && cl->nnodes >= WIRE_MAX_NODES) {
		evict = mgmtd_node_evictable(cl);
		if (evict == MGMTD_NONE)
			return -ENOSPC;
	}
	/* Reserve, so nothing below can fail. */
	node_id = node ? node->id : 0;
	if (mgmtd_grow((void **)&cl->nodes, &cl->nodes_cap, cl->nnodes + 1,
		       sizeof(*cl->nodes)) ||
	    mgmtd_grow((void **)&cl->targets, &cl->targets_cap,
		       cl->ntargets + nnew, sizeof(*cl->targets)))
		return -ENOMEM;

	/* Execute. */
	if (node_id) {
		node = mgmtd_node_lookup(cl, node_id);
		if (strcmp(node->url, req->url) ||
		    strcmp(node->hostname, req->hostname)) {
			strcpy(node->url, req->url);
			strcpy(node->hostname, req->hostname);
			visible = true;
		}
		if (node->state == MGMTD_NODE_FAILED)
			visible = true;
		mgmtd_node_set_state(node, MGMTD_NODE_ALIVE);
	} else {
		if (evict != MGMTD_NONE) {
			vlog_info("mgmtd: node table full, forgetting failed "
				  "node %u",
				  cl->nodes[evict].id);
			memmove(&cl->nodes[evict], &cl->nodes[evict + 1],
				(cl->nnodes - evict - 1) * sizeof(*node));
			cl->nnodes--;
		}
		node = &cl->nodes[cl->nnodes++];
		memset(node, 0, sizeof(*node));
		node->id = cl->next_node_id++;
		node->role = req->role;
		node->state = MGMTD_NODE_ALIVE;
		strcpy(node->url, req->url);
		strcpy(node->hostname, req->hostname);
		visible = true;
		vlog_info("mgmtd: node %u registered (%s, %s)", node->id,
			  wire_role_name(node->role),
			  node->url[0] ? node->url : "no url");
	}
	node->last_heartbeat_ns = now_ns;
	node_id = node->id;

	/* Known targets of this node the request leaves out are gone. */
	for (uint32_t j = 0; j < cl->ntargets; j++) {
		bool listed = false;

		if (cl->targets[j].node_id != node_id)
			continue;
		for (uint32_t i = 0; i < req->ntargets; i++)
			listed |= idx[i] == j;
		if (!listed &&
		    mgmtd_target_set_local(&cl->targets[j], WIRE_LOCAL_OFFLINE))
			visible = reeval = true;
	}
	resp->node_id = node_id;
	resp->ntargets = req->ntargets;
	for (uint32_t i = 0; i < req->ntargets; i++) {
		const struct wire_register_target *rt = &req->targets[i];
		struct mgmtd_target *t;

		if (idx[i] == MGMTD_NONE) {
			/* Ids only grow: appending keeps the array sorted. */
			t = &cl->targets[cl->ntargets++];
			memset(t, 0, sizeof(*t));
			t->id = cl->next_target_id++;
			t->node_id = node_id;
			t->local = WIRE_LOCAL_ONLINE;
			visible = true;
		} else {
			t = &cl->targets[idx[i]];
			if (strcmp(t->path, rt->path))
				visible = true;
		}
		strcpy(t->path, rt->path);
		t->capacity = rt->capacity;
		t->used = rt->used;
		resp->target_ids[i] = t->id;
	}
	if (reeval && mgmtd_chains_update(cl))
		visible = true;
	if (visible)
		mgmtd_routing_bump(cl);
	resp->heartbeat_interval_ms = cl->cfg.heartbeat_interval_ms;
	resp->heartbeat_timeout_ms = cl->cfg.heartbeat_timeout_ms;
	return 0;
}

/* ---- Heartbeat and tick -------------------------------------------------- */

int mgmtd_heartbeat(struct mgmtd_cluster *cl,
		    const struct wire_heartbeat_req *req, uint64_t now_ns,
		    struct wire_heartbeat_resp *resp)
{
	struct mgmtd_node *node = mgmtd_node_lookup(cl, req->node_id);
	bool visible = false, reeval = false;

	if (!node)
		return -ENOENT;
	if (req->ntargets > WIRE_MAX_TARGETS_PER_NODE)
		return -EINVAL;
	for (uint32_t i = 0; i < req->ntargets; i++) {
		const struct wire_heartbeat_target *ht = &req->targets[i];
		struct mgmtd_target *t = mgmtd_target_lookup(cl, ht->id);

		if (!t)
			return -ENOENT;
		if (t->node_id != node->id ||
		    !mgmtd_local_valid(ht->local_state))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (req->targets[j].id == ht->id)
				return -EINVAL;
	}

	if (node->state == MGMTD_NODE_FAILED) {
		vlog_info("mgmtd: node %u is back", node->id);
		visible = true;
	}
	mgmtd_node_set_state(node, MGMTD_NODE_ALIVE);
	node->last_heartbeat_ns = now_ns;
	for (uint32_t i = 0; i < req->ntargets; i++) {
		const struct wire_heartbeat_target *ht = &req->targets[i];
		struct mgmtd_target *t = mgmtd_target_lookup(cl, ht->id);

		t->capacity = ht->capacity;
		t->used = ht->used;
		t->sync_done = ht->sync_done;
		t->sync_total = ht->sync_total;
		if (mgmtd_target_set_local(t, ht->local_state))
			visible = reeval = true;
	}
	if (reeval && mgmtd_chains_update(cl))
		visible = true;
	if (visible)
		mgmtd_routing_bump(cl);
	resp->routing_version = cl->routing_version;
	return 0;
}

int mgmtd_tick(struct mgmtd_cluster *cl, uint64_t now_ns)
{
	uint64_t timeout = cl->cfg.heartbeat_timeout_ms * MGMTD_NS_PER_MS;
	int nfailed = 0;

	for (uint32_t i = 0; i < cl->nnodes; i++) {
		struct mgmtd_node *n = &cl->nodes[i];

		/* A clock behind the last beat means no time has passed. */
		if (n->state == MGMTD_NODE_FAILED ||
		    now_ns <= n->last_heartbeat_ns ||
		    now_ns - n->last_heartbeat_ns <= timeout)
			continue;
		vlog_info("mgmtd: node %u (%s) failed: silent %llu ms", n->id,
			  n->url[0] ? n->url : wire_role_name(n->role),
			  (unsigned long long)((now_ns - n->last_heartbeat_ns) /
					       MGMTD_NS_PER_MS));
		mgmtd_node_set_state(n, MGMTD_NODE_FAILED);
		mgmtd_node_targets_offline(cl, n->id);
		nfailed++;
	}
	if (nfailed) {
		mgmtd_chains_update(cl);
		mgmtd_routing_bump(cl);
	}
	return nfailed;
}

/* ---- Chain table --------------------------------------------------------- */

int mgmtd_chain_table_create(struct mgmtd_cluster *cl, uint32_t replicas,
			     uint32_t nchains,
			     struct wire_chain_table_create_resp *resp)
{
	uint32_t *placed;
	int err;

	if (replicas < 1 || replicas > WIRE_MAX_REPLICAS ||
	    nchains > WIRE_MAX_CHAINS)
		return -EINVAL;
	if (cl->table_version)
		return -EEXIST;
	if (mgmtd_place_node_count(cl) < replicas)
		return -EINVAL;
	if (!nchains)
		nchains = cl->ntargets / replicas;
	if (nchains > WIRE_MAX_CHAINS)
		nchains = WIRE_MAX_CHAINS;
	placed = calloc((size_t)nchains * replicas, sizeof(*placed));
	if (!placed)
		return -ENOMEM;
	err = mgmtd_place_chains(cl, replicas, nchains, placed);
	if (!err && (mgmtd_grow((void **)&cl->chains, &cl->chains_cap, nchains,
				sizeof(*cl->chains)) ||
		     !(cl->table = calloc(nchains, sizeof(*cl->table)))))
		err = -ENOMEM;
	if (err) {
		free(placed);
		return err;
	}
	for (uint32_t c = 0; c < nchains; c++) {
		struct mgmtd_chain *ch = &cl->chains[c];

		memset(ch, 0, sizeof(*ch));
		ch->id = c + 1;
		ch->nmembers = replicas;
		for (uint32_t j = 0; j < replicas; j++) {
			uint32_t t = placed[(size_t)c * replicas + j];

			ch->members[j].target_id = cl->targets[t].id;
			ch->members[j].state = WIRE_PUBLIC_SERVING;
		}
		/* Members already down start OFFLINE; nobody saw version 0. */
		mgmtd_chain_update(cl, ch);
		ch->version = 1;
		cl->table[c] = ch->id;
	}
	free(placed);
	cl->nchains = nchains;
	cl->ntable = nchains;
	cl->table_version = 1;
	mgmtd_routing_bump(cl);
	vlog_info("mgmtd: chain table version 1: %u chains of %u replicas",
		  nchains, replicas);
	resp->table_version = cl->table_version;
	resp->nchains = nchains;
	return 0;
}

/* ---- Routing ------------------------------------------------------------- */

/* Which state a target shows when its chains disagree (cluster.h). */
static int mgmtd_summary_rank(enum wire_public_state s)
{
	switch (s) {
	case WIRE_PUBLIC_LASTSRV:
		return 4;
	case WIRE_PUBLIC_OFFLINE:
		return 3;
	case WIRE_PUBLIC_WAITING:
		return 2;
	case WIRE_PUBLIC_SYNCING:
		return 1;
	case WIRE_PUBLIC_SERVING:
		return 0;
	}
	return 0;
}

void mgmtd_routing(const struct mgmtd_cluster *cl, uint64_t since_version,
		   struct wire_routing *out)
{
	out->version = cl->routing_version;
	out->table.version = 0;
	out->table.nchains = 0;
	out->nnodes = out->ntargets = out->nchains = 0;
	out->unchanged = cl->routing_version <= since_version;
	if (out->unchanged)
		return;

	assert(cl->nnodes <= WIRE_MAX_NODES &&
	       cl->ntargets <= WIRE_MAX_TARGETS &&
	       cl->nchains <= WIRE_MAX_CHAINS && cl->ntable <= WIRE_MAX_CHAINS);
	for (uint32_t i = 0; i < cl->nnodes; i++) {
		const struct mgmtd_node *n = &cl->nodes[i];
		struct wire_routing_node *w = &out->nodes[i];

		w->id = n->id;
		w->role = n->role;
		strcpy(w->url, n->url);
		strcpy(w->hostname, n->hostname);
		w->alive = n->state != MGMTD_NODE_FAILED;
	}
	out->nnodes = cl->nnodes;
	for (uint32_t i = 0; i < cl->ntargets; i++) {
		const struct mgmtd_target *t = &cl->targets[i];
		struct wire_routing_target *w = &out->targets[i];

		w->id = t->id;
		w->node_id = t->node_id;
		/* In no chain: placeholder, overwritten below if in one. */
		w->public_state = t->local == WIRE_LOCAL_OFFLINE
					  ? WIRE_PUBLIC_OFFLINE
					  : WIRE_PUBLIC_SERVING;
		w->local_state = t->local;
		w->capacity = t->capacity;
		w->used = t->used;
		w->sync_done = t->sync_done;
		w->sync_total = t->sync_total;
	}
	out->ntargets = cl->ntargets;
	/* Targets in a chain: the summary; a stamp marks the first one seen. */
	for (uint32_t pass = 0; pass < 2; pass++) {
		for (uint32_t c = 0; c < cl->nchains; c++) {
			const struct mgmtd_chain *ch = &cl->chains[c];

			for (uint32_t j = 0; j < ch->nmembers; j++) {
				uint32_t i =
					mgmtd_bsearch(cl->targets, cl->ntargets,
						      sizeof(*cl->targets),
						      ch->members[j].target_id);
				struct wire_routing_target *w =
					&out->targets[i];

				/* Pass 0 resets, pass 1 takes the worst. */
				if (pass == 0)
					w->public_state = WIRE_PUBLIC_SERVING;
				else if (mgmtd_summary_rank(
						 ch->members[j].state) >
					 mgmtd_summary_rank(w->public_state))
					w->public_state = ch->members[j].state;
			}
		}
	}
	for (uint32_t c = 0; c < cl->nchains; c++) {
		const struct mgmtd_chain *ch = &cl->chains[c];
		struct wire_routing_chain *w = &out->chains[c];

		w->id = ch->id;
		w->version = ch->version;
		w->ntargets = ch->nmembers;
		/* The exact per-chain states, which the summary above is not
		 * when a target is in several chains. */
		for (uint32_t j = 0; j < ch->nmembers; j++) {
			w->target_ids[j] = ch->members[j].target_id;
			w->states[j] = (uint8_t)ch->members[j].state;
		}
	}
	out->nchains = cl->nchains;
	out->table.version = cl->table_version;
	out->table.nchains = cl->ntable;
	if (cl->ntable)
		memcpy(out->table.chain_ids, cl->table,
		       cl->ntable * sizeof(*cl->table));
}

/* ---- Invariants ---------------------------------------------------------- */

/* SERVING+ or LASTSRV, then SYNCING?, WAITING*, OFFLINE*. */
static bool mgmtd_chain_order_ok(const struct mgmtd_chain *ch)
{
	const struct mgmtd_chain_member *m = ch->members;
	uint32_t i = 0, n = ch->nmembers;

	if (m[0].state == WIRE_PUBLIC_LASTSRV) {
		i = 1;
	} else {
		while (i < n && m[i].state == WIRE_PUBLIC_SERVING)
			i++;
		if (i == 0)
			return false;
	}
	if (i < n && m[i].state == WIRE_PUBLIC_SYNCING)
		i++;
	while (i < n && m[i].state == WIRE_PUBLIC_WAITING)
		i++;
	while (i < n && m[i].state == WIRE_PUBLIC_OFFLINE)
		i++;
	return i == n;
}

/* Log the first broken invariant; returns -EUCLEAN for the caller to pass. */
__attribute__((format(printf, 1, 2))) static int mgmtd_bad(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vlog_err("mgmtd: cluster map invalid: %s", msg);
	return -EUCLEAN;
}

static int mgmtd_check_nodes(const struct mgmtd_cluster *cl)
{
	if (cl->nnodes > WIRE_MAX_NODES)
		return mgmtd_bad("%u nodes, limit %u", cl->nnodes,
				 WIRE_MAX_NODES);
	for (uint32_t i = 0; i < cl->nnodes; i++) {
		const struct mgmtd_node *n = &cl->nodes[i];

		if (!n->id || n->id >= cl->next_node_id ||
		    (i && n->id <= cl->nodes[i - 1].id))
			return mgmtd_bad("node id %u out of order or range",
					 n->id);
		if (!mgmtd_role_valid(n->role) ||
		    (unsigned)n->state > MGMTD_NODE_FAILED)
			return mgmtd_bad("node %u: bad role or state", n->id);
		if (!mgmtd_str_ok(n->url, sizeof(n->url), false) ||
		    !mgmtd_str_ok(n->hostname, sizeof(n->hostname), false))
			return mgmtd_bad("node %u: unterminated string", n->id);
	}
	return 0;
}

static int mgmtd_check_targets(const struct mgmtd_cluster *cl)
{
	if (cl->ntargets > WIRE_MAX_TARGETS)
		return mgmtd_bad("%u targets, limit %u", cl->ntargets,
				 WIRE_MAX_TARGETS);
	for (uint32_t i = 0; i < cl->ntargets; i++) {
		const struct mgmtd_target *t = &cl->targets[i];
		const struct mgmtd_node *n;

		if (!t->id || t->id >= cl->next_target_id ||
		    (i && t->id <= cl->targets[i - 1].id))
			return mgmtd_bad("target id %u out of order or range",
					 t->id);
		n = mgmtd_node_find(cl, t->node_id);
		if (!n || n->role != WIRE_ROLE_STORAGE)
			return mgmtd_bad(
				"target %u: node %u missing or not storage",
				t->id, t->node_id);
		if (!mgmtd_local_valid(t->local) ||
		    !mgmtd_str_ok(t->path, sizeof(t->path), true))
			return mgmtd_bad("target %u: bad local state or path",
					 t->id);
	}
	return 0;
}

static int mgmtd_check_chain(const struct mgmtd_cluster *cl,
			     const struct mgmtd_chain *ch)
{
	if (!ch->version || !ch->nmembers || ch->nmembers > WIRE_MAX_REPLICAS)
		return mgmtd_bad("chain %u: version %u, %u members", ch->id,
				 ch->version, ch->nmembers);
	for (uint32_t j = 0; j < ch->nmembers; j++) {
		const struct mgmtd_target *t =
			mgmtd_target_find(cl, ch->members[j].target_id);

		if (!t || !mgmtd_public_valid(ch->members[j].state))
			return mgmtd_bad(
				"chain %u: member %u unknown or bad state",
				ch->id, ch->members[j].target_id);
		for (uint32_t k = 0; k < j; k++) {
			const struct mgmtd_target *o =
				mgmtd_target_find(cl, ch->members[k].target_id);

			if (o->node_id == t->node_id)
				return mgmtd_bad(
					"chain %u: targets %u and %u share "
					"node %u",
					ch->id, o->id, t->id, t->node_id);
		}
	}
	if (!mgmtd_chain_order_ok(ch))
		return mgmtd_bad("chain %u: states out of order", ch->id);
	return 0;
}

int mgmtd_cluster_check(const struct mgmtd_cluster *cl)
{
	int err;

	if (!cl->routing_version || !cl->next_node_id || !cl->next_target_id)
		return mgmtd_bad("zero version or id counter");
	err = mgmtd_check_nodes(cl);
	if (err)
		return err;
	err = mgmtd_check_targets(cl);
	if (err)
		return err;
	if (cl->nchains > WIRE_MAX_CHAINS || cl->ntable > WIRE_MAX_CHAINS)
		return mgmtd_bad("%u chains, %u in the table", cl->nchains,
				 cl->ntable);
	for (uint32_t i = 0; i < cl->nchains; i++) {
		if (!cl->chains[i].id ||
		    (i && cl->chains[i].id <= cl->chains[i - 1].id))
			return mgmtd_bad("chain id %u out of order",
					 cl->chains[i].id);
		err = mgmtd_check_chain(cl, &cl->chains[i]);
		if (err)
			return err;
	}
	if (!cl->table_version && cl->ntable)
		return mgmtd_bad("chains in a table of version 0");
	for (uint32_t i = 0; i < cl->ntable; i++)
		if (!mgmtd_chain_find(cl, cl->table[i]))
			return mgmtd_bad("table names unknown chain %u",
					 cl->table[i]);
	return 0;
}

/* ---- Restore (store.c) --------------------------------------------------- */

int mgmtd_cluster_restore_node(struct mgmtd_cluster *cl,
			       const struct mgmtd_node *n)
{
	if (mgmtd_grow((void **)&cl->nodes, &cl->nodes_cap, cl->nnodes + 1,
		       sizeof(*n)))
		return -ENOMEM;
	cl->nodes[cl->nnodes++] = *n;
	return 0;
}

int mgmtd_cluster_restore_target(struct mgmtd_cluster *cl,
				 const struct mgmtd_target *t)
{
	if (mgmtd_grow((void **)&cl->targets, &cl->targets_cap,
		       cl->ntargets + 1, sizeof(*t)))
		return -ENOMEM;
	cl->targets[cl->ntargets++] = *t;
	return 0;
}

int mgmtd_cluster_restore_chain(struct mgmtd_cluster *cl,
				const struct mgmtd_chain *c)
{
	if (mgmtd_grow((void **)&cl->chains, &cl->chains_cap, cl->nchains + 1,
		       sizeof(*c)))
		return -ENOMEM;
	cl->chains[cl->nchains++] = *c;
	return 0;
}

int mgmtd_cluster_restore_table(struct mgmtd_cluster *cl, uint32_t version,
				uint32_t n, uint32_t **ids)
{
	uint32_t *table = calloc((size_t)n + 1, sizeof(*table));

	if (!table)
		return -ENOMEM;
	free(cl->table);
	cl->table = table;
	cl->ntable = n;
	cl->table_version = version;
	*ids = table;
	return 0;
}

static int mgmtd_cmp_id(const void *a, const void *b)
{
	uint32_t x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	return x < y ? -1 : x > y;
}

int mgmtd_cluster_restore_done(struct mgmtd_cluster *cl, uint64_t now_ns)
{
	if (cl->nnodes)
		qsort(cl->nodes, cl->nnodes, sizeof(*cl->nodes), mgmtd_cmp_id);
	if (cl->ntargets)
		qsort(cl->targets, cl->ntargets, sizeof(*cl->targets),
		      mgmtd_cmp_id);
	if (cl->nchains)
		qsort(cl->chains, cl->nchains, sizeof(*cl->chains),
		      mgmtd_cmp_id);
	for (uint32_t i = 0; i < cl->nnodes; i++) {
		/* Not a transition: the map is being rebuilt, not changed. */
		if (cl->nodes[i].state != MGMTD_NODE_FAILED)
			cl->nodes[i].state = MGMTD_NODE_PENDING;
		cl->nodes[i].last_heartbeat_ns = now_ns;
	}
	return mgmtd_cluster_check(cl);
}
