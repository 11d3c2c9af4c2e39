/* SPDX-License-Identifier: MIT */
/*
 * test_rpc.c - rdma/rpc over rdma/tcp on loopback, once per loop backend
 * (cmocka groups "poll" and "uring"; the uring group skips where the
 * kernel refuses io_uring).
 *
 * Most tests run the server and the client on one loop in one thread;
 * those that need a peer that blocks (raw sockets) or real concurrency run
 * the server's loop in a thread of its own. Servers listen on 127.0.0.1
 * port 0 (the kernel picks).
 *
 *   test_rpc            both groups
 *   test_rpc poll       only the poll group
 *   test_rpc uring      only the uring group
 *
 * Each test arms alarm(): a hang kills the program instead of the run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/auth.h"
#include "common/log.h"
#include "proto/wire_frame.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

#define TR_WATCHDOG_S 60
#define TR_MS 1000000ull
#define TR_MAX_HELD 2048
#define TR_NCONC 1000

/* A service of our own; 0x00xx belongs to the transport. */
enum {
	TR_OP_ECHO = 0x0101,  /* reply: the request's body and data */
	TR_OP_HOLD = 0x0102,  /* keep the request; see tr_env.hold_reply_at */
	TR_OP_COUNT = 0x0103, /* count it, reply 0 */
	TR_OP_NR,
};

static enum vloop_backend tr_be_poll = VLOOP_POLL;
static enum vloop_backend tr_be_uring = VLOOP_URING;

struct tr_env {
	enum vloop_backend be;
	struct vloop *loop;  /* the client's, run by the test thread */
	struct vloop *sloop; /* the server's: loop, or its own thread's */
	pthread_t thread;
	int threaded;
	struct vrpc_server *srv;
	int port;
	char url[64];

	/* Server side, touched by the server's loop thread only while it
	 * runs. */
	struct vrpc_req *held[TR_MAX_HELD];
	int nheld;
	int hold_reply_at;  /* reply to all held, shuffled, at this count */
	int reply_err;	    /* what the last late vrpc_reply returned */
	atomic_int handled; /* handler runs, any opcode */
	atomic_int counted; /* TR_OP_COUNT runs */

	int completed; /* client callbacks */
};

/* A call and what its callback saw. */
struct tr_call {
	struct vrpc_call call;
	struct tr_env *env;
	int done;
	int status;
	int local;
	uint8_t body[64];
	uint32_t body_len;
	void *data;
	uint32_t data_len;
	uint64_t idx;
	uint8_t req[8];
	uint8_t reply[8];
};

/* ---- server handlers ----------------------------------------------------- */

static void tr_echo(struct vrpc_req *req, void *arg)
{
	struct tr_env *env = arg;
	struct iovec iov = {req->data, req->data_len};

	atomic_fetch_add(&env->handled, 1);
	vrpc_reply(req, 0, req->body, req->body_len, &iov,
		   req->data_len ? 1 : 0);
}

/* Answer everything held, in a shuffled order; the data of each reply is
 * its request's body, so the client can tell a mix-up. */
static void tr_reply_held(struct tr_env *env)
{
	int i, n = env->nheld;

	for (i = 0; i < n; i++) {
		/* 7919 is prime, so i -> 7919 i mod n permutes (n < 7919). */
		struct vrpc_req *req = env->held[(i * 7919) % n];
		struct iovec iov = {(void *)req->body, req->body_len};

		env->reply_err =
			vrpc_reply(req, 0, req->body, req->body_len, &iov, 1);
	}
	env->nheld = 0;
}

static void tr_hold(struct vrpc_req *req, void *arg)
{
	struct tr_env *env = arg;

	atomic_fetch_add(&env->handled, 1);
	if (env->nheld == TR_MAX_HELD) {
		vrpc_reply(req, -ENOSPC, NULL, 0, NULL, 0);
		return;
	}
	env->held[env->nheld++] = req;
	if (env->hold_reply_at && env->nheld == env->hold_reply_at)
		tr_reply_held(env);
}

static void tr_count(struct vrpc_req *req, void *arg)
{
	struct tr_env *env = arg;

	atomic_fetch_add(&env->handled, 1);
	atomic_fetch_add(&env->counted, 1);
	vrpc_reply(req, 0, NULL, 0, NULL, 0);
}

static const struct vrpc_handler tr_handlers[TR_OP_NR] = {
	[TR_OP_ECHO] = {tr_echo, "echo"},
	[TR_OP_HOLD] = {tr_hold, "hold"},
	[TR_OP_COUNT] = {tr_count, "count"},
};

/* After a restart the HOLD opcode answers at once. */
static const struct vrpc_handler tr_handlers_echo_hold[TR_OP_NR] = {
	[TR_OP_ECHO] = {tr_echo, "echo"},
	[TR_OP_HOLD] = {tr_echo, "hold-echo"},
};

/* ---- fixtures ------------------------------------------------------------ */

static struct vloop *tr_loop_new(enum vloop_backend be)
{
	struct vloop *loop = NULL;
	int ret = vloop_new(&loop, be, 256, 0);

	if (be == VLOOP_URING &&
	    (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP)) {
		print_message("io_uring unavailable: %s; skipped\n",
			      strerror(-ret));
		skip();
	}
	assert_int_equal(ret, 0);
	return loop;
}

static int tr_setup(void **state)
{
	struct tr_env *env = calloc(1, sizeof(*env));

	alarm(TR_WATCHDOG_S);
	if (!env)
		return -1;
	env->be = *(enum vloop_backend *)*state;
	*state = env;
	return 0;
}

static void *tr_thread_main(void *arg)
{
	struct tr_env *env = arg;

	vloop_run(env->sloop);
	return NULL;
}

