/* SPDX-License-Identifier: MIT */
/*
 * test_loop.c - ring/loop: timers, fd watches, wake-ups, posts, stop and
 * raw io_uring ops, each test run once per backend (two cmocka groups,
 * "poll" and "uring"). Uring tests skip with a reason where the kernel
 * refuses io_uring.
 *
 *   test_loop            both groups
 *   test_loop poll       only the poll group: must show no io_uring system
 *                        call under strace -f -c
 *   test_loop uring      only the uring group
 *
 * Each test arms alarm(): a loop that never wakes up kills the program
 * (SIGALRM) instead of hanging the test run.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>
#include <liburing.h>

#include "ring/loop.h"

#define TL_WATCHDOG_S 20
#define TL_MS 1000000ull

#define tl_container_of(ptr, type, member)                                     \
	((type *)((char *)ptr - offsetof(type, member)))

static enum vloop_backend tl_be_poll = VLOOP_POLL;
static enum vloop_backend tl_be_uring = VLOOP_URING;

/* ---- fixtures ------------------------------------------------------------ */

static int tl_setup(void **state)
{
	(void)state;
	alarm(TL_WATCHDOG_S);
	return 0;
}

static int tl_teardown(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

static enum vloop_backend tl_backend(void **state)
{
	return *(enum vloop_backend *)*state;
}

/* A loop of the test's backend; skips the test where io_uring is refused. */
static struct vloop *tl_loop_new_flags(void **state, unsigned entries,
				       unsigned flags)
{
	enum vloop_backend be = tl_backend(state);
	struct vloop *loop = NULL;
	int ret;

	ret = vloop_new(&loop, be, entries, flags);
	if (be == VLOOP_URING &&
	    (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP ||
	     (flags && ret == -EINVAL))) {
		print_message("io_uring unavailable (flags %#x): %s; skipped\n",
			      flags, strerror(-ret));
		skip();
	}
	assert_int_equal(ret, 0);
	assert_non_null(loop);
	assert_int_equal(vloop_backend_of(loop), be);
	return loop;
}

static struct vloop *tl_loop_new(void **state)
{
	return tl_loop_new_flags(state, 0, 0);
}

static uint64_t tl_ms_since(uint64_t t0)
{
	return (vloop_now_ns() - t0) / TL_MS;
}

static void tl_pipe(int fds[2], int nonblock)
{
	assert_int_equal(pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)),
			 0);
}

