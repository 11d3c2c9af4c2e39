/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mgmtd/cluster: the public target-state table case by case,
 * registration, heartbeats and failure detection, chain reordering and
 * versions, chain-table placement, routing snapshots. Time is driven by the
 * tests (every call takes "now").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "mgmtd/cluster.h"

#define MS(x) ((uint64_t)(x)*1000000ull)
/* Default timeout (cluster.h): 5 s. */
#define TIMEOUT MS(5000)

/* Short names for the tables below. */
#define S WIRE_PUBLIC_SERVING
#define Y WIRE_PUBLIC_SYNCING
#define W WIRE_PUBLIC_WAITING
#define L WIRE_PUBLIC_LASTSRV
#define O WIRE_PUBLIC_OFFLINE
#define UT WIRE_LOCAL_UPTODATE
#define ON WIRE_LOCAL_ONLINE
#define OFF WIRE_LOCAL_OFFLINE

/* ---- Helpers ------------------------------------------------------------- */

static struct mgmtd_cluster *cl_new(void)
{
	struct mgmtd_config cfg;
	struct mgmtd_cluster *cl;

	mgmtd_config_defaults(&cfg);
	assert_int_equal(mgmtd_cluster_new(&cfg, &cl), 0);
	return cl;
}

static void check(const struct mgmtd_cluster *cl)
{
	assert_int_equal(mgmtd_cluster_check(cl), 0);
}

static struct wire_register_req *storage_req(const char *url, uint32_t k)
{
	struct wire_register_req *req = calloc(1, sizeof(*req));

	assert_non_null(req);
	req->role = WIRE_ROLE_STORAGE;
	snprintf(req->url, sizeof(req->url), "%s", url);
	snprintf(req->hostname, sizeof(req->hostname), "host-%s", url + 6);
	req->ntargets = k;
	for (uint32_t i = 0; i < k; i++) {
		snprintf(req->targets[i].path, sizeof(req->targets[i].path),
			 "/data/t%u", i);
		req->targets[i].capacity = 1ull << 40;
		req->targets[i].used = i;
	}
	return req;
}

/* Register a storage node at url with k targets; its node id. */
static uint32_t reg_storage(struct mgmtd_cluster *cl, const char *url,
			    uint32_t k, uint64_t now)
{
	struct wire_register_req *req = storage_req(url, k);
	struct wire_register_resp resp;

	assert_int_equal(mgmtd_register(cl, req, now, &resp), 0);
	assert_int_equal(resp.ntargets, k);
	free(req);
	check(cl);
	return resp.node_id;
}

/* Heartbeat every target of @node with local state @ls. */
static void beat(struct mgmtd_cluster *cl, uint32_t node,
		 enum wire_local_state ls, uint64_t now)
{
	struct wire_heartbeat_req *req = calloc(1, sizeof(*req));
	struct wire_heartbeat_resp resp;

	assert_non_null(req);
	req->node_id = node;
	for (uint32_t i = 0; i < mgmtd_target_count(cl); i++) {
		const struct mgmtd_target *t = mgmtd_target_at(cl, i);

		if (t->node_id != node)
			continue;
		req->targets[req->ntargets].id = t->id;
		req->targets[req->ntargets].local_state = ls;
		req->targets[req->ntargets].capacity = t->capacity;
		req->targets[req->ntargets].used = t->used + 1;
		req->ntargets++;
	}
	assert_int_equal(mgmtd_heartbeat(cl, req, now, &resp), 0);
	assert_int_equal(resp.routing_version, mgmtd_routing_version(cl));
	free(req);
	check(cl);
}

/* The i-th target (by id) of @node. */
static uint32_t target_of(const struct mgmtd_cluster *cl, uint32_t node,
			  uint32_t i)
{
	for (uint32_t j = 0; j < mgmtd_target_count(cl); j++) {
		const struct mgmtd_target *t = mgmtd_target_at(cl, j);

		if (t->node_id == node && i-- == 0)
			return t->id;
	}
	fail_msg("node %u has no target %u", node, i);
	return 0;
}

static uint32_t node_of(const struct mgmtd_cluster *cl, uint32_t target)
{
	const struct mgmtd_target *t = mgmtd_target_find(cl, target);

	assert_non_null(t);
	return t->node_id;
}

/*
 * Assert chain @id reads exactly targets[] with states[] (head first);
 * n members.
 */
static void expect_chain(const struct mgmtd_cluster *cl, uint32_t id,
			 uint32_t n, const uint32_t *targets, const int *states)
{
	const struct mgmtd_chain *ch = mgmtd_chain_find(cl, id);

	assert_non_null(ch);
	assert_int_equal(ch->nmembers, n);
	for (uint32_t j = 0; j < n; j++) {
		if (ch->members[j].target_id != targets[j] ||
		    (int)ch->members[j].state != states[j])
			fail_msg("chain %u member %u: target %u %s, expected "
				 "target %u %s",
				 id, j, ch->members[j].target_id,
				 mgmtd_public_state_name(ch->members[j].state),
				 targets[j],
				 mgmtd_public_state_name(states[j]));
	}
}

static uint32_t chain_version(const struct mgmtd_cluster *cl, uint32_t id)
{
	return mgmtd_chain_find(cl, id)->version;
}

static void create_table(struct mgmtd_cluster *cl, uint32_t r, uint32_t c)
{
	struct wire_chain_table_create_resp resp;

	assert_int_equal(mgmtd_chain_table_create(cl, r, c, &resp), 0);
	assert_int_equal(resp.table_version, 1);
	check(cl);
}

/* Register n storage nodes of k targets at time 0; ids into nodes[]. */
static void reg_nodes(struct mgmtd_cluster *cl, uint32_t n, uint32_t k,
		      uint32_t *nodes)
{
	char url[64];

	for (uint32_t i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "tcp://10.0.0.%u:7200", i + 1);
		nodes[i] = reg_storage(cl, url, k, 0);
	}
}

/* ---- The state table ----------------------------------------------------- */

