/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mgmtd/store: the cluster map survives a save/free/load
 * round trip field by field, versions never go back, reloaded nodes get a
 * full timeout, and corrupt records are refused. Each test works in its
 * own directory under /tmp and removes it.
 */
#include <errno.h>
#include <lmdb.h>
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
#include "mgmtd/cluster.h"
#include "mgmtd/store.h"

#define MS(x) ((uint64_t)(x)*1000000ull)
#define TIMEOUT MS(5000)

/* ---- Fixtures ------------------------------------------------------------ */

struct fx {
	char dir[64];
	struct mgmtd_config cfg;
	struct mgmtd_cluster *cl; /* the map as built */
	uint32_t nodes[6];	  /* storage nodes */
	uint64_t now;		  /* time of the last step */
};

static void fx_register(struct fx *f, uint32_t role, const char *url,
			uint32_t k, uint32_t *id)
{
	struct wire_register_req *req = calloc(1, sizeof(*req));
	struct wire_register_resp resp;

	assert_non_null(req);
	req->role = role;
	snprintf(req->url, sizeof(req->url), "%s", url);
	snprintf(req->hostname, sizeof(req->hostname), "h%s", url);
	req->ntargets = k;
	for (uint32_t i = 0; i < k; i++) {
		snprintf(req->targets[i].path, sizeof(req->targets[i].path),
			 "/srv/valor/target%u", i);
		req->targets[i].capacity = (1ull << 40) + i;
		req->targets[i].used = 1000 * i + 7;
	}
	assert_int_equal(mgmtd_register(f->cl, req, f->now, &resp), 0);
	*id = resp.node_id;
	free(req);
}

static void fx_beat(struct fx *f, uint32_t node, enum wire_local_state ls)
{
	struct wire_heartbeat_req *req = calloc(1, sizeof(*req));
	struct wire_heartbeat_resp resp;

	assert_non_null(req);
	req->node_id = node;
	for (uint32_t i = 0; i < mgmtd_target_count(f->cl); i++) {
		const struct mgmtd_target *t = mgmtd_target_at(f->cl, i);
		struct wire_heartbeat_target *ht = &req->targets[req->ntargets];

		if (t->node_id != node)
			continue;
		ht->id = t->id;
		ht->local_state = ls;
		ht->capacity = t->capacity;
		ht->used = t->used + 4096;
		ht->sync_done = t->id * 3;
		ht->sync_total = t->id * 5;
		req->ntargets++;
	}
	assert_int_equal(mgmtd_heartbeat(f->cl, req, f->now, &resp), 0);
	free(req);
}

