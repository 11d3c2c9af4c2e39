/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of metad's RPC front (meta/server.c, meta/ops.c): a real
 * server on a loopback port and an RPC client on the same loop send
 * encoded requests (proto/wire_meta.h) and check the decoded replies.
 * Every op goes over the wire once with its error cases; retries replay;
 * a transaction blocked on the KV does not stall other requests; a full
 * set of contexts makes requests wait, not fail. LMDB only: the namespace
 * semantics on both backends are test_ns.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <pthread.h>
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
#include "meta/kv.h"
#include "meta/ns.h"
#include "meta/pool.h"
#include "meta/server.h"
#include "proto/wire_meta.h"
#include "proto/wire_msg.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

struct st {
	char dir[64];
	struct vloop *loop;
	struct mpool *pool;
	struct vkv *kv;
	struct vns *ns;
	struct msrv *srv;
	struct vrpc_client *cli;
	struct wire_meta_req q;
	struct wire_meta_rep r;
	uint64_t req_id;
};

/* One call in flight, its reply body copied. */
struct st_call {
	struct vrpc_call call;
	int done, status;
	uint8_t body[WIRE_META_BODY_MAX];
	uint32_t len;
	uint8_t req[WIRE_META_BODY_MAX];
	size_t req_len;
};

static int st_rm_cb(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static int st_open(struct st *s, unsigned workers, unsigned inflight)
{
	struct msrv_opts o = {.listen = "tcp://127.0.0.1:0",
			      .max_inflight = inflight};
	char spec[96], url[64];

	snprintf(spec, sizeof(spec), "lmdb:%s/db", s->dir);
	if (vloop_new(&s->loop, VLOOP_POLL, 0, 0) ||
	    mpool_new(s->loop, workers, &s->pool) || vkv_open(spec, &s->kv) ||
	    vns_open(s->kv, &s->ns))
		return -1;
	vns_set_chains(s->ns, 2, 4);
	if (msrv_new(s->loop, s->pool, s->ns, &o, &s->srv))
		return -1;
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", msrv_port(s->srv));
	return vrpc_client_new(s->loop, url, NULL, NULL, &s->cli) ? -1 : 0;
}

static int st_setup_with(void **state, unsigned workers, unsigned inflight)
{
	struct st *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	*state = s;
	snprintf(s->dir, sizeof(s->dir), "/tmp/valor-msrv-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	return st_open(s, workers, inflight);
}

static int st_setup(void **state)
{
	return st_setup_with(state, 4, 0);
}

static int st_setup_small(void **state)
{
	return st_setup_with(state, 2, 2);
}

static int st_teardown(void **state)
{
	struct st *s = *state;

	vrpc_client_free(s->cli);
	msrv_drain(s->srv, 2000);
	msrv_free(s->srv);
	mpool_free(s->pool);
	vns_close(s->ns);
	vkv_close(s->kv);
	vloop_free(s->loop);
	nftw(s->dir, st_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
	return 0;
}

/* ---- calls ----------------------------------------------------------------
 */

static void st_done(struct vrpc_call *call, const struct vrpc_result *res,
		    void *arg)
{
	struct st_call *c = arg;

	c->done = 1;
	c->status = res->status;
	c->len = res->body_len;
	if (res->body_len)
		memcpy(c->body, res->body, res->body_len);
}

/* A fresh request header: root, client 0xc1, the next req_id. */
static struct wire_meta_req *st_req(struct st *s)
{
	memset(&s->q, 0, offsetof(struct wire_meta_req, value));
	s->q.client = 0xc1;
	s->q.req_id = ++s->req_id;
	return &s->q;
}

/* Send s->q as @op without waiting. */
static struct st_call *st_send(struct st *s, uint16_t op)
{
	struct st_call *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_int_equal(wire_meta_req_encode(op, &s->q, c->req, sizeof(c->req),
					      &c->req_len),
			 0);
	vrpc_call_init(&c->call);
	assert_int_equal(vrpc_call(s->cli, op, c->req, (uint32_t)c->req_len,
				   NULL, 0, NULL, 0, 10000, st_done, c,
				   &c->call),
			 0);
	return c;
}

static void st_wait(struct st *s, struct st_call *c)
{
	while (!c->done)
		assert_true(vloop_run_once(s->loop, 100) >= 0);
}

/* Send s->q as @op, wait, decode into s->r; returns the status. */
static int st_call(struct st *s, uint16_t op)
{
	struct st_call *c = st_send(s, op);
	int st;

	st_wait(s, c);
	st = c->status;
	if (!st)
		assert_int_equal(
			wire_meta_rep_decode(op, c->body, c->len, &s->r), 0);
	free(c);
	return st;
}

static uint64_t st_mkdir(struct st *s, uint64_t parent, const char *name)
{
	struct wire_meta_req *q = st_req(s);

	q->ino = parent;
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->mode = 0755;
	assert_int_equal(st_call(s, WIRE_META_MKDIR), 0);
	return s->r.attr.ino;
}

/* ---- tests ------------------------------------------------------------------
 */

static void test_meta_server__names_over_the_wire(void **state)
{
	struct st *s = *state;
	struct wire_meta_req *q;
	uint64_t d, f, l;

	d = st_mkdir(s, 1, "d");
	assert_int_equal(s->r.attr.mode, S_IFDIR | 0755);
	assert_int_equal(s->r.attr.nlink, 2);
	/* MKDIR again (a new request): EEXIST. */
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "d");
	assert_int_equal(st_call(s, WIRE_META_MKDIR), -EEXIST);
	/* LOOKUP returns the attributes; a missing name is ENOENT. */
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "d");
	assert_int_equal(st_call(s, WIRE_META_LOOKUP), 0);
	assert_int_equal(s->r.attr.ino, d);
	snprintf(q->name, sizeof(q->name), "nope");
	assert_int_equal(st_call(s, WIRE_META_LOOKUP), -ENOENT);
	/* MKNOD of a FIFO, SYMLINK + READLINK, LINK. */
	q = st_req(s);
	q->ino = d;
	snprintf(q->name, sizeof(q->name), "p");
	q->mode = S_IFIFO | 0600;
	assert_int_equal(st_call(s, WIRE_META_MKNOD), 0);
	assert_int_equal(s->r.attr.mode, S_IFIFO | 0600);
	f = s->r.attr.ino;
	q = st_req(s);
	q->ino = d;
	snprintf(q->name, sizeof(q->name), "l");
	snprintf(q->target, sizeof(q->target), "p");
	assert_int_equal(st_call(s, WIRE_META_SYMLINK), 0);
	l = s->r.attr.ino;
	assert_int_equal(s->r.attr.size, 1);
	q = st_req(s);
	q->ino = l;
	assert_int_equal(st_call(s, WIRE_META_READLINK), 0);
	assert_string_equal(s->r.target, "p");
	q->ino = f;
	assert_int_equal(st_call(s, WIRE_META_READLINK), -EINVAL);
	q = st_req(s);
	q->ino = f;
	q->ino2 = 1;
	snprintf(q->name2, sizeof(q->name2), "p2");
	assert_int_equal(st_call(s, WIRE_META_LINK), 0);
	assert_int_equal(s->r.attr.nlink, 2);
	/* RENAME with NOREPLACE refuses an existing target. */
	q = st_req(s);
	q->ino = d;
	snprintf(q->name, sizeof(q->name), "l");
	q->ino2 = 1;
	snprintf(q->name2, sizeof(q->name2), "p2");
	q->flags = RENAME_NOREPLACE;
	assert_int_equal(st_call(s, WIRE_META_RENAME), -EEXIST);
	q->req_id = ++s->req_id;
	q->flags = RENAME_EXCHANGE;
	assert_int_equal(st_call(s, WIRE_META_RENAME), 0);
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "p2");
	assert_int_equal(st_call(s, WIRE_META_LOOKUP), 0);
	assert_int_equal(s->r.attr.ino, l);
	/* RMDIR of a non-empty directory, UNLINK, then RMDIR. */
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "d");
	assert_int_equal(st_call(s, WIRE_META_RMDIR), -ENOTEMPTY);
	const char *names[] = {"l", "p"};
	for (int i = 0; i < 2; i++) {
		q = st_req(s);
		q->ino = d;
		snprintf(q->name, sizeof(q->name), "%s", names[i]);
		assert_int_equal(st_call(s, WIRE_META_UNLINK), 0);
	}
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "d");
	assert_int_equal(st_call(s, WIRE_META_RMDIR), 0);
	q = st_req(s);
	assert_int_equal(st_call(s, WIRE_META_FSCK), 0);
	assert_int_equal(s->r.violations, 0);
}