static void test_mgmtd_cluster__transition_table_case_by_case(void **state)
{
	/* cur, local, is_last_serving, has_serving_predecessor -> want */
	static const struct {
		int cur, local, last, pred, want;
	} cases[] = {
		{S, UT, 0, 0, S},  {S, UT, 0, 1, S},  {S, UT, 1, 0, S},
		{S, UT, 1, 1, S},  {S, ON, 0, 0, S},  {S, ON, 0, 1, S},
		{S, ON, 1, 0, S},  {S, ON, 1, 1, S},  {S, OFF, 0, 0, O},
		{S, OFF, 0, 1, O}, {S, OFF, 1, 0, L}, {S, OFF, 1, 1, L},
		{Y, UT, 0, 0, S},  {Y, UT, 0, 1, S},  {Y, UT, 1, 0, S},
		{Y, UT, 1, 1, S},  {Y, ON, 0, 0, W},  {Y, ON, 0, 1, Y},
		{Y, ON, 1, 0, W},  {Y, ON, 1, 1, Y},  {Y, OFF, 0, 0, O},
		{Y, OFF, 0, 1, O}, {Y, OFF, 1, 0, O}, {Y, OFF, 1, 1, O},
		{W, UT, 0, 0, W},  {W, UT, 0, 1, W},  {W, UT, 1, 0, W},
		{W, UT, 1, 1, W},  {W, ON, 0, 0, W},  {W, ON, 0, 1, Y},
		{W, ON, 1, 0, W},  {W, ON, 1, 1, Y},  {W, OFF, 0, 0, O},
		{W, OFF, 0, 1, O}, {W, OFF, 1, 0, O}, {W, OFF, 1, 1, O},
		{L, UT, 0, 0, S},  {L, UT, 0, 1, S},  {L, UT, 1, 0, S},
		{L, UT, 1, 1, S},  {L, ON, 0, 0, S},  {L, ON, 0, 1, S},
		{L, ON, 1, 0, S},  {L, ON, 1, 1, S},  {L, OFF, 0, 0, L},
		{L, OFF, 0, 1, L}, {L, OFF, 1, 0, L}, {L, OFF, 1, 1, L},
		{O, UT, 0, 0, W},  {O, UT, 0, 1, W},  {O, UT, 1, 0, W},
		{O, UT, 1, 1, W},  {O, ON, 0, 0, W},  {O, ON, 0, 1, W},
		{O, ON, 1, 0, W},  {O, ON, 1, 1, W},  {O, OFF, 0, 0, O},
		{O, OFF, 0, 1, O}, {O, OFF, 1, 0, O}, {O, OFF, 1, 1, O},
	};

	assert_int_equal(sizeof(cases) / sizeof(cases[0]), 5 * 3 * 2 * 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum wire_public_state got =
			mgmtd_target_next_state(cases[i].cur, cases[i].local,
						cases[i].last, cases[i].pred);

		if ((int)got != cases[i].want)
			fail_msg("%s + local %s (last %d, pred %d): got %s, "
				 "expected %s",
				 mgmtd_public_state_name(cases[i].cur),
				 mgmtd_local_state_name(cases[i].local),
				 cases[i].last, cases[i].pred,
				 mgmtd_public_state_name(got),
				 mgmtd_public_state_name(cases[i].want));
		assert_true(mgmtd_public_transition_legal(cases[i].cur, got));
	}
}

static void test_mgmtd_cluster__legal_transitions(void **state)
{
	/* legal[from][to], straight from the list in cluster.h. */
	static const int legal[5][5] = {
		[S] = {[S] = 1, [L] = 1, [O] = 1},
		[Y] = {[Y] = 1, [S] = 1, [W] = 1, [O] = 1},
		[W] = {[W] = 1, [Y] = 1, [O] = 1},
		[L] = {[L] = 1, [S] = 1},
		[O] = {[O] = 1, [W] = 1},
	};

	for (int f = 0; f < 5; f++)
		for (int t = 0; t < 5; t++)
			assert_int_equal(mgmtd_public_transition_legal(f, t),
					 legal[f][t]);
	assert_false(mgmtd_public_transition_legal(5, S));
	assert_false(mgmtd_public_transition_legal(S, 5));
	/* Out-of-range inputs leave the state alone. */
	assert_int_equal(mgmtd_target_next_state(S, 3, true, true), S);
	assert_int_equal(mgmtd_target_next_state(7, UT, true, true), 7);
	assert_string_equal(mgmtd_public_state_name(L), "lastsrv");
	assert_string_equal(mgmtd_local_state_name(ON), "online");
	assert_string_equal(mgmtd_node_state_name(MGMTD_NODE_FAILED), "failed");
	assert_string_equal(mgmtd_public_state_name(9), "?");
}

/* ---- Registration -------------------------------------------------------- */

static void test_mgmtd_cluster__config_rejected(void **state)
{
	struct mgmtd_config cfg = {.heartbeat_interval_ms = 5000,
				   .heartbeat_timeout_ms = 5000};
	struct mgmtd_cluster *cl = NULL;

	assert_int_equal(mgmtd_cluster_new(&cfg, &cl), -EINVAL);
	cfg.heartbeat_interval_ms = 0;
	assert_int_equal(mgmtd_cluster_new(&cfg, &cl), -EINVAL);
	assert_null(cl);
	mgmtd_cluster_free(NULL);
}

