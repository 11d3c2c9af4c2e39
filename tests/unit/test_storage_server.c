/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of storage/server (valor-storaged's request handling) with a
 * fake transport: three struct vstor in one process, one per mkdtemp
 * target, whose calls to each other (forwards, resync, repair reads) and
 * whose answers travel through an in-memory queue the test pumps. Routing
 * is built by hand. A node can be marked down (calls to it fail at once,
 * as the RPC network does for a peer down for a while).
 *
 * Covered: replication and reads from every member, stale chain versions
 * and writes at a non-head, idempotent retries, a dead successor (-EAGAIN,
 * then the shorter chain), the resync of a returning target to identical
 * replicas with progress and UPTODATE, repair of a corrupted block from
 * another replica, CUT and REMOVE on every member, malformed bodies.
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
#include <unistd.h>

#include <cmocka.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "proto/wire_storage.h"
#include "storage/server.h"

#define NN 3
#define CHAIN 1

/* ---- The fake network ---------------------------------------------------- */

struct fnode {
	struct vstor *s;
	char url[64];
	char dir[64];
	int down;
	int heartbeats;
};

/* A request on its way, then its answer on the way back. */
struct fmsg {
	struct fmsg *next;
	int answer; /* 0: request to deliver, 1: answer to complete */
	struct fnode *to;
	struct vrpc_req req;
	uint8_t *body, *data;
	struct vstor_call *call;
	void *reply_buf;
	size_t reply_cap;
	int status;
	uint8_t *rbody, *rdata;
	uint32_t rbody_len, rdata_len;
};

static struct fnode nodes[NN];
static struct vloop *loop;
static struct fmsg *q_head, *q_tail;
static struct wire_routing *rt;

static void q_push(struct fmsg *m)
{
	m->next = NULL;
	if (q_tail)
		q_tail->next = m;
	else
		q_head = m;
	q_tail = m;
}

static struct fmsg *q_pop(void)
{
	struct fmsg *m = q_head;

	if (m) {
		q_head = m->next;
		if (!q_head)
			q_tail = NULL;
	}
	return m;
}

static void *dup_mem(const void *p, size_t n)
{
	void *d = malloc(n ? n : 1);

	assert_non_null(d);
	if (n)
		memcpy(d, p, n);
	return d;
}

static int fake_call(void *arg, const char *url, uint16_t opcode,
		     const void *body, uint32_t body_len,
		     const struct iovec *data, int data_n, void *reply_buf,
		     size_t reply_cap, int timeout_ms, struct vstor_call *c)
{
	struct fnode *to = NULL;
	struct fmsg *m;
	size_t dlen = 0, off = 0;

	for (int i = 0; i < NN; i++)
		if (!strcmp(nodes[i].url, url))
			to = &nodes[i];
	if (!to || to->down)
		return -ENOTCONN;
	m = calloc(1, sizeof(*m));
	assert_non_null(m);
	for (int i = 0; i < data_n; i++)
		dlen += data[i].iov_len;
	m->data = malloc(dlen ? dlen : 1);
	assert_non_null(m->data);
	for (int i = 0; i < data_n; i++) {
		memcpy(m->data + off, data[i].iov_base, data[i].iov_len);
		off += data[i].iov_len;
	}
	m->body = dup_mem(body, body_len);
	m->to = to;
	m->req.opcode = opcode;
	m->req.body = m->body;
	m->req.body_len = body_len;
	m->req.data = m->data;
	m->req.data_len = (uint32_t)dlen;
	m->call = c;
	m->reply_buf = reply_buf;
	m->reply_cap = reply_cap;
	q_push(m);
	return 0;
}

static int fake_reply(void *arg, struct vrpc_req *req, int status,
		      const void *body, uint32_t body_len,
		      const struct iovec *data, int data_n)
{
	struct fmsg *m = (struct fmsg *)((char *)req - offsetof(struct fmsg,
								req));
	size_t dlen = 0, off = 0;

	for (int i = 0; i < data_n; i++)
		dlen += data[i].iov_len;
	m->answer = 1;
	m->status = status;
	m->rbody = dup_mem(body, body_len);
	m->rbody_len = body_len;
	m->rdata = malloc(dlen ? dlen : 1);
	for (int i = 0; i < data_n; i++) {
		memcpy(m->rdata + off, data[i].iov_base, data[i].iov_len);
		off += data[i].iov_len;
	}
	m->rdata_len = (uint32_t)dlen;
	if (req->on_sent)
		req->on_sent(req->sent_arg, 0);
	q_push(m);
	return 0;
}

static void fake_heartbeat(void *arg)
{
	((struct fnode *)arg)->heartbeats++;
}

static void deliver(struct fmsg *m)
{
	struct vrpc_result res = {0};

	if (!m->answer) {
		if (m->to->down) { /* died with the request on the wire */
			m->answer = 1;
			m->status = -ECONNRESET;
			m->rbody = malloc(1);
			m->rdata = malloc(1);
			res.local = 1;
			res.status = -ECONNRESET;
			m->call->done(m->call, &res);
			goto out_free;
		}
		vstor_handle(m->to->s, &m->req);
		return;
	}
	res.status = m->status;
	res.body = m->rbody;
	res.body_len = m->rbody_len;
	res.data = m->rdata;
	res.data_len = m->rdata_len;
	if (m->reply_buf) {
		if (m->rdata_len > m->reply_cap) {
			res.status = -EOVERFLOW;
			res.local = 1;
			res.data_len = 0;
		} else {
			memcpy(m->reply_buf, m->rdata, m->rdata_len);
			res.data = m->reply_buf;
		}
	}
	m->call->done(m->call, &res);
out_free:
	free(m->body);
	free(m->data);
	free(m->rbody);
	free(m->rdata);
	free(m);
}

/* Deliver everything queued, timers included, until quiet. */
static void pump(void)
{
	for (int idle = 0; idle < 3;) {
		struct fmsg *m = q_pop();

		if (m) {
			deliver(m);
			idle = 0;
			continue;
		}
		if (vloop_run_once(loop, 0) <= 0)
			idle++;
	}
}

/* ---- A client ------------------------------------------------------------- */

struct tcall {
	struct vstor_call c;
	int done, status;
	uint8_t body[WIRE_STORAGE_DUMP_RESP_MAX_LEN];
	uint32_t body_len;
	uint8_t *data;
	uint32_t data_len;
};

static void tcall_done(struct vstor_call *c, const struct vrpc_result *r)
{
	struct tcall *t = (struct tcall *)c;

	t->done = 1;
	t->status = r->status;
	t->body_len = r->body_len;
	if (r->body_len)
		memcpy(t->body, r->body, r->body_len);
	free(t->data);
	t->data = dup_mem(r->data, r->data_len);
	t->data_len = r->data_len;
}

static struct tcall *tc;

/* One request from the test to node @i: its answer's status. */
static int request(int i, uint16_t op, const void *body, size_t len,
		   const void *data, uint32_t dlen)
{
	struct iovec iov = {(void *)data, dlen};

	tc->done = 0;
	tc->c.done = tcall_done;
	assert_int_equal(fake_call(NULL, nodes[i].url, op, body,
				   (uint32_t)len, dlen ? &iov : NULL,
				   dlen ? 1 : 0, NULL, 0, 0, &tc->c),
			 0);
	pump();
	assert_int_equal(tc->done, 1);
	return tc->status;
}

static uint32_t chain_ver(void)
{
	return rt->chains[0].version;
}

static int do_write(int i, uint64_t ino, uint32_t idx, uint32_t off,
		    const void *d, uint32_t len, uint64_t req, uint32_t ver)
{
	struct wire_storage_write_req q = {
		.w = {.chunk = {ino, idx},
		      .chain_id = CHAIN,
		      .chain_version = ver,
		      .offset = off,
		      .length = len,
		      .crc32c = vcrc32c(0, d, len)},
		.client_id = 77,
		.request_id = req,
	};
	uint8_t body[WIRE_STORAGE_WRITE_REQ_LEN];
	size_t n = 0;

	assert_int_equal(wire_storage_write_req_encode(&q, body, sizeof(body),
						       &n),
			 0);
	return request(i, WIRE_STORAGE_WRITE, body, n, d, len);
}

/* Read chunk (ino, idx) at node @i: bytes (in tc->data) or -errno. */
static int do_read(int i, uint64_t ino, uint32_t idx, uint32_t off,
		   uint32_t len)
{
	struct wire_read_req q = {{ino, idx}, CHAIN, chain_ver(), off, len};
	struct wire_read_resp resp;
	uint8_t body[WIRE_READ_REQ_LEN];
	size_t n = 0;
	int ret;

	wire_read_req_encode(&q, body, sizeof(body), &n);
	ret = request(i, WIRE_STORAGE_READ, body, n, NULL, 0);
	if (ret)
		return ret;
	assert_int_equal(wire_read_resp_decode(tc->body, tc->body_len, &resp),
			 0);
	assert_int_equal(resp.length, tc->data_len);
	assert_int_equal(resp.crc32c, vcrc32c(0, tc->data, tc->data_len));
	return (int)resp.length;
}

/* The chunk records of node @i (DUMP_META, one page). */
static void do_dump(int i, struct wire_storage_dump_resp *out)
{
	struct wire_storage_dump_req q = {.chain_id = CHAIN,
					  .max_records = WIRE_DUMP_META_MAX};
	uint8_t body[WIRE_STORAGE_DUMP_REQ_LEN];
	size_t n = 0;

	wire_storage_dump_req_encode(&q, body, sizeof(body), &n);
	assert_int_equal(request(i, WIRE_STORAGE_DUMP_META, body, n, NULL, 0),
			 0);
	assert_int_equal(wire_storage_dump_resp_decode(tc->body, tc->body_len,
						       out),
			 0);
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed * 17 + (i >> 9)) ^ seed);
}