static void tr_server_stop(struct tr_env *env)
{
	if (env->threaded) {
		vloop_stop(env->sloop);
		pthread_join(env->thread, NULL);
		env->threaded = 0;
	}
	vrpc_server_free(env->srv);
	env->srv = NULL;
	env->nheld = 0;
}

static int tr_teardown(void **state)
{
	struct tr_env *env = *state;

	tr_server_stop(env);
	if (env->sloop != env->loop)
		vloop_free(env->sloop);
	vloop_free(env->loop);
	free(env);
	alarm(0);
	return 0;
}

static void tr_loops(struct tr_env *env, int threaded)
{
	env->loop = tr_loop_new(env->be);
	env->sloop = threaded ? tr_loop_new(env->be) : env->loop;
}

/* Serve on @port (0: any) with @handlers; in its own thread if the
 * server has its own loop. */
static void tr_server_start(struct tr_env *env, int port,
			    const struct vauth_secret *secret,
			    const struct vrpc_handler *handlers)
{
	char url[64];

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	assert_int_equal(vrpc_server_new(env->sloop, url, secret, handlers,
					 TR_OP_NR, env, &env->srv),
			 0);
	env->port = vrpc_server_port(env->srv);
	assert_true(env->port > 0);
	snprintf(env->url, sizeof(env->url), "tcp://127.0.0.1:%d", env->port);
	if (env->sloop != env->loop) {
		assert_int_equal(
			pthread_create(&env->thread, NULL, tr_thread_main, env),
			0);
		env->threaded = 1;
	}
}

/* Run the client's loop until @cond holds; fail after @ms. */
#define TR_WAIT(env, cond, ms)                                                 \
	do {                                                                   \
		uint64_t tr_dl_ = vloop_now_ns() + (uint64_t)(ms)*TR_MS;       \
		while (!(cond)) {                                              \
			if (vloop_now_ns() > tr_dl_)                           \
				fail_msg("timed out waiting for %s", #cond);   \
			assert_true(vloop_run_once((env)->loop, 10) >= 0);     \
		}                                                              \
	} while (0)

/* Run the client's loop for @ms. */
static void tr_spin(struct tr_env *env, unsigned ms)
{
	uint64_t dl = vloop_now_ns() + ms * TR_MS;

	while (vloop_now_ns() < dl)
		assert_true(vloop_run_once(env->loop, 10) >= 0);
}

static void tr_call_cb(struct vrpc_call *call, const struct vrpc_result *res,
		       void *arg)
{
	struct tr_call *tc = arg;

	/* No cmocka asserts here: a longjmp would leave the loop running. */
	if (call != &tc->call)
		abort();
	tc->done++;
	tc->status = res->status;
	tc->local = res->local;
	tc->body_len = res->body_len;
	if (res->body_len <= sizeof(tc->body) && res->body_len)
		memcpy(tc->body, res->body, res->body_len);
	tc->data = res->data;
	tc->data_len = res->data_len;
	tc->env->completed++;
}

static struct tr_call *tr_calls_new(struct tr_env *env, int n)
{
	struct tr_call *tc = calloc((size_t)n, sizeof(*tc));
	int i;

	assert_non_null(tc);
	for (i = 0; i < n; i++) {
		vrpc_call_init(&tc[i].call);
		tc[i].env = env;
		tc[i].idx = (uint64_t)i;
	}
	return tc;
}

static struct vrpc_client *tr_client(struct tr_env *env,
				     const struct vauth_secret *secret)
{
	struct vrpc_client *cli = NULL;

	assert_int_equal(
		vrpc_client_new(env->loop, env->url, secret, NULL, &cli), 0);
	return cli;
}

static void tr_pattern(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
}

/* ---- tests --------------------------------------------------------------- */

static void test_rpc__echo_lands_in_the_callers_buffer(void **state)
{
	struct tr_env *env = *state;
	size_t big = 6u << 20, half = big / 2;
	uint8_t *out, *in, *small;
	struct vrpc_client *cli;
	struct tr_call *tc;
	struct iovec iov[2];

	tr_loops(env, 0);
	tr_server_start(env, 0, NULL, tr_handlers);
	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, 4);
	out = malloc(big);
	in = calloc(1, big);
	small = calloc(1, 16);
	assert_true(out && in && small);
	tr_pattern(out, big, 7);

	/* Body plus data in two iovecs, several MiB: partial writes and
	 * in-place reads on both sides. */
	iov[0].iov_base = out;
	iov[0].iov_len = half;
	iov[1].iov_base = out + half;
	iov[1].iov_len = big - half;
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "hello, storage", 14, iov,
				   2, in, big, 10000, tr_call_cb, &tc[0],
				   &tc[0].call),
			 0);
	/* The call object is busy until its callback ran. */
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, NULL, 0, NULL, 0, NULL, 0,
				   1000, tr_call_cb, &tc[0], &tc[0].call),
			 -EBUSY);
	/* No data buffer: the reply data is lent during the callback. */
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "x", 1, iov, 1, NULL, 0,
				   10000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	TR_WAIT(env, tc[0].done && tc[1].done, 20000);

	assert_int_equal(tc[0].status, 0);
	assert_int_equal(tc[0].local, 0);
	assert_int_equal(tc[0].body_len, 14);
	assert_memory_equal(tc[0].body, "hello, storage", 14);
	assert_int_equal(tc[0].data_len, big);
	assert_ptr_equal(tc[0].data, in);
	assert_memory_equal(in, out, big);
	assert_int_equal(tc[1].status, 0);
	assert_int_equal(tc[1].data_len, half);
	assert_non_null(tc[1].data);
	assert_ptr_not_equal(tc[1].data, in);

	/* Too small a buffer: -EOVERFLOW, the data is dropped, the
	 * connection stays fine for the next call. */
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, NULL, 0, iov, 1, small, 16,
				   10000, tr_call_cb, &tc[2], &tc[2].call),
			 0);
	TR_WAIT(env, tc[2].done, 20000);
	assert_int_equal(tc[2].status, -EOVERFLOW);
	assert_int_equal(tc[2].local, 1);
	assert_int_equal(tc[0].call.flags, 0);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "again", 5, NULL, 0, NULL,
				   0, 10000, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	TR_WAIT(env, tc[0].done == 2, 20000);
	assert_int_equal(tc[0].status, 0);
	assert_memory_equal(tc[0].body, "again", 5);
	assert_int_equal(tc[0].data_len, 0);
	assert_null(tc[0].data);
	assert_true(vrpc_client_is_up(cli));

	vrpc_client_free(cli);
	free(out);
	free(in);
	free(small);
	free(tc);
}

