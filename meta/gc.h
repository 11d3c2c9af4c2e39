/* SPDX-License-Identifier: MIT */
/*
 * gc.h - metad's garbage collector: removes the chunks of files that lost
 * their last name and their last session, then the inode.
 *
 * Every interval (at once when kicked, or when the last round collected a
 * full batch) one round runs:
 *   1. claim up to `batch` garbage inodes in a transaction on the pool
 *      (vns_gc_claim: a claim lasts claim_ms, so several metad sharing a
 *      database never work on one inode at once, and the inodes of a metad
 *      that died are taken over when their claim lapses);
 *   2. for each inode, send WIRE_STORAGE_REMOVE {inode, chain, chain
 *      version} to the head of every chain of its stripe (chains
 *      table.chain_ids[(first_chain + i) % nchains], i < stripe; the head
 *      is the first member whose state in the chain is SERVING or
 *      SYNCING, and the chain version comes from routing);
 *   3. the inodes every chain answered 0 for are deleted (vns_gc_done)
 *      on the pool. An inode whose REMOVE failed stays garbage and is
 *      retried next round: -ESTALE also asks for fresh routing, a lost
 *      or refused connection just waits. Removing chunks that are
 *      already gone succeeds, so a retry or a duplicate is harmless.
 * State lives in the KV only: a restarted metad picks up where any metad
 * left off.
 *
 * Routing comes from the caller (mgmtc in metad, a fake in tests) through
 * struct mgc_routing.
 *
 * Threading: the loop thread (that of @loop) for everything here.
 */
#ifndef VALOR_META_GC_H
#define VALOR_META_GC_H

#include <stdint.h>

#include "meta/ns.h"
#include "meta/pool.h"
#include "proto/wire_msg.h"
#include "ring/loop.h"

struct vauth_secret;
struct mgc;

struct mgc_routing {
	/* The newest routing, or NULL (then no round runs). */
	const struct wire_routing *(*get)(void *arg);
	/* Ask for a fresh routing (a REMOVE answered -ESTALE). */
	void (*refresh)(void *arg);
	void *arg;
};

struct mgc_opts {
	uint64_t owner;		  /* this collector's claim id, nonzero */
	uint32_t interval_ms;	  /* between rounds; 0: 1000 */
	uint32_t batch;		  /* inodes per round; 0: 128 */
	uint32_t claim_ms;	  /* 0: 30000 */
	uint32_t call_timeout_ms; /* per REMOVE; 0: 5000 */
	const struct vauth_secret *secret; /* for storage; kept by pointer */
};

struct mgc_stats {
	uint64_t rounds;
	uint64_t claimed;	/* inodes claimed */
	uint64_t collected;	/* inodes whose chunks and record are gone */
	uint64_t removes;	/* REMOVE calls answered 0 */
	uint64_t chunks;	/* chunks storage said it removed */
	uint64_t remove_errors; /* REMOVE calls that failed */
	uint64_t stale;		/* of which -ESTALE */
	uint64_t no_route;	/* chains without a head or URL */
	uint64_t kv_errors;
};

/* Start: the first round runs after interval_ms. 0 and *out or -errno. */
int mgc_new(struct vloop *loop, struct mpool *pool, struct vns *ns,
	    const struct mgc_opts *o, const struct mgc_routing *r,
	    struct mgc **out);
/* Run a round as soon as none is running. */
void mgc_kick(struct mgc *g);
/* 1 while a round runs (claim, REMOVEs or the final deletes). */
int mgc_busy(const struct mgc *g);
/*
 * Stop: no new round starts; run the loop until the round in progress
 * ended (at most @timeout_ms), then free. NULL: no-op.
 */
void mgc_free(struct mgc *g, int timeout_ms);
void mgc_get_stats(const struct mgc *g, struct mgc_stats *out);

#endif