/*
 * A varied map: 6 storage nodes of 2 targets, a meta server, a client,
 * 12 chains of 3; one storage node failed (members offline at the end),
 * one back and syncing, one target reporting offline on a live node.
 */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct wire_chain_table_create_resp tresp;
	uint32_t meta, client;
	char url[64];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/valor-mgmtd-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	mgmtd_config_defaults(&f->cfg);
	assert_int_equal(mgmtd_cluster_new(&f->cfg, &f->cl), 0);
	for (uint32_t i = 0; i < 6; i++) {
		snprintf(url, sizeof(url), "tcp://10.1.0.%u:7200", i + 1);
		fx_register(f, WIRE_ROLE_STORAGE, url, 2, &f->nodes[i]);
	}
	fx_register(f, WIRE_ROLE_META, "tcp://10.1.0.9:7100", 0, &meta);
	fx_register(f, WIRE_ROLE_CLIENT, "", 0, &client);
	assert_int_equal(mgmtd_chain_table_create(f->cl, 3, 12, &tresp), 0);
	f->now = MS(1000);
	for (uint32_t i = 0; i < 6; i++)
		fx_beat(f, f->nodes[i], WIRE_LOCAL_UPTODATE);
	fx_beat(f, meta, WIRE_LOCAL_UPTODATE);
	fx_beat(f, client, WIRE_LOCAL_UPTODATE);
	/* Node 1 stays silent and fails; node 2 fails and comes back. */
	f->now = MS(4000);
	for (uint32_t i = 2; i < 6; i++)
		fx_beat(f, f->nodes[i], WIRE_LOCAL_UPTODATE);
	fx_beat(f, meta, WIRE_LOCAL_UPTODATE);
	fx_beat(f, client, WIRE_LOCAL_UPTODATE);
	f->now = MS(6001);
	assert_int_equal(mgmtd_tick(f->cl, f->now), 2);
	f->now = MS(6500);
	fx_beat(f, f->nodes[1], WIRE_LOCAL_ONLINE);
	fx_beat(f, f->nodes[5], WIRE_LOCAL_OFFLINE);
	assert_int_equal(mgmtd_cluster_check(f->cl), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char path[128];

	mgmtd_cluster_free(f->cl);
	snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", f->dir);
	unlink(path);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

/* Save @cl into the fixture's store (opened and closed around it). */
static void save(struct fx *f, const struct mgmtd_cluster *cl)
{
	struct mgmtd_store *st;

	assert_int_equal(mgmtd_store_open(f->dir, &st), 0);
	assert_int_equal(mgmtd_store_save(st, cl), 0);
	mgmtd_store_close(st);
}

/* Load into *out at time now; returns load's result. */
static int load(struct fx *f, uint64_t now, struct mgmtd_cluster **out)
{
	struct mgmtd_store *st;
	int err;

	*out = NULL;
	assert_int_equal(mgmtd_store_open(f->dir, &st), 0);
	err = mgmtd_store_load(st, &f->cfg, now, out);
	mgmtd_store_close(st);
	return err;
}

/* ---- Comparing maps ------------------------------------------------------ */

static void expect_same_map(const struct mgmtd_cluster *a,
			    const struct mgmtd_cluster *b)
{
	uint32_t va, vb, na, nb;
	const uint32_t *ta = mgmtd_chain_table(a, &va, &na);
	const uint32_t *tb = mgmtd_chain_table(b, &vb, &nb);

	assert_int_equal(mgmtd_routing_version(a), mgmtd_routing_version(b));
	assert_int_equal(mgmtd_node_count(a), mgmtd_node_count(b));
	for (uint32_t i = 0; i < mgmtd_node_count(a); i++) {
		const struct mgmtd_node *x = mgmtd_node_at(a, i);
		const struct mgmtd_node *y = mgmtd_node_at(b, i);

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->role, y->role);
		assert_string_equal(x->url, y->url);
		assert_string_equal(x->hostname, y->hostname);
		assert_int_equal(x->state == MGMTD_NODE_FAILED,
				 y->state == MGMTD_NODE_FAILED);
	}
	assert_int_equal(mgmtd_target_count(a), mgmtd_target_count(b));
	for (uint32_t i = 0; i < mgmtd_target_count(a); i++) {
		const struct mgmtd_target *x = mgmtd_target_at(a, i);
		const struct mgmtd_target *y = mgmtd_target_at(b, i);

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->node_id, y->node_id);
		assert_string_equal(x->path, y->path);
		assert_int_equal(x->capacity, y->capacity);
		assert_int_equal(x->used, y->used);
		assert_int_equal(x->sync_done, y->sync_done);
		assert_int_equal(x->sync_total, y->sync_total);
		assert_int_equal(x->local, y->local);
	}
	assert_int_equal(mgmtd_chain_count(a), mgmtd_chain_count(b));
	for (uint32_t i = 0; i < mgmtd_chain_count(a); i++) {
		const struct mgmtd_chain *x = mgmtd_chain_at(a, i);
		const struct mgmtd_chain *y = mgmtd_chain_at(b, i);

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->version, y->version);
		assert_int_equal(x->nmembers, y->nmembers);
		for (uint32_t j = 0; j < x->nmembers; j++) {
			assert_int_equal(x->members[j].target_id,
					 y->members[j].target_id);
			assert_int_equal(x->members[j].state,
					 y->members[j].state);
		}
	}
	assert_int_equal(va, vb);
	assert_int_equal(na, nb);
	for (uint32_t i = 0; i < na; i++)
		assert_int_equal(ta[i], tb[i]);
}