static void test_rpc__bad_arguments_are_refused(void **state)
{
	struct tr_env *env = *state;
	struct iovec iov[VRPC_MAX_DATA_IOV + 1];
	struct vrpc_client *cli;
	struct tr_call *tc;

	tr_loops(env, 0);
	tr_server_start(env, 0, NULL, tr_handlers);
	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, 1);
	memset(iov, 0, sizeof(iov));
	assert_int_equal(vrpc_call(cli, WIRE_OP_HELLO, NULL, 0, NULL, 0, NULL,
				   0, 100, tr_call_cb, &tc[0], &tc[0].call),
			 -EINVAL);
	assert_int_equal(vrpc_call(cli, 0x00ff, NULL, 0, NULL, 0, NULL, 0, 100,
				   tr_call_cb, &tc[0], &tc[0].call),
			 -EINVAL);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, NULL, 0, iov,
				   VRPC_MAX_DATA_IOV + 1, NULL, 0, 100,
				   tr_call_cb, &tc[0], &tc[0].call),
			 -EINVAL);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "x", WIRE_MAX_BODY + 1,
				   NULL, 0, NULL, 0, 100, tr_call_cb, &tc[0],
				   &tc[0].call),
			 -EMSGSIZE);
	iov[0].iov_base = "x";
	iov[0].iov_len = WIRE_MAX_DATA;
	iov[1].iov_base = "x";
	iov[1].iov_len = 1;
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, NULL, 0, iov, 2, NULL, 0,
				   100, tr_call_cb, &tc[0], &tc[0].call),
			 -EMSGSIZE);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, NULL, 0, NULL, 0, NULL, 0,
				   100, NULL, &tc[0], &tc[0].call),
			 -EINVAL);
	tr_spin(env, 50);
	assert_int_equal(tc[0].done, 0);
	assert_int_equal(atomic_load(&env->handled), 0);

	/* An opcode without a handler: -ENOSYS from the server. */
	assert_int_equal(vrpc_call(cli, TR_OP_NR + 5, NULL, 0, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	TR_WAIT(env, tc[0].done, 10000);
	assert_int_equal(tc[0].status, -ENOSYS);
	assert_int_equal(tc[0].local, 0);
	vrpc_client_free(cli);
	free(tc);
}

/* Many calls on one connection, answered in a shuffled order by a server
 * in another thread: each callback gets its own reply. */
static void test_rpc__concurrent_calls_are_matched(void **state)
{
	struct tr_env *env = *state;
	struct vrpc_client *cli;
	struct tr_call *tc;
	int i, bad = 0;

	tr_loops(env, 1);
	env->hold_reply_at = TR_NCONC;
	tr_server_start(env, 0, NULL, tr_handlers);
	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, TR_NCONC);
	for (i = 0; i < TR_NCONC; i++) {
		memcpy(tc[i].req, &tc[i].idx, 8);
		assert_int_equal(vrpc_call(cli, TR_OP_HOLD, tc[i].req, 8, NULL,
					   0, tc[i].reply, sizeof(tc[i].reply),
					   20000, tr_call_cb, &tc[i],
					   &tc[i].call),
				 0);
	}
	TR_WAIT(env, env->completed == TR_NCONC, 30000);
	for (i = 0; i < TR_NCONC; i++) {
		uint64_t body, data;

		memcpy(&body, tc[i].body, 8);
		memcpy(&data, tc[i].reply, 8);
		if (tc[i].done != 1 || tc[i].status || tc[i].body_len != 8 ||
		    body != tc[i].idx || data != tc[i].idx ||
		    tc[i].data != tc[i].reply)
			bad++;
	}
	assert_int_equal(bad, 0);
	assert_int_equal(atomic_load(&env->handled), TR_NCONC);
	vrpc_client_free(cli);
	free(tc);
}