static void test_mgmtd_cluster__register_assigns_and_keeps_ids(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_register_req *req = storage_req("tcp://10.0.0.1:7200", 2);
	struct wire_register_resp resp;
	uint64_t v;

	assert_int_equal(mgmtd_routing_version(cl), 1);
	assert_int_equal(mgmtd_register(cl, req, MS(1), &resp), 0);
	assert_int_equal(resp.node_id, 1);
	assert_int_equal(resp.ntargets, 2);
	assert_int_equal(resp.target_ids[0], 1);
	assert_int_equal(resp.target_ids[1], 2);
	assert_int_equal(resp.heartbeat_interval_ms, 1000);
	assert_int_equal(resp.heartbeat_timeout_ms, 5000);
	assert_int_equal(mgmtd_routing_version(cl), 2);
	assert_int_equal(reg_storage(cl, "tcp://10.0.0.2:7200", 1, MS(2)), 2);
	assert_int_equal(target_of(cl, 2, 0), 3);

	/* Same node by id, targets by id and by path: nothing new. */
	v = mgmtd_routing_version(cl);
	req->node_id = 1;
	req->targets[0].id = 1;
	assert_int_equal(mgmtd_register(cl, req, MS(3), &resp), 0);
	assert_int_equal(resp.node_id, 1);
	assert_int_equal(resp.target_ids[0], 1);
	assert_int_equal(resp.target_ids[1], 2);
	assert_int_equal(mgmtd_routing_version(cl), v);
	assert_int_equal(mgmtd_node_find(cl, 1)->last_heartbeat_ns, MS(3));
	/* Same url without an id: the same node comes back. */
	req->node_id = 0;
	req->targets[0].id = 0;
	assert_int_equal(mgmtd_register(cl, req, MS(4), &resp), 0);
	assert_int_equal(resp.node_id, 1);
	assert_int_equal(resp.target_ids[0], 1);
	/* A third target is new; the counter goes on. */
	req->ntargets = 3;
	snprintf(req->targets[2].path, sizeof(req->targets[2].path), "/x");
	assert_int_equal(mgmtd_register(cl, req, MS(5), &resp), 0);
	assert_int_equal(resp.target_ids[2], 4);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);
	/* Leaving a target out reports it offline. */
	req->ntargets = 2;
	assert_int_equal(mgmtd_register(cl, req, MS(6), &resp), 0);
	assert_int_equal(mgmtd_target_find(cl, 4)->local, OFF);
	assert_int_equal(mgmtd_target_find(cl, 1)->local, ON);
	assert_int_equal(mgmtd_node_count(cl), 2);
	assert_int_equal(mgmtd_node_find(cl, 1)->state, MGMTD_NODE_ALIVE);
	assert_string_equal(mgmtd_node_find(cl, 1)->hostname,
			    "host-10.0.0.1:7200");
	check(cl);
	free(req);
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__register_errors_change_nothing(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_register_req *req = storage_req("tcp://10.0.0.9:7200", 2);
	struct wire_register_resp resp;
	uint64_t v;

	reg_storage(cl, "tcp://10.0.0.1:7200", 2, 0); /* node 1: t1, t2 */
	reg_storage(cl, "tcp://10.0.0.2:7200", 1, 0); /* node 2: t3 */
	v = mgmtd_routing_version(cl);

	req->node_id = 7; /* unknown id */
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -ENOENT);
	req->node_id = 1;
	req->role = WIRE_ROLE_META; /* another role than registered */
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	req->role = WIRE_ROLE_STORAGE;
	snprintf(req->url, sizeof(req->url), "tcp://10.0.0.2:7200");
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EEXIST);
	snprintf(req->url, sizeof(req->url), "tcp://10.0.0.1:7200");
	req->targets[0].id = 3; /* node 2's target */
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	req->targets[0].id = 99;
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -ENOENT);
	req->targets[0].id = 0;
	snprintf(req->targets[1].path, sizeof(req->targets[1].path),
		 "/data/t0"); /* repeated path */
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	req->targets[1].path[0] = '\0';
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	/* One target named by id and again by its path. */
	snprintf(req->targets[1].path, sizeof(req->targets[1].path),
		 "/data/t0");
	snprintf(req->targets[0].path, sizeof(req->targets[0].path), "/new");
	req->targets[0].id = 1;
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	req->targets[0].id = 0;
	req->ntargets = WIRE_MAX_TARGETS_PER_NODE + 1;
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	req->ntargets = 1;
	req->role = 0;
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	/* Only storage nodes have targets. */
	req->node_id = 0;
	req->role = WIRE_ROLE_META;
	snprintf(req->url, sizeof(req->url), "tcp://10.0.0.5:7100");
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);
	/* A url held by a node of another role. */
	req->ntargets = 0;
	snprintf(req->url, sizeof(req->url), "tcp://10.0.0.1:7200");
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EEXIST);
	memset(req->hostname, 'h', sizeof(req->hostname)); /* no NUL */
	snprintf(req->url, sizeof(req->url), "tcp://10.0.0.5:7100");
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), -EINVAL);

	assert_int_equal(mgmtd_routing_version(cl), v);
	assert_int_equal(mgmtd_node_count(cl), 2);
	assert_int_equal(mgmtd_target_count(cl), 3);
	assert_int_equal(mgmtd_node_find(cl, 1)->last_heartbeat_ns, 0);
	check(cl);
	/* Clients register with no url and get fresh ids. */
	req->hostname[0] = '\0';
	req->url[0] = '\0';
	req->role = WIRE_ROLE_CLIENT;
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), 0);
	assert_int_equal(resp.node_id, 3);
	assert_int_equal(mgmtd_register(cl, req, 1, &resp), 0);
	assert_int_equal(resp.node_id, 4);
	check(cl);
	free(req);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__full_node_table_forgets_failed_clients(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_register_req req = {.role = WIRE_ROLE_CLIENT};
	struct wire_register_resp resp;

	for (uint32_t i = 0; i < WIRE_MAX_NODES; i++)
		assert_int_equal(mgmtd_register(cl, &req, MS(i), &resp), 0);
	assert_int_equal(mgmtd_register(cl, &req, MS(300), &resp), -ENOSPC);
	/* The first ten go silent and fail. */
	for (uint32_t i = 10; i < WIRE_MAX_NODES; i++) {
		struct wire_heartbeat_req hb = {.node_id = i + 1};
		struct wire_heartbeat_resp hresp;

		assert_int_equal(mgmtd_heartbeat(cl, &hb, MS(6000), &hresp), 0);
	}
	assert_int_equal(mgmtd_tick(cl, MS(6000)), 10);
	assert_int_equal(mgmtd_register(cl, &req, MS(6001), &resp), 0);
	assert_int_equal(resp.node_id, WIRE_MAX_NODES + 1);
	/* Node 1 was silent the longest. */
	assert_null(mgmtd_node_find(cl, 1));
	assert_non_null(mgmtd_node_find(cl, 2));
	assert_int_equal(mgmtd_node_count(cl), WIRE_MAX_NODES);
	check(cl);
	mgmtd_cluster_free(cl);
}

