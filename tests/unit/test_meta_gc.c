/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of metad's garbage collector (meta/gc.c) against a fake
 * storage node: an in-process vrpc_server answering WIRE_STORAGE_REMOVE
 * and recording what it was asked, on the same loop as the collector, and
 * a hand-built routing table. The namespace is on LMDB.
 *
 * Waiting is bounded (a deadline on the loop), never asserted on: the
 * assertions are about what was removed and what was not.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "meta/gc.h"
#include "meta/kv.h"
#include "meta/ns.h"
#include "meta/pool.h"
#include "proto/wire_storage.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

#define GCT_MAX_REQS 256

struct gct {
	char dir[64];
	struct vloop *loop;
	struct mpool *pool;
	struct vkv *kv;
	struct vns *ns;
	struct vrpc_server *srv;
	char url[64];
	struct wire_routing *rt;
	int routing_on; /* 0: get() returns NULL */
	int refreshes;
	/* the fake storage node */
	struct wire_storage_remove_req reqs[GCT_MAX_REQS];
	int nreqs;
	uint32_t stale_chain; /* answer -ESTALE for it ... */
	int stale_left;	      /* ... this many times */
};

static const struct vns_cred root = {0, 0};

static void gct_on_remove(struct vrpc_req *req, void *arg)
{
	struct gct *t = arg;
	struct wire_storage_remove_req q;
	struct wire_storage_remove_resp r = {.removed = 2};
	uint8_t body[WIRE_STORAGE_REMOVE_RESP_LEN];
	size_t len = 0;
	int st;

	st = wire_storage_remove_req_decode(req->body, req->body_len, &q);
	if (st < 0) {
		vrpc_reply(req, -EBADMSG, NULL, 0, NULL, 0);
		return;
	}
	if (t->nreqs < GCT_MAX_REQS)
		t->reqs[t->nreqs++] = q;
	if (q.chain_id == t->stale_chain && t->stale_left > 0) {
		t->stale_left--;
		vrpc_reply(req, -ESTALE, NULL, 0, NULL, 0);
		return;
	}
	wire_storage_remove_resp_encode(&r, body, sizeof(body), &len);
	vrpc_reply(req, 0, body, (uint32_t)len, NULL, 0);
}

static const struct vrpc_handler gct_handlers[] = {
	[WIRE_STORAGE_REMOVE] = {gct_on_remove, "REMOVE"},
};

static const struct wire_routing *gct_get(void *arg)
{
	struct gct *t = arg;

	return t->routing_on ? t->rt : NULL;
}

static void gct_refresh(void *arg)
{
	((struct gct *)arg)->refreshes++;
}

/*
 * Routing: node 1 (the fake, at t->url), node 2 (nobody listens);
 * targets 1..4 on node 1, 5 on node 2; chains 10 (1), 11 (2), 12 (3
 * offline, then 4 serving: the head is 4), 13 (5 on node 2), 14 (only
 * offline members). Table: 10, 11, 12.
 */
static void gct_routing(struct gct *t)
{
	struct wire_routing *r = t->rt;

	memset(r, 0, sizeof(*r));
	r->version = 7;
	r->nnodes = 2;
	r->nodes[0] = (struct wire_routing_node){
		.id = 1, .role = WIRE_ROLE_STORAGE, .alive = true};
	snprintf(r->nodes[0].url, sizeof(r->nodes[0].url), "%s", t->url);
	r->nodes[1] = (struct wire_routing_node){
		.id = 2, .role = WIRE_ROLE_STORAGE, .alive = true};
	snprintf(r->nodes[1].url, sizeof(r->nodes[1].url), "tcp://127.0.0.1:1");
	r->ntargets = 5;
	for (uint32_t i = 0; i < 5; i++)
		r->targets[i] = (struct wire_routing_target){
			.id = i + 1, .node_id = i < 4 ? 1 : 2};
	r->nchains = 5;
	r->chains[0] = (struct wire_routing_chain){
		.id = 10, .version = 3, .ntargets = 1, .target_ids = {1}};
	r->chains[1] = (struct wire_routing_chain){
		.id = 11, .version = 4, .ntargets = 1, .target_ids = {2}};
	r->chains[2] = (struct wire_routing_chain){
		.id = 12,
		.version = 5,
		.ntargets = 2,
		.target_ids = {3, 4},
		.states = {WIRE_PUBLIC_OFFLINE, WIRE_PUBLIC_SERVING}};
	r->chains[3] = (struct wire_routing_chain){
		.id = 13, .version = 1, .ntargets = 1, .target_ids = {5}};
	r->chains[4] =
		(struct wire_routing_chain){.id = 14,
					    .version = 1,
					    .ntargets = 1,
					    .target_ids = {1},
					    .states = {WIRE_PUBLIC_OFFLINE}};
	r->table.version = 1;
	r->table.nchains = 3;
	r->table.chain_ids[0] = 10;
	r->table.chain_ids[1] = 11;
	r->table.chain_ids[2] = 12;
}

