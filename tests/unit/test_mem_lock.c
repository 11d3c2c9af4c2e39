/* SPDX-License-Identifier: MIT */
/*
 * test_mem_lock.c - locks in the mem backend: POSIX byte-range locks
 * (conflicts, getlk, split, merge, replace), flocks, close semantics
 * (flush, release), parked SETLKW calls (granted, FIFO, interrupted,
 * cancelled), deadlock detection and a multi-thread mutual exclusion run.
 */
#include "tests/unit/test_mem.h"

#include <pthread.h>
#include <stdatomic.h>

#define A 0xa		/* lock owners */
#define B 0xb
#define C 0xc

struct tfile {
	struct backend *b;
	uint64_t ino;
	uint64_t fh[3];
};

static void t_file_open(struct tfile *f, uint64_t max)
{
	f->b = t_new(max);
	f->ino = t_mkfile(f->b, T_ROOT, "f", 0644);
	for (int k = 0; k < 3; k++)
		assert_int_equal(t_open(f->b, &t_root, f->ino, O_RDWR,
					&f->fh[k]),
				 0);
}

static void t_file_close(struct tfile *f)
{
	for (int k = 0; k < 3; k++) {
		if (f->fh[k])
			assert_int_equal(t_release(f->b, f->ino, f->fh[k]), 0);
	}
	f->b->ops->destroy(f->b);
}

/* A posix lock request from @owner through the first handle. */
static int t_plk(struct tfile *f, uint64_t owner, uint32_t type,
		 uint64_t start, uint64_t end)
{
	return t_setlk(f->b, f->ino, f->fh[0], owner,
		       t_lk(type, start, end, (uint32_t)owner), 0);
}

/* The lock getlk reports for @owner asking about @type on [start, end]. */
static struct vlock t_probe(struct tfile *f, uint64_t owner, uint32_t type,
			    uint64_t start, uint64_t end)
{
	struct vlock out;

	assert_int_equal(t_getlk(f->b, f->ino, f->fh[0], owner,
				 t_lk(type, start, end, 1), &out),
			 0);
	return out;
}

static void t_assert_lock(struct vlock l, uint32_t type, uint64_t start,
			  uint64_t end, uint32_t pid)
{
	assert_int_equal(l.type, type);
	assert_int_equal(l.start, start);
	assert_int_equal(l.end, end);
	assert_int_equal(l.pid, pid);
}

/* Starts a SETLKW on @t; returns whether it completed at once. */
static bool t_setlkw(struct tfile *f, struct tcall *t, uint64_t fh,
		     uint64_t owner, struct vlock lk, int is_flock)
{
	t_init(t);
	f->b->ops->setlk(f->b, f->ino, fh, owner, &lk, 1, is_flock, &t->c);
	return t->ndone != 0;
}

static void test_mem__posix_conflicts_and_getlk(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 99), 0);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 50, 60), -EAGAIN);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 99, 99), -EAGAIN);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 100, 200), 0);
	assert_int_equal(t_plk(&f, C, F_RDLCK, 150, 250), 0);	/* shared */
	assert_int_equal(t_plk(&f, C, F_WRLCK, 150, 250), -EAGAIN);
	/* Own locks never conflict. */
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 99), 0);
	t_assert_lock(t_probe(&f, B, F_RDLCK, 10, 10), F_WRLCK, 0, 99, A);
	t_assert_lock(t_probe(&f, C, F_WRLCK, 120, 300), F_RDLCK, 100, 200, B);
	/* The first conflicting lock is the lowest one. */
	t_assert_lock(t_probe(&f, C, F_WRLCK, 0, 300), F_WRLCK, 0, 99, A);
	t_assert_lock(t_probe(&f, A, F_WRLCK, 0, 99), F_UNLCK, 0, 99, 1);
	t_assert_lock(t_probe(&f, B, F_RDLCK, 300, 400), F_UNLCK, 300, 400, 1);
	t_file_close(&f);
}