static void expect_same_routing(const struct wire_routing *a,
				const struct wire_routing *b)
{
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->unchanged, b->unchanged);
	assert_int_equal(a->nnodes, b->nnodes);
	for (uint32_t i = 0; i < a->nnodes; i++) {
		assert_int_equal(a->nodes[i].id, b->nodes[i].id);
		assert_int_equal(a->nodes[i].role, b->nodes[i].role);
		assert_string_equal(a->nodes[i].url, b->nodes[i].url);
		assert_string_equal(a->nodes[i].hostname, b->nodes[i].hostname);
		assert_int_equal(a->nodes[i].alive, b->nodes[i].alive);
	}
	assert_int_equal(a->ntargets, b->ntargets);
	for (uint32_t i = 0; i < a->ntargets; i++) {
		assert_int_equal(a->targets[i].id, b->targets[i].id);
		assert_int_equal(a->targets[i].node_id, b->targets[i].node_id);
		assert_int_equal(a->targets[i].public_state,
				 b->targets[i].public_state);
		assert_int_equal(a->targets[i].local_state,
				 b->targets[i].local_state);
		assert_int_equal(a->targets[i].used, b->targets[i].used);
	}
	assert_int_equal(a->nchains, b->nchains);
	for (uint32_t i = 0; i < a->nchains; i++) {
		assert_int_equal(a->chains[i].id, b->chains[i].id);
		assert_int_equal(a->chains[i].version, b->chains[i].version);
		assert_int_equal(a->chains[i].ntargets, b->chains[i].ntargets);
		for (uint32_t j = 0; j < a->chains[i].ntargets; j++)
			assert_int_equal(a->chains[i].target_ids[j],
					 b->chains[i].target_ids[j]);
	}
	assert_int_equal(a->table.version, b->table.version);
	assert_int_equal(a->table.nchains, b->table.nchains);
	for (uint32_t i = 0; i < a->table.nchains; i++)
		assert_int_equal(a->table.chain_ids[i], b->table.chain_ids[i]);
}

/* ---- Raw LMDB access, for corrupting records (store closed) -------------- */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
};

static void raw_begin(struct raw *r, const char *dir)
{
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 1), 0);
	assert_int_equal(mdb_env_open(r->env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "mgmtd", 0, &r->dbi), 0);
}

static void raw_end(struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
}

/* Copy record @key into buf (cap bytes); its length. */
static size_t raw_get(struct raw *r, const char *key, uint8_t *buf, size_t cap)
{
	MDB_val k = {strlen(key), (void *)key}, v;

	assert_int_equal(mdb_get(r->txn, r->dbi, &k, &v), 0);
	assert_true(v.mv_size <= cap);
	memcpy(buf, v.mv_data, v.mv_size);
	return v.mv_size;
}

static void raw_put(struct raw *r, const char *key, const uint8_t *buf,
		    size_t len)
{
	MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)buf};

	assert_int_equal(mdb_put(r->txn, r->dbi, &k, &v, 0), 0);
}

static void raw_del(struct raw *r, const char *key)
{
	MDB_val k = {strlen(key), (void *)key};

	assert_int_equal(mdb_del(r->txn, r->dbi, &k, NULL), 0);
}

/* ---- Tests --------------------------------------------------------------- */

static void test_mgmtd_store__round_trip_keeps_everything(void **state)
{
	struct fx *f = *state;
	struct mgmtd_cluster *back;
	struct wire_routing *before = calloc(1, sizeof(*before));
	struct wire_routing *after = calloc(1, sizeof(*after));
	uint64_t t_load = MS(100000);

	assert_non_null(before);
	assert_non_null(after);
	save(f, f->cl);
	assert_int_equal(load(f, t_load, &back), 0);
	expect_same_map(f->cl, back);
	/* Failed nodes stay failed; the others wait for a heartbeat. */
	for (uint32_t i = 0; i < mgmtd_node_count(back); i++) {
		const struct mgmtd_node *n = mgmtd_node_at(back, i);

		assert_int_equal(n->state, n->id == f->nodes[0]
						   ? MGMTD_NODE_FAILED
						   : MGMTD_NODE_PENDING);
		assert_int_equal(n->last_heartbeat_ns, t_load);
	}
	/* The snapshot at the stored version reads the same. */
	mgmtd_routing(f->cl, 0, before);
	mgmtd_routing(back, 0, after);
	expect_same_routing(before, after);
	/* The id counters came back: both hand out the same next ids. */
	{
		struct wire_register_req *req = calloc(1, sizeof(*req));
		struct wire_register_resp r1, r2;

		assert_non_null(req);
		req->role = WIRE_ROLE_STORAGE;
		snprintf(req->url, sizeof(req->url), "tcp://10.1.0.77:7200");
		req->ntargets = 1;
		snprintf(req->targets[0].path, sizeof(req->targets[0].path),
			 "/t");
		assert_int_equal(mgmtd_register(f->cl, req, f->now, &r1), 0);
		assert_int_equal(mgmtd_register(back, req, t_load, &r2), 0);
		assert_int_equal(r1.node_id, r2.node_id);
		assert_int_equal(r1.target_ids[0], r2.target_ids[0]);
		free(req);
	}
	mgmtd_cluster_free(back);
	free(before);
	free(after);
}

