/* SPDX-License-Identifier: MIT */
/*
 * test_mgmtc.c - rdma/mgmtc against a fake mgmtd on loopback.
 *
 * The fake answers REGISTER (node 7, target ids from 100), HEARTBEAT
 * (announcing fk.version, or -ENOENT when told to forget the node) and
 * GET_ROUTING (a table of fk.version, or "unchanged"), all on the same poll
 * loop as the link, in one thread. Each test arms alarm() against hangs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "proto/wire_msg.h"
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

struct fake {
	struct vloop *loop;
	struct vrpc_server *srv;
	char url[64];
	uint64_t version;  /* routing version the fake serves */
	int forget;	   /* answer the next heartbeat -ENOENT */
	int registers, heartbeats, pulls, pulls_unchanged;
	uint32_t last_role, last_ntargets;
	char last_path0[WIRE_PATH_MAX + 1];
	uint32_t hb_state0; /* local state of target 0 in the last heartbeat */

	/* What the link reported. */
	int on_reg, on_rt;
	uint32_t reg_node, reg_tid0;
	uint64_t rt_version;
	uint8_t body[4096];
};

static struct fake fk;

static void fake_register(struct vrpc_req *req, void *arg)
{
	struct wire_register_req *q = calloc(1, sizeof(*q));
	struct wire_register_resp r = {.node_id = 7,
				       .heartbeat_interval_ms = 50};
	size_t len = 0;
	int ret;

	ret = wire_register_req_decode(req->body, req->body_len, q);
	if (!ret) {
		fk.registers++;
		fk.last_role = q->role;
		fk.last_ntargets = q->ntargets;
		snprintf(fk.last_path0, sizeof(fk.last_path0), "%s",
			 q->ntargets ? q->targets[0].path : "");
		r.ntargets = q->ntargets;
		for (uint32_t i = 0; i < q->ntargets; i++)
			r.target_ids[i] = 100 + i;
		ret = wire_register_resp_encode(&r, fk.body, sizeof(fk.body),
						&len);
	}
	free(q);
	vrpc_reply(req, ret, fk.body, (uint32_t)len, NULL, 0);
}

static void fake_heartbeat(struct vrpc_req *req, void *arg)
{
	struct wire_heartbeat_req *q = calloc(1, sizeof(*q));
	struct wire_heartbeat_resp r = {.routing_version = fk.version};
	size_t len = 0;
	int ret;

	ret = wire_heartbeat_req_decode(req->body, req->body_len, q);
	if (!ret && fk.forget) {
		fk.forget = 0;
		ret = -ENOENT;
	}
	if (!ret) {
		fk.heartbeats++;
		fk.hb_state0 = q->ntargets ? q->targets[0].local_state : 99;
		ret = wire_heartbeat_resp_encode(&r, fk.body, sizeof(fk.body),
						 &len);
	}
	free(q);
	vrpc_reply(req, ret, fk.body, (uint32_t)len, NULL, 0);
}

static void fake_routing(struct vrpc_req *req, void *arg)
{
	struct wire_routing *r = calloc(1, sizeof(*r));
	struct wire_routing_req q;
	static uint8_t out[8192];
	size_t len = 0;
	int ret;

	ret = wire_routing_req_decode(req->body, req->body_len, &q);
	if (!ret) {
		fk.pulls++;
		r->version = fk.version;
		if (fk.version <= q.since_version) {
			r->unchanged = true;
			fk.pulls_unchanged++;
		} else {
			r->nnodes = 1;
			r->nodes[0].id = 7;
			r->nodes[0].role = WIRE_ROLE_STORAGE;
			snprintf(r->nodes[0].url, sizeof(r->nodes[0].url),
				 "tcp://127.0.0.1:9");
			r->nodes[0].alive = true;
			r->ntargets = 3;
			for (uint32_t i = 0; i < 3; i++) {
				r->targets[i].id = 100 + i;
				r->targets[i].node_id = 7;
			}
			r->nchains = 2;
			r->chains[0].id = 1;
			r->chains[0].version = 3;
			r->chains[0].ntargets = 3;
			r->chains[1].id = 2;
			r->chains[1].version = 1;
			r->chains[1].ntargets = 3;
			for (uint32_t i = 0; i < 3; i++) {
				r->chains[0].target_ids[i] = 100 + i;
				r->chains[1].target_ids[i] = 102 - i;
			}
			/* chain 1: offline, syncing, serving */
			r->chains[0].states[0] = WIRE_PUBLIC_OFFLINE;
			r->chains[0].states[1] = WIRE_PUBLIC_SYNCING;
			r->chains[0].states[2] = WIRE_PUBLIC_SERVING;
			/* chain 2: serving, serving, offline */
			r->chains[1].states[2] = WIRE_PUBLIC_OFFLINE;
			r->table.version = 1;
			r->table.nchains = 2;
			r->table.chain_ids[0] = 1;
			r->table.chain_ids[1] = 2;
		}
		ret = wire_routing_encode(r, out, sizeof(out), &len);
	}
	free(r);
	vrpc_reply(req, ret, out, (uint32_t)len, NULL, 0);
}

