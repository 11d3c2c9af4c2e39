/* SPDX-License-Identifier: MIT */
/*
 * place.c - where the replicas of a new chain table go.
 *
 * Greedy, one chain at a time and one member at a time, then a pass that
 * evens out heads along augmenting paths; the rules and what they
 * guarantee are written at mgmtd_chain_table_create() in cluster.h. Pure: reads
 * the map, writes the caller's array, allocates only scratch counters.
 */
#include "mgmtd/cluster_i.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MGMTD_PLACE_NONE UINT32_MAX

/* Scratch counters; "node" below means a storage node that has targets. */
struct mgmtd_placer {
	uint32_t replicas;
	uint32_t nnodes;
	uint32_t ntargets;   /* all targets, in cl->targets order */
	uint32_t *node_k;    /* [node] its target count */
	uint64_t *node_load; /* [node] members placed on it so far */
	uint64_t *node_last; /* [node] 1 + last chain it joined; 0 never */
	uint32_t *pair;	     /* [node * nnodes + node] chains shared */
	uint32_t *tnode;     /* [target] its node */
	uint32_t *use;	     /* [target] chains it is in */
	uint32_t *pos;	     /* [target * replicas + p] times at position p */
	uint32_t *cand;	     /* [node] its candidate target for this pick */
	uint32_t *stamp;     /* [node] 1 + the chain it is in right now */
};

static void mgmtd_placer_release(struct mgmtd_placer *pl)
{
	free(pl->node_k);
	free(pl->node_load);
	free(pl->node_last);
	free(pl->pair);
	free(pl->tnode);
	free(pl->use);
	free(pl->pos);
	free(pl->cand);
	free(pl->stamp);
}

static uint32_t mgmtd_place_node_index(const struct mgmtd_cluster *cl,
				       uint32_t node_id)
{
	const struct mgmtd_node *n = mgmtd_node_find(cl, node_id);

	/* Every target's node exists (mgmtd_cluster_check). */
	assert(n);
	return (uint32_t)(n - cl->nodes);
}

/*
 * nidx[i] = 1 + placer index of cl->nodes[i], or 0 when it has no target.
 * Returns the number of such nodes.
 */
static uint32_t mgmtd_place_index_nodes(const struct mgmtd_cluster *cl,
					uint32_t *nidx)
{
	uint32_t nn = 0;

	for (uint32_t t = 0; t < cl->ntargets; t++)
		nidx[mgmtd_place_node_index(cl, cl->targets[t].node_id)] = 1;
	for (uint32_t i = 0; i < cl->nnodes; i++)
		if (nidx[i])
			nidx[i] = ++nn;
	return nn;
}

uint32_t mgmtd_place_node_count(const struct mgmtd_cluster *cl)
{
	uint32_t *nidx = calloc(cl->nnodes + 1, sizeof(*nidx));
	uint32_t nn;

	if (!nidx)
		return 0;
	nn = mgmtd_place_index_nodes(cl, nidx);
	free(nidx);
	return nn;
}

static int mgmtd_placer_init(struct mgmtd_placer *pl,
			     const struct mgmtd_cluster *cl, uint32_t replicas)
{
	uint32_t nt = cl->ntargets, nn, *nidx;

	memset(pl, 0, sizeof(*pl));
	nidx = calloc(cl->nnodes + 1, sizeof(*nidx));
	if (!nidx)
		return -ENOMEM;
	nn = mgmtd_place_index_nodes(cl, nidx);
	pl->replicas = replicas;
	pl->nnodes = nn;
	pl->ntargets = nt;
	pl->node_k = calloc(nn + 1, sizeof(*pl->node_k));
	pl->node_load = calloc(nn + 1, sizeof(*pl->node_load));
	pl->node_last = calloc(nn + 1, sizeof(*pl->node_last));
	pl->pair = calloc((size_t)nn * nn + 1, sizeof(*pl->pair));
	pl->tnode = calloc(nt + 1, sizeof(*pl->tnode));
	pl->use = calloc(nt + 1, sizeof(*pl->use));
	pl->pos = calloc((size_t)nt * replicas + 1, sizeof(*pl->pos));
	pl->cand = calloc(nn + 1, sizeof(*pl->cand));
	pl->stamp = calloc(nn + 1, sizeof(*pl->stamp));
	if (!pl->node_k || !pl->node_load || !pl->node_last || !pl->pair ||
	    !pl->tnode || !pl->use || !pl->pos || !pl->cand || !pl->stamp) {
		free(nidx);
		mgmtd_placer_release(pl);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < nt; t++) {
		uint32_t i = mgmtd_place_node_index(cl, cl->targets[t].node_id);

		pl->tnode[t] = nidx[i] - 1;
		pl->node_k[pl->tnode[t]]++;
	}
	free(nidx);
	return 0;
}