static void test_mem__posix_unlock_splits_a_lock(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 99), 0);
	assert_int_equal(t_plk(&f, A, F_UNLCK, 40, 59), 0);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 40, 59), 0);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 39, 39), -EAGAIN);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 60, 60), -EAGAIN);
	t_assert_lock(t_probe(&f, C, F_RDLCK, 0, 39), F_WRLCK, 0, 39, A);
	t_assert_lock(t_probe(&f, C, F_RDLCK, 60, 200), F_WRLCK, 60, 99, A);
	/* Unlocking what is not locked is fine. */
	assert_int_equal(t_plk(&f, C, F_UNLCK, 0, 1000), 0);
	t_file_close(&f);
}

static void test_mem__posix_same_owner_locks_merge(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_RDLCK, 0, 9), 0);
	assert_int_equal(t_plk(&f, A, F_RDLCK, 10, 19), 0);	/* adjacent */
	assert_int_equal(t_plk(&f, A, F_RDLCK, 15, 29), 0);	/* overlap */
	t_assert_lock(t_probe(&f, B, F_WRLCK, 0, 100), F_RDLCK, 0, 29, A);
	/* One lock: unlocking its middle leaves two. */
	assert_int_equal(t_plk(&f, A, F_UNLCK, 10, 19), 0);
	t_assert_lock(t_probe(&f, B, F_WRLCK, 0, 100), F_RDLCK, 0, 9, A);
	t_assert_lock(t_probe(&f, B, F_WRLCK, 10, 100), F_RDLCK, 20, 29, A);
	t_file_close(&f);
}

static void test_mem__posix_same_owner_lock_replaces_type(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 99), 0);
	assert_int_equal(t_plk(&f, A, F_RDLCK, 20, 29), 0);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 20, 29), 0);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 19, 19), -EAGAIN);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 30, 30), -EAGAIN);
	assert_int_equal(t_plk(&f, B, F_UNLCK, 0, 100), 0);
	t_assert_lock(t_probe(&f, C, F_WRLCK, 0, 99), F_WRLCK, 0, 19, A);
	t_assert_lock(t_probe(&f, C, F_WRLCK, 20, 29), F_RDLCK, 20, 29, A);
	t_assert_lock(t_probe(&f, C, F_RDLCK, 20, 99), F_WRLCK, 30, 99, A);
	/* Upgrading back over the whole range: one write lock again. */
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 99), 0);
	t_assert_lock(t_probe(&f, C, F_RDLCK, 25, 25), F_WRLCK, 0, 99, A);
	t_file_close(&f);
}

static void test_mem__posix_lock_to_eof(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 100, UINT64_MAX), 0);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 1ull << 62, 1ull << 62),
			 -EAGAIN);
	assert_int_equal(t_plk(&f, A, F_UNLCK, 200, UINT64_MAX), 0);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 200, UINT64_MAX), 0);
	t_assert_lock(t_probe(&f, C, F_WRLCK, 0, UINT64_MAX), F_WRLCK, 100,
		      199, A);
	/* Adjacent to a lock that ends at EOF: merged, no overflow. */
	assert_int_equal(t_plk(&f, B, F_RDLCK, 150, 199), -EAGAIN);
	assert_int_equal(t_plk(&f, A, F_UNLCK, 0, UINT64_MAX), 0);
	assert_int_equal(t_plk(&f, B, F_RDLCK, 0, 199), 0);
	t_assert_lock(t_probe(&f, C, F_WRLCK, 0, 0), F_RDLCK, 0, UINT64_MAX,
		      B);
	t_file_close(&f);
}