static const struct vrpc_handler fake_handlers[] = {
	[WIRE_MGMTD_REGISTER] = {fake_register, "REGISTER"},
	[WIRE_MGMTD_HEARTBEAT] = {fake_heartbeat, "HEARTBEAT"},
	[WIRE_MGMTD_GET_ROUTING] = {fake_routing, "GET_ROUTING"},
};

static void fk_on_registered(void *arg, uint32_t node_id,
			     const uint32_t *target_ids)
{
	fk.on_reg++;
	fk.reg_node = node_id;
	fk.reg_tid0 = target_ids[0];
}

static void fk_on_routing(void *arg, const struct wire_routing *r)
{
	fk.on_rt++;
	fk.rt_version = r->version;
}

static void fk_fill(void *arg, uint32_t i, struct wire_heartbeat_target *t)
{
	t->local_state = WIRE_LOCAL_ONLINE;
	t->capacity = 1000;
	t->used = 10;
}

static int setup(void **state)
{
	alarm(30);
	memset(&fk, 0, sizeof(fk));
	if (vloop_new(&fk.loop, VLOOP_POLL, 0, 0))
		return -1;
	if (vrpc_server_new(fk.loop, "tcp://127.0.0.1:0", NULL, fake_handlers,
			    sizeof(fake_handlers) / sizeof(fake_handlers[0]),
			    NULL, &fk.srv))
		return -1;
	snprintf(fk.url, sizeof(fk.url), "tcp://127.0.0.1:%d",
		 vrpc_server_port(fk.srv));
	fk.version = 5;
	return 0;
}

static int teardown(void **state)
{
	vrpc_server_free(fk.srv);
	vloop_free(fk.loop);
	alarm(0);
	return 0;
}

/* Run the loop until *@flag >= @want or @ms pass. */
static void run_until(int *flag, int want, int ms)
{
	uint64_t end = vloop_now_ns() + (uint64_t)ms * 1000000ull;

	while (*flag < want && vloop_now_ns() < end)
		vloop_run_once(fk.loop, 10);
}

static void test_mgmtc__registers_heartbeats_and_pulls(void **state)
{
	const char *paths[] = {"/data/t0", "/data/t1"};
	struct vmgmtc_opts o = {
		.mgmtd_url = fk.url,
		.role = WIRE_ROLE_STORAGE,
		.url = "tcp://127.0.0.1:7200",
		.hostname = "h1",
		.ntargets = 2,
		.target_paths = paths,
		.fill_target = fk_fill,
		.on_registered = fk_on_registered,
		.on_routing = fk_on_routing,
	};
	struct vmgmtc *m;
	struct vmgmtc_stats st;

	assert_int_equal(vmgmtc_new(fk.loop, &o, &m), 0);
	assert_null(vmgmtc_routing(m));
	assert_int_equal(vmgmtc_wait_routing(m, 5000), 0);
	assert_int_equal(fk.registers, 1);
	assert_int_equal(fk.last_role, WIRE_ROLE_STORAGE);
	assert_int_equal(fk.last_ntargets, 2);
	assert_string_equal(fk.last_path0, "/data/t0");
	assert_int_equal(fk.on_reg, 1);
	assert_int_equal(fk.reg_node, 7);
	assert_int_equal(fk.reg_tid0, 100);
	assert_int_equal(vmgmtc_node_id(m), 7);
	assert_int_equal(fk.on_rt, 1);
	assert_int_equal(fk.rt_version, 5);

	/* Heartbeats carry the filled state; a newer version is pulled. */
	run_until(&fk.heartbeats, 2, 3000);
	assert_true(fk.heartbeats >= 2);
	assert_int_equal(fk.hb_state0, WIRE_LOCAL_ONLINE);
	fk.version = 9;
	run_until(&fk.on_rt, 2, 3000);
	assert_int_equal(fk.on_rt, 2);
	assert_int_equal(vmgmtc_routing(m)->version, 9);

	/* mgmtd forgot us: register again. */
	fk.forget = 1;
	run_until(&fk.on_reg, 2, 3000);
	assert_int_equal(fk.registers, 2);
	assert_int_equal(fk.on_reg, 2);

	/* A refresh with nothing new does not call on_routing. */
	int pulls = fk.pulls;
	vmgmtc_refresh(m);
	run_until(&fk.pulls, pulls + 1, 3000);
	run_until(&fk.on_rt, 3, 200);
	assert_int_equal(fk.on_rt, 2);
	vmgmtc_stats(m, &st);
	assert_int_equal(st.node_id, 7);
	assert_int_equal(st.routing_version, 9);
	assert_true(st.registrations == 2);
	vmgmtc_free(m);
}