/*
 * How far node @n is behind its share after chain @c (0-based): its
 * targets' fraction of all targets times the members placed so far, minus
 * what it got; scaled by ntargets to stay in integers. The most behind
 * goes first, so a node with twice the targets joins twice the chains.
 */
static int64_t mgmtd_placer_lag(const struct mgmtd_placer *pl, uint32_t n,
				uint32_t c)
{
	return (int64_t)(c + 1) * pl->replicas * pl->node_k[n] -
	       (int64_t)pl->ntargets * (int64_t)pl->node_load[n];
}

/*
 * True if node @a's candidate should take position @j of chain @c before
 * node @b's: most behind its share; then its candidate's use and count at
 * this position; then fewest chains already shared with the members chosen
 * so far; then longest unused; then lowest id.
 */
static bool mgmtd_placer_better(const struct mgmtd_placer *pl, uint32_t a,
				uint32_t b, uint32_t c, uint32_t j,
				const uint32_t *chosen)
{
	uint32_t ta = pl->cand[a], tb = pl->cand[b], r = pl->replicas;
	int64_t la = mgmtd_placer_lag(pl, a, c),
		lb = mgmtd_placer_lag(pl, b, c);
	uint64_t pa = 0, pb = 0;

	if (la != lb)
		return la > lb;
	if (pl->use[ta] != pl->use[tb])
		return pl->use[ta] < pl->use[tb];
	if (pl->pos[(size_t)ta * r + j] != pl->pos[(size_t)tb * r + j])
		return pl->pos[(size_t)ta * r + j] <
		       pl->pos[(size_t)tb * r + j];
	for (uint32_t i = 0; i < j; i++) {
		pa += pl->pair[(size_t)a * pl->nnodes + pl->tnode[chosen[i]]];
		pb += pl->pair[(size_t)b * pl->nnodes + pl->tnode[chosen[i]]];
	}
	if (pa != pb)
		return pa < pb;
	if (pl->node_last[a] != pl->node_last[b])
		return pl->node_last[a] < pl->node_last[b];
	return a < b;
}

/* Chain @c's members, head first, into chosen[] (target indexes). */
static void mgmtd_placer_chain(struct mgmtd_placer *pl, uint32_t c,
			       uint32_t *chosen)
{
	uint32_t r = pl->replicas;

	for (uint32_t j = 0; j < r; j++) {
		uint32_t best = MGMTD_PLACE_NONE;

		/* Each free node's candidate: least used, then least often
		 * at this position, then lowest id. */
		for (uint32_t n = 0; n < pl->nnodes; n++)
			pl->cand[n] = MGMTD_PLACE_NONE;
		for (uint32_t t = 0; t < pl->ntargets; t++) {
			uint32_t n = pl->tnode[t], o = pl->cand[n];

			if (pl->stamp[n] == c + 1)
				continue;
			if (o == MGMTD_PLACE_NONE || pl->use[t] < pl->use[o] ||
			    (pl->use[t] == pl->use[o] &&
			     pl->pos[(size_t)t * r + j] <
				     pl->pos[(size_t)o * r + j]))
				pl->cand[n] = t;
		}
		for (uint32_t n = 0; n < pl->nnodes; n++)
			if (pl->cand[n] != MGMTD_PLACE_NONE &&
			    (best == MGMTD_PLACE_NONE ||
			     mgmtd_placer_better(pl, n, best, c, j, chosen)))
				best = n;
		assert(best != MGMTD_PLACE_NONE);
		chosen[j] = pl->cand[best];
		pl->stamp[best] = c + 1;
		pl->use[chosen[j]]++;
		pl->pos[(size_t)chosen[j] * r + j]++;
		pl->node_load[best]++;
		pl->node_last[best] = c + 1;
	}
	for (uint32_t a = 0; a < r; a++)
		for (uint32_t b = 0; b < r; b++)
			if (a != b)
				pl->pair[(size_t)pl->tnode[chosen[a]] *
						 pl->nnodes +
					 pl->tnode[chosen[b]]]++;
}

/* Head-balancing state: which chains each target heads, as linked lists. */
struct mgmtd_heads {
	uint32_t *heads; /* [target] chains it heads */
	uint32_t *first; /* [target] first chain it heads, or NONE */
	uint32_t *next;	 /* [chain] next chain with the same head, or NONE */
	uint32_t *via;	 /* [target] chain the search reached it through */
	uint32_t *queue; /* [target] search queue */
	uint32_t *seen;	 /* [target] 1 + search number that reached it */
};

static void mgmtd_heads_link(struct mgmtd_heads *hs, uint32_t t, uint32_t c)
{
	hs->next[c] = hs->first[t];
	hs->first[t] = c;
	hs->heads[t]++;
}

static void mgmtd_heads_unlink(struct mgmtd_heads *hs, uint32_t t, uint32_t c)
{
	uint32_t *at = &hs->first[t];

	while (*at != c)
		at = &hs->next[*at];
	*at = hs->next[c];
	hs->heads[t]--;
}

