/* SPDX-License-Identifier: MIT */
/*
 * mem_lock.c - POSIX byte-range locks, flocks and parked SETLKW calls of
 * the mem backend. All state here is under mb->lk_mutex, the innermost
 * lock; calls granted or cancelled under it are chained through bk_next
 * and completed only after every lock is released.
 *
 * POSIX locks belong to a lock owner and behave like fcntl(2): one owner's
 * locks never overlap each other, a new lock replaces the owner's locks in
 * its range (splitting them), and merges with touching locks of the same
 * type. Flocks belong to an open handle and cover the whole file. The two
 * kinds do not interact, as on Linux.
 */
#include "daemon/mem_i.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* How far deadlock detection follows "owner waits for owner" chains. */
#define MEM_DEADLK_DEPTH 10

struct mem_plock {
	struct mem_plock *next;
	uint64_t start, end;		/* inclusive */
	uint64_t owner;
	uint32_t type;			/* F_RDLCK or F_WRLCK */
	uint32_t pid;
};

struct mem_flock {
	struct mem_flock *next;
	uint64_t fh;
	uint32_t type;
	uint32_t pid;
};

/* A parked SETLKW: on its inode's FIFO and on the global list. */
struct mem_waiter {
	struct mem_waiter *next;	/* inode FIFO */
	struct mem_waiter *gnext;	/* mb->waiters */
	struct mem_waiter **gprev;
	struct bcall *c;
	struct mem_inode *inode;	/* kept alive: its handle is open */
	uint64_t fh, owner;
	struct vlock lk;
	bool is_flock;
};

void mem_locks_init(struct mem_locks *l)
{
	memset(l, 0, sizeof(*l));
	l->wait_tail = &l->wait_head;
}

static void mem_locks_drop_all(struct mem_locks *l)
{
	while (l->posix) {
		struct mem_plock *p = l->posix;

		l->posix = p->next;
		free(p);
	}
	while (l->flocks) {
		struct mem_flock *f = l->flocks;

		l->flocks = f->next;
		free(f);
	}
}

void mem_locks_release(struct mem_locks *l)
{
	mem_locks_drop_all(l);
}

static bool mem_lk_overlap(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return s1 <= e2 && s2 <= e1;
}

/* Overlapping or adjacent. */
static bool mem_lk_touch(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2)
{
	return mem_lk_overlap(s1, e1, s2, e2) ||
	       (e1 != UINT64_MAX && e1 + 1 == s2) ||
	       (e2 != UINT64_MAX && e2 + 1 == s1);
}

static bool mem_lk_exclusive(uint32_t t1, uint32_t t2)
{
	return t1 == F_WRLCK || t2 == F_WRLCK;
}

/* ------------------------------------------------------------------ */
/* POSIX locks */

/* The conflicting lock of another owner with the lowest start, or NULL. */
static struct mem_plock *mem_posix_conflict(const struct mem_locks *l,
					    uint64_t owner,
					    const struct vlock *lk)
{
	struct mem_plock *best = NULL;

	for (struct mem_plock *p = l->posix; p; p = p->next) {
		if (p->owner == owner ||
		    !mem_lk_overlap(p->start, p->end, lk->start, lk->end) ||
		    !mem_lk_exclusive(p->type, lk->type))
			continue;
		if (!best || p->start < best->start)
			best = p;
	}
	return best;
}

/* Would applying @lk for @owner split one of its locks in two? */
static bool mem_posix_splits(const struct mem_locks *l, uint64_t owner,
			     const struct vlock *lk)
{
	for (struct mem_plock *p = l->posix; p; p = p->next) {
		if (p->owner == owner && p->type != lk->type &&
		    p->start < lk->start && p->end > lk->end)
			return true;
	}
	return false;
}

/*
 * Sets (or with F_UNLCK clears) @owner's lock on [start, end], without a
 * conflict check. 0 or -ENOLCK (out of memory; nothing changed then).
 */