/* ---- Heartbeats and failure ---------------------------------------------- */

static void test_mgmtd_cluster__heartbeat_keeps_node_alive(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t nodes[3];
	uint64_t v;

	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 3, 1);
	/* The first beat changes local states (online -> uptodate). */
	for (int i = 0; i < 3; i++)
		beat(cl, nodes[i], UT, 0);
	v = mgmtd_routing_version(cl);
	for (uint64_t t = 1; t <= 30; t++) {
		for (int i = 0; i < 3; i++)
			beat(cl, nodes[i], UT, MS(1000 * t));
		assert_int_equal(mgmtd_tick(cl, MS(1000 * t + 500)), 0);
	}
	/* Figures are refreshed without a new routing version. */
	assert_int_equal(mgmtd_routing_version(cl), v);
	assert_int_equal(mgmtd_target_find(cl, 1)->used, 31);
	assert_int_equal(chain_version(cl, 1), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mgmtd_node_find(cl, nodes[i])->state,
				 MGMTD_NODE_ALIVE);
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__heartbeat_errors(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_heartbeat_req hb = {.node_id = 9};
	struct wire_heartbeat_resp resp;
	uint32_t nodes[2];
	uint64_t v;

	reg_nodes(cl, 2, 1, nodes);
	v = mgmtd_routing_version(cl);
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), -ENOENT);
	hb.node_id = nodes[0];
	hb.ntargets = 1;
	hb.targets[0].id = 42;
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), -ENOENT);
	hb.targets[0].id = target_of(cl, nodes[1], 0);
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), -EINVAL);
	hb.targets[0].id = target_of(cl, nodes[0], 0);
	hb.targets[0].local_state = 3;
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), -EINVAL);
	hb.targets[0].local_state = OFF;
	hb.ntargets = 2;
	hb.targets[1] = hb.targets[0];
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), -EINVAL);
	hb.ntargets = WIRE_MAX_TARGETS_PER_NODE + 1;
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), -EINVAL);
	assert_int_equal(mgmtd_routing_version(cl), v);
	assert_int_equal(mgmtd_node_find(cl, nodes[0])->last_heartbeat_ns, 0);
	/* A local state change is visible: routing version + 1. */
	hb.ntargets = 1;
	assert_int_equal(mgmtd_heartbeat(cl, &hb, 1, &resp), 0);
	assert_int_equal(resp.routing_version, v + 1);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__tick_fails_silent_node_and_moves_target(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_routing *rt = calloc(1, sizeof(*rt));
	const struct mgmtd_chain *ch;
	uint32_t nodes[3], m[3], dead;
	uint64_t v;

	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 3, 1);
	ch = mgmtd_chain_find(cl, 1);
	for (int j = 0; j < 3; j++)
		m[j] = ch->members[j].target_id;
	expect_chain(cl, 1, 3, m, (int[]){S, S, S});
	dead = node_of(cl, m[0]); /* the head's node goes silent */
	for (int i = 0; i < 3; i++)
		if (nodes[i] != dead)
			beat(cl, nodes[i], UT, MS(4000));
	v = mgmtd_routing_version(cl);
	/* Exactly the timeout is not yet a failure. */
	assert_int_equal(mgmtd_tick(cl, TIMEOUT), 0);
	assert_int_equal(mgmtd_routing_version(cl), v);
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 1);
	check(cl);
	assert_int_equal(mgmtd_node_find(cl, dead)->state, MGMTD_NODE_FAILED);
	assert_int_equal(mgmtd_target_find(cl, m[0])->local, OFF);
	expect_chain(cl, 1, 3, (uint32_t[]){m[1], m[2], m[0]},
		     (int[]){S, S, O});
	assert_int_equal(chain_version(cl, 1), 2);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);
	/* Failing again changes nothing. */
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + MS(1)), 0);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);

	mgmtd_routing(cl, 0, rt);
	assert_false(rt->unchanged);
	assert_int_equal(rt->version, v + 1);
	assert_int_equal(rt->nnodes, 3);
	for (uint32_t i = 0; i < rt->nnodes; i++)
		assert_int_equal(rt->nodes[i].alive, rt->nodes[i].id != dead);
	for (uint32_t i = 0; i < rt->ntargets; i++) {
		bool down = rt->targets[i].id == m[0];

		assert_int_equal(rt->targets[i].public_state, down ? O : S);
		assert_int_equal(rt->targets[i].local_state, down ? OFF : UT);
	}
	assert_int_equal(rt->nchains, 1);
	assert_int_equal(rt->chains[0].version, 2);
	assert_int_equal(rt->chains[0].target_ids[2], m[0]);
	free(rt);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__simultaneous_failures_keep_failure_order(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	const struct mgmtd_chain *ch;
	uint32_t nodes[3], m[3];
	uint64_t v;

	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 3, 1);
	ch = mgmtd_chain_find(cl, 1);
	for (int j = 0; j < 3; j++)
		m[j] = ch->members[j].target_id;
	/* Only the tail keeps beating; head and middle fail in one tick. */
	beat(cl, node_of(cl, m[2]), UT, MS(4000));
	v = mgmtd_routing_version(cl);
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 2);
	expect_chain(cl, 1, 3, (uint32_t[]){m[2], m[0], m[1]},
		     (int[]){S, O, O});
	assert_int_equal(chain_version(cl, 1), 2);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__last_serving_target_becomes_lastsrv(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	const struct mgmtd_chain *ch;
	uint32_t nodes[2], a, b;

	reg_nodes(cl, 2, 1, nodes);
	create_table(cl, 2, 1);
	ch = mgmtd_chain_find(cl, 1);
	a = ch->members[0].target_id;
	b = ch->members[1].target_id;
	/* a's node fails: b serves alone. */
	beat(cl, node_of(cl, b), UT, MS(4000));
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 1);
	expect_chain(cl, 1, 2, (uint32_t[]){b, a}, (int[]){S, O});
	/* b's node fails too: b is the last copy and becomes LASTSRV. */
	assert_int_equal(mgmtd_tick(cl, MS(4000) + TIMEOUT + 1), 1);
	expect_chain(cl, 1, 2, (uint32_t[]){b, a}, (int[]){L, O});
	assert_int_equal(chain_version(cl, 1), 3);
	/* a comes back first: nobody serves, so it waits. */
	beat(cl, node_of(cl, a), ON, MS(10000));
	expect_chain(cl, 1, 2, (uint32_t[]){b, a}, (int[]){L, W});
	assert_int_equal(chain_version(cl, 1), 4);
	/* Even claiming up to date: not filled here, not believed. */
	beat(cl, node_of(cl, a), UT, MS(10500));
	expect_chain(cl, 1, 2, (uint32_t[]){b, a}, (int[]){L, W});
	/* b returns: serves again at once, and a starts syncing from it. */
	beat(cl, node_of(cl, a), ON, MS(10800));
	beat(cl, node_of(cl, b), ON, MS(11000));
	expect_chain(cl, 1, 2, (uint32_t[]){b, a}, (int[]){S, Y});
	assert_int_equal(chain_version(cl, 1), 5);
	beat(cl, node_of(cl, a), UT, MS(12000));
	expect_chain(cl, 1, 2, (uint32_t[]){b, a}, (int[]){S, S});
	assert_int_equal(chain_version(cl, 1), 6);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__single_replica_chain_never_loses_its_copy(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t node;

	reg_nodes(cl, 1, 1, &node);
	create_table(cl, 1, 1);
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 1);
	expect_chain(cl, 1, 1, (uint32_t[]){1}, (int[]){L});
	beat(cl, node, ON, TIMEOUT + MS(100));
	expect_chain(cl, 1, 1, (uint32_t[]){1}, (int[]){S});
	/* A disk reported offline on a live node: same rule. */
	beat(cl, node, OFF, TIMEOUT + MS(200));
	expect_chain(cl, 1, 1, (uint32_t[]){1}, (int[]){L});
	assert_int_equal(chain_version(cl, 1), 4);
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__return_syncs_then_serves_moving_up(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	const struct mgmtd_chain *ch;
	uint32_t nodes[4], m[4], a, b, c, d;
	uint64_t v;

	reg_nodes(cl, 4, 1, nodes);
	create_table(cl, 4, 1);
	ch = mgmtd_chain_find(cl, 1);
	for (int j = 0; j < 4; j++)
		m[j] = ch->members[j].target_id;
	a = m[0], b = m[1], c = m[2], d = m[3];
	/* b fails, then c. */
	beat(cl, node_of(cl, a), UT, MS(1000));
	beat(cl, node_of(cl, c), UT, MS(1000));
	beat(cl, node_of(cl, d), UT, MS(1000));
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 1);
	beat(cl, node_of(cl, a), UT, MS(5500));
	beat(cl, node_of(cl, d), UT, MS(5500));
	assert_int_equal(mgmtd_tick(cl, MS(6001)), 1);
	expect_chain(cl, 1, 4, (uint32_t[]){a, d, b, c}, (int[]){S, S, O, O});
	assert_int_equal(chain_version(cl, 1), 3);
	/* c returns first: it overtakes b and syncs from d. */
	v = mgmtd_routing_version(cl);
	beat(cl, node_of(cl, c), ON, MS(7000));
	expect_chain(cl, 1, 4, (uint32_t[]){a, d, c, b}, (int[]){S, S, Y, O});
	assert_int_equal(chain_version(cl, 1), 4);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);
	/* b returns while c syncs: it waits behind c. */
	beat(cl, node_of(cl, b), ON, MS(7500));
	expect_chain(cl, 1, 4, (uint32_t[]){a, d, c, b}, (int[]){S, S, Y, W});
	assert_int_equal(chain_version(cl, 1), 5);
	/* c is filled: it serves, and b syncs from it in the same call. */
	beat(cl, node_of(cl, c), UT, MS(8000));
	expect_chain(cl, 1, 4, (uint32_t[]){a, d, c, b}, (int[]){S, S, S, Y});
	assert_int_equal(chain_version(cl, 1), 6);
	beat(cl, node_of(cl, b), UT, MS(9000));
	expect_chain(cl, 1, 4, (uint32_t[]){a, d, c, b}, (int[]){S, S, S, S});
	assert_int_equal(chain_version(cl, 1), 7);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__syncing_target_follows_new_predecessor(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	const struct mgmtd_chain *ch;
	uint32_t nodes[3], a, b, c;

	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 3, 1);
	ch = mgmtd_chain_find(cl, 1);
	a = ch->members[0].target_id;
	b = ch->members[1].target_id;
	c = ch->members[2].target_id;
	/* c goes away and comes back syncing behind b. */
	beat(cl, node_of(cl, c), OFF, MS(100));
	beat(cl, node_of(cl, c), ON, MS(200));
	expect_chain(cl, 1, 3, (uint32_t[]){a, b, c}, (int[]){S, S, Y});
	/* b fails: c keeps syncing, now from a. */
	beat(cl, node_of(cl, b), OFF, MS(300));
	expect_chain(cl, 1, 3, (uint32_t[]){a, c, b}, (int[]){S, Y, O});
	/* a fails while c is still syncing: a is the last copy. */
	beat(cl, node_of(cl, a), OFF, MS(400));
	expect_chain(cl, 1, 3, (uint32_t[]){a, c, b}, (int[]){L, W, O});
	assert_int_equal(chain_version(cl, 1), 5);
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__failed_node_returns_by_register(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_register_req *req = storage_req("tcp://10.0.0.1:7200", 1);
	struct wire_register_resp resp;
	uint32_t nodes[2];
	uint64_t v;

	reg_nodes(cl, 2, 1, nodes);
	create_table(cl, 2, 1);
	beat(cl, nodes[1], UT, MS(4000));
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 1);
	v = mgmtd_routing_version(cl);
	/* Registering again makes it alive; its target stays offline until
	 * a heartbeat says otherwise. */
	assert_int_equal(mgmtd_register(cl, req, MS(6000), &resp), 0);
	assert_int_equal(resp.node_id, nodes[0]);
	assert_int_equal(mgmtd_node_find(cl, nodes[0])->state,
			 MGMTD_NODE_ALIVE);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);
	assert_int_equal(mgmtd_target_find(cl, 1)->local, OFF);
	beat(cl, nodes[0], ON, MS(6500));
	expect_chain(cl, 1, 2, (uint32_t[]){2, 1}, (int[]){S, Y});
	free(req);
	mgmtd_cluster_free(cl);
}