static void test_meta_server__files_sessions_and_lengths(void **state)
{
	struct st *s = *state;
	struct wire_meta_req *q;
	uint64_t ino, tv;

	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "f");
	q->mode = 0640;
	q->oflags = O_CREAT | O_EXCL | O_RDWR;
	assert_int_equal(st_call(s, WIRE_META_CREATE), 0);
	ino = s->r.attr.ino;
	tv = s->r.trunc_ver;
	assert_int_equal(s->r.attr.mode, S_IFREG | 0640);
	assert_int_equal(s->r.layout.chunk_size, 1u << 20);
	assert_int_equal(s->r.layout.stripe, 1);
	assert_int_equal(s->r.layout.table_version, 2);
	assert_true(s->r.layout.first_chain < 4);
	/* SET_LENGTH: max rule. */
	q = st_req(s);
	q->ino = ino;
	q->size = 5000;
	q->trunc_ver = tv;
	assert_int_equal(st_call(s, WIRE_META_SET_LENGTH), 0);
	assert_int_equal(s->r.attr.size, 5000);
	q = st_req(s);
	q->ino = ino;
	q->size = 100;
	q->trunc_ver = tv;
	assert_int_equal(st_call(s, WIRE_META_SET_LENGTH), 0);
	assert_int_equal(s->r.attr.size, 5000);
	/* SETATTR size truncates and bumps trunc_ver: older hints lose. */
	q = st_req(s);
	q->ino = ino;
	q->sa.valid = VSET_SIZE;
	q->sa.size = 10;
	assert_int_equal(st_call(s, WIRE_META_SETATTR), 0);
	assert_int_equal(s->r.attr.size, 10);
	q = st_req(s);
	q->ino = ino;
	q->size = 9000;
	q->trunc_ver = tv;
	assert_int_equal(st_call(s, WIRE_META_SET_LENGTH), 0);
	assert_int_equal(s->r.attr.size, 10);
	/* OPEN returns the new trunc_ver; CLOSE twice: the second fails. */
	q = st_req(s);
	q->ino = ino;
	assert_int_equal(st_call(s, WIRE_META_OPEN), 0);
	assert_int_equal(s->r.trunc_ver, tv + 1);
	for (int i = 0; i < 2; i++) {
		q = st_req(s);
		q->ino = ino;
		assert_int_equal(st_call(s, WIRE_META_CLOSE), 0);
	}
	q = st_req(s);
	q->ino = ino;
	assert_int_equal(st_call(s, WIRE_META_CLOSE), -ENOENT);
	q = st_req(s);
	q->ino = 1;
	assert_int_equal(st_call(s, WIRE_META_OPEN), -EISDIR);
	/* GETATTR, and SETATTR by someone else: EPERM. */
	q = st_req(s);
	q->ino = ino;
	assert_int_equal(st_call(s, WIRE_META_GETATTR), 0);
	assert_int_equal(s->r.attr.size, 10);
	q = st_req(s);
	q->uid = 1000;
	q->ino = ino;
	q->sa.valid = VSET_MODE;
	q->sa.mode = 0777;
	assert_int_equal(st_call(s, WIRE_META_SETATTR), -EPERM);
}