static void tl_write(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void tl_drain(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* ---- timers -------------------------------------------------------------- */

struct tl_timer_ctx {
	int order[16];
	int nr_fired;
};

struct tl_timer {
	struct vloop_timer t;
	struct tl_timer_ctx *ctx;
	struct vloop *loop;
	int id;
	int fired;
	uint64_t due_ns; /* deadline it was armed for */
	uint64_t fired_ns;
	int rearm_left; /* re-arm from the callback this many times */
	uint64_t rearm_ns;
	struct tl_timer *cancel; /* cancel this one from the callback */
};

static void tl_timer_cb(struct vloop_timer *vt)
{
	struct tl_timer *t = tl_container_of(vt, struct tl_timer, t);

	t->fired++;
	t->fired_ns = vloop_now_ns();
	if (t->ctx && t->ctx->nr_fired < 16)
		t->ctx->order[t->ctx->nr_fired++] = t->id;
	if (t->cancel)
		vloop_timer_cancel(t->loop, &t->cancel->t);
	if (t->rearm_left > 0) {
		t->rearm_left--;
		assert_int_equal(vloop_timer_add(t->loop, &t->t, t->rearm_ns),
				 0);
	}
}

static void tl_timer_arm(struct vloop *loop, struct tl_timer *t,
			 uint64_t after_ns)
{
	t->loop = loop;
	t->due_ns = vloop_now_ns() + after_ns;
	assert_int_equal(vloop_timer_add(loop, &t->t, after_ns), 0);
	assert_true(vloop_timer_armed(&t->t));
}

static void test_loop__timers_fire_in_deadline_order(void **state)
{
	static const uint64_t after_ms[] = {30, 10, 50, 0, 20, 40, 5};
	static const int expect[] = {3, 6, 1, 4, 0, 5, 2};
	enum { N = sizeof(after_ms) / sizeof(after_ms[0]) };
	struct vloop *loop = tl_loop_new(state);
	struct tl_timer_ctx ctx = {.nr_fired = 0};
	struct tl_timer t[N];
	int i;

	memset(t, 0, sizeof(t));
	for (i = 0; i < N; i++) {
		vloop_timer_init(&t[i].t, tl_timer_cb);
		assert_false(vloop_timer_armed(&t[i].t));
		t[i].ctx = &ctx;
		t[i].id = i;
		tl_timer_arm(loop, &t[i], after_ms[i] * TL_MS);
	}
	/* Nothing but timers: run_once(-1) must return on the deadlines. */
	while (ctx.nr_fired < N)
		assert_true(vloop_run_once(loop, -1) >= 0);

	for (i = 0; i < N; i++) {
		assert_int_equal(ctx.order[i], expect[i]);
		assert_int_equal(t[i].fired, 1);
		assert_true(t[i].fired_ns >= t[i].due_ns); /* never early */
		assert_false(vloop_timer_armed(&t[i].t));
	}
	vloop_free(loop);
}

static void test_loop__timer_cancel_prevents_firing(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_timer a = {0}, b = {0}, c = {0}, idle = {0};
	struct tl_timer d = {0}, e = {0};
	uint64_t t0;

	vloop_timer_init(&a.t, tl_timer_cb);
	vloop_timer_init(&b.t, tl_timer_cb);
	vloop_timer_init(&c.t, tl_timer_cb);
	vloop_timer_init(&idle.t, tl_timer_cb);
	tl_timer_arm(loop, &a, 10 * TL_MS);
	tl_timer_arm(loop, &b, 20 * TL_MS);
	tl_timer_arm(loop, &c, 5 * TL_MS);
	vloop_timer_cancel(loop, &a.t);
	vloop_timer_cancel(loop, &c.t);
	vloop_timer_cancel(loop, &c.t);	   /* twice: no-op */
	vloop_timer_cancel(loop, &idle.t); /* never armed: no-op */
	assert_false(vloop_timer_armed(&a.t));
	assert_false(vloop_timer_armed(&c.t));

	t0 = vloop_now_ns();
	while (!b.fired)
		assert_true(vloop_run_once(loop, -1) >= 0);
	assert_true(tl_ms_since(t0) >= 15);
	assert_int_equal(vloop_run_once(loop, 30), 0);
	assert_int_equal(a.fired, 0);
	assert_int_equal(c.fired, 0);
	assert_int_equal(idle.fired, 0);

	/* Both due in the same iteration: d (earlier) cancels e. */
	vloop_timer_init(&d.t, tl_timer_cb);
	vloop_timer_init(&e.t, tl_timer_cb);
	tl_timer_arm(loop, &d, 1 * TL_MS);
	tl_timer_arm(loop, &e, 2 * TL_MS);
	d.cancel = &e;
	usleep(10000);
	assert_int_equal(vloop_run_once(loop, 0), 1);
	assert_int_equal(d.fired, 1);
	assert_int_equal(e.fired, 0);
	assert_int_equal(vloop_run_once(loop, 10), 0);
	assert_int_equal(e.fired, 0);
	vloop_free(loop);
}

static void test_loop__timer_rearm_replaces_deadline(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_timer sooner = {0}, later = {0}, self = {0};
	struct tl_timer zero = {0};
	uint64_t t0 = vloop_now_ns();
	int i;

	/* 10 s re-armed to 5 ms: fires once, soon. */
	vloop_timer_init(&sooner.t, tl_timer_cb);
	tl_timer_arm(loop, &sooner, 10000 * TL_MS);
	tl_timer_arm(loop, &sooner, 5 * TL_MS);
	/* 5 ms re-armed to 60 ms: not at 5 ms. */
	vloop_timer_init(&later.t, tl_timer_cb);
	tl_timer_arm(loop, &later, 5 * TL_MS);
	tl_timer_arm(loop, &later, 60 * TL_MS);

	while (!sooner.fired)
		assert_true(vloop_run_once(loop, -1) >= 0);
	assert_true(tl_ms_since(t0) < 1000);
	assert_int_equal(later.fired, 0);
	while (!later.fired)
		assert_true(vloop_run_once(loop, -1) >= 0);
	assert_true(later.fired_ns >= later.due_ns);
	assert_true(tl_ms_since(t0) >= 55);
	assert_int_equal(sooner.fired, 1);
	assert_int_equal(later.fired, 1);

	/* Re-armed from its own callback: fires 1 + 3 times. */
	vloop_timer_init(&self.t, tl_timer_cb);
	self.rearm_left = 3;
	self.rearm_ns = 2 * TL_MS;
	tl_timer_arm(loop, &self, 1 * TL_MS);
	while (self.fired < 4)
		assert_true(vloop_run_once(loop, -1) >= 0);
	assert_false(vloop_timer_armed(&self.t));
	assert_int_equal(vloop_run_once(loop, 20), 0);
	assert_int_equal(self.fired, 4);

	/* Re-armed with 0 from its callback: once per iteration, no spin. */
	vloop_timer_init(&zero.t, tl_timer_cb);
	zero.rearm_left = 100;
	zero.rearm_ns = 0;
	tl_timer_arm(loop, &zero, 0);
	for (i = 1; i <= 3; i++) {
		assert_int_equal(vloop_run_once(loop, 0), 1);
		assert_int_equal(zero.fired, i);
	}
	vloop_timer_cancel(loop, &zero.t);
	assert_int_equal(vloop_run_once(loop, 0), 0);
	vloop_free(loop);
}

static void test_loop__run_once_honours_timeout(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	uint64_t t0 = vloop_now_ns();

	assert_int_equal(vloop_run_once(loop, 0), 0);
	assert_true(tl_ms_since(t0) < 500);
	t0 = vloop_now_ns();
	assert_int_equal(vloop_run_once(loop, 40), 0);
	assert_true(tl_ms_since(t0) >= 35);
	assert_true(tl_ms_since(t0) < 2000);
	vloop_free(loop);
}

/* ---- watches ------------------------------------------------------------- */

/* Calls that reached a watch the test had deleted and freed. */
static int tl_stray_calls;

struct tl_watch {
	struct vloop_watch w;
	struct vloop *loop;
	int calls;
	uint32_t revents;
	int drain;	/* read the fd empty in the callback */
	int del_self;	/* watch_del from the callback */
	int free_self;	/* and free() it (heap-allocated) */
	int readd_self; /* watch_del + watch_add from the callback */
	struct tl_watch *del_other;
	struct tl_watch *add_other;
};

static void tl_watch_cb(struct vloop_watch *vw, uint32_t revents)
{
	struct tl_watch *w = tl_container_of(vw, struct tl_watch, w);

	w->calls++;
	w->revents = revents;
	if (w->drain)
		tl_drain(vw->fd);
	if (w->del_other)
		vloop_watch_del(w->loop, &w->del_other->w);
	if (w->add_other)
		assert_int_equal(vloop_watch_add(w->loop, &w->add_other->w), 0);
	if (w->readd_self) {
		vloop_watch_del(w->loop, vw);
		assert_int_equal(vloop_watch_add(w->loop, vw), 0);
	}
	if (w->del_self) {
		vloop_watch_del(w->loop, vw);
		if (w->free_self)
			free(w);
	}
}

static void tl_stray_cb(struct vloop_watch *vw, uint32_t revents)
{
	(void)vw;
	(void)revents;
	tl_stray_calls++;
}

static void tl_watch_init(struct tl_watch *w, struct vloop *loop, int fd,
			  uint32_t events)
{
	memset(w, 0, sizeof(*w));
	w->w.fd = fd;
	w->w.events = events;
	w->w.cb = tl_watch_cb;
	w->loop = loop;
}

static void test_loop__watch_fires_on_readable(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch rd, wr;
	int fds[2];

	tl_pipe(fds, 1);
	tl_watch_init(&rd, loop, fds[0], POLLIN);
	assert_int_equal(vloop_watch_add(loop, &rd.w), 0);

	/* Empty pipe: nothing. */
	assert_int_equal(vloop_run_once(loop, 0), 0);
	assert_int_equal(vloop_run_once(loop, 20), 0);
	assert_int_equal(rd.calls, 0);

	/* Readable: fires; level-triggered, so again while not drained. */
	tl_write(fds[1], "x");
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(rd.calls, 1);
	assert_true(rd.revents & POLLIN);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(rd.calls, 2);

	/* Drained in the callback: fires once more, then stays quiet. */
	rd.drain = 1;
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(vloop_run_once(loop, 30), 0);
	assert_int_equal(rd.calls, 3);

	/* Persistent: the next write fires it again. */
	tl_write(fds[1], "y");
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(rd.calls, 4);

	/* POLLOUT on the write end fires at once. */
	tl_watch_init(&wr, loop, fds[1], POLLOUT);
	wr.del_self = 1;
	assert_int_equal(vloop_watch_add(loop, &wr.w), 0);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(wr.calls, 1);
	assert_true(wr.revents & POLLOUT);

	/* Closing the write end: POLLHUP on the read end. */
	close(fds[1]);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_true(rd.revents & POLLHUP);
	vloop_watch_del(loop, &rd.w);

	vloop_free(loop);
	close(fds[0]);
}

static void test_loop__watch_del_stops_callbacks(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch w;
	int fds[2];

	tl_pipe(fds, 1);
	tl_watch_init(&w, loop, fds[0], POLLIN);
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	tl_write(fds[1], "x"); /* stays readable */
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(w.calls, 1);

	vloop_watch_del(loop, &w.w);
	vloop_watch_del(loop, &w.w); /* twice: no-op */
	assert_int_equal(vloop_run_once(loop, 20), 0);
	assert_int_equal(vloop_run_once(loop, 20), 0);
	assert_int_equal(w.calls, 1);

	/* Added again after a del: works. */
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(w.calls, 2);
	vloop_watch_del(loop, &w.w);

	vloop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

static void test_loop__watch_del_from_own_callback(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch *w = malloc(sizeof(*w));
	struct tl_watch keep;
	int fds[2], i;

	assert_non_null(w);
	tl_pipe(fds, 1);
	tl_watch_init(w, loop, fds[0], POLLIN);
	w->del_self = 1;
	w->free_self = 1; /* the loop must not touch it afterwards */
	assert_int_equal(vloop_watch_add(loop, &w->w), 0);
	/* A second watch on the same fd that stays, to keep the loop busy. */
	tl_watch_init(&keep, loop, fds[0], POLLIN);
	assert_int_equal(vloop_watch_add(loop, &keep.w), 0);

	tl_write(fds[1], "x"); /* never drained */
	assert_int_equal(vloop_run_once(loop, 1000), 2);
	for (i = 0; i < 5; i++)
		assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(keep.calls, 6);
	vloop_watch_del(loop, &keep.w);

	vloop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

static void test_loop__watch_del_while_armed(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct vloop_watch *w = calloc(1, sizeof(*w));
	struct tl_watch again;
	int fds[2], i;

	assert_non_null(w);
	tl_stray_calls = 0;
	tl_pipe(fds, 1);
	w->fd = fds[0];
	w->events = POLLIN;
	w->cb = tl_stray_cb;
	assert_int_equal(vloop_watch_add(loop, w), 0);
	/* One idle iteration: for uring the POLL_ADD is now in flight. */
	assert_int_equal(vloop_run_once(loop, 0), 0);
	if (tl_backend(state) == VLOOP_URING)
		assert_int_equal(w->armed, 1);

	vloop_watch_del(loop, w);
	free(w); /* the loop keeps no pointer to it */
	tl_write(fds[1], "x");
	for (i = 0; i < 3; i++)
		assert_int_equal(vloop_run_once(loop, 10), 0);
	assert_int_equal(tl_stray_calls, 0);

	/* A new watch on the same fd, reusing what the old one freed. */
	tl_watch_init(&again, loop, fds[0], POLLIN);
	again.drain = 1;
	assert_int_equal(vloop_watch_add(loop, &again.w), 0);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(again.calls, 1);
	assert_int_equal(tl_stray_calls, 0);

	/*
	 * Deleted while armed, then the fd closed: the poll must really be
	 * removed, not just ignored, or the kernel keeps the pipe's read side
	 * open and the writer never sees EPIPE.
	 */
	assert_int_equal(vloop_run_once(loop, 0), 0); /* re-armed */
	vloop_watch_del(loop, &again.w);
	close(fds[0]);
	assert_int_equal(vloop_run_once(loop, 0), 0);
	assert_int_equal(vloop_run_once(loop, 10), 0);
	errno = 0;
	assert_int_equal(write(fds[1], "z", 1), -1);
	assert_int_equal(errno, EPIPE);

	vloop_free(loop);
	close(fds[1]);
}

/* Two watches ready in the same iteration: whichever runs first deletes the
 * other, which must then not run, in this iteration or later. */
static void test_loop__watch_del_of_other_ready_watch(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch a, b, *first, *second;
	int pa[2], pb[2], i;

	tl_pipe(pa, 1);
	tl_pipe(pb, 1);
	tl_watch_init(&a, loop, pa[0], POLLIN);
	tl_watch_init(&b, loop, pb[0], POLLIN);
	a.del_other = &b;
	b.del_other = &a;
	assert_int_equal(vloop_watch_add(loop, &a.w), 0);
	assert_int_equal(vloop_watch_add(loop, &b.w), 0);
	/* Arm both (uring) before either is ready, so that both complete in
	 * one batch. */
	assert_int_equal(vloop_run_once(loop, 0), 0);
	tl_write(pa[1], "x");
	tl_write(pb[1], "x");
	usleep(10000);

	assert_int_equal(vloop_run_once(loop, 1000), 1);
	first = a.calls ? &a : &b;
	second = a.calls ? &b : &a;
	assert_int_equal(first->calls, 1);
	assert_int_equal(second->calls, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(first->calls, 4);
	assert_int_equal(second->calls, 0);
	vloop_watch_del(loop, &first->w);

	vloop_free(loop);
	close(pa[0]);
	close(pa[1]);
	close(pb[0]);
	close(pb[1]);
}

static void test_loop__watch_readd_from_callback(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch w, next;
	int p1[2], p2[2], i;

	tl_pipe(p1, 1);
	tl_pipe(p2, 1);
	/* del + add of itself from its callback: keeps firing. */
	tl_watch_init(&w, loop, p1[0], POLLIN);
	w.readd_self = 1;
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	tl_write(p1[1], "x");
	for (i = 1; i <= 3; i++) {
		assert_int_equal(vloop_run_once(loop, 1000), 1);
		assert_int_equal(w.calls, i);
	}

	/* Replaced by another watch from its callback. */
	tl_watch_init(&next, loop, p2[0], POLLIN);
	w.readd_self = 0;
	w.del_self = 1;
	w.add_other = &next;
	tl_write(p2[1], "x");
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(w.calls, 4);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(next.calls, 2);
	assert_int_equal(w.calls, 4);
	vloop_watch_del(loop, &next.w);

	vloop_free(loop);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
}

static void test_loop__watch_add_twice_fails(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch w;
	int fds[2];

	tl_pipe(fds, 1);
	tl_watch_init(&w, loop, fds[0], POLLIN);
	vloop_watch_del(loop, &w.w); /* zeroed, never added: no-op */
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	assert_int_equal(vloop_watch_add(loop, &w.w), -EEXIST);
	vloop_watch_del(loop, &w.w);
	w.w.fd = -1;
	assert_int_equal(vloop_watch_add(loop, &w.w), -EBADF);
	assert_int_equal(w.w.active, 0);
	vloop_watch_del(loop, &w.w); /* never added: no-op */
	w.w.fd = fds[0];
	vloop_watch_del(loop, &w.w);
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	vloop_watch_del(loop, &w.w);
	vloop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

/* Many watches (past the tables' first growth), half deleted before they
 * get ready: exactly the remaining ones fire, once each. */
static void test_loop__watch_many_with_deletions(void **state)
{
	enum { N = 48 };
	struct vloop *loop = tl_loop_new(state);
	struct tl_watch w[N];
	int fds[N][2], i, fired = 0, guard;

	for (i = 0; i < N; i++) {
		tl_pipe(fds[i], 1);
		tl_watch_init(&w[i], loop, fds[i][0], POLLIN);
		w[i].drain = 1;
		assert_int_equal(vloop_watch_add(loop, &w[i].w), 0);
	}
	assert_int_equal(vloop_run_once(loop, 0), 0);
	for (i = 0; i < N; i += 2)
		vloop_watch_del(loop, &w[i].w);
	for (i = 0; i < N; i++)
		tl_write(fds[i][1], "x");
	for (guard = 0; fired < N / 2 && guard < 100; guard++) {
		int n = vloop_run_once(loop, 1000);

		assert_true(n >= 0);
		fired += n;
	}
	assert_int_equal(fired, N / 2);
	assert_int_equal(vloop_run_once(loop, 20), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(w[i].calls, i % 2);
	for (i = 1; i < N; i += 2)
		vloop_watch_del(loop, &w[i].w);
	vloop_free(loop);
	for (i = 0; i < N; i++) {
		close(fds[i][0]);
		close(fds[i][1]);
	}
}

/* ---- wake, post, stop ---------------------------------------------------- */

struct tl_thread_arg {
	struct vloop *loop;
	unsigned delay_us;
	int id;
	int value; /* written before vloop_stop() */
	struct tl_node *nodes;
	int nr_nodes;
};

static void *tl_waker(void *p)
{
	struct tl_thread_arg *a = p;

	usleep(a->delay_us);
	vloop_wake(a->loop);
	return NULL;
}

static void test_loop__wake_from_thread_interrupts_run_once(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_thread_arg arg = {.loop = loop, .delay_us = 50000};
	pthread_t th;
	uint64_t t0;

	/* Blocked forever but for the wake-up (the watchdog guards). */
	t0 = vloop_now_ns();
	assert_int_equal(pthread_create(&th, NULL, tl_waker, &arg), 0);
	assert_int_equal(vloop_run_once(loop, -1), 0);
	assert_true(tl_ms_since(t0) >= 40);
	assert_int_equal(pthread_join(th, NULL), 0);

	/* A wake-up before the wait is not lost; several coalesce, and are
	 * consumed: the next wait runs its full timeout. */
	vloop_wake(loop);
	vloop_wake(loop);
	t0 = vloop_now_ns();
	assert_int_equal(vloop_run_once(loop, -1), 0);
	assert_true(tl_ms_since(t0) < 1000);
	t0 = vloop_now_ns();
	assert_int_equal(vloop_run_once(loop, 40), 0);
	assert_true(tl_ms_since(t0) >= 35);

	/* And it keeps working after that. */
	assert_int_equal(pthread_create(&th, NULL, tl_waker, &arg), 0);
	assert_int_equal(vloop_run_once(loop, -1), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	vloop_free(loop);
}

struct tl_node {
	struct vloop_post p;
	int thread;
	int seq;
	int runs;
	pthread_t ran_on;
};

struct tl_post_ctx {
	int total;
	int last_seq[8];
	int out_of_order;
};

static struct tl_post_ctx *tl_post_ctx;

static void tl_node_fn(struct vloop_post *p)
{
	struct tl_node *n = tl_container_of(p, struct tl_node, p);

	n->runs++;
	n->ran_on = pthread_self();
	if (n->seq != tl_post_ctx->last_seq[n->thread] + 1)
		tl_post_ctx->out_of_order++;
	tl_post_ctx->last_seq[n->thread] = n->seq;
	tl_post_ctx->total++;
}

static void *tl_poster(void *p)
{
	struct tl_thread_arg *a = p;
	int i;

	for (i = 0; i < a->nr_nodes; i++) {
		vloop_post(a->loop, &a->nodes[i].p);
		if (i % 256 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_loop__post_from_threads_runs_each_once(void **state)
{
	enum { THREADS = 4, PER = 5000 };
	struct vloop *loop = tl_loop_new(state);
	struct tl_post_ctx ctx = {0};
	struct tl_thread_arg args[THREADS];
	pthread_t th[THREADS];
	struct tl_node *nodes = calloc(THREADS * PER, sizeof(*nodes));
	int i, j, iterations = 0;

	assert_non_null(nodes);
	tl_post_ctx = &ctx;
	for (i = 0; i < THREADS; i++) {
		ctx.last_seq[i] = -1;
		for (j = 0; j < PER; j++) {
			nodes[i * PER + j].p.fn = tl_node_fn;
			nodes[i * PER + j].thread = i;
			nodes[i * PER + j].seq = j;
		}
		args[i] = (struct tl_thread_arg){.loop = loop,
						 .nodes = &nodes[i * PER],
						 .nr_nodes = PER};
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, tl_poster, &args[i]), 0);
	while (ctx.total < THREADS * PER) {
		assert_true(vloop_run_once(loop, -1) >= 0);
		iterations++;
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(vloop_run_once(loop, 0), 0);

	assert_int_equal(ctx.total, THREADS * PER);
	assert_int_equal(ctx.out_of_order, 0);
	for (i = 0; i < THREADS * PER; i++) {
		assert_int_equal(nodes[i].runs, 1);
		assert_true(pthread_equal(nodes[i].ran_on, pthread_self()));
	}
	print_message("%d posts in %d iterations\n", ctx.total, iterations);
	free(nodes);
	vloop_free(loop);
}

static void *tl_stopper(void *p)
{
	struct tl_thread_arg *a = p;

	usleep(a->delay_us);
	a->value = 42; /* plain write, published by vloop_stop() */
	vloop_stop(a->loop);
	return NULL;
}

static void test_loop__stop_from_thread_ends_run(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_thread_arg arg = {.loop = loop, .delay_us = 30000};
	struct tl_timer tick = {0};
	pthread_t th;
	uint64_t t0;

	/* A timer keeps the loop iterating meanwhile. */
	vloop_timer_init(&tick.t, tl_timer_cb);
	tick.rearm_left = 1000;
	tick.rearm_ns = 5 * TL_MS;
	tl_timer_arm(loop, &tick, 5 * TL_MS);

	t0 = vloop_now_ns();
	assert_int_equal(pthread_create(&th, NULL, tl_stopper, &arg), 0);
	assert_int_equal(vloop_run(loop), 0);
	assert_true(tl_ms_since(t0) >= 25);
	assert_int_equal(arg.value, 42);
	assert_true(tick.fired >= 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	vloop_timer_cancel(loop, &tick.t);

	/* Stop before run: one iteration, then return; the stop is consumed. */
	vloop_stop(loop);
	t0 = vloop_now_ns();
	assert_int_equal(vloop_run(loop), 0);
	assert_true(tl_ms_since(t0) < 1000);
	t0 = vloop_now_ns();
	assert_int_equal(vloop_run_once(loop, 40), 0);
	assert_true(tl_ms_since(t0) >= 35);

	/* Consumed: the next run, iterating on the timer meanwhile, lasts
	 * until the next stop. */
	arg.value = 0;
	tick.fired = 0;
	tl_timer_arm(loop, &tick, 5 * TL_MS);
	t0 = vloop_now_ns();
	assert_int_equal(pthread_create(&th, NULL, tl_stopper, &arg), 0);
	assert_int_equal(vloop_run(loop), 0);
	assert_true(tl_ms_since(t0) >= 25);
	assert_int_equal(arg.value, 42);
	assert_true(tick.fired >= 2);
	assert_int_equal(pthread_join(th, NULL), 0);
	vloop_timer_cancel(loop, &tick.t);
	vloop_free(loop);
}

static int tl_post_ran;

static void tl_count_post(struct vloop_post *p)
{
	(void)p;
	tl_post_ran++;
}

static void test_loop__run_once_counts_callbacks(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_timer t = {0};
	struct tl_watch w;
	struct vloop_post p = {.fn = tl_count_post};
	int fds[2];

	tl_pipe(fds, 1);
	tl_watch_init(&w, loop, fds[0], POLLIN);
	w.drain = 1;
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	tl_write(fds[1], "x");
	vloop_timer_init(&t.t, tl_timer_cb);
	tl_timer_arm(loop, &t, 0);
	tl_post_ran = 0;
	vloop_post(loop, &p);

	assert_int_equal(vloop_run_once(loop, 1000), 3);
	assert_int_equal(w.calls, 1);
	assert_int_equal(t.fired, 1);
	assert_int_equal(tl_post_ran, 1);
	assert_int_equal(vloop_run_once(loop, 0), 0);
	vloop_watch_del(loop, &w.w);
	vloop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

/* ---- teardown ------------------------------------------------------------ */

struct tl_op {
	struct vloop_op op;
	int calls;
	int res;
	uint32_t flags;
};

static void tl_op_cb(struct vloop_op *op, int res, uint32_t cqe_flags)
{
	struct tl_op *o = tl_container_of(op, struct tl_op, op);

	o->calls++;
	o->res = res;
	o->flags = cqe_flags;
}

static void test_loop__free_with_pending_work(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct vloop_watch *w = calloc(1, sizeof(*w));
	struct tl_timer t = {0};
	struct tl_op op = {.op.cb = tl_op_cb};
	struct vloop_post p = {.fn = tl_count_post};
	struct io_uring_sqe *sqe;
	char buf[8];
	int fds[2];

	assert_non_null(w);
	tl_stray_calls = 0;
	tl_post_ran = 0;
	tl_pipe(fds, 0);
	w->fd = fds[0];
	w->events = POLLIN;
	w->cb = tl_stray_cb;
	assert_int_equal(vloop_watch_add(loop, w), 0);
	vloop_timer_init(&t.t, tl_timer_cb);
	tl_timer_arm(loop, &t, 1000 * TL_MS);
	if (tl_backend(state) == VLOOP_URING) {
		/* A READ that will never complete before the free. */
		sqe = vloop_sqe_get(loop);
		assert_non_null(sqe);
		io_uring_prep_read(sqe, fds[0], buf, sizeof(buf), 0);
		vloop_sqe_set_op(sqe, &op.op);
	}
	assert_int_equal(vloop_run_once(loop, 0), 0); /* all in flight */
	if (tl_backend(state) == VLOOP_URING)
		assert_int_equal(w->armed, 1);
	vloop_post(loop, &p);
	vloop_free(loop); /* must not call or touch anything */
	free(w);
	assert_int_equal(tl_stray_calls, 0);
	assert_int_equal(t.fired, 0);
	assert_int_equal(op.calls, 0);
	assert_int_equal(tl_post_ran, 0);
	vloop_free(NULL);
	close(fds[0]);
	close(fds[1]);
}

/* ---- raw io_uring ops ---------------------------------------------------- */

static void test_loop__poll_has_no_sqe(void **state)
{
	struct vloop *loop = tl_loop_new(state);

	assert_int_equal(vloop_backend_of(loop), VLOOP_POLL);
	assert_null(vloop_sqe_get(loop));
	assert_null(vloop_uring(loop));
	vloop_free(loop);
}

static void test_loop__uring_nop_completes_through_op(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_op op = {.op.cb = tl_op_cb, .res = -1};
	struct io_uring_sqe *sqe;

	assert_non_null(vloop_uring(loop));
	sqe = vloop_sqe_get(loop);
	assert_non_null(sqe);
	assert_int_equal(sqe->user_data, 0);
	io_uring_prep_nop(sqe);
	vloop_sqe_set_op(sqe, &op.op);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(op.calls, 1);
	assert_int_equal(op.res, 0);

	/* user_data left 0: completes silently. */
	sqe = vloop_sqe_get(loop);
	assert_non_null(sqe);
	io_uring_prep_nop(sqe);
	assert_int_equal(vloop_run_once(loop, 0), 0);
	assert_int_equal(vloop_run_once(loop, 0), 0);
	assert_int_equal(op.calls, 1);
	vloop_free(loop);
}

static void test_loop__uring_read_of_pipe_completes_through_op(void **state)
{
	struct vloop *loop = tl_loop_new(state);
	struct tl_op op = {.op.cb = tl_op_cb, .res = -1};
	struct io_uring_sqe *sqe;
	char buf[16] = {0};
	int fds[2];

	tl_pipe(fds, 0); /* blocking: the READ waits in the kernel */
	sqe = vloop_sqe_get(loop);
	assert_non_null(sqe);
	io_uring_prep_read(sqe, fds[0], buf, sizeof(buf), 0);
	vloop_sqe_set_op(sqe, &op.op);
	assert_int_equal(vloop_run_once(loop, 20), 0);
	assert_int_equal(op.calls, 0);

	tl_write(fds[1], "hello");
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(op.calls, 1);
	assert_int_equal(op.res, 5);
	assert_memory_equal(buf, "hello", 5);

	/* A failing op reports -errno. */
	sqe = vloop_sqe_get(loop);
	assert_non_null(sqe);
	io_uring_prep_read(sqe, -1, buf, sizeof(buf), 0);
	vloop_sqe_set_op(sqe, &op.op);
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	assert_int_equal(op.res, -EBADF);
	vloop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

static void test_loop__uring_sqe_get_flushes_full_sq(void **state)
{
	enum { N = 40 };
	struct vloop *loop = tl_loop_new_flags(state, 4, 0);
	struct tl_op ops[N];
	int i, done = 0, guard;

	for (i = 0; i < N; i++) {
		struct io_uring_sqe *sqe = vloop_sqe_get(loop);

		assert_non_null(sqe);
		ops[i] = (struct tl_op){.op.cb = tl_op_cb, .res = -1};
		io_uring_prep_nop(sqe);
		vloop_sqe_set_op(sqe, &ops[i].op);
	}
	for (guard = 0; done < N && guard < 100; guard++) {
		int n = vloop_run_once(loop, 1000);

		assert_true(n >= 0);
		done += n;
	}
	assert_int_equal(done, N);
	for (i = 0; i < N; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, 0);
	}
	vloop_free(loop);
}

static void test_loop__uring_sqe128_nop(void **state)
{
	struct vloop *loop = tl_loop_new_flags(state, 8, IORING_SETUP_SQE128);
	struct tl_op a = {.op.cb = tl_op_cb, .res = -1};
	struct tl_op b = {.op.cb = tl_op_cb, .res = -1};
	struct io_uring_sqe *s1, *s2;
	struct tl_watch w;
	unsigned i;
	int fds[2];

	/* Consecutive SQEs are 128 bytes apart. */
	s1 = vloop_sqe_get(loop);
	assert_non_null(s1);
	io_uring_prep_nop(s1);
	vloop_sqe_set_op(s1, &a.op);
	s2 = vloop_sqe_get(loop);
	assert_non_null(s2);
	assert_int_equal((char *)s2 - (char *)s1, 128);
	io_uring_prep_nop(s2);
	vloop_sqe_set_op(s2, &b.op);
	assert_int_equal(vloop_run_once(loop, 1000), 2);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.res, 0);
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.res, 0);

	/* Dirty every slot, all 128 bytes, then cycle through them again:
	 * each SQE handed out must be zeroed, upper half included. */
	for (i = 0; i < 2 * 8; i++) {
		unsigned j;

		s1 = vloop_sqe_get(loop);
		assert_non_null(s1);
		for (j = 0; j < 128; j++)
			assert_int_equal(((unsigned char *)s1)[j], 0);
		memset(s1, 0xa5, 128);
		io_uring_prep_nop(s1);
		vloop_sqe_set_op(s1, &a.op);
		if (i % 4 == 3)
			assert_int_equal(vloop_run_once(loop, 1000), 4);
	}
	assert_int_equal(a.calls, 1 + 2 * 8);
	assert_int_equal(a.res, 0);

	/* Watches and wake-ups work on the big-SQE ring too. */
	tl_pipe(fds, 1);
	tl_watch_init(&w, loop, fds[0], POLLIN);
	assert_int_equal(vloop_watch_add(loop, &w.w), 0);
	assert_int_equal(vloop_run_once(loop, 0), 0);
	tl_write(fds[1], "x");
	assert_int_equal(vloop_run_once(loop, 1000), 1);
	vloop_wake(loop);
	vloop_watch_del(loop, &w.w);
	assert_int_equal(vloop_run_once(loop, -1), 0);
	vloop_free(loop);
	close(fds[0]);
	close(fds[1]);
}

static void test_loop__uring_new_reports_errno(void **state)
{
	struct vloop *loop = tl_loop_new(state); /* skips w/o io_uring */
	struct vloop *bad = (struct vloop *)&bad;
	int ret;

	vloop_free(loop);
	/* Setup flags no kernel knows: a negative errno, no loop. */
	ret = vloop_new(&bad, VLOOP_URING, 8, 1u << 31);
	assert_true(ret < 0);
	assert_int_equal(ret, -EINVAL);
	assert_null(bad);
}

/* ---- main ---------------------------------------------------------------- */

#define TL_TEST(f, be)                                                         \
	cmocka_unit_test_prestate_setup_teardown(f, tl_setup, tl_teardown,     \
						 &(be))

/* clang-format off */
#define TL_COMMON_TESTS(be)                                                    \
	TL_TEST(test_loop__timers_fire_in_deadline_order, be),                 \
	TL_TEST(test_loop__timer_cancel_prevents_firing, be),                  \
	TL_TEST(test_loop__timer_rearm_replaces_deadline, be),                 \
	TL_TEST(test_loop__run_once_honours_timeout, be),                      \
	TL_TEST(test_loop__watch_fires_on_readable, be),                       \
	TL_TEST(test_loop__watch_del_stops_callbacks, be),                     \
	TL_TEST(test_loop__watch_del_from_own_callback, be),                   \
	TL_TEST(test_loop__watch_del_while_armed, be),                         \
	TL_TEST(test_loop__watch_del_of_other_ready_watch, be),                \
	TL_TEST(test_loop__watch_readd_from_callback, be),                     \
	TL_TEST(test_loop__watch_add_twice_fails, be),                         \
	TL_TEST(test_loop__watch_many_with_deletions, be),                     \
	TL_TEST(test_loop__wake_from_thread_interrupts_run_once, be),          \
	TL_TEST(test_loop__post_from_threads_runs_each_once, be),              \
	TL_TEST(test_loop__stop_from_thread_ends_run, be),                     \
	TL_TEST(test_loop__run_once_counts_callbacks, be),                     \
	TL_TEST(test_loop__free_with_pending_work, be)
/* clang-format on */

int main(int argc, char **argv)
{
	const struct CMUnitTest poll_tests[] = {
		TL_COMMON_TESTS(tl_be_poll),
		TL_TEST(test_loop__poll_has_no_sqe, tl_be_poll),
	};
	const struct CMUnitTest uring_tests[] = {
		TL_COMMON_TESTS(tl_be_uring),
		TL_TEST(test_loop__uring_nop_completes_through_op, tl_be_uring),
		TL_TEST(test_loop__uring_read_of_pipe_completes_through_op,
			tl_be_uring),
		TL_TEST(test_loop__uring_sqe_get_flushes_full_sq, tl_be_uring),
		TL_TEST(test_loop__uring_sqe128_nop, tl_be_uring),
		TL_TEST(test_loop__uring_new_reports_errno, tl_be_uring),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0;

	signal(SIGPIPE, SIG_IGN); /* EPIPE checks in the tests */
	if (!only || !strcmp(only, "poll"))
		failed += cmocka_run_group_tests_name("loop/poll", poll_tests,
						      NULL, NULL);
	if (!only || !strcmp(only, "uring"))
		failed += cmocka_run_group_tests_name("loop/uring", uring_tests,
						      NULL, NULL);
	return failed ? 1 : 0;
}
