/* SPDX-License-Identifier: MIT */
/*
 * test_cluster.c - the parts of the cluster backend that need no server:
 * routing snapshots (heads, tails, serving members, alive metad, stripe
 * placement), the inode-state table, and SEEK_DATA/SEEK_HOLE over chunk
 * records. The backend against real servers is tests/integration/cluster.sh.
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

#include "daemon/cluster_i.h"

#define CS 1048576u /* chunk size of the seek tests */

static struct wire_routing *rt_sample(void)
{
	struct wire_routing *r = calloc(1, sizeof(*r));

	r->version = 42;
	r->nnodes = 4;
	for (uint32_t i = 0; i < 3; i++) {
		r->nodes[i].id = 10 - i; /* out of order: the copy sorts */
		r->nodes[i].role = WIRE_ROLE_STORAGE;
		r->nodes[i].alive = true;
		snprintf(r->nodes[i].url, sizeof(r->nodes[i].url),
			 "tcp://127.0.0.1:%u", 7200 + i);
	}
	r->nodes[3].id = 3;
	r->nodes[3].role = WIRE_ROLE_META;
	r->nodes[3].alive = true;
	snprintf(r->nodes[3].url, sizeof(r->nodes[3].url),
		 "tcp://127.0.0.1:7100");
	r->ntargets = 3;
	for (uint32_t i = 0; i < 3; i++) {
		r->targets[i].id = 100 + i;
		r->targets[i].node_id = 10 - i;
	}
	r->nchains = 2;
	/* chain 7: offline head moved to the end; syncing, serving, offline */
	r->chains[0].id = 7;
	r->chains[0].version = 5;
	r->chains[0].ntargets = 3;
	r->chains[0].target_ids[0] = 101;
	r->chains[0].target_ids[1] = 102;
	r->chains[0].target_ids[2] = 100;
	r->chains[0].states[0] = WIRE_PUBLIC_SERVING;
	r->chains[0].states[1] = WIRE_PUBLIC_SYNCING;
	r->chains[0].states[2] = WIRE_PUBLIC_OFFLINE;
	/* chain 2: all serving */
	r->chains[1].id = 2;
	r->chains[1].version = 1;
	r->chains[1].ntargets = 3;
	for (uint32_t i = 0; i < 3; i++)
		r->chains[1].target_ids[i] = 100 + i;
	r->table.version = 1;
	r->table.nchains = 2;
	r->table.chain_ids[0] = 2;
	r->table.chain_ids[1] = 7;
	return r;
}

static void test_cluster__route_snapshot_indexes_chains_and_nodes(void **state)
{
	struct wire_routing *r = rt_sample();
	struct vcl_route *rt = vcl_route_build(r);
	const struct vcl_chain *c;
	const struct vcl_node *n;

	assert_non_null(rt);
	assert_int_equal(rt->version, 42);
	assert_int_equal(rt->ntable, 2);
	assert_int_equal(rt->replicas, 3);
	/* The one alive metad. */
	assert_int_equal(rt->nmeta, 1);
	assert_string_equal(rt->nodes[rt->meta[0]].url,
			    "tcp://127.0.0.1:7100");
	n = vcl_route_node(rt, 9);
	assert_non_null(n);
	assert_string_equal(n->url, "tcp://127.0.0.1:7201");
	assert_null(vcl_route_node(rt, 11));

	c = vcl_route_chain(rt, 7);
	assert_non_null(c);
	assert_int_equal(c->version, 5);
	assert_int_equal(c->head, 0);	 /* serving */
	assert_int_equal(c->tail, 1);	 /* syncing takes writes */
	assert_int_equal(c->nserving, 1); /* only member 0 serves reads */
	assert_int_equal(c->serving[0], 0);
	assert_int_equal(c->node[0], 9); /* target 101 is on node 9 */
	assert_int_equal(c->node[2], 10);
	c = vcl_route_chain(rt, 2);
	assert_int_equal(c->nserving, 3);
	assert_int_equal(c->tail, 2);
	assert_null(vcl_route_chain(rt, 3));

	/* chunk i: table[(first + i % stripe) % n] */
	assert_int_equal(vcl_route_stripe_chain(rt, 0, 0), 2);
	assert_int_equal(vcl_route_stripe_chain(rt, 0, 1), 7);
	assert_int_equal(vcl_route_stripe_chain(rt, 1, 0), 7);
	assert_int_equal(vcl_route_stripe_chain(rt, 1, 1), 2);
	vcl_route_put(rt);
	vcl_route_put(NULL);
	free(r);
}