static int mem_posix_apply(struct mem_locks *l, uint64_t owner,
			   const struct vlock *lk)
{
	struct mem_plock *nl = NULL, *spare = NULL, **pp;
	uint64_t start = lk->start, end = lk->end;

	if (lk->type != F_UNLCK) {
		nl = malloc(sizeof(*nl));
		if (!nl)
			return -ENOLCK;
	}
	if (mem_posix_splits(l, owner, lk)) {
		spare = malloc(sizeof(*spare));
		if (!spare) {
			free(nl);
			return -ENOLCK;
		}
	}
	/*
	 * The owner's locks are disjoint, so growing [start, end] over a
	 * touching lock of the same type never makes it overlap a lock that
	 * was already trimmed against the smaller range.
	 */
	for (pp = &l->posix; *pp;) {
		struct mem_plock *p = *pp;

		if (p->owner != owner) {
			pp = &p->next;
		} else if (nl && p->type == lk->type &&
			   mem_lk_touch(p->start, p->end, start, end)) {
			start = p->start < start ? p->start : start;
			end = p->end > end ? p->end : end;
			*pp = p->next;
			free(p);
		} else if (!mem_lk_overlap(p->start, p->end, start, end)) {
			pp = &p->next;
		} else if (p->start < start && p->end > end) {
			*spare = *p;
			spare->start = end + 1;
			spare->next = p->next;
			p->end = start - 1;
			p->next = spare;
			spare = NULL;
			pp = &p->next->next;
		} else if (p->start < start) {
			p->end = start - 1;
			pp = &p->next;
		} else if (p->end > end) {
			p->start = end + 1;
			pp = &p->next;
		} else {
			*pp = p->next;
			free(p);
		}
	}
	free(spare);	/* not needed after all (a merge came first) */
	if (nl) {
		nl->start = start;
		nl->end = end;
		nl->owner = owner;
		nl->type = lk->type;
		nl->pid = lk->pid;
		nl->next = l->posix;
		l->posix = nl;
	}
	return 0;
}

/* Drops every POSIX lock of @owner. Returns whether any went. */
static bool mem_posix_drop_owner(struct mem_locks *l, uint64_t owner)
{
	bool any = false;

	for (struct mem_plock **pp = &l->posix; *pp;) {
		struct mem_plock *p = *pp;

		if (p->owner == owner) {
			*pp = p->next;
			free(p);
			any = true;
		} else {
			pp = &p->next;
		}
	}
	return any;
}

/*
 * Would parking @owner behind @blocker close a cycle of owners waiting for
 * each other? Follows the first blocker of each parked waiter, like Linux.
 */