static void test_mgmtd_store__empty_store_gives_empty_map(void **state)
{
	struct fx *f = *state;
	struct mgmtd_cluster *back;
	uint32_t v, n;

	assert_int_equal(load(f, 0, &back), 0);
	assert_int_equal(mgmtd_node_count(back), 0);
	assert_int_equal(mgmtd_chain_count(back), 0);
	assert_int_equal(mgmtd_routing_version(back), 1);
	mgmtd_chain_table(back, &v, &n);
	assert_int_equal(v, 0);
	/* An empty map saves and loads too. */
	save(f, back);
	mgmtd_cluster_free(back);
	assert_int_equal(load(f, 0, &back), 0);
	assert_int_equal(mgmtd_node_count(back), 0);
	assert_int_equal(mgmtd_cluster_check(back), 0);
	mgmtd_cluster_free(back);
}

static void test_mgmtd_store__versions_never_go_back(void **state)
{
	struct fx *f = *state;
	struct mgmtd_cluster *back, *fresh, *again;
	struct mgmtd_store *st;
	uint64_t v = mgmtd_routing_version(f->cl), t_load = MS(50000);
	uint32_t cv[13];

	for (uint32_t c = 1; c <= 12; c++)
		cv[c] = mgmtd_chain_find(f->cl, c)->version;
	save(f, f->cl);
	assert_int_equal(load(f, t_load, &back), 0);
	assert_int_equal(mgmtd_routing_version(back), v);
	/* Nobody comes back: every pending node fails, versions go up. */
	assert_true(mgmtd_tick(back, t_load + TIMEOUT + 1) > 0);
	assert_true(mgmtd_routing_version(back) > v);
	for (uint32_t c = 1; c <= 12; c++)
		assert_true(mgmtd_chain_find(back, c)->version >= cv[c]);
	save(f, back);
	assert_int_equal(load(f, 0, &again), 0);
	expect_same_map(back, again);

	/* An older map never replaces a newer one. */
	assert_int_equal(mgmtd_store_open(f->dir, &st), 0);
	assert_int_equal(mgmtd_store_save(st, f->cl), -ESTALE);
	assert_int_equal(mgmtd_cluster_new(&f->cfg, &fresh), 0);
	assert_int_equal(mgmtd_store_save(st, fresh), -ESTALE);
	mgmtd_store_close(st);
	mgmtd_cluster_free(again);
	assert_int_equal(load(f, 0, &again), 0);
	expect_same_map(back, again);
	mgmtd_cluster_free(fresh);
	mgmtd_cluster_free(again);
	mgmtd_cluster_free(back);
}