static void test_cluster__route_without_table_or_metad(void **state)
{
	struct wire_routing *r = calloc(1, sizeof(*r));
	struct vcl_route *rt;

	r->version = 3;
	r->nnodes = 1;
	r->nodes[0].id = 1;
	r->nodes[0].role = WIRE_ROLE_META;
	r->nodes[0].alive = false; /* failed: not offered to clients */
	snprintf(r->nodes[0].url, sizeof(r->nodes[0].url), "tcp://x:1");
	rt = vcl_route_build(r);
	assert_non_null(rt);
	assert_int_equal(rt->nmeta, 0);
	assert_int_equal(rt->ntable, 0);
	assert_int_equal(vcl_route_stripe_chain(rt, 0, 0), 0);
	vcl_route_put(rt);
	free(r);
}

static void test_cluster__inode_states_live_until_forget_and_close(
	void **state)
{
	struct vcl *cl = calloc(1, sizeof(*cl));
	struct vcl_inode *a, *b;

	for (unsigned i = 0; i < VCL_ISTRIPES; i++)
		pthread_mutex_init(&cl->istripes[i].lock, NULL);
	assert_null(vcl_inode_find(cl, 5));
	a = vcl_inode_get(cl, 5); /* the table's reference + ours */
	assert_non_null(a);
	a->wr_end = 123;
	b = vcl_inode_find(cl, 5);
	assert_ptr_equal(a, b);
	vcl_inode_put(cl, b);
	/* Forget drops the table's reference; the open file keeps it. */
	vcl_inode_forget(cl, 5);
	b = vcl_inode_find(cl, 5);
	assert_ptr_equal(a, b);
	assert_int_equal(b->wr_end, 123);
	vcl_inode_put(cl, b);
	vcl_inode_forget(cl, 5); /* twice: no-op */
	vcl_inode_put(cl, a);	 /* the last close: gone */
	assert_null(vcl_inode_find(cl, 5));
	/* Many inodes in one table. */
	for (uint64_t i = 1; i <= 1000; i++)
		vcl_inode_put(cl, vcl_inode_get(cl, i));
	for (uint64_t i = 1; i <= 1000; i += 7) {
		a = vcl_inode_find(cl, i);
		assert_non_null(a);
		assert_int_equal(a->ino, i);
		vcl_inode_put(cl, a);
	}
	vcl_inodes_release(cl);
	free(cl);
}

static uint64_t seek(uint32_t whence, uint64_t off, uint64_t size,
		     const struct vcl_chunk_rec *r, size_t n, uint64_t complete,
		     int *done, uint64_t *again)
{
	uint64_t out = 0;

	*done = vcl_seek_find(whence, off, size, CS, r, n, complete, &out,
			      again);
	return out;
}