/* A long random walk of failures and returns; invariants after every step. */
static void test_mgmtd_cluster__random_walk_keeps_invariants(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t nodes[6], prev_cv[13] = {0};
	uint64_t seed = 12345, now = 0, prev_rv = 0;

	reg_nodes(cl, 6, 2, nodes);
	create_table(cl, 3, 12);
	for (int step = 0; step < 3000; step++) {
		uint32_t pick;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		pick = (uint32_t)(seed >> 33);
		now += MS(300);
		switch (pick % 5) {
		case 0:
		case 1:
			beat(cl, nodes[(pick >> 8) % 6], ON, now);
			break;
		case 2:
			beat(cl, nodes[(pick >> 8) % 6], UT, now);
			break;
		case 3:
			beat(cl, nodes[(pick >> 8) % 6], OFF, now);
			break;
		case 4:
			mgmtd_tick(cl, now);
			break;
		}
		check(cl);
		assert_true(mgmtd_routing_version(cl) >= prev_rv);
		prev_rv = mgmtd_routing_version(cl);
		for (uint32_t c = 1; c <= 12; c++) {
			const struct mgmtd_chain *ch = mgmtd_chain_find(cl, c);

			assert_true(ch->version >= prev_cv[c]);
			prev_cv[c] = ch->version;
			/* Never without a copy: a SERVING or LASTSRV head. */
			assert_true(ch->members[0].state == S ||
				    ch->members[0].state == L);
		}
	}
	mgmtd_cluster_free(cl);
}