/* ---- Routing -------------------------------------------------------------- */

/* Install a routing whose chain lists targets @order with @states. */
static void routing_push(const uint32_t *order, const uint8_t *states)
{
	rt->version++;
	rt->nchains = 1;
	rt->chains[0].id = CHAIN;
	rt->chains[0].version++;
	rt->chains[0].ntargets = NN;
	for (int k = 0; k < NN; k++) {
		rt->chains[0].target_ids[k] = order[k];
		rt->chains[0].states[k] = states[k];
	}
	rt->table.version = 1;
	rt->table.nchains = 1;
	rt->table.chain_ids[0] = CHAIN;
	for (int i = 0; i < NN; i++)
		vstor_set_routing(nodes[i].s, rt);
	pump();
}

static const uint32_t order123[NN] = {1, 2, 3};
static const uint8_t all_serving[NN] = {0, 0, 0};

/* ---- Fixture -------------------------------------------------------------- */

static int rm_cb(const char *p, const struct stat *sb, int type,
		 struct FTW *ftw)
{
	return remove(p);
}

static int fx_setup(void **state)
{
	struct vstor_net net = {
		.call = fake_call,
		.reply = fake_reply,
		.heartbeat = fake_heartbeat,
	};

	if (vloop_new(&loop, VLOOP_POLL, 0, 0))
		return -1;
	rt = calloc(1, sizeof(*rt));
	tc = calloc(1, sizeof(*tc));
	if (!rt || !tc)
		return -1;
	rt->nnodes = rt->ntargets = NN;
	for (int i = 0; i < NN; i++) {
		struct fnode *n = &nodes[i];
		struct vstor_opts o = {.ntargets = 1};
		const char *paths[1];
		uint32_t id = (uint32_t)i + 1;

		memset(n, 0, sizeof(*n));
		snprintf(n->url, sizeof(n->url), "tcp://127.0.0.1:%d", 100 + i);
		snprintf(n->dir, sizeof(n->dir), "/tmp/test_stor.XXXXXX");
		if (!mkdtemp(n->dir))
			return -1;
		paths[0] = n->dir;
		o.target_paths = paths;
		net.arg = n;
		if (vstor_new(loop, &o, &net, &n->s))
			return -1;
		vstor_set_ids(n->s, id, &id);
		rt->nodes[i].id = id;
		rt->nodes[i].role = WIRE_ROLE_STORAGE;
		snprintf(rt->nodes[i].url, sizeof(rt->nodes[i].url), "%s",
			 n->url);
		rt->targets[i].id = id;
		rt->targets[i].node_id = id;
	}
	/* First a routing with no chain (a fresh node is fenced until it
	 * sees itself serving nowhere), then the chain of three. */
	rt->version = 1;
	for (int i = 0; i < NN; i++)
		vstor_set_routing(nodes[i].s, rt);
	routing_push(order123, all_serving);
	return 0;
}