static void test_mem__flock_shared_exclusive_and_convert(void **state)
{
	struct tfile f;
	struct backend *b;

	t_file_open(&f, 1 << 20);
	b = f.b;
	assert_int_equal(t_setlk(b, f.ino, f.fh[0], 0, t_lk(F_RDLCK, 0, 0, 1),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[1], 0, t_lk(F_RDLCK, 0, 0, 2),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[2], 0, t_lk(F_WRLCK, 0, 0, 3),
				 1),
			 -EAGAIN);
	/* flock and POSIX locks do not see each other. */
	assert_int_equal(t_plk(&f, C, F_WRLCK, 0, UINT64_MAX), 0);
	/* Upgrading with another shared holder fails ... */
	assert_int_equal(t_setlk(b, f.ino, f.fh[0], 0, t_lk(F_WRLCK, 0, 0, 1),
				 1),
			 -EAGAIN);
	/* ... and, as on Linux, loses the shared lock on the way. */
	assert_int_equal(t_setlk(b, f.ino, f.fh[1], 0, t_lk(F_WRLCK, 0, 0, 2),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[0], 0, t_lk(F_RDLCK, 0, 0, 1),
				 1),
			 -EAGAIN);
	/* Downgrade, then share. */
	assert_int_equal(t_setlk(b, f.ino, f.fh[1], 0, t_lk(F_RDLCK, 0, 0, 2),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[0], 0, t_lk(F_RDLCK, 0, 0, 1),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[0], 0, t_lk(F_UNLCK, 0, 0, 1),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[1], 0, t_lk(F_UNLCK, 0, 0, 2),
				 1),
			 0);
	assert_int_equal(t_setlk(b, f.ino, f.fh[2], 0, t_lk(F_WRLCK, 0, 0, 3),
				 1),
			 0);
	t_file_close(&f);
}

static void test_mem__flush_drops_the_owners_posix_locks(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 9), 0);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 20, 29), 0);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 40, 49), 0);
	assert_int_equal(t_flush(f.b, f.ino, f.fh[1], A), 0);
	assert_int_equal(t_plk(&f, C, F_WRLCK, 0, 29), 0);
	assert_int_equal(t_plk(&f, C, F_WRLCK, 40, 40), -EAGAIN);
	assert_int_equal(t_flush(f.b, 999, f.fh[1], A), -ENOENT);
	t_file_close(&f);
}

static void test_mem__release_drops_the_handles_flock(void **state)
{
	struct tfile f;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_setlk(f.b, f.ino, f.fh[0], 0,
				 t_lk(F_WRLCK, 0, 0, 1), 1),
			 0);
	assert_int_equal(t_setlk(f.b, f.ino, f.fh[1], 0,
				 t_lk(F_RDLCK, 0, 0, 2), 1),
			 -EAGAIN);
	assert_int_equal(t_release(f.b, f.ino, f.fh[0]), 0);
	f.fh[0] = 0;
	assert_int_equal(t_setlk(f.b, f.ino, f.fh[1], 0,
				 t_lk(F_RDLCK, 0, 0, 2), 1),
			 0);
	t_file_close(&f);
}

static void test_mem__setlkw_parks_until_unlock(void **state)
{
	struct tfile f;
	struct tcall w;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 99), 0);
	assert_false(t_setlkw(&f, &w, f.fh[1], B, t_lk(F_WRLCK, 50, 150, B),
			      0));
	assert_int_equal(w.ndone, 0);
	/* Unlocking elsewhere does not help. */
	assert_int_equal(t_plk(&f, A, F_UNLCK, 0, 9), 0);
	assert_int_equal(w.ndone, 0);
	assert_int_equal(t_plk(&f, A, F_UNLCK, 10, 99), 0);
	assert_int_equal(w.ndone, 1);
	assert_int_equal(w.c.err, 0);
	t_assert_lock(t_probe(&f, C, F_RDLCK, 0, 200), F_WRLCK, 50, 150, B);
	/* Waiting for something free completes at once. */
	assert_true(t_setlkw(&f, &w, f.fh[0], A, t_lk(F_RDLCK, 0, 10, A), 0));
	assert_int_equal(w.c.err, 0);
	assert_int_equal(f.b->ops->interrupt(f.b, &w.c), 0);
	t_file_close(&f);
}