/* ---- Chain-table placement ----------------------------------------------- */

/*
 * Check a created table: members on distinct nodes (also done by
 * mgmtd_cluster_check), and the spread of uses and of each position. The
 * max - min of uses must be <= max_use_spread, of heads <= max_head_spread.
 */
static void check_placement(const struct mgmtd_cluster *cl, uint32_t r,
			    uint32_t nchains, uint32_t max_use_spread,
			    uint32_t max_head_spread)
{
	uint32_t nt = mgmtd_target_count(cl);
	uint32_t *use = calloc(nt, sizeof(*use));
	uint32_t *head = calloc(nt, sizeof(*head));
	uint32_t umin = UINT32_MAX, umax = 0, hmin = UINT32_MAX, hmax = 0;
	uint32_t tv, n;
	const uint32_t *table = mgmtd_chain_table(cl, &tv, &n);

	check(cl);
	assert_int_equal(mgmtd_chain_count(cl), nchains);
	assert_int_equal(n, nchains);
	assert_int_equal(tv, 1);
	for (uint32_t c = 0; c < nchains; c++) {
		const struct mgmtd_chain *ch = mgmtd_chain_at(cl, c);

		assert_int_equal(table[c], ch->id);
		assert_int_equal(ch->id, c + 1);
		assert_int_equal(ch->version, 1);
		assert_int_equal(ch->nmembers, r);
		for (uint32_t j = 0; j < r; j++) {
			uint32_t t = ch->members[j].target_id - 1;

			assert_true(t < nt);
			use[t]++;
			head[t] += j == 0;
			for (uint32_t k = 0; k < j; k++)
				assert_int_not_equal(
					node_of(cl, ch->members[k].target_id),
					node_of(cl, ch->members[j].target_id));
		}
	}
	for (uint32_t t = 0; t < nt; t++) {
		umin = use[t] < umin ? use[t] : umin;
		umax = use[t] > umax ? use[t] : umax;
		hmin = head[t] < hmin ? head[t] : hmin;
		hmax = head[t] > hmax ? head[t] : hmax;
	}
	if (umax - umin > max_use_spread || hmax - hmin > max_head_spread)
		fail_msg("%u targets, r %u, %u chains: uses %u..%u, heads "
			 "%u..%u",
			 nt, r, nchains, umin, umax, hmin, hmax);
	free(use);
	free(head);
}