static void test_mgmtc__client_polls_without_registering(void **state)
{
	struct vmgmtc_opts o = {
		.mgmtd_url = fk.url,
		.on_routing = fk_on_routing,
		.poll_ms = 20,
	};
	struct vmgmtc *m;

	assert_int_equal(vmgmtc_new(fk.loop, &o, &m), 0);
	assert_int_equal(vmgmtc_wait_routing(m, 5000), 0);
	fk.version = 6;
	run_until(&fk.on_rt, 2, 3000);
	assert_int_equal(fk.on_rt, 2);
	assert_int_equal(fk.registers, 0);
	assert_int_equal(fk.heartbeats, 0);
	assert_int_equal(vmgmtc_node_id(m), 0);
	vmgmtc_free(m);
}

static void test_mgmtc__unreachable_mgmtd_times_out(void **state)
{
	struct vmgmtc_opts o = {.mgmtd_url = "tcp://127.0.0.1:1"};
	struct vmgmtc *m;
	int ret;

	assert_int_equal(vmgmtc_new(fk.loop, &o, &m), 0);
	ret = vmgmtc_wait_routing(m, 700);
	assert_true(ret < 0);
	assert_null(vmgmtc_routing(m));
	vmgmtc_free(m);
}

static void test_mgmtc__bad_options_refused(void **state)
{
	struct vmgmtc_opts o = {.mgmtd_url = "nonsense://x"};
	struct vmgmtc *m = NULL;

	vlog_set_level(VLOG_ERR + 1);
	assert_true(vmgmtc_new(fk.loop, &o, &m) < 0);
	o.mgmtd_url = NULL;
	assert_int_equal(vmgmtc_new(fk.loop, &o, &m), -EINVAL);
	o.mgmtd_url = fk.url;
	o.ntargets = 1; /* without paths */
	assert_int_equal(vmgmtc_new(fk.loop, &o, &m), -EINVAL);
	vlog_set_level(VLOG_INFO);
	vmgmtc_free(NULL);
}

static void test_mgmtc__lookups(void **state)
{
	struct vmgmtc_opts o = {.mgmtd_url = fk.url};
	const struct wire_routing *r;
	const struct wire_routing_chain *c;
	struct vmgmtc *m;

	assert_int_equal(vmgmtc_new(fk.loop, &o, &m), 0);
	assert_int_equal(vmgmtc_wait_routing(m, 5000), 0);
	r = vmgmtc_routing(m);
	assert_non_null(vrouting_node(r, 7));
	assert_null(vrouting_node(r, 8));
	assert_non_null(vrouting_target(r, 101));
	assert_string_equal(vrouting_target_url(r, 102), "tcp://127.0.0.1:9");
	assert_null(vrouting_target_url(r, 5));
	c = vrouting_chain(r, 1);
	assert_non_null(c);
	assert_null(vrouting_chain(r, 3));
	/* offline, syncing, serving: head is the syncing one */
	assert_int_equal(vrouting_chain_head(c), 1);
	assert_int_equal(vrouting_chain_tail(c), 2);
	c = vrouting_chain(r, 2);
	assert_int_equal(vrouting_chain_head(c), 0);
	assert_int_equal(vrouting_chain_tail(c), 1);
	/* chunk i on chain_ids[(first + i % stripe) % n] */
	assert_int_equal(vrouting_chunk_chain(r, 0, 2, 0), 1);
	assert_int_equal(vrouting_chunk_chain(r, 0, 2, 1), 2);
	assert_int_equal(vrouting_chunk_chain(r, 1, 2, 0), 2);
	assert_int_equal(vrouting_chunk_chain(r, 1, 1, 5), 2);
	assert_int_equal(vrouting_chunk_chain(r, 0, 2, 3), 2);
	vmgmtc_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_mgmtc__registers_heartbeats_and_pulls, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_mgmtc__client_polls_without_registering, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_mgmtc__unreachable_mgmtd_times_out, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_mgmtc__bad_options_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_mgmtc__lookups, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