static void test_rpc__timeout_when_the_server_never_answers(void **state)
{
	struct tr_env *env = *state;
	struct vrpc_client *cli;
	struct tr_call *tc;
	uint64_t t0, ms;

	tr_loops(env, 0);
	tr_server_start(env, 0, NULL, tr_handlers);
	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, 3);

	t0 = vloop_now_ns();
	assert_int_equal(vrpc_call(cli, TR_OP_HOLD, "q", 1, NULL, 0, NULL, 0,
				   200, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	TR_WAIT(env, tc[0].done, 5000);
	ms = (vloop_now_ns() - t0) / TR_MS;
	assert_int_equal(tc[0].status, -ETIMEDOUT);
	assert_int_equal(tc[0].local, 1);
	assert_true(ms >= 195 && ms < 2000);
	assert_int_equal(env->nheld, 1);

	/* The late reply matches nothing any more: dropped, and the
	 * connection goes on serving. */
	tr_reply_held(env);
	assert_int_equal(env->reply_err, 0);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "after", 5, NULL, 0, NULL,
				   0, 5000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	TR_WAIT(env, tc[1].done, 5000);
	assert_int_equal(tc[1].status, 0);
	assert_int_equal(tc[0].done, 1);

	/* A call in flight when the client goes: -ECANCELED; the server's
	 * late answer then finds the client gone. */
	assert_int_equal(vrpc_call(cli, TR_OP_HOLD, "q", 1, NULL, 0, NULL, 0,
				   -1, tr_call_cb, &tc[2], &tc[2].call),
			 0);
	TR_WAIT(env, env->nheld == 1, 5000);
	vrpc_client_free(cli);
	assert_int_equal(tc[2].done, 1);
	assert_int_equal(tc[2].status, -ECANCELED);
	tr_spin(env, 50); /* the server sees the close */
	tr_reply_held(env);
	assert_int_equal(env->reply_err, -ENOTCONN);
	free(tc);
}

static void test_rpc__reconnects_after_a_server_restart(void **state)
{
	struct tr_env *env = *state;
	struct vrpc_client *cli;
	struct tr_call *tc;
	int port, ret, i;

	tr_loops(env, 0);
	tr_server_start(env, 0, NULL, tr_handlers);
	port = env->port;
	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, 5);

	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "one", 3, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	TR_WAIT(env, tc[0].done, 5000);
	assert_int_equal(tc[0].status, 0);

	/* Two calls held by the server when it goes away: the plain one
	 * fails, the idempotent one is sent again after the restart. */
	assert_int_equal(vrpc_call(cli, TR_OP_HOLD, "two", 3, NULL, 0, NULL, 0,
				   10000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	tc[2].call.flags = VRPC_CALL_IDEMPOTENT;
	assert_int_equal(vrpc_call(cli, TR_OP_HOLD, "three", 5, NULL, 0, NULL,
				   0, 10000, tr_call_cb, &tc[2], &tc[2].call),
			 0);
	TR_WAIT(env, env->nheld == 2, 5000);
	tr_server_stop(env);
	TR_WAIT(env, tc[1].done, 5000);
	assert_int_equal(tc[1].status, -ECONNRESET);
	assert_int_equal(tc[1].local, 1);
	assert_false(vrpc_client_is_up(cli));

	/* While it is down: a short call times out, a long one waits. */
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "four", 4, NULL, 0, NULL, 0,
				   150, tr_call_cb, &tc[3], &tc[3].call),
			 0);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "five", 4, NULL, 0, NULL, 0,
				   10000, tr_call_cb, &tc[4], &tc[4].call),
			 0);
	tr_spin(env, 400); /* a few refused reconnects */
	assert_int_equal(tc[3].done, 1);
	assert_int_equal(tc[3].status, -ETIMEDOUT);
	assert_int_equal(tc[4].done, 0);
	assert_int_equal(tc[2].done, 0);

	/* Same port again (the old listener may linger an iteration). */
	for (i = 0; i < 100; i++) {
		char url[64];

		snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
		ret = vrpc_server_new(env->sloop, url, NULL,
				      tr_handlers_echo_hold, TR_OP_NR, env,
				      &env->srv);
		if (ret != -EADDRINUSE)
			break;
		tr_spin(env, 10);
	}
	assert_int_equal(ret, 0);
	TR_WAIT(env, tc[4].done && tc[2].done, 10000);
	assert_int_equal(tc[4].status, 0);
	assert_memory_equal(tc[4].body, "five", 4);
	assert_int_equal(tc[2].status, 0);
	assert_memory_equal(tc[2].body, "three", 5);
	assert_true(vrpc_client_is_up(cli));
	vrpc_client_free(cli);
	free(tc);
}

/* A client that starts before its server just waits for it. */
static void test_rpc__client_waits_for_a_late_server(void **state)
{
	struct tr_env *env = *state;
	struct vrpc_client *cli;
	struct tr_call *tc;
	int port;

	tr_loops(env, 0);
	/* Find a free port, then let it go. */
	tr_server_start(env, 0, NULL, tr_handlers);
	port = env->port;
	tr_server_stop(env);
	tr_spin(env, 20);

	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, 1);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "hi", 2, NULL, 0, NULL, 0,
				   10000, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	tr_spin(env, 250);
	assert_int_equal(tc[0].done, 0);
	tr_server_start(env, port, NULL, tr_handlers);
	TR_WAIT(env, tc[0].done, 10000);
	assert_int_equal(tc[0].status, 0);
	vrpc_client_free(cli);
	free(tc);
}