static int gct_rm_cb(const char *path, const struct stat *sb, int flag,
		     struct FTW *ftw)
{
	return remove(path);
}

static int gct_setup(void **state)
{
	struct gct *t = calloc(1, sizeof(*t));
	struct vns_layout l = {.chunk_size = 1 << 20, .stripe = 3};
	char spec[96];
	int port;

	if (!t)
		return -1;
	*state = t;
	t->rt = malloc(sizeof(*t->rt));
	snprintf(t->dir, sizeof(t->dir), "/tmp/valor-gc-XXXXXX");
	if (!t->rt || !mkdtemp(t->dir))
		return -1;
	snprintf(spec, sizeof(spec), "lmdb:%s/db", t->dir);
	if (vloop_new(&t->loop, VLOOP_POLL, 0, 0) ||
	    mpool_new(t->loop, 2, &t->pool) || vkv_open(spec, &t->kv) ||
	    vns_open(t->kv, &t->ns))
		return -1;
	vns_set_default_layout(t->ns, &l);
	vns_set_chains(t->ns, 1, 3);
	if (vrpc_server_new(t->loop, "tcp://127.0.0.1:0", NULL, gct_handlers,
			    sizeof(gct_handlers) / sizeof(gct_handlers[0]), t,
			    &t->srv))
		return -1;
	port = vrpc_server_port(t->srv);
	if (port <= 0)
		return -1;
	snprintf(t->url, sizeof(t->url), "tcp://127.0.0.1:%d", port);
	gct_routing(t);
	t->routing_on = 1;
	return 0;
}