static void test_mgmtd_cluster__placement_3x1_replicas_3(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t nodes[3];

	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 3, 0); /* 0: targets / replicas = 1 chain */
	check_placement(cl, 3, 1, 0, 1);
	mgmtd_cluster_free(cl);

	/* Three chains over the same three targets: each is head once. */
	cl = cl_new();
	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 3, 3);
	check_placement(cl, 3, 3, 0, 0);
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__placement_6x2_replicas_3_12_chains(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t nodes[6], pairs[7][7] = {{0}}, peers;

	reg_nodes(cl, 6, 2, nodes);
	create_table(cl, 3, 12);
	/* 36 slots over 12 targets: each in exactly 3 chains, head once. */
	check_placement(cl, 3, 12, 0, 0);
	/* Every node shares chains with every other node (recovery spread). */
	for (uint32_t c = 1; c <= 12; c++) {
		const struct mgmtd_chain *ch = mgmtd_chain_find(cl, c);

		for (uint32_t j = 0; j < 3; j++)
			for (uint32_t k = 0; k < 3; k++)
				pairs[node_of(cl, ch->members[j].target_id)]
				     [node_of(cl, ch->members[k].target_id)]++;
	}
	for (uint32_t a = 1; a <= 6; a++) {
		peers = 0;
		for (uint32_t b = 1; b <= 6; b++)
			peers += a != b && pairs[a][b];
		assert_int_equal(peers, 5);
	}
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__placement_sweep_is_even(void **state)
{
	static const uint32_t counts[] = {0, 1, 5, 7, 12, 64};

	for (uint32_t nn = 1; nn <= 8; nn++)
		for (uint32_t k = 1; k <= 4; k++)
			for (uint32_t r = 1; r <= nn && r <= 4; r++)
				for (size_t ci = 0; ci < 6; ci++) {
					struct mgmtd_cluster *cl = cl_new();
					uint32_t nodes[8], c = counts[ci];

					reg_nodes(cl, nn, k, nodes);
					create_table(cl, r, c);
					if (!c)
						c = nn * k / r;
					check_placement(cl, r, c, 1, 1);
					mgmtd_cluster_free(cl);
				}
}

static void test_mgmtd_cluster__placement_uneven_nodes(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t id;

	/* 4 targets on one node, 2 and 2 on two others, pairs of replicas:
	 * every target can still be in the same number of chains. */
	id = reg_storage(cl, "tcp://10.0.0.1:7200", 4, 0);
	assert_int_equal(id, 1);
	reg_storage(cl, "tcp://10.0.0.2:7200", 2, 0);
	reg_storage(cl, "tcp://10.0.0.3:7200", 2, 0);
	create_table(cl, 2, 8);
	check_placement(cl, 2, 8, 0, 2);
	mgmtd_cluster_free(cl);
}

static void test_mgmtd_cluster__placement_errors(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_chain_table_create_resp resp;
	struct wire_register_req meta = {.role = WIRE_ROLE_META,
					 .url = "tcp://10.0.0.9:7100"};
	struct wire_register_resp rresp;
	uint32_t nodes[3];
	uint64_t v;

	/* No storage at all. */
	assert_int_equal(mgmtd_chain_table_create(cl, 1, 1, &resp), -EINVAL);
	reg_nodes(cl, 3, 2, nodes);
	/* A meta node is not a place for replicas. */
	assert_int_equal(mgmtd_register(cl, &meta, 0, &rresp), 0);
	v = mgmtd_routing_version(cl);
	assert_int_equal(mgmtd_chain_table_create(cl, 4, 1, &resp), -EINVAL);
	assert_int_equal(mgmtd_chain_table_create(cl, 0, 1, &resp), -EINVAL);
	assert_int_equal(
		mgmtd_chain_table_create(cl, WIRE_MAX_REPLICAS + 1, 1, &resp),
		-EINVAL);
	assert_int_equal(
		mgmtd_chain_table_create(cl, 2, WIRE_MAX_CHAINS + 1, &resp),
		-EINVAL);
	assert_int_equal(mgmtd_routing_version(cl), v);
	assert_int_equal(mgmtd_chain_count(cl), 0);
	assert_int_equal(mgmtd_chain_table_create(cl, 3, 0, &resp), 0);
	assert_int_equal(resp.nchains, 2);
	assert_int_equal(resp.table_version, 1);
	assert_int_equal(mgmtd_routing_version(cl), v + 1);
	assert_int_equal(mgmtd_chain_table_create(cl, 3, 0, &resp), -EEXIST);
	check_placement(cl, 3, 2, 0, 1);
	mgmtd_cluster_free(cl);
}

static void
test_mgmtd_cluster__table_on_failed_nodes_starts_offline(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	uint32_t nodes[3];
	const struct mgmtd_chain *ch;

	reg_nodes(cl, 3, 1, nodes);
	beat(cl, nodes[0], UT, MS(3000));
	assert_int_equal(mgmtd_tick(cl, TIMEOUT + 1), 2);
	create_table(cl, 3, 1);
	ch = mgmtd_chain_find(cl, 1);
	assert_int_equal(ch->version, 1);
	assert_int_equal(ch->members[0].target_id, target_of(cl, nodes[0], 0));
	assert_int_equal(ch->members[0].state, S);
	assert_int_equal(ch->members[1].state, O);
	assert_int_equal(ch->members[2].state, O);
	mgmtd_cluster_free(cl);
}

/* ---- Routing ------------------------------------------------------------- */

static void test_mgmtd_cluster__routing_snapshot_and_unchanged(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_routing *rt = calloc(1, sizeof(*rt));
	uint32_t nodes[4];
	uint64_t v;

	assert_non_null(rt);
	/* An empty map still has version 1, so since 0 gets it. */
	mgmtd_routing(cl, 0, rt);
	assert_false(rt->unchanged);
	assert_int_equal(rt->version, 1);
	assert_int_equal(rt->nnodes, 0);
	assert_int_equal(rt->table.version, 0);

	reg_nodes(cl, 4, 1, nodes);
	create_table(cl, 2, 2);
	v = mgmtd_routing_version(cl);
	mgmtd_routing(cl, v - 1, rt);
	assert_false(rt->unchanged);
	assert_int_equal(rt->version, v);
	assert_int_equal(rt->nnodes, 4);
	assert_int_equal(rt->ntargets, 4);
	assert_int_equal(rt->nchains, 2);
	assert_int_equal(rt->table.version, 1);
	assert_int_equal(rt->table.nchains, 2);
	assert_int_equal(rt->table.chain_ids[0], 1);
	assert_int_equal(rt->table.chain_ids[1], 2);
	assert_string_equal(rt->nodes[0].url, "tcp://10.0.0.1:7200");
	assert_int_equal(rt->nodes[0].role, WIRE_ROLE_STORAGE);
	assert_true(rt->nodes[0].alive);
	assert_int_equal(rt->targets[0].capacity, 1ull << 40);
	for (uint32_t c = 0; c < 2; c++) {
		const struct mgmtd_chain *ch = mgmtd_chain_at(cl, c);

		assert_int_equal(rt->chains[c].id, ch->id);
		assert_int_equal(rt->chains[c].ntargets, 2);
		assert_int_equal(rt->chains[c].target_ids[0],
				 ch->members[0].target_id);
		assert_int_equal(rt->chains[c].states[0], ch->members[0].state);
		assert_int_equal(rt->chains[c].states[1], WIRE_PUBLIC_SERVING);
	}

	/* Current or newer: unchanged, empty. */
	mgmtd_routing(cl, v, rt);
	assert_true(rt->unchanged);
	assert_int_equal(rt->version, v);
	assert_int_equal(rt->nnodes, 0);
	assert_int_equal(rt->ntargets, 0);
	assert_int_equal(rt->nchains, 0);
	assert_int_equal(rt->table.nchains, 0);
	mgmtd_routing(cl, v + 5, rt);
	assert_true(rt->unchanged);
	free(rt);
	mgmtd_cluster_free(cl);
}

/* The chain of @cl other than @not that holds target @t. */
static const struct mgmtd_chain *chain_with(const struct mgmtd_cluster *cl,
					    uint32_t t, uint32_t not )
{
	for (uint32_t c = 0; c < mgmtd_chain_count(cl); c++) {
		const struct mgmtd_chain *ch = mgmtd_chain_at(cl, c);

		if (ch->id == not )
			continue;
		for (uint32_t j = 0; j < ch->nmembers; j++)
			if (ch->members[j].target_id == t)
				return ch;
	}
	fail_msg("no second chain holds target %u", t);
	return NULL;
}

/* Routing chain @id has the two members @t with per-chain states @st. */
static void expect_routing_chain(const struct wire_routing *rt, uint32_t id,
				 const uint32_t *t, const int *st)
{
	for (uint32_t c = 0; c < rt->nchains; c++) {
		const struct wire_routing_chain *w = &rt->chains[c];

		if (w->id != id)
			continue;
		assert_int_equal(w->ntargets, 2);
		for (uint32_t j = 0; j < 2; j++) {
			assert_int_equal(w->target_ids[j], t[j]);
			assert_int_equal(w->states[j], st[j]);
		}
		return;
	}
	fail_msg("no routing chain %u", id);
}

static void test_mgmtd_cluster__routing_sums_up_shared_targets(void **state)
{
	struct mgmtd_cluster *cl = cl_new();
	struct wire_routing *rt = calloc(1, sizeof(*rt));
	const struct mgmtd_chain *ch, *other;
	uint32_t nodes[3], x, y, z;

	assert_non_null(rt);
	/* Three chains of two over three targets: every pair once. */
	reg_nodes(cl, 3, 1, nodes);
	create_table(cl, 2, 3);
	ch = mgmtd_chain_find(cl, 1);
	x = ch->members[0].target_id;
	y = ch->members[1].target_id;
	other = chain_with(cl, x, 1);
	z = other->members[0].target_id == x ? other->members[1].target_id
					     : other->members[0].target_id;
	assert_int_not_equal(z, y);
	/* y goes down, then x: x is chain 1's last copy, but in its chain
	 * with z (still serving) it is merely offline. */
	beat(cl, node_of(cl, y), OFF, MS(1));
	beat(cl, node_of(cl, x), OFF, MS(2));
	expect_chain(cl, 1, 2, (uint32_t[]){x, y}, (int[]){L, O});
	expect_chain(cl, other->id, 2, (uint32_t[]){z, x}, (int[]){S, O});
	mgmtd_routing(cl, 0, rt);
	assert_int_equal(rt->targets[x - 1].public_state, L);
	assert_int_equal(rt->targets[y - 1].public_state, O);
	assert_int_equal(rt->targets[z - 1].public_state, S);
	/* x returns: serving in chain 1, syncing behind z in the other. */
	beat(cl, node_of(cl, x), ON, MS(3));
	expect_chain(cl, 1, 2, (uint32_t[]){x, y}, (int[]){S, O});
	expect_chain(cl, other->id, 2, (uint32_t[]){z, x}, (int[]){S, Y});
	mgmtd_routing(cl, 0, rt);
	assert_int_equal(rt->targets[x - 1].public_state, Y);
	/* The summary says syncing; each chain says exactly what x is. */
	expect_routing_chain(rt, 1, (uint32_t[]){x, y}, (int[]){S, O});
	expect_routing_chain(rt, other->id, (uint32_t[]){z, x}, (int[]){S, Y});
	free(rt);
	mgmtd_cluster_free(cl);
}

int main(void)
{
	vlog_set_level(VLOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_mgmtd_cluster__transition_table_case_by_case),
		cmocka_unit_test(test_mgmtd_cluster__legal_transitions),
		cmocka_unit_test(test_mgmtd_cluster__config_rejected),
		cmocka_unit_test(
			test_mgmtd_cluster__register_assigns_and_keeps_ids),
		cmocka_unit_test(
			test_mgmtd_cluster__register_errors_change_nothing),
		cmocka_unit_test(
			test_mgmtd_cluster__full_node_table_forgets_failed_clients),
		cmocka_unit_test(
			test_mgmtd_cluster__heartbeat_keeps_node_alive),
		cmocka_unit_test(test_mgmtd_cluster__heartbeat_errors),
		cmocka_unit_test(
			test_mgmtd_cluster__tick_fails_silent_node_and_moves_target),
		cmocka_unit_test(
			test_mgmtd_cluster__simultaneous_failures_keep_failure_order),
		cmocka_unit_test(
			test_mgmtd_cluster__last_serving_target_becomes_lastsrv),
		cmocka_unit_test(
			test_mgmtd_cluster__single_replica_chain_never_loses_its_copy),
		cmocka_unit_test(
			test_mgmtd_cluster__return_syncs_then_serves_moving_up),
		cmocka_unit_test(
			test_mgmtd_cluster__syncing_target_follows_new_predecessor),
		cmocka_unit_test(
			test_mgmtd_cluster__failed_node_returns_by_register),
		cmocka_unit_test(
			test_mgmtd_cluster__random_walk_keeps_invariants),
		cmocka_unit_test(test_mgmtd_cluster__placement_3x1_replicas_3),
		cmocka_unit_test(
			test_mgmtd_cluster__placement_6x2_replicas_3_12_chains),
		cmocka_unit_test(test_mgmtd_cluster__placement_sweep_is_even),
		cmocka_unit_test(test_mgmtd_cluster__placement_uneven_nodes),
		cmocka_unit_test(test_mgmtd_cluster__placement_errors),
		cmocka_unit_test(
			test_mgmtd_cluster__table_on_failed_nodes_starts_offline),
		cmocka_unit_test(
			test_mgmtd_cluster__routing_snapshot_and_unchanged),
		cmocka_unit_test(
			test_mgmtd_cluster__routing_sums_up_shared_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