static void test_rpc__wrong_secret_is_refused_before_any_frame(void **state)
{
	struct tr_env *env = *state;
	struct vauth_secret *a = NULL, *b = NULL;
	struct vrpc_client *cli;
	struct tr_call *tc;

	tr_loops(env, 0);
	assert_int_equal(vauth_secret_new("cluster-secret-A", 16, &a), 0);
	assert_int_equal(vauth_secret_new("cluster-secret-B", 16, &b), 0);
	tr_server_start(env, 0, a, tr_handlers);
	tc = tr_calls_new(env, 4);

	/* Another secret. */
	cli = tr_client(env, b);
	assert_int_equal(vrpc_call(cli, TR_OP_COUNT, NULL, 0, NULL, 0, NULL, 0,
				   3000, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	TR_WAIT(env, tc[0].done, 5000);
	assert_int_equal(tc[0].status, -EACCES);
	assert_int_equal(tc[0].local, 1);
	vrpc_client_free(cli);

	/* No secret at all. */
	cli = tr_client(env, NULL);
	assert_int_equal(vrpc_call(cli, TR_OP_COUNT, NULL, 0, NULL, 0, NULL, 0,
				   3000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	TR_WAIT(env, tc[1].done, 5000);
	assert_int_equal(tc[1].status, -EACCES);
	vrpc_client_free(cli);
	assert_int_equal(atomic_load(&env->handled), 0);

	/* The right one. */
	cli = tr_client(env, a);
	assert_int_equal(vrpc_call(cli, TR_OP_COUNT, NULL, 0, NULL, 0, NULL, 0,
				   3000, tr_call_cb, &tc[2], &tc[2].call),
			 0);
	TR_WAIT(env, tc[2].done, 5000);
	assert_int_equal(tc[2].status, 0);
	assert_int_equal(atomic_load(&env->counted), 1);
	vrpc_client_free(cli);

	/* A client with a secret refuses a server without one. */
	tr_server_stop(env);
	tr_server_start(env, 0, NULL, tr_handlers);
	cli = tr_client(env, a);
	assert_int_equal(vrpc_call(cli, TR_OP_COUNT, NULL, 0, NULL, 0, NULL, 0,
				   3000, tr_call_cb, &tc[3], &tc[3].call),
			 0);
	TR_WAIT(env, tc[3].done, 5000);
	assert_int_equal(tc[3].status, -EACCES);
	assert_int_equal(atomic_load(&env->counted), 1);
	vrpc_client_free(cli);

	tr_server_stop(env);
	vauth_secret_free(a);
	vauth_secret_free(b);
	free(tc);
}

/* ---- malformed input from a raw socket ----------------------------------- */

/*
 * Read exactly @len bytes from blocking @fd. EINTR is retried: io_uring
 * task work (rings torn down by earlier tests) interrupts a recv that has
 * SO_RCVTIMEO, which the kernel then does not restart.
 */
static void tr_raw_recv(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("recv after %zu of %zu bytes: %s", got, len,
				 n ? strerror(errno) : "EOF");
		got += (size_t)n;
	}
}

/* A blocking socket connected to the server, its HELLO read. */
static int tr_raw_connect(struct tr_env *env, int scheme)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 10};
	uint8_t hello[WIRE_HDR_SIZE + 33];
	struct wire_frame f;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sin.sin_port = htons((uint16_t)env->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	tr_raw_recv(fd, hello, sizeof(hello));
	assert_int_equal(wire_frame_decode(hello, sizeof(hello), &f, NULL), 0);
	assert_int_equal(f.opcode, WIRE_OP_HELLO);
	assert_int_equal(f.body_len, 33);
	assert_int_equal(hello[WIRE_HDR_SIZE], scheme);
	return fd;
}

static void tr_raw_send(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The server must close: recv sees EOF (or a reset), not a timeout. */
static void tr_raw_expect_closed(int fd)
{
	uint8_t buf[256];
	ssize_t n;

	do {
		n = recv(fd, buf, sizeof(buf), 0);
	} while (n > 0 || (n < 0 && errno == EINTR));
	if (n < 0 && errno != ECONNRESET)
		fail_msg("server did not close: %s", strerror(errno));
	close(fd);
}

static void tr_frame(uint8_t *out, uint16_t op, uint64_t id, uint32_t blen,
		     uint32_t dlen)
{
	struct wire_frame f = {
		.opcode = op, .req_id = id, .body_len = blen, .data_len = dlen};

	assert_int_equal(wire_frame_encode(&f, out), 0);
}

static void test_rpc__malformed_frames_close_only_their_connection(void **state)
{
	struct tr_env *env = *state;
	uint8_t buf[WIRE_HDR_SIZE + 16];
	struct wire_frame f;
	struct vrpc_client *cli;
	struct tr_call *tc;
	int fd;

	tr_loops(env, 1);
	tr_server_start(env, 0, NULL, tr_handlers);
	cli = tr_client(env, NULL);
	tc = tr_calls_new(env, 2);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "a", 1, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	TR_WAIT(env, tc[0].done, 5000);
	assert_int_equal(tc[0].status, 0);

	/* Wrong magic. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_COUNT, 1, 0, 0);
	buf[0] = 'X';
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);

	/* Wrong version. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_COUNT, 1, 0, 0);
	buf[4] = 9;
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);

	/* A body length over the limit. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_COUNT, 1, 0, 0);
	buf[24] = 0x01;
	buf[26] = 0x10; /* 1 MiB + 1 */
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);

	/* A data length over the limit. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_COUNT, 1, 0, 0);
	memset(buf + 28, 0xff, 4);
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);

	/* A transport opcode after the handshake. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, WIRE_OP_PROOF, 1, 0, 0);
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);

	/* A truncated header, then a body that overruns what is sent: the
	 * peer hangs up mid-frame. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_COUNT, 1, 100, 0);
	tr_raw_send(fd, buf, 10);
	close(fd);
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_COUNT, 1, 100, 0);
	memcpy(buf + WIRE_HDR_SIZE, "0123456789", 10);
	tr_raw_send(fd, buf, WIRE_HDR_SIZE + 10);
	close(fd);

	/* A good request gets its answer, then garbage closes the conn. */
	fd = tr_raw_connect(env, VAUTH_SCHEME_NONE);
	tr_frame(buf, TR_OP_ECHO, 77, 4, 0);
	memcpy(buf + WIRE_HDR_SIZE, "ping", 4);
	tr_raw_send(fd, buf, WIRE_HDR_SIZE + 4);
	tr_raw_recv(fd, buf, WIRE_HDR_SIZE + 4);
	assert_int_equal(wire_frame_decode(buf, WIRE_HDR_SIZE + 4, &f, NULL),
			 0);
	assert_true(f.req_id == 77);
	assert_int_equal(f.flags, WIRE_F_REPLY);
	assert_memory_equal(buf + WIRE_HDR_SIZE, "ping", 4);
	memset(buf, 0xee, WIRE_HDR_SIZE);
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);

	/* None of the bad frames reached a handler; the good client's
	 * connection never noticed. */
	assert_int_equal(atomic_load(&env->counted), 0);
	assert_true(vrpc_client_is_up(cli));
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "b", 1, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	TR_WAIT(env, tc[1].done, 5000);
	assert_int_equal(tc[1].status, 0);
	assert_int_equal(atomic_load(&env->handled), 3);
	vrpc_client_free(cli);
	free(tc);
}

/* With a secret, a client that sends a request instead of its proof is
 * dropped at once, and the request reaches no handler. */
static void test_rpc__unauthenticated_peers_are_dropped(void **state)
{
	struct tr_env *env = *state;
	struct vauth_secret *a = NULL;
	uint8_t buf[WIRE_HDR_SIZE];
	int fd;

	tr_loops(env, 1);
	assert_int_equal(vauth_secret_new("cluster-secret-A", 16, &a), 0);
	tr_server_start(env, 0, a, tr_handlers);

	fd = tr_raw_connect(env, VAUTH_SCHEME_HMAC_SHA256);
	/* A request instead of a proof. */
	tr_frame(buf, TR_OP_COUNT, 1, 0, 0);
	tr_raw_send(fd, buf, WIRE_HDR_SIZE);
	tr_raw_expect_closed(fd);
	assert_int_equal(atomic_load(&env->handled), 0);

	tr_server_stop(env);
	vauth_secret_free(a);
}

static void test_rpc__no_secret_means_loopback_only(void **state)
{
	struct tr_env *env = *state;
	struct vauth_secret *a = NULL;
	struct vrpc_server *srv = NULL;

	tr_loops(env, 0);
	assert_int_equal(vrpc_server_new(env->loop, "tcp://0.0.0.0:0", NULL,
					 tr_handlers, TR_OP_NR, env, &srv),
			 -EPERM);
	assert_null(srv);
	assert_int_equal(vrpc_server_new(env->loop, "tcp://[::]:0", NULL,
					 tr_handlers, TR_OP_NR, env, &srv),
			 -EPERM);
	assert_int_equal(vrpc_server_new(env->loop, "tcp://127.0.0.1", NULL,
					 tr_handlers, TR_OP_NR, env, &srv),
			 -EINVAL);
	/* With a secret, any address. */
	assert_int_equal(vauth_secret_new("cluster-secret-A", 16, &a), 0);
	assert_int_equal(vrpc_server_new(env->loop, "tcp://0.0.0.0:0", a,
					 tr_handlers, TR_OP_NR, env, &srv),
			 0);
	assert_true(vrpc_server_port(srv) > 0);
	vrpc_server_free(srv);
	/* Loopback without one is fine (what the other tests do). */
	assert_int_equal(vrpc_server_new(env->loop, "tcp://localhost:0", NULL,
					 tr_handlers, TR_OP_NR, env, &srv),
			 0);
	vrpc_server_free(srv);
	/* rdma:// is not built in: refused at once. */
	assert_int_equal(vrpc_server_new(env->loop, "rdma://127.0.0.1:0", a,
					 tr_handlers, TR_OP_NR, env, &srv),
			 -EOPNOTSUPP);
	vauth_secret_free(a);
}

/* ---- a hand-driven server on non-blocking sockets ------------------------ */

static int tr_rawsrv_listen(int *port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Send all of @buf, running the client's loop while the socket is full. */
static void tr_raw_xmit(struct tr_env *env, int fd, const void *buf, size_t len)
{
	uint64_t dl = vloop_now_ns() + 10000 * TR_MS;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, (const char *)buf + done, len - done,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_msg("raw send: %s", strerror(errno));
		if (vloop_now_ns() > dl)
			fail_msg("raw send: stuck");
		vloop_run_once(env->loop, 1);
	}
}

/* Receive exactly @len bytes (@buf NULL: discard), running the loop. */
static void tr_raw_take(struct tr_env *env, int fd, void *buf, size_t len)
{
	uint64_t dl = vloop_now_ns() + 10000 * TR_MS;
	static uint8_t junk[65536];
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		size_t want = len - done;

		if (!buf && want > sizeof(junk))
			want = sizeof(junk);
		n = recv(fd, buf ? (char *)buf + done : (char *)junk, want,
			 MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			fail_msg("raw recv: EOF after %zu of %zu", done, len);
		if (errno != EAGAIN && errno != EINTR)
			fail_msg("raw recv: %s", strerror(errno));
		if (vloop_now_ns() > dl)
			fail_msg("raw recv: stuck after %zu of %zu", done, len);
		vloop_run_once(env->loop, 1);
	}
}

/* Accept the client's connection and say HELLO (no secret). */
static int tr_rawsrv_accept(struct tr_env *env, int lfd)
{
	uint8_t hello[WIRE_HDR_SIZE + VAUTH_HELLO_LEN] = {0};
	struct wire_frame f = {.opcode = WIRE_OP_HELLO,
			       .body_len = VAUTH_HELLO_LEN};
	uint64_t dl = vloop_now_ns() + 10000 * TR_MS;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		if (vloop_now_ns() > dl)
			fail_msg("raw accept: %s", strerror(errno));
		vloop_run_once(env->loop, 1);
	}
	assert_int_equal(wire_frame_encode(&f, hello), 0);
	hello[WIRE_HDR_SIZE] = VAUTH_SCHEME_NONE;
	tr_raw_xmit(env, fd, hello, sizeof(hello));
	return fd;
}