static int gct_teardown(void **state)
{
	struct gct *t = *state;

	vrpc_server_free(t->srv);
	mpool_free(t->pool);
	vns_close(t->ns);
	vkv_close(t->kv);
	vloop_free(t->loop);
	nftw(t->dir, gct_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(t->rt);
	free(t);
	return 0;
}

static struct mgc *gct_gc(struct gct *t)
{
	struct mgc_opts o = {.owner = 42,
			     .interval_ms = 20,
			     .batch = 8,
			     .call_timeout_ms = 500};
	struct mgc_routing r = {
		.get = gct_get, .refresh = gct_refresh, .arg = t};
	struct mgc *g;

	assert_int_equal(mgc_new(t->loop, t->pool, t->ns, &o, &r, &g), 0);
	return g;
}

/* Make @n garbage files; their inode numbers into @inos. */
static void gct_garbage(struct gct *t, int n, uint64_t *inos,
			struct vns_layout *layouts)
{
	for (int i = 0; i < n; i++) {
		struct vns_file vf;
		char name[16];

		snprintf(name, sizeof(name), "g%d", i);
		assert_int_equal(
			vns_create(t->ns, &root, 1, name, 0644, 0, 1, &vf), 0);
		assert_int_equal(
			vns_session_close(t->ns, &root, vf.attr.ino, 1), 0);
		assert_int_equal(vns_unlink(t->ns, &root, 1, name), 0);
		inos[i] = vf.attr.ino;
		if (layouts)
			layouts[i] = vf.layout;
	}
}

/* Run the loop until @collected inodes are collected or 5 s passed. */
static struct mgc_stats gct_run(struct gct *t, struct mgc *g,
				uint64_t collected, int max_rounds)
{
	uint64_t end = vloop_now_ns() + 5000000000ull;
	struct mgc_stats st;

	for (;;) {
		mgc_get_stats(g, &st);
		if ((collected && st.collected >= collected && !mgc_busy(g)) ||
		    (max_rounds && st.rounds >= (uint64_t)max_rounds &&
		     !mgc_busy(g)) ||
		    vloop_now_ns() > end)
			return st;
		vloop_run_once(t->loop, 10);
	}
}

static int gct_garbage_left(struct gct *t)
{
	struct vns_gc_entry e[16];

	return vns_gc_list(t->ns, e, 16);
}

static void
test_meta_gc__removes_every_stripe_chain_then_the_inode(void **state)
{
	struct gct *t = *state;
	struct vns_layout lay[3];
	uint64_t inos[3];
	struct mgc *g;
	struct mgc_stats st;
	struct vattr a;

	gct_garbage(t, 3, inos, lay);
	g = gct_gc(t);
	st = gct_run(t, g, 3, 0);
	assert_int_equal(st.collected, 3);
	assert_int_equal(st.removes, 9);
	assert_int_equal(st.chunks, 18);
	assert_int_equal(st.remove_errors, 0);
	assert_int_equal(t->nreqs, 9);
	for (int i = 0; i < 3; i++) {
		unsigned seen = 0;

		assert_int_equal(lay[i].stripe, 3);
		for (int r = 0; r < t->nreqs; r++) {
			const struct wire_storage_remove_req *q = &t->reqs[r];

			if (q->inode != inos[i])
				continue;
			seen |= 1u << (q->chain_id - 10);
			/* Each chain's version from routing. */
			assert_int_equal(q->chain_version, q->chain_id == 10 ? 3
							   : q->chain_id == 11
								   ? 4
								   : 5);
		}
		assert_int_equal(seen, 7);
		assert_int_equal(vns_getattr(t->ns, inos[i], &a), -ENOENT);
	}
	assert_int_equal(gct_garbage_left(t), 0);
	mgc_free(g, 1000);
}

static void
test_meta_gc__stale_chain_version_refreshes_and_retries(void **state)
{
	struct gct *t = *state;
	uint64_t ino;
	struct mgc *g;
	struct mgc_stats st;

	t->stale_chain = 11;
	t->stale_left = 2;
	gct_garbage(t, 1, &ino, NULL);
	g = gct_gc(t);
	st = gct_run(t, g, 1, 0);
	/* Two rounds refused by chain 11, the third succeeds. */
	assert_int_equal(st.collected, 1);
	assert_int_equal(st.stale, 2);
	assert_int_equal(t->refreshes, 2);
	assert_true(st.rounds >= 3);
	assert_int_equal(gct_garbage_left(t), 0);
	mgc_free(g, 1000);
}

static void test_meta_gc__unreachable_storage_keeps_the_inode(void **state)
{
	struct gct *t = *state;
	struct vattr a;
	uint64_t ino;
	struct mgc *g;
	struct mgc_stats st;

	/* Chain 11's only member is on node 2, where nobody listens. */
	t->rt->chains[1].target_ids[0] = 5;
	gct_garbage(t, 1, &ino, NULL);
	g = gct_gc(t);
	st = gct_run(t, g, 0, 3);
	assert_int_equal(st.collected, 0);
	assert_true(st.remove_errors >= 1);
	assert_int_equal(gct_garbage_left(t), 1);
	assert_int_equal(vns_getattr(t->ns, ino, &a), 0);
	/* Storage back (routing moved the chain): collected. */
	t->rt->chains[1].target_ids[0] = 2;
	st = gct_run(t, g, 1, 0);
	assert_int_equal(st.collected, 1);
	assert_int_equal(gct_garbage_left(t), 0);
	mgc_free(g, 1000);
}

static void test_meta_gc__no_head_or_no_routing_collects_nothing(void **state)
{
	struct gct *t = *state;
	uint64_t ino;
	struct mgc *g;
	struct mgc_stats st;

	/* No routing yet: rounds claim but send nothing. */
	t->routing_on = 0;
	gct_garbage(t, 1, &ino, NULL);
	g = gct_gc(t);
	st = gct_run(t, g, 0, 2);
	assert_int_equal(st.collected, 0);
	assert_int_equal(t->nreqs, 0);
	assert_true(st.no_route >= 1);
	/* Chain 12's members all offline: that chain cannot confirm. */
	t->routing_on = 1;
	t->rt->chains[2].states[1] = WIRE_PUBLIC_OFFLINE;
	st = gct_run(t, g, 0, (int)st.rounds + 2);
	assert_int_equal(st.collected, 0);
	assert_int_equal(gct_garbage_left(t), 1);
	t->rt->chains[2].states[1] = WIRE_PUBLIC_SYNCING; /* takes writes */
	st = gct_run(t, g, 1, 0);
	assert_int_equal(st.collected, 1);
	mgc_free(g, 1000);
}

static void test_meta_gc__survives_restart_of_the_collector(void **state)
{
	struct gct *t = *state;
	uint64_t inos[2];
	struct mgc *g;
	struct mgc_stats st;

	gct_garbage(t, 2, inos, NULL);
	/* A collector that dies before doing anything: its claims lapse. */
	assert_int_equal(
		vns_gc_claim(t->ns, 99, 0, 1, (struct vns_gc_entry[2]){}, 2),
		2);
	g = gct_gc(t);
	st = gct_run(t, g, 2, 0);
	assert_int_equal(st.collected, 2);
	mgc_free(g, 1000);
}

int main(void)
{
#define GT(fn) cmocka_unit_test_setup_teardown(fn, gct_setup, gct_teardown)
	const struct CMUnitTest tests[] = {
		GT(test_meta_gc__removes_every_stripe_chain_then_the_inode),
		GT(test_meta_gc__stale_chain_version_refreshes_and_retries),
		GT(test_meta_gc__unreachable_storage_keeps_the_inode),
		GT(test_meta_gc__no_head_or_no_routing_collects_nothing),
		GT(test_meta_gc__survives_restart_of_the_collector),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	vlog_set_level(VLOG_ERR);
	return cmocka_run_group_tests_name("meta gc", tests, NULL, NULL);
}