/*
 * Make @t the head of chain @c instead of its current head: swap their
 * positions in out[] and move the chain between their lists.
 */
static void mgmtd_heads_give(struct mgmtd_placer *pl, struct mgmtd_heads *hs,
			     uint32_t *out, uint32_t c, uint32_t t)
{
	uint32_t r = pl->replicas, *m = &out[(size_t)c * r], p = 1;

	while (m[p] != t)
		p++;
	mgmtd_heads_unlink(hs, m[0], c);
	mgmtd_heads_link(hs, t, c);
	m[p] = m[0];
	m[0] = t;
}

/*
 * Search from @src for a target with at least two heads fewer, moving from
 * a target to the other members of each chain it heads. On success, shift
 * the head role back along the path: every target on it keeps its count
 * but src loses one head and the end gains one. True if it did.
 */
static bool mgmtd_heads_augment(struct mgmtd_placer *pl, struct mgmtd_heads *hs,
				uint32_t *out, uint32_t src, uint32_t search)
{
	uint32_t r = pl->replicas, qh = 0, qt = 0;

	hs->seen[src] = search;
	hs->queue[qt++] = src;
	while (qh < qt) {
		uint32_t t = hs->queue[qh++];

		for (uint32_t c = hs->first[t]; c != MGMTD_PLACE_NONE;
		     c = hs->next[c]) {
			for (uint32_t p = 1; p < r; p++) {
				uint32_t o = out[(size_t)c * r + p];

				if (hs->seen[o] == search)
					continue;
				hs->seen[o] = search;
				hs->via[o] = c;
				if (hs->heads[o] + 2 > hs->heads[src]) {
					hs->queue[qt++] = o;
					continue;
				}
				/* Found: walk back to src. */
				while (o != src) {
					uint32_t via = hs->via[o];
					uint32_t prev = out[(size_t)via * r];

					mgmtd_heads_give(pl, hs, out, via, o);
					o = prev;
				}
				return true;
			}
		}
	}
	return false;
}

/*
 * Even out heads: while some target can pass one head, through a path of
 * chains, to a target with two heads fewer, do it. Each move lowers the
 * sum of squared head counts, so this ends; when no move is left no target
 * can give a head away without another gaining two (the head spread is as
 * small as the chains allow). 0 or -ENOMEM.
 */
static int mgmtd_placer_balance_heads(struct mgmtd_placer *pl, uint32_t nchains,
				      uint32_t *out)
{
	struct mgmtd_heads hs;
	uint32_t nt = pl->ntargets, search = 0;
	bool moved = true;
	int err = 0;

	hs.heads = calloc(nt + 1, sizeof(*hs.heads));
	hs.first = malloc((nt + 1) * sizeof(*hs.first));
	hs.next = malloc(((size_t)nchains + 1) * sizeof(*hs.next));
	hs.via = calloc(nt + 1, sizeof(*hs.via));
	hs.queue = calloc(nt + 1, sizeof(*hs.queue));
	hs.seen = calloc(nt + 1, sizeof(*hs.seen));
	if (!hs.heads || !hs.first || !hs.next || !hs.via || !hs.queue ||
	    !hs.seen) {
		err = -ENOMEM;
		goto out_free;
	}
	for (uint32_t t = 0; t < nt; t++)
		hs.first[t] = MGMTD_PLACE_NONE;
	for (uint32_t c = nchains; c-- > 0;)
		mgmtd_heads_link(&hs, out[(size_t)c * pl->replicas], c);
	while (moved) {
		moved = false;
		for (uint32_t t = 0; t < nt; t++)
			if (hs.heads[t] >= 2 &&
			    mgmtd_heads_augment(pl, &hs, out, t, ++search))
				moved = true;
	}
	/* Keep the position counts in step with the new heads. */
	memset(pl->pos, 0, (size_t)nt * pl->replicas * sizeof(*pl->pos));
	for (uint32_t c = 0; c < nchains; c++)
		for (uint32_t p = 0; p < pl->replicas; p++)
			pl->pos[(size_t)out[(size_t)c * pl->replicas + p] *
					pl->replicas +
				p]++;
out_free:
	free(hs.heads);
	free(hs.first);
	free(hs.next);
	free(hs.via);
	free(hs.queue);
	free(hs.seen);
	return err;
}

int mgmtd_place_chains(const struct mgmtd_cluster *cl, uint32_t replicas,
		       uint32_t nchains, uint32_t *out)
{
	struct mgmtd_placer pl;
	int err;

	err = mgmtd_placer_init(&pl, cl, replicas);
	if (err)
		return err;
	assert(pl.nnodes >= replicas);
	for (uint32_t c = 0; c < nchains; c++)
		mgmtd_placer_chain(&pl, c, &out[(size_t)c * replicas]);
	err = mgmtd_placer_balance_heads(&pl, nchains, out);
	mgmtd_placer_release(&pl);
	return err;
}