/* Read one request: its header, body (into @body), data (discarded). */
static void tr_rawsrv_request(struct tr_env *env, int fd, struct wire_frame *f,
			      void *body, size_t cap)
{
	uint8_t hdr[WIRE_HDR_SIZE];

	tr_raw_take(env, fd, hdr, sizeof(hdr));
	assert_int_equal(wire_frame_decode(hdr, sizeof(hdr), f, NULL), 0);
	assert_true(f->body_len <= cap);
	tr_raw_take(env, fd, body, f->body_len);
	tr_raw_take(env, fd, NULL, f->data_len);
}

static void tr_rawsrv_reply_hdr(struct tr_env *env, int fd,
				const struct wire_frame *req, uint32_t blen,
				uint32_t dlen)
{
	struct wire_frame f = {.opcode = req->opcode,
			       .flags = WIRE_F_REPLY,
			       .req_id = req->req_id,
			       .body_len = blen,
			       .data_len = dlen};
	uint8_t hdr[WIRE_HDR_SIZE];

	assert_int_equal(wire_frame_encode(&f, hdr), 0);
	tr_raw_xmit(env, fd, hdr, sizeof(hdr));
}

/*
 * A call times out while its reply's data is arriving into its buffer:
 * the rest of that data must be skipped, never written into the buffer
 * the caller got back, and the connection must stay in step.
 */