static void test_mem__setlkw_granted_by_flush_in_fifo_order(void **state)
{
	struct tfile f;
	struct tcall w1, w2, w3;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 0), 0);
	assert_false(t_setlkw(&f, &w1, f.fh[1], B, t_lk(F_WRLCK, 0, 0, B), 0));
	assert_false(t_setlkw(&f, &w2, f.fh[2], C, t_lk(F_WRLCK, 0, 0, C), 0));
	assert_int_equal(t_flush(f.b, f.ino, f.fh[0], A), 0);
	assert_int_equal(w1.ndone, 1);
	assert_int_equal(w1.c.err, 0);
	assert_int_equal(w2.ndone, 0);
	/* Shared waiters are granted together. */
	assert_false(t_setlkw(&f, &w3, f.fh[0], A, t_lk(F_RDLCK, 0, 0, A), 0));
	assert_int_equal(t_plk(&f, B, F_UNLCK, 0, 0), 0);
	assert_int_equal(w2.ndone, 1);
	assert_int_equal(w3.ndone, 0);
	assert_int_equal(t_plk(&f, C, F_RDLCK, 0, 0), 0);	/* downgrade */
	assert_int_equal(w3.ndone, 1);
	assert_int_equal(w3.c.err, 0);
	t_file_close(&f);
}

/* A waiter granted later in the queue may weaken its owner's other lock
 * and so unblock a waiter that was passed over before it. */
static void test_mem__setlkw_grant_that_weakens_a_lock_wakes_earlier(
	void **state)
{
	struct tfile f;
	struct tcall w1, w2;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 0), 0);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 5, 5), 0);
	assert_false(t_setlkw(&f, &w1, f.fh[1], C, t_lk(F_RDLCK, 5, 5, C), 0));
	assert_false(t_setlkw(&f, &w2, f.fh[2], B, t_lk(F_RDLCK, 0, 5, B), 0));
	assert_int_equal(t_plk(&f, A, F_UNLCK, 0, 0), 0);
	assert_int_equal(w2.ndone, 1);
	assert_int_equal(w2.c.err, 0);
	assert_int_equal(w1.ndone, 1);
	assert_int_equal(w1.c.err, 0);
	t_assert_lock(t_probe(&f, A, F_WRLCK, 5, 5), F_RDLCK, 0, 5, B);
	assert_int_equal(t_plk(&f, B, F_UNLCK, 0, 5), 0);
	t_assert_lock(t_probe(&f, A, F_WRLCK, 5, 5), F_RDLCK, 5, 5, C);
	t_file_close(&f);
}

static void test_mem__setlkw_flock_waits_for_release(void **state)
{
	struct tfile f;
	struct tcall w;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_setlk(f.b, f.ino, f.fh[0], 0,
				 t_lk(F_RDLCK, 0, 0, 1), 1),
			 0);
	assert_false(t_setlkw(&f, &w, f.fh[1], 0, t_lk(F_WRLCK, 0, 0, 2), 1));
	assert_int_equal(t_release(f.b, f.ino, f.fh[0]), 0);
	f.fh[0] = 0;
	assert_int_equal(w.ndone, 1);
	assert_int_equal(w.c.err, 0);
	assert_int_equal(t_setlk(f.b, f.ino, f.fh[2], 0,
				 t_lk(F_RDLCK, 0, 0, 3), 1),
			 -EAGAIN);
	t_file_close(&f);
}

static void test_mem__setlkw_interrupted(void **state)
{
	struct tfile f;
	struct tcall w, other;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 0), 0);
	assert_false(t_setlkw(&f, &w, f.fh[1], B, t_lk(F_RDLCK, 0, 0, B), 0));
	assert_int_equal(f.b->ops->interrupt(f.b, &w.c), 1);
	assert_int_equal(w.ndone, 1);
	assert_int_equal(w.c.err, -EINTR);
	assert_int_equal(f.b->ops->interrupt(f.b, &w.c), 0);
	assert_int_equal(w.ndone, 1);
	/* A call the backend never saw. */
	t_init(&other);
	assert_int_equal(f.b->ops->interrupt(f.b, &other.c), 0);
	assert_int_equal(other.ndone, 0);
	/* The interrupted request left nothing behind. */
	assert_int_equal(t_plk(&f, A, F_UNLCK, 0, 0), 0);
	assert_int_equal(w.ndone, 1);
	t_assert_lock(t_probe(&f, C, F_WRLCK, 0, 0), F_UNLCK, 0, 0, 1);
	t_file_close(&f);
}