static void test_meta_server__readdir_pages_and_plus(void **state)
{
	struct st *s = *state;
	struct wire_meta_req *q;
	uint64_t d = st_mkdir(s, 1, "d");
	char cookie[WIRE_META_NAME_MAX + 1] = "";
	int total = 0, pages = 0;

	for (int i = 0; i < 300; i++) {
		char name[16];

		snprintf(name, sizeof(name), "e%03d", i);
		st_mkdir(s, d, name);
	}
	for (;;) {
		q = st_req(s);
		q->ino = d;
		snprintf(q->name, sizeof(q->name), "%s", cookie);
		q->max = 128;
		q->plus = true;
		assert_int_equal(st_call(s, WIRE_META_READDIR), 0);
		pages++;
		for (uint32_t i = 0; i < s->r.nents; i++) {
			char want[16];

			snprintf(want, sizeof(want), "e%03d", total + (int)i);
			assert_string_equal(s->r.ents[i].name, want);
			assert_int_equal(s->r.ents[i].attr.ino,
					 s->r.ents[i].ino);
			assert_int_equal(s->r.ents[i].attr.mode,
					 S_IFDIR | 0755);
		}
		total += (int)s->r.nents;
		if (s->r.eof)
			break;
		snprintf(cookie, sizeof(cookie), "%s",
			 s->r.ents[s->r.nents - 1].name);
	}
	assert_int_equal(total, 300);
	assert_int_equal(pages, 3);
	q = st_req(s);
	q->ino = 999999;
	q->max = 1;
	assert_int_equal(st_call(s, WIRE_META_READDIR), -ENOENT);
}