static void test_rpc__timeout_mid_reply_stops_writing_the_buffer(void **state)
{
	struct tr_env *env = *state;
	size_t dlen = 1u << 20, i, dirty = 0;
	uint8_t *reply, *payload, body[64];
	struct vrpc_client *cli;
	struct wire_frame req;
	struct tr_call *tc;
	int lfd, fd, port;

	tr_loops(env, 0);
	lfd = tr_rawsrv_listen(&port);
	snprintf(env->url, sizeof(env->url), "tcp://127.0.0.1:%d", port);
	cli = tr_client(env, NULL);
	fd = tr_rawsrv_accept(env, lfd);
	tc = tr_calls_new(env, 2);
	reply = calloc(1, dlen);
	payload = malloc(dlen);
	assert_true(reply && payload);
	memset(payload, 0x11, dlen);

	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "r1", 2, NULL, 0, reply,
				   dlen, 300, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	tr_rawsrv_request(env, fd, &req, body, sizeof(body));
	tr_rawsrv_reply_hdr(env, fd, &req, 0, (uint32_t)dlen);
	tr_raw_xmit(env, fd, payload, 1000);
	TR_WAIT(env, tc[0].done, 5000);
	assert_int_equal(tc[0].status, -ETIMEDOUT);
	/* The first bytes did land in place. */
	assert_int_equal(reply[0], 0x11);

	/* The caller owns the buffer again: the rest must not touch it. */
	memset(reply, 0xaa, dlen);
	tr_raw_xmit(env, fd, payload + 1000, dlen - 1000);

	/* The next call on the same connection works. */
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "r2", 2, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	tr_rawsrv_request(env, fd, &req, body, sizeof(body));
	assert_memory_equal(body, "r2", 2);
	tr_rawsrv_reply_hdr(env, fd, &req, 2, 0);
	tr_raw_xmit(env, fd, "ok", 2);
	TR_WAIT(env, tc[1].done, 5000);
	assert_int_equal(tc[1].status, 0);
	assert_memory_equal(tc[1].body, "ok", 2);
	for (i = 0; i < dlen; i++)
		dirty += reply[i] != 0xaa;
	assert_int_equal(dirty, 0);
	assert_int_equal(tc[0].done, 1);

	vrpc_client_free(cli);
	close(fd);
	close(lfd);
	free(reply);
	free(payload);
	free(tc);
}

/*
 * A call times out with its request half in the kernel (the server does
 * not read): the stream cannot be cut, so the connection is reset, the
 * other call in flight fails with -ECONNRESET, and the client reconnects.
 */
static void test_rpc__timeout_mid_send_resets_the_connection(void **state)
{
	struct tr_env *env = *state;
	size_t dlen = 48u << 20;
	struct vrpc_client *cli;
	struct wire_frame req;
	struct tr_call *tc;
	int lfd, fd, fd2, port;
	uint8_t *payload, body[64];
	struct iovec iov;

	tr_loops(env, 0);
	lfd = tr_rawsrv_listen(&port);
	snprintf(env->url, sizeof(env->url), "tcp://127.0.0.1:%d", port);
	cli = tr_client(env, NULL);
	fd = tr_rawsrv_accept(env, lfd);
	TR_WAIT(env, vrpc_client_is_up(cli), 5000);
	tc = tr_calls_new(env, 3);
	payload = calloc(1, dlen);
	assert_non_null(payload);
	iov.iov_base = payload;
	iov.iov_len = dlen;

	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, NULL, 0, &iov, 1, NULL, 0,
				   300, tr_call_cb, &tc[0], &tc[0].call),
			 0);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "b", 1, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[1], &tc[1].call),
			 0);
	TR_WAIT(env, tc[0].done && tc[1].done, 5000);
	assert_int_equal(tc[0].status, -ETIMEDOUT);
	assert_int_equal(tc[1].status, -ECONNRESET);
	/* Nothing of ours is referenced any more: scribble over it. */
	memset(payload, 0x5a, dlen);
	close(fd);

	/* Back again on a fresh connection. */
	fd2 = tr_rawsrv_accept(env, lfd);
	assert_int_equal(vrpc_call(cli, TR_OP_ECHO, "c", 1, NULL, 0, NULL, 0,
				   5000, tr_call_cb, &tc[2], &tc[2].call),
			 0);
	tr_rawsrv_request(env, fd2, &req, body, sizeof(body));
	tr_rawsrv_reply_hdr(env, fd2, &req, 1, 0);
	tr_raw_xmit(env, fd2, "C", 1);
	TR_WAIT(env, tc[2].done, 5000);
	assert_int_equal(tc[2].status, 0);
	assert_memory_equal(tc[2].body, "C", 1);

	vrpc_client_free(cli);
	close(fd2);
	close(lfd);
	free(payload);
	free(tc);
}

/* ---- the transport's own handshake timeouts ------------------------------ */

struct tr_tconn {
	int up, closed, accepted;
	int err;
	struct vconn *c;
};

static void tr_t_up(struct vconn *c)
{
	((struct tr_tconn *)vconn_arg(c))->up++;
}

static void *tr_t_data(struct vconn *c, const struct wire_frame *h,
		       const void *body)
{
	(void)c;
	(void)h;
	(void)body;
	return NULL;
}

static void tr_t_frame(struct vconn *c, const struct wire_frame *h,
		       const void *body, void *data)
{
	(void)c;
	(void)h;
	(void)body;
	(void)data;
}