static void test_mgmtd_store__reloaded_nodes_get_a_full_timeout(void **state)
{
	struct fx *f = *state;
	struct mgmtd_cluster *back;
	struct wire_heartbeat_req hb = {0};
	struct wire_heartbeat_resp resp;
	uint64_t t_load = MS(900000), v;
	uint32_t alive_before = 0;

	save(f, f->cl);
	assert_int_equal(load(f, t_load, &back), 0);
	for (uint32_t i = 0; i < mgmtd_node_count(back); i++)
		alive_before +=
			mgmtd_node_at(back, i)->state != MGMTD_NODE_FAILED;
	v = mgmtd_routing_version(back);
	/* Silent until exactly the timeout after the load: not failed. */
	assert_int_equal(mgmtd_tick(back, t_load + TIMEOUT), 0);
	assert_int_equal(mgmtd_routing_version(back), v);
	/* Node 3 speaks up: alive, with no visible change. */
	hb.node_id = f->nodes[2];
	assert_int_equal(mgmtd_heartbeat(back, &hb, t_load + MS(1000), &resp),
			 0);
	assert_int_equal(mgmtd_node_find(back, f->nodes[2])->state,
			 MGMTD_NODE_ALIVE);
	assert_int_equal(resp.routing_version, v);
	/* The others fail one nanosecond later. */
	assert_int_equal(mgmtd_tick(back, t_load + TIMEOUT + 1),
			 (int)alive_before - 1);
	assert_int_equal(mgmtd_node_find(back, f->nodes[2])->state,
			 MGMTD_NODE_ALIVE);
	assert_int_equal(mgmtd_routing_version(back), v + 1);
	assert_int_equal(mgmtd_cluster_check(back), 0);
	mgmtd_cluster_free(back);
}

/* Replace @key's record by the mutation of @mutate and expect -EBADMSG. */
enum corruption {
	TRUNCATE,    /* one byte short */
	TRAILING,    /* one byte too many */
	FORMAT,	     /* unknown format byte */
	BYTE_AT,     /* set byte @at to @val */
	LAST_BYTE,   /* set the last byte to @val */
	DELETE,	     /* record gone */
	COPY_TO_KEY, /* a copy under another key (@other) */
};

static void expect_corrupt(struct fx *f, const char *key, enum corruption how,
			   size_t at, uint8_t val, const char *other)
{
	struct mgmtd_cluster *back;
	struct raw r;
	uint8_t buf[4096 + 64];
	size_t len;

	save(f, f->cl); /* a good map first (replaces every record) */
	raw_begin(&r, f->dir);
	len = raw_get(&r, key, buf, sizeof(buf));
	switch (how) {
	case TRUNCATE:
		raw_put(&r, key, buf, len - 1);
		break;
	case TRAILING:
		buf[len] = 0;
		raw_put(&r, key, buf, len + 1);
		break;
	case FORMAT:
		buf[0] = 2;
		raw_put(&r, key, buf, len);
		break;
	case BYTE_AT:
		assert_true(at < len);
		buf[at] = val;
		raw_put(&r, key, buf, len);
		break;
	case LAST_BYTE:
		buf[len - 1] = val;
		raw_put(&r, key, buf, len);
		break;
	case DELETE:
		raw_del(&r, key);
		break;
	case COPY_TO_KEY:
		raw_put(&r, other, buf, len);
		break;
	}
	raw_end(&r);
	if (load(f, 0, &back) != -EBADMSG)
		fail_msg("corrupting %s (%d at %zu) was not refused", key, how,
			 at);
	assert_null(back);
}

/* Write a u32 little-endian into the record of @key at @at. */
static void expect_corrupt_u32(struct fx *f, const char *key, size_t at,
			       uint32_t v)
{
	struct mgmtd_cluster *back;
	struct raw r;
	uint8_t buf[256];
	size_t len;

	save(f, f->cl);
	raw_begin(&r, f->dir);
	len = raw_get(&r, key, buf, sizeof(buf));
	assert_true(at + 4 <= len);
	for (int i = 0; i < 4; i++)
		buf[at + i] = (uint8_t)(v >> (8 * i));
	raw_put(&r, key, buf, len);
	raw_end(&r);
	if (load(f, 0, &back) != -EBADMSG)
		fail_msg("u32 %u at %zu of %s was not refused", v, at, key);
}