static void test_meta_server__xattrs_statfs_locks_renew(void **state)
{
	struct st *s = *state;
	struct wire_meta_req *q;
	uint64_t d = st_mkdir(s, 1, "d");

	q = st_req(s);
	q->ino = d;
	snprintf(q->name, sizeof(q->name), "user.k");
	memcpy(q->value, "value", 5);
	q->value_len = 5;
	assert_int_equal(st_call(s, WIRE_META_SETXATTR), 0);
	q = st_req(s);
	q->ino = d;
	snprintf(q->name, sizeof(q->name), "user.k");
	q->cap = 0; /* size query */
	assert_int_equal(st_call(s, WIRE_META_GETXATTR), 0);
	assert_int_equal(s->r.size, 5);
	assert_int_equal(s->r.value_len, 0);
	q->cap = 64;
	assert_int_equal(st_call(s, WIRE_META_GETXATTR), 0);
	assert_int_equal(s->r.value_len, 5);
	assert_memory_equal(s->r.value, "value", 5);
	q->cap = 2;
	assert_int_equal(st_call(s, WIRE_META_GETXATTR), -ERANGE);
	q = st_req(s);
	q->ino = d;
	q->cap = 64;
	assert_int_equal(st_call(s, WIRE_META_LISTXATTR), 0);
	assert_int_equal(s->r.size, 7);
	q = st_req(s);
	q->ino = d;
	snprintf(q->name, sizeof(q->name), "user.k");
	assert_int_equal(st_call(s, WIRE_META_REMOVEXATTR), 0);
	q->req_id = ++s->req_id;
	assert_int_equal(st_call(s, WIRE_META_REMOVEXATTR), -ENODATA);

	/* STATFS: space from what routing said, inodes from the counter. */
	msrv_set_space(s->srv, 1ull << 40, 1ull << 39);
	q = st_req(s);
	assert_int_equal(st_call(s, WIRE_META_STATFS), 0);
	assert_int_equal(s->r.st.bsize, 4096);
	assert_int_equal(s->r.st.blocks, (1ull << 40) / 4096);
	assert_int_equal(s->r.st.bavail, (1ull << 39) / 4096);
	assert_int_equal(s->r.st.files - s->r.st.ffree, 2);
	assert_int_equal(s->r.st.namelen, 255);

	/* Locks: client 0xc1 holds, 0xc2 conflicts, GETLK names it. */
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "f");
	q->oflags = O_CREAT;
	assert_int_equal(st_call(s, WIRE_META_CREATE), 0);
	uint64_t f = s->r.attr.ino;
	q = st_req(s);
	q->ino = f;
	q->lock = (struct wire_meta_lock){.kind = WIRE_LOCK_POSIX,
					  .owner = 5,
					  .pid = 55,
					  .type = F_WRLCK,
					  .start = 0,
					  .end = 99};
	assert_int_equal(st_call(s, WIRE_META_LOCK), 0);
	q = st_req(s);
	q->client = 0xc2;
	q->ino = f;
	q->lock = (struct wire_meta_lock){.kind = WIRE_LOCK_POSIX,
					  .owner = 6,
					  .type = F_RDLCK,
					  .start = 50,
					  .end = 60};
	assert_int_equal(st_call(s, WIRE_META_LOCK), -EAGAIN);
	assert_int_equal(st_call(s, WIRE_META_GETLK), 0);
	assert_int_equal(s->r.lock.type, F_WRLCK);
	assert_int_equal(s->r.lock.pid, 55);
	assert_int_equal(s->r.lock.end, 99);
	/* UNLOCK drops the owner's locks; then it is free. */
	q = st_req(s);
	q->ino = f;
	q->lock.kind = WIRE_LOCK_POSIX;
	q->lock.owner = 5;
	assert_int_equal(st_call(s, WIRE_META_UNLOCK), 0);
	q = st_req(s);
	q->client = 0xc2;
	q->ino = f;
	q->lock = (struct wire_meta_lock){.kind = WIRE_LOCK_POSIX,
					  .owner = 6,
					  .type = F_RDLCK,
					  .start = 50,
					  .end = 60};
	assert_int_equal(st_call(s, WIRE_META_GETLK), 0);
	assert_int_equal(s->r.lock.type, F_UNLCK);
	/* RENEW answers the lease. */
	q = st_req(s);
	assert_int_equal(st_call(s, WIRE_META_RENEW), 0);
	assert_int_equal(s->r.lease_ms, 30000);
}