static void test_mem__setlkw_deadlock_is_edeadlk(void **state)
{
	struct tfile f;
	struct tcall w, w2;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 0), 0);
	assert_int_equal(t_plk(&f, B, F_WRLCK, 1, 1), 0);
	assert_false(t_setlkw(&f, &w, f.fh[0], A, t_lk(F_WRLCK, 1, 1, A), 0));
	/* B waiting for A, who waits for B. */
	assert_true(t_setlkw(&f, &w2, f.fh[1], B, t_lk(F_WRLCK, 0, 0, B), 0));
	assert_int_equal(w2.c.err, -EDEADLK);
	assert_int_equal(t_plk(&f, B, F_UNLCK, 1, 1), 0);
	assert_int_equal(w.ndone, 1);
	assert_int_equal(w.c.err, 0);
	t_file_close(&f);
}

static void test_mem__last_release_cancels_waiters(void **state)
{
	struct tfile f;
	struct tcall w1, w2;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 0), 0);
	assert_false(t_setlkw(&f, &w1, f.fh[1], B, t_lk(F_WRLCK, 0, 0, B), 0));
	assert_false(t_setlkw(&f, &w2, f.fh[2], C, t_lk(F_WRLCK, 0, 0, C), 0));
	/* Closing a handle cancels what waits through it. */
	assert_int_equal(t_release(f.b, f.ino, f.fh[1]), 0);
	f.fh[1] = 0;
	assert_int_equal(w1.ndone, 1);
	assert_int_equal(w1.c.err, -EINTR);
	assert_int_equal(w2.ndone, 0);
	assert_int_equal(t_release(f.b, f.ino, f.fh[2]), 0);
	f.fh[2] = 0;
	assert_int_equal(w2.ndone, 1);
	assert_int_equal(w2.c.err, -EINTR);
	/* Last handle: all locks go with it. */
	assert_int_equal(t_release(f.b, f.ino, f.fh[0]), 0);
	f.fh[0] = 0;
	assert_int_equal(t_setlk(f.b, f.ino, 77, A, t_lk(F_WRLCK, 0, 0, 1), 0),
			 -EBADF);
	assert_int_equal(t_getlk(f.b, f.ino, 77, B, t_lk(F_WRLCK, 0, 0, 1),
				 NULL),
			 0);
	t_file_close(&f);
}

static void test_mem__setlk_argument_errors(void **state)
{
	struct tfile f;
	struct vlock out;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, 77, 0, 0), -EINVAL);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 10, 9), -EINVAL);
	assert_int_equal(t_getlk(f.b, f.ino, f.fh[0], A,
				 t_lk(F_UNLCK, 0, 0, 1), &out),
			 -EINVAL);
	assert_int_equal(t_setlk(f.b, 999, f.fh[0], A, t_lk(F_WRLCK, 0, 0, 1),
				 0),
			 -ENOENT);
	assert_int_equal(t_getlk(f.b, 999, f.fh[0], A, t_lk(F_WRLCK, 0, 0, 1),
				 &out),
			 -ENOENT);
	t_file_close(&f);
}

/* destroy() with a call still parked frees it without completing it. */
static void test_mem__destroy_frees_parked_calls(void **state)
{
	struct tfile f;
	struct tcall w;

	t_file_open(&f, 1 << 20);
	assert_int_equal(t_plk(&f, A, F_WRLCK, 0, 0), 0);
	assert_false(t_setlkw(&f, &w, f.fh[1], B, t_lk(F_WRLCK, 0, 0, B), 0));
	f.b->ops->destroy(f.b);
	assert_int_equal(w.ndone, 0);
}

/* ------------------------------------------------------------------ */
/* Threads: SETLKW completed from another thread's unlock. */