static void test_mgmtd_store__corrupt_records_refused(void **state)
{
	struct fx *f = *state;
	const struct mgmtd_chain *ch = mgmtd_chain_find(f->cl, 1);
	const struct mgmtd_target *t0, *t;
	struct mgmtd_cluster *back;
	uint32_t same_node = 0;

	/* Records that do not decode. */
	expect_corrupt(f, "node/0000000001", TRUNCATE, 0, 0, NULL);
	expect_corrupt(f, "node/0000000001", TRAILING, 0, 0, NULL);
	expect_corrupt(f, "node/0000000001", FORMAT, 0, 0, NULL);
	expect_corrupt(f, "node/0000000001", BYTE_AT, 5, 9, NULL); /* role */
	expect_corrupt(f, "node/0000000001", BYTE_AT, 8, 0, NULL); /* NUL */
	expect_corrupt(f, "node/0000000001", LAST_BYTE, 0, 2, NULL);
	expect_corrupt(f, "target/0000000003", LAST_BYTE, 0, 7, NULL);
	expect_corrupt(f, "target/0000000003", TRUNCATE, 0, 0, NULL);
	expect_corrupt(f, "chain/0000000001", LAST_BYTE, 0, 9, NULL);
	expect_corrupt(f, "chain/0000000001", BYTE_AT, 9, 0, NULL); /* n 0 */
	expect_corrupt(f, "chain/0000000001", BYTE_AT, 9, 9, NULL); /* n 9 */
	expect_corrupt(f, "meta", TRUNCATE, 0, 0, NULL);
	expect_corrupt(f, "table", TRAILING, 0, 0, NULL);
	/* Keys: not ours, badly formed, id not matching the record. */
	expect_corrupt(f, "meta", COPY_TO_KEY, 0, 0, "bogus");
	expect_corrupt(f, "node/0000000001", COPY_TO_KEY, 0, 0, "node/12");
	expect_corrupt(f, "node/0000000001", COPY_TO_KEY, 0, 0,
		       "node/0000000099");
	expect_corrupt_u32(f, "chain/0000000002", 1, 3);
	/* Records missing. */
	expect_corrupt(f, "target/0000000004", DELETE, 0, 0, NULL);
	expect_corrupt(f, "meta", DELETE, 0, 0, NULL);
	expect_corrupt(f, "table", DELETE, 0, 0, NULL);
	/* Decodes, but breaks an invariant of the map. */
	t0 = mgmtd_target_find(f->cl, ch->members[0].target_id);
	for (uint32_t i = 0; i < mgmtd_target_count(f->cl); i++) {
		t = mgmtd_target_at(f->cl, i);
		if (t->node_id == t0->node_id && t->id != t0->id)
			same_node = t->id;
	}
	assert_int_not_equal(same_node, 0);
	/* chain: fmt 1, id 4, version 4, n 1, then (target u32, state u8). */
	expect_corrupt_u32(f, "chain/0000000001", 10 + 5, same_node);
	expect_corrupt_u32(f, "chain/0000000001", 10 + 5, 999);
	expect_corrupt(f, "chain/0000000001", BYTE_AT, 14, WIRE_PUBLIC_OFFLINE,
		       NULL); /* head offline before serving members */
	expect_corrupt_u32(f, "target/0000000001", 5, 99); /* its node */
	expect_corrupt_u32(f, "table", 9, 77);		   /* unknown chain */
	expect_corrupt_u32(f, "meta", 1, 2); /* next node id below ids */

	/* And the good map still loads after all that. */
	save(f, f->cl);
	assert_int_equal(load(f, 0, &back), 0);
	expect_same_map(f->cl, back);
	mgmtd_cluster_free(back);
}

static void test_mgmtd_store__open_errors(void **state)
{
	struct fx *f = *state;
	struct mgmtd_store *st = NULL;
	char path[128];
	FILE *fp;

	assert_int_equal(mgmtd_store_open("/nonexistent-dir/x/y", &st),
			 -ENOENT);
	snprintf(path, sizeof(path), "%s/file", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(mgmtd_store_open(path, &st), -ENOTDIR);
	assert_null(st);
	unlink(path);
	mgmtd_store_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_mgmtd_store__round_trip_keeps_everything, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_mgmtd_store__empty_store_gives_empty_map, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_mgmtd_store__versions_never_go_back, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_mgmtd_store__reloaded_nodes_get_a_full_timeout,
			fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(
			test_mgmtd_store__corrupt_records_refused, fx_setup,
			fx_teardown),
		cmocka_unit_test_setup_teardown(test_mgmtd_store__open_errors,
						fx_setup, fx_teardown),
	};

	/* Corruption tests log an error each; keep those, drop the info. */
	vlog_set_level(VLOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