static void test_meta_server__retry_replays_the_first_answer(void **state)
{
	struct st *s = *state;
	struct wire_meta_req *q = st_req(s);
	struct wire_meta_attr first;

	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "d");
	q->mode = 0700;
	assert_int_equal(st_call(s, WIRE_META_MKDIR), 0);
	first = s->r.attr;
	/* The same request again (a client retry): 0, the same attributes. */
	assert_int_equal(st_call(s, WIRE_META_MKDIR), 0);
	assert_memory_equal(&first, &s->r.attr, sizeof(first));
	q = st_req(s);
	q->ino = 1;
	snprintf(q->name, sizeof(q->name), "d");
	assert_int_equal(st_call(s, WIRE_META_RMDIR), 0);
	assert_int_equal(st_call(s, WIRE_META_RMDIR), 0);
	q->req_id = ++s->req_id;
	assert_int_equal(st_call(s, WIRE_META_RMDIR), -ENOENT);
}

static void test_meta_server__malformed_and_unknown(void **state)
{
	struct st *s = *state;
	struct st_call *c = calloc(1, sizeof(*c));
	static const uint8_t junk[3] = {1, 2, 3};

	vrpc_call_init(&c->call);
	assert_int_equal(vrpc_call(s->cli, WIRE_META_MKDIR, junk, 3, NULL, 0,
				   NULL, 0, 10000, st_done, c, &c->call),
			 0);
	st_wait(s, c);
	assert_int_equal(c->status, -EBADMSG);
	c->done = 0;
	vrpc_call_init(&c->call);
	assert_int_equal(vrpc_call(s->cli, WIRE_META_RENEW + 1, NULL, 0, NULL,
				   0, NULL, 0, 10000, st_done, c, &c->call),
			 0);
	st_wait(s, c);
	assert_int_equal(c->status, -ENOSYS);
	free(c);
}