#define T_LOCKERS 4
#define T_ROUNDS 300

struct t_waitcall {
	struct bcall c;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

struct t_locker {
	struct tfile *f;
	uint64_t owner;
	uint64_t fh;
	atomic_int *inside;
	atomic_int *violations;
};

static void t_wait_done(struct bcall *c)
{
	struct t_waitcall *w = (struct t_waitcall *)c;

	pthread_mutex_lock(&w->mu);
	w->done = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void *t_locker_run(void *arg)
{
	struct t_locker *l = arg;
	struct backend *b = l->f->b;
	struct t_waitcall w;
	struct vlock lk = t_lk(F_WRLCK, 0, 0, (uint32_t)l->owner);
	struct vlock un = t_lk(F_UNLCK, 0, 0, (uint32_t)l->owner);

	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	for (int k = 0; k < T_ROUNDS; k++) {
		memset(&w.c, 0, sizeof(w.c));
		w.c.done = t_wait_done;
		w.done = 0;
		b->ops->setlk(b, l->f->ino, l->fh, l->owner, &lk, 1, 0, &w.c);
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		if (w.c.err) {
			atomic_fetch_add(l->violations, 1);
			continue;
		}
		if (atomic_fetch_add(l->inside, 1) != 0)
			atomic_fetch_add(l->violations, 1);
		atomic_fetch_sub(l->inside, 1);
		memset(&w.c, 0, sizeof(w.c));
		w.c.done = t_wait_done;	/* an unlock completes at once */
		b->ops->setlk(b, l->f->ino, l->fh, l->owner, &un, 0, 0, &w.c);
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return NULL;
}

static void test_mem__setlkw_threads_exclude_each_other(void **state)
{
	struct tfile f;
	struct t_locker l[T_LOCKERS];
	pthread_t th[T_LOCKERS];
	atomic_int inside = 0, violations = 0;

	t_file_open(&f, 1 << 20);
	for (int k = 0; k < T_LOCKERS; k++) {
		l[k] = (struct t_locker){ .f = &f, .owner = 100 + k,
					  .fh = f.fh[k % 3], .inside = &inside,
					  .violations = &violations };
		assert_int_equal(pthread_create(&th[k], NULL, t_locker_run,
						&l[k]),
				 0);
	}
	for (int k = 0; k < T_LOCKERS; k++)
		pthread_join(th[k], NULL);
	assert_int_equal(atomic_load(&violations), 0);
	t_assert_lock(t_probe(&f, A, F_WRLCK, 0, 0), F_UNLCK, 0, 0, 1);
	t_file_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem__posix_conflicts_and_getlk),
		cmocka_unit_test(test_mem__posix_unlock_splits_a_lock),
		cmocka_unit_test(test_mem__posix_same_owner_locks_merge),
		cmocka_unit_test(test_mem__posix_same_owner_lock_replaces_type),
		cmocka_unit_test(test_mem__posix_lock_to_eof),
		cmocka_unit_test(test_mem__flock_shared_exclusive_and_convert),
		cmocka_unit_test(test_mem__flush_drops_the_owners_posix_locks),
		cmocka_unit_test(test_mem__release_drops_the_handles_flock),
		cmocka_unit_test(test_mem__setlkw_parks_until_unlock),
		cmocka_unit_test(
			test_mem__setlkw_granted_by_flush_in_fifo_order),
		cmocka_unit_test(
			test_mem__setlkw_grant_that_weakens_a_lock_wakes_earlier),
		cmocka_unit_test(test_mem__setlkw_flock_waits_for_release),
		cmocka_unit_test(test_mem__setlkw_interrupted),
		cmocka_unit_test(test_mem__setlkw_deadlock_is_edeadlk),
		cmocka_unit_test(test_mem__last_release_cancels_waiters),
		cmocka_unit_test(test_mem__setlk_argument_errors),
		cmocka_unit_test(test_mem__destroy_frees_parked_calls),
		cmocka_unit_test(test_mem__setlkw_threads_exclude_each_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