static int fx_teardown(void **state)
{
	pump();
	for (int i = 0; i < NN; i++) {
		vstor_free(nodes[i].s);
		nftw(nodes[i].dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	vloop_free(loop);
	free(tc->data);
	free(tc);
	free(rt);
	return 0;
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_storage_server__write_replicates(void **state)
{
	uint8_t d[20000], want[30000] = {0};
	struct wire_write_resp resp;
	struct vstor_counters c;

	fill(d, sizeof(d), 1);
	assert_int_equal(do_write(0, 5, 0, 10000, d, 20000, 1, chain_ver()), 0);
	assert_int_equal(wire_write_resp_decode(tc->body, tc->body_len, &resp),
			 0);
	assert_int_equal(resp.update_version, 1);
	assert_int_equal(resp.chunk_length, 30000);
	memcpy(want + 10000, d, 20000);
	for (int i = 0; i < NN; i++) {
		assert_int_equal(do_read(i, 5, 0, 0, 64 << 10), 30000);
		assert_memory_equal(tc->data, want, 30000);
	}
	/* a hole reads as 0 bytes, status 0 */
	assert_int_equal(do_read(1, 5, 9, 0, 100), 0);
	vstor_counters(nodes[0].s, &c);
	assert_int_equal(c.forwards, 1);
	assert_int_equal(c.bytes_written, 20000);
	vstor_counters(nodes[1].s, &c);
	assert_int_equal(c.forwards, 1);
}

static void test_storage_server__stale_and_not_head(void **state)
{
	uint8_t d[100];

	fill(d, sizeof(d), 2);
	assert_int_equal(do_write(0, 6, 0, 0, d, 100, 1, chain_ver() + 1),
			 -ESTALE);
	assert_int_equal(do_write(0, 6, 0, 0, d, 100, 1, chain_ver() - 1),
			 -ESTALE);
	assert_int_equal(do_write(1, 6, 0, 0, d, 100, 1, chain_ver()), -ENXIO);
	assert_int_equal(do_write(2, 6, 0, 0, d, 100, 1, chain_ver()), -ENXIO);
	assert_int_equal(do_read(0, 6, 0, 0, 100), 0);
}

static void test_storage_server__retry_is_idempotent(void **state)
{
	struct wire_write_resp r1, r2;
	uint8_t d[4096];

	fill(d, sizeof(d), 3);
	assert_int_equal(do_write(0, 7, 1, 0, d, 4096, 42, chain_ver()), 0);
	wire_write_resp_decode(tc->body, tc->body_len, &r1);
	assert_int_equal(do_write(0, 7, 1, 0, d, 4096, 42, chain_ver()), 0);
	wire_write_resp_decode(tc->body, tc->body_len, &r2);
	assert_int_equal(r1.update_version, r2.update_version);
	/* a new request id is a new version */
	assert_int_equal(do_write(0, 7, 1, 0, d, 4096, 43, chain_ver()), 0);
	wire_write_resp_decode(tc->body, tc->body_len, &r2);
	assert_int_equal(r2.update_version, r1.update_version + 1);
}

/* Node 3 dies: writes answer -EAGAIN until routing drops it. */
static void kill_tail_and_shorten(uint8_t *d, size_t len)
{
	static const uint8_t shorter[NN] = {0, 0, 4};

	nodes[2].down = 1;
	assert_int_equal(do_write(0, 8, 0, 0, d, (uint32_t)len, 1,
				  chain_ver()),
			 -EAGAIN);
	routing_push(order123, shorter);
	/* the retry (same key) goes through the shorter chain */
	assert_int_equal(do_write(0, 8, 0, 0, d, (uint32_t)len, 1,
				  chain_ver()),
			 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(do_read(i, 8, 0, 0, (uint32_t)len),
				 (int)len);
		assert_memory_equal(tc->data, d, len);
	}
}

static void test_storage_server__dead_successor_then_resync(void **state)
{
	static const uint8_t syncing[NN] = {0, 0, 1};
	struct wire_storage_dump_resp *d0 = calloc(1, sizeof(*d0));
	struct wire_storage_dump_resp *d2 = calloc(1, sizeof(*d2));
	struct wire_heartbeat_target hb = {0};
	struct vstor_counters c;
	uint8_t d[8192];

	assert_non_null(d0);
	assert_non_null(d2);
	fill(d, sizeof(d), 4);
	/* something node 3 has, then loses track of */
	assert_int_equal(do_write(0, 9, 0, 0, d, 100, 1, chain_ver()), 0);
	kill_tail_and_shorten(d, sizeof(d));
	for (uint32_t i = 1; i <= 5; i++)
		assert_int_equal(do_write(0, 9, i, 0, d, 1000 * i, 10 + i,
					  chain_ver()),
				 0);
	/* back, syncing: node 2 (its predecessor) fills it */
	nodes[2].down = 0;
	routing_push(order123, syncing);
	vstor_fill_target(nodes[2].s, 0, &hb);
	assert_int_equal(hb.local_state, WIRE_LOCAL_UPTODATE);
	assert_int_equal(hb.sync_total, hb.sync_done);
	assert_true(hb.sync_total >= 6);
	assert_true(nodes[2].heartbeats > 0);
	vstor_counters(nodes[1].s, &c);
	assert_int_equal(c.resync_jobs, 1);
	assert_int_equal(c.resync_done, 1);
	assert_true(c.resync_sent >= 6);
	/* a syncing target serves no reads */
	assert_int_equal(do_read(2, 9, 1, 0, 100), -EBUSY);

	routing_push(order123, all_serving);
	do_dump(0, d0);
	do_dump(2, d2);
	assert_int_equal(d0->nrecords, d2->nrecords);
	for (uint32_t i = 0; i < d0->nrecords; i++) {
		int n0;

		assert_memory_equal(&d0->records[i].chunk,
				    &d2->records[i].chunk,
				    sizeof(d0->records[i].chunk));
		assert_int_equal(d0->records[i].length, d2->records[i].length);
		assert_int_equal(d0->records[i].committed_ver,
				 d2->records[i].committed_ver);
		n0 = do_read(0, d0->records[i].chunk.inode,
			     d0->records[i].chunk.index, 0, 1 << 20);
		uint8_t *a = dup_mem(tc->data, (size_t)n0);
		assert_int_equal(do_read(2, d0->records[i].chunk.inode,
					 d0->records[i].chunk.index, 0, 1 << 20),
				 n0);
		assert_memory_equal(a, tc->data, (size_t)n0);
		free(a);
	}
	free(d0);
	free(d2);
}

static void test_storage_server__corrupt_block_is_repaired(void **state)
{
	uint8_t d[50000];
	char path[256];
	struct vstor_counters c;
	int fd;

	fill(d, sizeof(d), 5);
	assert_int_equal(do_write(0, 0x1234, 3, 0, d, sizeof(d), 1,
				  chain_ver()),
			 0);
	snprintf(path, sizeof(path), "%s/chain-%d/chunks/34/12/%016x/3",
		 nodes[1].dir, CHAIN, 0x1234);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff\x00\xff", 3, 20000), 3);
	close(fd);
	assert_int_equal(do_read(1, 0x1234, 3, 16384, 8192), 8192);
	assert_memory_equal(tc->data, d + 16384, 8192);
	vstor_counters(nodes[1].s, &c);
	assert_int_equal(c.repairs, 1);
	assert_int_equal(c.bad_blocks, 1);
	/* repaired in place: the whole chunk reads clean, no new repair */
	assert_int_equal(do_read(1, 0x1234, 3, 0, sizeof(d)), (int)sizeof(d));
	assert_memory_equal(tc->data, d, sizeof(d));
	vstor_counters(nodes[1].s, &c);
	assert_int_equal(c.repairs, 1);
}

/* A write into a bad block at the middle: -EAGAIN, the middle repairs the
 * chunk in the background, and the retry succeeds everywhere. */
static void test_storage_server__write_over_bad_block(void **state)
{
	uint8_t d[40000], p[100];
	char path[256];
	struct vstor_counters c;
	int fd;

	fill(d, sizeof(d), 8);
	fill(p, sizeof(p), 9);
	assert_int_equal(do_write(0, 0x55, 1, 0, d, sizeof(d), 1, chain_ver()),
			 0);
	snprintf(path, sizeof(path), "%s/chain-%d/chunks/55/00/%016x/1",
		 nodes[1].dir, CHAIN, 0x55);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\x01", 1, 8200), 1);
	close(fd);
	/* 100 bytes inside block 2 (8192..12287): its old CRC is checked */
	assert_int_equal(do_write(0, 0x55, 1, 8250, p, sizeof(p), 2,
				  chain_ver()),
			 -EAGAIN);
	vstor_counters(nodes[1].s, &c);
	assert_int_equal(c.repairs, 1);
	assert_int_equal(do_write(0, 0x55, 1, 8250, p, sizeof(p), 2,
				  chain_ver()),
			 0);
	memcpy(d + 8250, p, sizeof(p));
	for (int i = 0; i < NN; i++) {
		assert_int_equal(do_read(i, 0x55, 1, 0, sizeof(d)),
				 (int)sizeof(d));
		assert_memory_equal(tc->data, d, sizeof(d));
	}
}

static int do_cut(uint64_t ino, uint32_t index, uint32_t length,
		  uint32_t flags, uint64_t req)
{
	struct wire_storage_cut_req q = {ino,	 CHAIN, chain_ver(), index,
					 length, flags, 77,	     req};
	uint8_t body[WIRE_STORAGE_CUT_REQ_LEN];
	size_t n = 0;

	assert_int_equal(wire_storage_cut_req_encode(&q, body, sizeof(body),
						     &n),
			 0);
	return request(0, WIRE_STORAGE_CUT, body, n, NULL, 0);
}

static void test_storage_server__cut_and_remove(void **state)
{
	struct wire_storage_dump_resp *dr = calloc(1, sizeof(*dr));
	struct wire_storage_remove_req rm = {11, CHAIN, chain_ver()};
	uint8_t d[3000], body[WIRE_STORAGE_REMOVE_REQ_LEN];
	size_t n = 0;

	assert_non_null(dr);
	fill(d, sizeof(d), 6);
	for (uint32_t i = 0; i < 6; i++)
		assert_int_equal(do_write(0, 11, i, 0, d, sizeof(d), 100 + i,
					  chain_ver()),
				 0);
	assert_int_equal(do_cut(11, 2, 100, 0, 200), 0);
	/* a retry changes nothing */
	assert_int_equal(do_cut(11, 2, 100, 0, 200), 0);
	for (int i = 0; i < NN; i++) {
		do_dump(i, dr);
		assert_int_equal(dr->nrecords, 3);
		assert_int_equal(dr->records[2].chunk.index, 2);
		assert_int_equal(dr->records[2].length, 100);
		assert_int_equal(dr->records[1].length, 3000);
	}
	/* CUT from a client at a member below the head: -ENXIO */
	assert_int_equal(wire_storage_remove_req_encode(&rm, body, sizeof(body),
							&n),
			 0);
	assert_int_equal(request(1, WIRE_STORAGE_REMOVE, body, n, NULL, 0),
			 -ENXIO);
	assert_int_equal(request(0, WIRE_STORAGE_REMOVE, body, n, NULL, 0), 0);
	for (int i = 0; i < NN; i++) {
		do_dump(i, dr);
		assert_int_equal(dr->nrecords, 0);
	}
	/* removing nothing succeeds */
	assert_int_equal(request(0, WIRE_STORAGE_REMOVE, body, n, NULL, 0), 0);
	free(dr);
}

static void test_storage_server__queries_truncate_sync(void **state)
{
	struct wire_storage_last_req lq = {12, CHAIN, chain_ver()};
	struct wire_storage_last_resp lr;
	struct wire_storage_truncate_req tq = {
		{12, 4}, CHAIN, chain_ver(), 10, 0, 77, 300};
	struct wire_storage_sync_req sq = {12, CHAIN, chain_ver()};
	struct wire_storage_space_req spq = {0};
	struct wire_storage_space_resp spr;
	uint8_t d[5000], body[64];
	size_t n = 0;

	fill(d, sizeof(d), 7);
	wire_storage_last_req_encode(&lq, body, sizeof(body), &n);
	assert_int_equal(request(2, WIRE_STORAGE_QUERY_LAST_CHUNK, body, n,
				 NULL, 0),
			 0);
	wire_storage_last_resp_decode(tc->body, tc->body_len, &lr);
	assert_false(lr.found);
	assert_int_equal(do_write(0, 12, 2, 0, d, 5000, 1, chain_ver()), 0);
	assert_int_equal(do_write(0, 12, 4, 0, d, 5000, 2, chain_ver()), 0);
	/* TRUNCATE from a client, versioned and forwarded like a write */
	wire_storage_truncate_req_encode(&tq, body, sizeof(body), &n);
	assert_int_equal(request(0, WIRE_STORAGE_TRUNCATE, body, n, NULL, 0),
			 0);
	for (int i = 0; i < NN; i++) {
		wire_storage_last_req_encode(&lq, body, sizeof(body), &n);
		assert_int_equal(request(i, WIRE_STORAGE_QUERY_LAST_CHUNK, body,
					 n, NULL, 0),
				 0);
		wire_storage_last_resp_decode(tc->body, tc->body_len, &lr);
		assert_true(lr.found);
		assert_int_equal(lr.index, 4);
		assert_int_equal(lr.length, 10);
		assert_int_equal(lr.committed_ver, 2);
	}
	wire_storage_sync_req_encode(&sq, body, sizeof(body), &n);
	assert_int_equal(request(0, WIRE_STORAGE_SYNC, body, n, NULL, 0), 0);
	wire_storage_space_req_encode(&spq, body, sizeof(body), &n);
	assert_int_equal(request(1, WIRE_STORAGE_SPACE, body, n, NULL, 0), 0);
	wire_storage_space_resp_decode(tc->body, tc->body_len, &spr);
	assert_int_equal(spr.ntargets, 1);
	assert_true(spr.capacity >= spr.available && spr.capacity > 0);
	spq.target_id = 99;
	wire_storage_space_req_encode(&spq, body, sizeof(body), &n);
	assert_int_equal(request(1, WIRE_STORAGE_SPACE, body, n, NULL, 0),
			 -ENOENT);
}

static void test_storage_server__malformed_bodies(void **state)
{
	struct wire_storage_resync_req rs = {
		.chain_id = CHAIN,
		.chain_version = chain_ver(),
		.action = WIRE_RESYNC_DONE,
	};
	uint8_t junk[7] = {1, 2, 3, 4, 5, 6, 7}, body[WIRE_STORAGE_RESYNC_REQ_LEN];
	struct vstor_counters c;
	size_t n = 0;

	assert_int_equal(request(0, WIRE_STORAGE_WRITE, junk, 3, NULL, 0),
			 -EBADMSG);
	assert_int_equal(request(1, WIRE_STORAGE_READ, junk, 7, NULL, 0),
			 -EBADMSG);
	assert_int_equal(request(2, WIRE_STORAGE_CUT, junk, 7, NULL, 0),
			 -EBADMSG);
	assert_int_equal(request(0, 0x03ff, junk, 7, NULL, 0), -ENOSYS);
	/* RESYNC to a member that is not syncing */
	wire_storage_resync_req_encode(&rs, body, sizeof(body), &n);
	assert_int_equal(request(2, WIRE_STORAGE_RESYNC, body, n, NULL, 0),
			 -ESTALE);
	vstor_counters(nodes[0].s, &c);
	assert_int_equal(c.bad_requests, 1);
}

int main(void)
{
#define T(name)                                                                \
	cmocka_unit_test_setup_teardown(test_storage_server__##name, fx_setup, \
					fx_teardown)
	const struct CMUnitTest tests[] = {
		T(write_replicates),
		T(stale_and_not_head),
		T(retry_is_idempotent),
		T(dead_successor_then_resync),
		T(corrupt_block_is_repaired),
		T(write_over_bad_block),
		T(cut_and_remove),
		T(queries_truncate_sync),
		T(malformed_bodies),
	};
#undef T

	vlog_set_level(VLOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