/* Holds LMDB's writer lock until told to let go. */
struct st_blocker {
	struct vkv *kv;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int holding, release;
};

static void *st_blocker_main(void *arg)
{
	struct st_blocker *b = arg;
	struct vkv_txn *t;

	assert_int_equal(vkv_txn_begin(b->kv, 0, &t), 0);
	pthread_mutex_lock(&b->lock);
	b->holding = 1;
	pthread_cond_broadcast(&b->cond);
	while (!b->release)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	vkv_abort(t);
	return NULL;
}

static void test_meta_server__blocked_transaction_does_not_stall(void **state)
{
	struct st *s = *state;
	struct st_blocker b = {.kv = s->kv};
	struct st_call *mk, *ga;
	pthread_t th;

	st_mkdir(s, 1, "warm"); /* connection up */
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	assert_int_equal(pthread_create(&th, NULL, st_blocker_main, &b), 0);
	pthread_mutex_lock(&b.lock);
	while (!b.holding)
		pthread_cond_wait(&b.cond, &b.lock);
	pthread_mutex_unlock(&b.lock);

	/* A write waits for the writer lock on its worker... */
	st_req(s);
	s->q.ino = 1;
	snprintf(s->q.name, sizeof(s->q.name), "slow");
	mk = st_send(s, WIRE_META_MKDIR);
	/* ...while a read is answered meanwhile. */
	st_req(s);
	s->q.ino = 1;
	ga = st_send(s, WIRE_META_GETATTR);
	st_wait(s, ga);
	assert_int_equal(ga->status, 0);
	assert_false(mk->done);

	pthread_mutex_lock(&b.lock);
	b.release = 1;
	pthread_cond_broadcast(&b.cond);
	pthread_mutex_unlock(&b.lock);
	st_wait(s, mk);
	assert_int_equal(mk->status, 0);
	pthread_join(th, NULL);
	free(mk);
	free(ga);
}

static void test_meta_server__requests_wait_for_a_context(void **state)
{
	struct st *s = *state;
	struct st_call *c[12];

	/* 2 contexts, 12 requests at once: all answered, none refused. */
	for (int i = 0; i < 12; i++) {
		st_req(s);
		s->q.ino = 1;
		snprintf(s->q.name, sizeof(s->q.name), "d%d", i);
		s->q.mode = 0755;
		c[i] = st_send(s, WIRE_META_MKDIR);
	}
	for (int i = 0; i < 12; i++) {
		st_wait(s, c[i]);
		assert_int_equal(c[i]->status, 0);
		free(c[i]);
	}
	st_req(s);
	s->q.ino = 1;
	assert_int_equal(st_call(s, WIRE_META_GETATTR), 0);
	assert_int_equal(s->r.attr.nlink, 14);
}

int main(void)
{
#define SRV(fn) cmocka_unit_test_setup_teardown(fn, st_setup, st_teardown)
	const struct CMUnitTest tests[] = {
		SRV(test_meta_server__names_over_the_wire),
		SRV(test_meta_server__files_sessions_and_lengths),
		SRV(test_meta_server__readdir_pages_and_plus),
		SRV(test_meta_server__xattrs_statfs_locks_renew),
		SRV(test_meta_server__retry_replays_the_first_answer),
		SRV(test_meta_server__malformed_and_unknown),
		SRV(test_meta_server__blocked_transaction_does_not_stall),
		cmocka_unit_test_setup_teardown(
			test_meta_server__requests_wait_for_a_context,
			st_setup_small, st_teardown),
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	vlog_set_level(VLOG_ERR);
	return cmocka_run_group_tests_name("meta server", tests, NULL, NULL);
}