static void tr_t_close(struct vconn *c, int err)
{
	struct tr_tconn *t = vconn_arg(c);

	t->closed++;
	t->err = err;
	vconn_close(c);
	t->c = NULL;
}

static const struct vconn_cbs tr_t_cbs = {
	.on_up = tr_t_up,
	.on_data = tr_t_data,
	.on_frame = tr_t_frame,
	.on_close = tr_t_close,
};

static int tr_t_accept(struct vlistener *l, struct vconn *c, void *arg)
{
	(void)l;
	(void)c;
	((struct tr_tconn *)arg)->accepted++;
	return -EPERM;
}

/* A client that connects and says nothing is dropped after the server's
 * handshake timeout, never reaching on_accept. */
static void test_rpc__silent_client_is_dropped_in_time(void **state)
{
	struct tr_env *env = *state;
	struct vauth_secret *a = NULL;
	struct vlisten_opts lo = {.on_accept = tr_t_accept,
				  .handshake_timeout_ms = 200};
	struct tr_tconn t = {0};
	struct vlistener *l = NULL;
	uint8_t buf[WIRE_HDR_SIZE + VAUTH_HELLO_LEN];
	uint64_t t0, ms;
	struct vurl u;
	int fd;
	ssize_t n;

	tr_loops(env, 0);
	assert_int_equal(vauth_secret_new("cluster-secret-A", 16, &a), 0);
	lo.secret = a;
	lo.arg = &t;
	assert_int_equal(vurl_parse(&u, "tcp://127.0.0.1:0", NULL), 0);
	assert_int_equal(
		vtransport_listen(vtransport_for(&u), env->loop, &u, &lo, &l),
		0);
	env->port = vlistener_port(l);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in sin = {.sin_family = AF_INET};

		sin.sin_port = htons((uint16_t)env->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(
			connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	t0 = vloop_now_ns();
	tr_raw_take(env, fd, buf, sizeof(buf));
	/* Now wait for the EOF while the loop runs. */
	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			break;
		assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
		assert_true(vloop_now_ns() - t0 < 5000 * TR_MS);
		vloop_run_once(env->loop, 5);
	}
	ms = (vloop_now_ns() - t0) / TR_MS;
	assert_true(ms >= 190 && ms < 3000);
	assert_int_equal(t.accepted, 0);
	close(fd);
	vlistener_close(l);
	vauth_secret_free(a);
}

/* A server that accepts and never says HELLO: the client gives up after
 * its handshake timeout with -ETIMEDOUT. */
static void test_rpc__mute_server_times_out_the_connect(void **state)
{
	struct tr_env *env = *state;
	struct vconn_opts co = {.cbs = &tr_t_cbs, .handshake_timeout_ms = 200};
	struct tr_tconn t = {0};
	uint64_t t0, ms;
	struct vurl u;
	char url[64];
	int lfd, port;

	tr_loops(env, 0);
	lfd = tr_rawsrv_listen(&port);
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	assert_int_equal(vurl_parse(&u, url, NULL), 0);
	co.arg = &t;
	t0 = vloop_now_ns();
	assert_int_equal(vtransport_connect(vtransport_for(&u), env->loop, &u,
					    &co, &t.c),
			 0);
	TR_WAIT(env, t.closed, 5000);
	ms = (vloop_now_ns() - t0) / TR_MS;
	assert_int_equal(t.err, -ETIMEDOUT);
	assert_int_equal(t.up, 0);
	assert_true(ms >= 190 && ms < 3000);
	close(lfd);
}

/* ---- main ---------------------------------------------------------------- */

#define TR_TEST(fn, be)                                                        \
	cmocka_unit_test_prestate_setup_teardown(fn, tr_setup, tr_teardown,    \
						 &(be))
#define TR_TESTS(be)                                                            \
	TR_TEST(test_rpc__echo_lands_in_the_callers_buffer, be),                \
		TR_TEST(test_rpc__bad_arguments_are_refused, be),               \
		TR_TEST(test_rpc__concurrent_calls_are_matched, be),            \
		TR_TEST(test_rpc__timeout_when_the_server_never_answers, be),   \
		TR_TEST(test_rpc__reconnects_after_a_server_restart, be),       \
		TR_TEST(test_rpc__client_waits_for_a_late_server, be),          \
		TR_TEST(test_rpc__wrong_secret_is_refused_before_any_frame,     \
			be),                                                    \
		TR_TEST(test_rpc__malformed_frames_close_only_their_connection, \
			be),                                                    \
		TR_TEST(test_rpc__unauthenticated_peers_are_dropped, be),       \
		TR_TEST(test_rpc__no_secret_means_loopback_only, be),           \
		TR_TEST(test_rpc__timeout_mid_reply_stops_writing_the_buffer,   \
			be),                                                    \
		TR_TEST(test_rpc__timeout_mid_send_resets_the_connection, be),  \
		TR_TEST(test_rpc__silent_client_is_dropped_in_time, be),        \
		TR_TEST(test_rpc__mute_server_times_out_the_connect, be)

int main(int argc, char **argv)
{
	const struct CMUnitTest poll_tests[] = {TR_TESTS(tr_be_poll)};
	const struct CMUnitTest uring_tests[] = {TR_TESTS(tr_be_uring)};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	/* TEST_RPC_LOG=1 traces every state change; by default only the
	 * errors the tests provoke on purpose show. */
	vlog_set_level(getenv("TEST_RPC_LOG") ? VLOG_DEBUG : VLOG_ERR);
	if (!only || !strcmp(only, "poll"))
		failed += cmocka_run_group_tests_name("rpc/poll", poll_tests,
						      NULL, NULL);
	if (!only || !strcmp(only, "uring"))
		failed += cmocka_run_group_tests_name("rpc/uring", uring_tests,
						      NULL, NULL);
	return failed ? 1 : 0;
}