static bool mem_posix_deadlock(struct mem_backend *mb, uint64_t owner,
			       const struct mem_plock *blocker)
{
	for (int depth = 0; blocker && depth < MEM_DEADLK_DEPTH; depth++) {
		const struct mem_waiter *w;

		if (blocker->owner == owner)
			return true;
		for (w = mb->waiters; w; w = w->gnext) {
			if (!w->is_flock && w->owner == blocker->owner)
				break;
		}
		if (!w)
			return false;
		blocker = mem_posix_conflict(&w->inode->locks, w->owner, &w->lk);
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Flocks */

static struct mem_flock **mem_flock_find(struct mem_locks *l, uint64_t fh)
{
	struct mem_flock **pp = &l->flocks;

	while (*pp && (*pp)->fh != fh)
		pp = &(*pp)->next;
	return pp;
}

static bool mem_flock_conflict(const struct mem_locks *l, uint64_t fh,
			       uint32_t type)
{
	for (const struct mem_flock *f = l->flocks; f; f = f->next) {
		if (f->fh != fh && mem_lk_exclusive(f->type, type))
			return true;
	}
	return false;
}

/* Drops @fh's flock. Returns whether it had one. */
static bool mem_flock_drop(struct mem_locks *l, uint64_t fh)
{
	struct mem_flock **pp = mem_flock_find(l, fh), *f = *pp;

	if (!f)
		return false;
	*pp = f->next;
	free(f);
	return true;
}

/* ------------------------------------------------------------------ */
/* Granting and waiting */

/*
 * Tries to set @lk. 0 (granted), -EAGAIN (conflict) or -ENOLCK. *@released
 * tells whether locks were dropped or weakened, so waiters may now fit: a
 * flock conversion drops the old flock first even when the new one then
 * conflicts (as Linux; no deadlock when two holders of a shared lock both
 * upgrade).
 */
static int mem_lock_try(struct mem_locks *l, uint64_t fh, uint64_t owner,
			const struct vlock *lk, bool is_flock, bool *released)
{
	struct mem_flock **pp, *f;

	if (!is_flock) {
		if (lk->type != F_UNLCK && mem_posix_conflict(l, owner, lk))
			return -EAGAIN;
		if (mem_posix_apply(l, owner, lk))
			return -ENOLCK;
		*released = true;
		return 0;
	}
	pp = mem_flock_find(l, fh);
	if (*pp && (*pp)->type == lk->type)
		return 0;
	if (*pp) {
		mem_flock_drop(l, fh);
		*released = true;
	}
	if (lk->type == F_UNLCK)
		return 0;
	if (mem_flock_conflict(l, fh, lk->type))
		return -EAGAIN;
	f = malloc(sizeof(*f));
	if (!f)
		return -ENOLCK;
	f->fh = fh;
	f->type = lk->type;
	f->pid = lk->pid;
	f->next = l->flocks;
	l->flocks = f;
	return 0;
}

static void mem_chain_add(struct bcall **chain, struct bcall *c, int err)
{
	c->err = err;
	c->bk_next = NULL;
	while (*chain)
		chain = &(*chain)->bk_next;
	*chain = c;
}

/* Takes @w off both lists (pp: its link in the inode FIFO) and frees it. */
static struct bcall *mem_waiter_unpark(struct mem_waiter **pp)
{
	struct mem_waiter *w = *pp;
	struct mem_locks *l = &w->inode->locks;
	struct bcall *c = w->c;

	*pp = w->next;
	if (l->wait_tail == &w->next)
		l->wait_tail = pp;
	*w->gprev = w->gnext;
	if (w->gnext)
		w->gnext->gprev = w->gprev;
	c->bk_priv = NULL;
	free(w);
	return c;
}

/* Grants, in FIFO order, every parked call of @i that now fits; repeats
 * while grants change the picture (a granted lock may weaken its owner's
 * other locks). */
static void mem_lock_wake_locked(struct mem_inode *i, struct bcall **wake)
{
	struct mem_locks *l = &i->locks;
	bool progress = true;

	while (progress) {
		progress = false;
		for (struct mem_waiter **pp = &l->wait_head; *pp;) {
			struct mem_waiter *w = *pp;
			bool released = false;
			int err = mem_lock_try(l, w->fh, w->owner, &w->lk,
					       w->is_flock, &released);

			if (err == -EAGAIN) {
				pp = &w->next;
				continue;
			}
			mem_chain_add(wake, mem_waiter_unpark(pp), err);
			progress |= released;
		}
	}
}

/* Parks @c on @i. 0 or -ENOLCK. */
static int mem_lock_park(struct mem_backend *mb, struct mem_inode *i,
			 uint64_t fh, uint64_t owner, const struct vlock *lk,
			 bool is_flock, struct bcall *c)
{
	struct mem_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOLCK;
	w->c = c;
	w->inode = i;
	w->fh = fh;
	w->owner = owner;
	w->lk = *lk;
	w->is_flock = is_flock;
	*i->locks.wait_tail = w;
	i->locks.wait_tail = &w->next;
	w->gnext = mb->waiters;
	if (w->gnext)
		w->gnext->gprev = &w->gnext;
	w->gprev = &mb->waiters;
	mb->waiters = w;
	c->bk_priv = w;
	return 0;
}

void mem_lock_close_locked(struct mem_inode *i, uint64_t fh, bool last,
			   struct bcall **wake)
{
	struct mem_locks *l = &i->locks;

	mem_flock_drop(l, fh);
	/* Nobody can still wait through a closed handle. */
	for (struct mem_waiter **pp = &l->wait_head; *pp;) {
		if (last || (*pp)->fh == fh)
			mem_chain_add(wake, mem_waiter_unpark(pp), -EINTR);
		else
			pp = &(*pp)->next;
	}
	if (last)
		mem_locks_drop_all(l);
	else
		mem_lock_wake_locked(i, wake);
}

void mem_lock_complete(struct bcall *wake)
{
	while (wake) {
		struct bcall *next = wake->bk_next;

		wake->done(wake);
		wake = next;
	}
}

void mem_lock_drop_parked(struct mem_backend *mb)
{
	while (mb->waiters) {
		struct mem_waiter *w = mb->waiters;

		mb->waiters = w->gnext;
		w->inode->locks.wait_head = NULL;
		w->inode->locks.wait_tail = &w->inode->locks.wait_head;
		free(w);
	}
}

/* ------------------------------------------------------------------ */
/* Ops */

static bool mem_lock_valid(const struct vlock *lk, bool is_flock)
{
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return false;
	return is_flock || lk->start <= lk->end;
}

void mem_getlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	const struct mem_plock *p;
	struct mem_inode *i;
	int err = 0;

	if (!mem_lock_valid(lk, false) || lk->type == F_UNLCK) {
		mem_complete(c, -EINVAL);
		return;
	}
	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		pthread_mutex_lock(&mb->lk_mutex);
		p = mem_posix_conflict(&i->locks, owner, lk);
		if (p) {
			c->lock.start = p->start;
			c->lock.end = p->end;
			c->lock.type = p->type;
			c->lock.pid = p->pid;
		} else {
			c->lock = *lk;
			c->lock.type = F_UNLCK;
		}
		pthread_mutex_unlock(&mb->lk_mutex);
	} else {
		err = -ENOENT;
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
}

void mem_setlk(struct backend *b, uint64_t ino, uint64_t fh, uint64_t owner,
	       const struct vlock *lk, int wait, int is_flock,
	       struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct bcall *wake = NULL;
	struct mem_inode *i;
	bool released = false, parked = false;
	int err;

	if (!mem_lock_valid(lk, is_flock)) {
		mem_complete(c, -EINVAL);
		return;
	}
	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (!i) {
		err = -ENOENT;
		goto out_unlock_ns;
	}
	/* Shared inode lock: release() cannot drop the last handle while
	 * we park, so no waiter outlives its inode's handles. */
	pthread_rwlock_rdlock(&i->lock);
	if (!i->nopen) {
		err = -EBADF;
		goto out_unlock_inode;
	}
	pthread_mutex_lock(&mb->lk_mutex);
	err = mem_lock_try(&i->locks, fh, owner, lk, is_flock, &released);
	if (released)
		mem_lock_wake_locked(i, &wake);
	if (err == -EAGAIN && wait) {
		if (!is_flock &&
		    mem_posix_deadlock(mb, owner,
				       mem_posix_conflict(&i->locks, owner, lk)))
			err = -EDEADLK;
		else
			err = mem_lock_park(mb, i, fh, owner, lk, is_flock, c);
		parked = err == 0;
	}
	pthread_mutex_unlock(&mb->lk_mutex);
out_unlock_inode:
	pthread_rwlock_unlock(&i->lock);
out_unlock_ns:
	pthread_rwlock_unlock(&mb->ns_lock);
	if (!parked)
		mem_complete(c, err);
	mem_lock_complete(wake);
}

void mem_flush(struct backend *b, uint64_t ino, uint64_t fh,
	       uint64_t lock_owner, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct bcall *wake = NULL;
	struct mem_inode *i;
	int err = 0;

	pthread_rwlock_rdlock(&mb->ns_lock);
	i = mem_inode_find(mb, ino);
	if (i) {
		pthread_mutex_lock(&mb->lk_mutex);
		if (mem_posix_drop_owner(&i->locks, lock_owner))
			mem_lock_wake_locked(i, &wake);
		pthread_mutex_unlock(&mb->lk_mutex);
	} else {
		err = -ENOENT;
	}
	pthread_rwlock_unlock(&mb->ns_lock);
	mem_complete(c, err);
	mem_lock_complete(wake);
}

int mem_interrupt(struct backend *b, struct bcall *c)
{
	struct mem_backend *mb = mem_of(b);
	struct mem_waiter *w, **pp;
	struct bcall *found = NULL;

	/* Compare pointers only: @c may not be ours to read. */
	pthread_mutex_lock(&mb->lk_mutex);
	for (w = mb->waiters; w; w = w->gnext) {
		if (w->c == c)
			break;
	}
	if (w) {
		pp = &w->inode->locks.wait_head;
		while (*pp != w)
			pp = &(*pp)->next;
		found = mem_waiter_unpark(pp);
	}
	pthread_mutex_unlock(&mb->lk_mutex);
	if (!found)
		return 0;
	mem_complete(found, -EINTR);
	return 1;
}