static void test_cluster__seek_data_and_hole_from_chunk_records(void **state)
{
	/* 64 KiB at 0, then nothing until 64 KiB at 16 MiB (the posix test's
	 * file), size 16 MiB + 64 KiB. */
	const struct vcl_chunk_rec r[] = {{0, 65536}, {16, 65536}};
	const uint64_t size = 16 * (uint64_t)CS + 65536;
	uint64_t again = 0, v;
	int done;

	v = seek(SEEK_DATA, 0, size, r, 2, UINT64_MAX, &done, &again);
	assert_true(done);
	assert_int_equal(v, 0);
	v = seek(SEEK_HOLE, 0, size, r, 2, UINT64_MAX, &done, &again);
	assert_int_equal(v, 65536); /* chunk 0 is short */
	v = seek(SEEK_DATA, 65536, size, r, 2, UINT64_MAX, &done, &again);
	assert_int_equal(v, 16 * (uint64_t)CS);
	v = seek(SEEK_DATA, CS, size, r + 1, 1, UINT64_MAX, &done, &again);
	assert_int_equal(v, 16 * (uint64_t)CS);
	v = seek(SEEK_HOLE, 16 * (uint64_t)CS, size, r + 1, 1, UINT64_MAX,
		 &done, &again);
	assert_int_equal(v, size); /* the end is a hole */
	v = seek(SEEK_DATA, 16 * (uint64_t)CS + 65536 - 1, size, r + 1, 1,
		 UINT64_MAX, &done, &again);
	assert_int_equal(v, 16 * (uint64_t)CS + 65535);
	/* A missing chunk in the middle is a hole where it starts. */
	v = seek(SEEK_HOLE, 100, size, r, 2, UINT64_MAX, &done, &again);
	assert_int_equal(v, 65536);
}

static void test_cluster__seek_full_chunks_and_trailing_hole(void **state)
{
	const struct vcl_chunk_rec r[] = {{0, CS}, {1, CS}, {2, 4096}};
	uint64_t again = 0, v;
	int done;

	/* Full chunks: the hole starts where chunk 2's data ends. */
	v = seek(SEEK_HOLE, 10, 5 * (uint64_t)CS, r, 3, UINT64_MAX, &done,
		 &again);
	assert_int_equal(v, 2 * (uint64_t)CS + 4096);
	/* Inside the short chunk's tail: the hole is right there. */
	v = seek(SEEK_HOLE, 2 * (uint64_t)CS + 8192, 5 * (uint64_t)CS, r + 2,
		 1, UINT64_MAX, &done, &again);
	assert_int_equal(v, 2 * (uint64_t)CS + 8192);
	/* Past the last data (a file grown by truncate): no data, ENXIO. */
	v = seek(SEEK_DATA, 3 * (uint64_t)CS, 5 * (uint64_t)CS, NULL, 0,
		 UINT64_MAX, &done, &again);
	assert_true(done);
	assert_int_equal(v, UINT64_MAX);
	/* Empty chunk records are holes too. */
	{
		const struct vcl_chunk_rec e[] = {{0, 0}, {1, CS}};

		v = seek(SEEK_DATA, 0, 2 * (uint64_t)CS, e, 2, UINT64_MAX,
			 &done, &again);
		assert_int_equal(v, CS);
		v = seek(SEEK_HOLE, 0, 2 * (uint64_t)CS, e, 2, UINT64_MAX,
			 &done, &again);
		assert_int_equal(v, 0);
	}
}

static void test_cluster__seek_asks_again_past_a_partial_map(void **state)
{
	/* Records complete only up to chunk 1 (a full page elsewhere). */
	const struct vcl_chunk_rec r[] = {{0, CS}, {1, CS}};
	uint64_t again = 0, v;
	int done;

	v = seek(SEEK_HOLE, 0, 10 * (uint64_t)CS, r, 2, 1, &done, &again);
	assert_false(done);
	assert_int_equal(again, 2);
	v = seek(SEEK_DATA, 2 * (uint64_t)CS, 10 * (uint64_t)CS, NULL, 0, 1,
		 &done, &again);
	assert_false(done);
	assert_int_equal(again, 2);
	(void)v;
	/* ... unless the part not listed is past the end. */
	v = seek(SEEK_DATA, CS + 1, 2 * (uint64_t)CS, NULL, 0, 1, &done,
		 &again);
	assert_true(done);
	assert_int_equal(v, UINT64_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_cluster__route_snapshot_indexes_chains_and_nodes),
		cmocka_unit_test(test_cluster__route_without_table_or_metad),
		cmocka_unit_test(
			test_cluster__inode_states_live_until_forget_and_close),
		cmocka_unit_test(
			test_cluster__seek_data_and_hole_from_chunk_records),
		cmocka_unit_test(
			test_cluster__seek_full_chunks_and_trailing_hole),
		cmocka_unit_test(
			test_cluster__seek_asks_again_past_a_partial_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
