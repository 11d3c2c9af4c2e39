/* SPDX-License-Identifier: MIT */
/*
 * ns_lock.c - cluster-wide locks, client leases, and the hold index that
 * lets an expired lease be cleaned up.
 *
 * Locks live in the KV, one record per inode ('L' ino), so every metad
 * sharing the database sees them and a lock operation is one transaction
 * that reads and rewrites that record: two clients locking the same file
 * through different metad serialize on it (PostgreSQL reports a conflict,
 * vkv_run reruns the loser, which then sees the winner's lock).
 *
 * Leases: a client renews 'K' client every lease/3; sessions and locks
 * make sure the record exists. A lock held by a client whose lease has
 * ended never blocks anyone (checked at conflict time), and the sweeper
 * (vns_lease_expire, run by metad) drops such a client's sessions and
 * locks through its hold index ('O' client tag ino) and deletes its lease.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "meta/ns_i.h"
#include "meta/ns_op.h"

#define NS_LOCK_ENT_LEN (1 + 8 + 8 + 4 + 4 + 8 + 8)
/* Hold index entries handled per lease-expiry transaction. */
#define NS_LEASE_BATCH 128

/* ---- Hold index and leases ----------------------------------------------- */

static void ns_hold_key(struct ns_key *k, uint64_t client, char tag,
			uint64_t ino)
{
	ns_key_ino(k, 'O', client);
	k->b[9] = (uint8_t)tag;
	ns_put_be64(k->b + 10, ino);
	k->len = 18;
}

int ns_hold_set(struct vkv_txn *txn, uint64_t client, char tag, uint64_t ino,
		int on)
{
	static const uint8_t ver = NS_REC_VERSION;
	struct ns_key k;
	int rc;

	ns_hold_key(&k, client, tag, ino);
	if (on)
		return vkv_put(txn, k.b, k.len, &ver, 1);
	rc = vkv_del(txn, k.b, k.len);
	return rc == -ENOENT ? 0 : rc;
}

static int ns_lease_get(struct vkv_txn *txn, uint64_t client, int64_t *exp)
{
	struct ns_key k;
	uint64_t v;
	int rc;

	ns_key_ino(&k, 'K', client);
	rc = ns_u64_get(txn, &k, &v);
	if (rc < 0)
		return rc;
	*exp = (int64_t)v;
	return 0;
}

static int ns_lease_put(struct vkv_txn *txn, struct vns *ns, uint64_t client,
			int64_t now)
{
	struct ns_key k;

	ns_key_ino(&k, 'K', client);
	return ns_u64_put(
		txn, &k, (uint64_t)(now + (int64_t)vns_lease_ms(ns) * 1000000));
}

/*
 * The cache only holds expiries READ from the store: a lease record only
 * moves forward (renewals) or goes when it has expired (the sweep), so a
 * cached expiry well in the future proves the record is there. A put is
 * never cached: its transaction may still abort.
 */
static unsigned ns_lease_slot(uint64_t client)
{
	return (unsigned)((client * 0x9e3779b97f4a7c15ull) >> 56) %
	       NS_LEASE_CACHE;
}

int ns_lease_ensure(struct vkv_txn *txn, struct vns *ns, uint64_t client)
{
	unsigned slot = ns_lease_slot(client);
	int64_t now = ns_now(), exp, margin;
	int rc, fresh;

	margin = (int64_t)vns_lease_ms(ns) * 500000; /* half the lease */
	pthread_mutex_lock(&ns->lock);
	fresh = ns->lease_cache[slot].client == client &&
		ns->lease_cache[slot].exp > now + margin;
	pthread_mutex_unlock(&ns->lock);
	if (fresh)
		return 0;
	rc = ns_lease_get(txn, client, &exp);
	if (!rc && exp >= now) {
		pthread_mutex_lock(&ns->lock);
		ns->lease_cache[slot].client = client;
		ns->lease_cache[slot].exp = exp;
		pthread_mutex_unlock(&ns->lock);
		return 0;
	}
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return ns_lease_put(txn, ns, client, now);
}

int ns_lease_expired(struct vkv_txn *txn, uint64_t client, int64_t now)
{
	int64_t exp;
	int rc = ns_lease_get(txn, client, &exp);

	if (rc == -ENOENT)
		return 1;
	if (rc < 0)
		return rc;
	return exp < now;
}

static int ns_lease_renew_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;

	return ns_lease_put(txn, op->ns, op->client, ns_now());
}

int vns_lease_renew(struct vns *ns, uint64_t client)
{
	struct ns_op op = {.ns = ns, .client = client};

	return ns_op_run(&op, 0, ns_lease_renew_txn);
}

/* ---- Lock records -------------------------------------------------------- */

int ns_locks_get(struct vkv_txn *txn, uint64_t ino, struct ns_lock_ent *e,
		 size_t *n)
{
	const uint8_t *p;
	struct ns_key k;
	size_t vlen, cnt;
	int rc;

	*n = 0;
	ns_key_ino(&k, 'L', ino);
	rc = vkv_get(txn, k.b, k.len, (const void **)&p, &vlen);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (vlen < 5 || p[0] != NS_REC_VERSION)
		goto out_corrupt;
	cnt = (size_t)p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16 |
	      (size_t)p[4] << 24;
	if (cnt > VNS_LOCKS_MAX || vlen != 5 + cnt * NS_LOCK_ENT_LEN)
		goto out_corrupt;
	p += 5;
	for (size_t i = 0; i < cnt; i++, p += NS_LOCK_ENT_LEN) {
		struct ns_lock_ent *x = &e[i];
		uint64_t f[6] = {0};
		static const int w[6] = {8, 8, 4, 4, 8, 8};
		const uint8_t *q = p + 1;

		for (int j = 0; j < 6; j++) {
			for (int b = 0; b < w[j]; b++)
				f[j] |= (uint64_t)q[b] << (8 * b);
			q += w[j];
		}
		x->l.kind = p[0];
		x->client = f[0];
		x->l.owner = f[1];
		x->l.pid = (uint32_t)f[2];
		x->l.type = (uint32_t)f[3];
		x->l.start = f[4];
		x->l.end = f[5];
	}
	*n = cnt;
	return 0;

out_corrupt:
	vlog_err("ns: inode %" PRIu64 ": corrupt lock record", ino);
	return -EIO;
}

static int ns_lock_cmp(const void *a, const void *b)
{
	const struct ns_lock_ent *x = a, *y = b;

	if (x->l.kind != y->l.kind)
		return x->l.kind < y->l.kind ? -1 : 1;
	if (x->client != y->client)
		return x->client < y->client ? -1 : 1;
	if (x->l.owner != y->l.owner)
		return x->l.owner < y->l.owner ? -1 : 1;
	if (x->l.start != y->l.start)
		return x->l.start < y->l.start ? -1 : 1;
	return 0;
}

int ns_locks_put(struct vkv_txn *txn, uint64_t ino, const struct ns_lock_ent *e,
		 size_t n)
{
	struct ns_key k;
	uint8_t *v, *p;
	int rc;

	ns_key_ino(&k, 'L', ino);
	if (!n) {
		rc = vkv_del(txn, k.b, k.len);
		return rc == -ENOENT ? 0 : rc;
	}
	v = malloc(5 + n * NS_LOCK_ENT_LEN);
	if (!v)
		return -ENOMEM;
	v[0] = NS_REC_VERSION;
	for (int i = 0; i < 4; i++)
		v[1 + i] = (uint8_t)(n >> (8 * i));
	p = v + 5;
	for (size_t i = 0; i < n; i++) {
		const uint64_t f[6] = {e[i].client, e[i].l.owner, e[i].l.pid,
				       e[i].l.type, e[i].l.start, e[i].l.end};
		static const int w[6] = {8, 8, 4, 4, 8, 8};

		*p++ = e[i].l.kind;
		for (int j = 0; j < 6; j++)
			for (int b = 0; b < w[j]; b++)
				*p++ = (uint8_t)(f[j] >> (8 * b));
	}
	rc = vkv_put(txn, k.b, k.len, v, (size_t)(p - v));
	free(v);
	return rc;
}

/* ---- Lock logic ---------------------------------------------------------- */

static int ns_lock_overlap(const struct vns_lock *a, const struct vns_lock *b)
{
	if (a->kind == VNS_LOCK_FLOCK)
		return 1;
	return a->start <= b->end && b->start <= a->end;
}

static int ns_lock_same_holder(const struct ns_lock_ent *x, uint64_t client,
			       const struct vns_lock *l)
{
	return x->client == client && x->l.owner == l->owner &&
	       x->l.kind == l->kind;
}

/*
 * Index of the first entry of another holder that conflicts with @l and
 * whose lease is live; -ENOENT when there is none, or another -errno.
 */
static int ns_lock_conflict(struct vkv_txn *txn, const struct ns_lock_ent *e,
			    size_t n, uint64_t client, const struct vns_lock *l,
			    int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		const struct ns_lock_ent *x = &e[i];
		int rc;

		if (x->l.kind != l->kind || ns_lock_same_holder(x, client, l))
			continue;
		if (!ns_lock_overlap(&x->l, l))
			continue;
		if (x->l.type != F_WRLCK && l->type != F_WRLCK)
			continue;
		rc = ns_lease_expired(txn, x->client, now);
		if (rc < 0)
			return rc;
		if (!rc)
			return (int)i;
	}
	return -ENOENT;
}

static int ns_lock_check(const struct vns_lock *l)
{
	if (l->kind > VNS_LOCK_FLOCK || l->start > l->end)
		return -EINVAL;
	if (l->type != F_RDLCK && l->type != F_WRLCK && l->type != F_UNLCK)
		return -EINVAL;
	return 0;
}

static int ns_has_client(const struct ns_lock_ent *e, size_t n, uint64_t client)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].client == client)
			return 1;
	return 0;
}

/*
 * Remove (client, l->owner)'s coverage of [l->start, l->end] of l->kind
 * from @e (n entries, room for 2 more), keeping the parts outside.
 */
static size_t ns_lock_cut(struct ns_lock_ent *e, size_t n, uint64_t client,
			  const struct vns_lock *l)
{
	size_t m = n;

	for (size_t i = 0; i < n; i++) {
		struct ns_lock_ent *x = &e[i];

		if (!ns_lock_same_holder(x, client, l) ||
		    !ns_lock_overlap(&x->l, l))
			continue;
		if (l->kind == VNS_LOCK_POSIX && x->l.start < l->start &&
		    x->l.end > l->end) {
			/* Split: the right part becomes a new entry. */
			e[m] = *x;
			e[m].l.start = l->end + 1;
			m++;
			x->l.end = l->start - 1;
		} else if (l->kind == VNS_LOCK_POSIX && x->l.start < l->start) {
			x->l.end = l->start - 1;
		} else if (l->kind == VNS_LOCK_POSIX && x->l.end > l->end) {
			x->l.start = l->end + 1;
		} else {
			x->l.type = F_UNLCK; /* whole entry goes */
		}
	}
	/* Compact away the removed entries. */
	n = 0;
	for (size_t i = 0; i < m; i++)
		if (e[i].l.type != F_UNLCK)
			e[n++] = e[i];
	return n;
}

/* Add @l for @client to @e (cut already), merging adjacent POSIX ranges
 * of the same holder and type. */
static size_t ns_lock_add(struct ns_lock_ent *e, size_t n, uint64_t client,
			  const struct vns_lock *l)
{
	struct ns_lock_ent add = {.l = *l, .client = client};
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		struct ns_lock_ent *x = &e[i];

		if (l->kind == VNS_LOCK_POSIX &&
		    ns_lock_same_holder(x, client, l) && x->l.type == l->type &&
		    ((x->l.end != UINT64_MAX && x->l.end + 1 == add.l.start) ||
		     (add.l.end != UINT64_MAX &&
		      add.l.end + 1 == x->l.start))) {
			if (x->l.start < add.l.start)
				add.l.start = x->l.start;
			if (x->l.end > add.l.end)
				add.l.end = x->l.end;
			continue;
		}
		e[m++] = *x;
	}
	e[m++] = add;
	return m;
}

static int ns_lock_set_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_lock_ent *e = op->buf;
	const struct vns_lock *l = op->lock;
	int64_t now = ns_now();
	size_t n;
	int had, has, rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	rc = ns_locks_get(txn, op->ino, e, &n);
	if (rc < 0)
		return rc;
	had = ns_has_client(e, n, op->client);
	if (l->type != F_UNLCK) {
		rc = ns_lock_conflict(txn, e, n, op->client, l, now);
		if (rc >= 0)
			return -EBUSY; /* vns_lock_set() says -EAGAIN */
		if (rc != -ENOENT)
			return rc;
	}
	n = ns_lock_cut(e, n, op->client, l);
	if (l->type != F_UNLCK) {
		if (n >= VNS_LOCKS_MAX)
			return -ENOLCK;
		n = ns_lock_add(e, n, op->client, l);
	}
	qsort(e, n, sizeof(*e), ns_lock_cmp);
	rc = ns_locks_put(txn, op->ino, e, n);
	if (rc < 0)
		return rc;
	has = ns_has_client(e, n, op->client);
	if (has != had)
		rc = ns_hold_set(txn, op->client, 'L', op->ino, has);
	if (rc >= 0 && has)
		rc = ns_lease_ensure(txn, op->ns, op->client);
	return rc < 0 ? rc : 0;
}

int vns_lock_set(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		 uint64_t client, const struct vns_lock *l)
{
	struct ns_op op = {
		.ns = ns, .cr = cr, .ino = ino, .client = client, .lock = l};
	struct vns_lock whole;
	int rc = ns_lock_check(l);

	if (rc < 0)
		return rc;
	if (l->kind == VNS_LOCK_FLOCK) {
		whole = *l;
		whole.start = 0;
		whole.end = UINT64_MAX;
		op.lock = &whole;
	}
	op.buf = malloc((VNS_LOCKS_MAX + 2) * sizeof(struct ns_lock_ent));
	if (!op.buf)
		return -ENOMEM;
	rc = ns_op_run(&op, 0, ns_lock_set_txn);
	free(op.buf);
	return rc == -EBUSY ? -EAGAIN : rc;
}

static int ns_lock_get_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_lock_ent *e = op->buf;
	size_t n;
	int rc;

	rc = ns_inode_get(txn, op->ino, &op->a);
	if (rc < 0)
		return rc;
	rc = ns_locks_get(txn, op->ino, e, &n);
	if (rc < 0)
		return rc;
	memset(op->lock_out, 0, sizeof(*op->lock_out));
	op->lock_out->type = F_UNLCK;
	if (op->lock->type == F_UNLCK)
		return 0;
	rc = ns_lock_conflict(txn, e, n, op->client, op->lock, ns_now());
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	*op->lock_out = e[rc].l;
	return 0;
}

int vns_lock_get(struct vns *ns, uint64_t ino, uint64_t client,
		 const struct vns_lock *l, struct vns_lock *out)
{
	struct ns_op op = {.ns = ns,
			   .ino = ino,
			   .client = client,
			   .lock = l,
			   .lock_out = out};
	int rc = ns_lock_check(l);

	if (rc < 0)
		return rc;
	op.buf = malloc((VNS_LOCKS_MAX + 2) * sizeof(struct ns_lock_ent));
	if (!op.buf)
		return -ENOMEM;
	rc = ns_op_run(&op, VKV_RDONLY, ns_lock_get_txn);
	free(op.buf);
	return rc;
}

/* Remove every entry matching (@client, and @owner/@kind unless @all). */
static size_t ns_lock_drop(struct ns_lock_ent *e, size_t n, uint64_t client,
			   uint8_t kind, uint64_t owner, int all)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (e[i].client == client &&
		    (all || (e[i].l.kind == kind && e[i].l.owner == owner)))
			continue;
		e[m++] = e[i];
	}
	return m;
}

static int ns_lock_release_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_lock_ent *e = op->buf;
	size_t n, m;
	int rc;

	rc = ns_locks_get(txn, op->ino, e, &n);
	if (rc < 0)
		return rc;
	m = ns_lock_drop(e, n, op->client, op->kind, op->owner, 0);
	if (m == n)
		return 0;
	rc = ns_locks_put(txn, op->ino, e, m);
	if (rc >= 0 && !ns_has_client(e, m, op->client))
		rc = ns_hold_set(txn, op->client, 'L', op->ino, 0);
	return rc < 0 ? rc : 0;
}

int vns_lock_release(struct vns *ns, const struct vns_cred *cr, uint64_t ino,
		     uint64_t client, uint8_t kind, uint64_t owner)
{
	struct ns_op op = {.ns = ns,
			   .cr = cr,
			   .ino = ino,
			   .client = client,
			   .kind = kind,
			   .owner = owner};
	int rc;

	if (kind > VNS_LOCK_FLOCK)
		return -EINVAL;
	op.buf = malloc((VNS_LOCKS_MAX + 2) * sizeof(struct ns_lock_ent));
	if (!op.buf)
		return -ENOMEM;
	rc = ns_op_run(&op, 0, ns_lock_release_txn);
	free(op.buf);
	return rc;
}

/* ---- Lease expiry -------------------------------------------------------- */

struct ns_expired_ctx {
	uint64_t *clients;
	size_t n, max;
	int64_t now;
};

static int ns_expired_cb(const void *key, size_t klen, const void *val,
			 size_t vlen, void *arg)
{
	struct ns_expired_ctx *c = arg;
	const uint8_t *v = val;
	uint64_t exp = 0;

	if (klen != 9 || vlen != 9 || v[0] != NS_REC_VERSION)
		return 0; /* fsck reports it; skip */
	for (int i = 0; i < 8; i++)
		exp |= (uint64_t)v[1 + i] << (8 * i);
	if ((int64_t)exp >= c->now)
		return 0;
	c->clients[c->n++] = ns_get_be64((const uint8_t *)key + 1);
	return c->n >= c->max;
}

static int ns_expired_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_expired_ctx *c = arg;
	uint8_t start = 'K', end = 'K' + 1;
	int rc;

	c->n = 0;
	rc = vkv_range(txn, &start, 1, &end, 1, 0, ns_expired_cb, c);
	return rc < 0 ? rc : (int)c->n;
}

struct ns_hold_list {
	uint8_t tag[NS_LEASE_BATCH];
	uint64_t ino[NS_LEASE_BATCH];
	size_t n;
};

static int ns_hold_cb(const void *key, size_t klen, const void *val,
		      size_t vlen, void *arg)
{
	struct ns_hold_list *h = arg;
	const uint8_t *k = key;

	if (klen != 18)
		return 0;
	h->tag[h->n] = k[9];
	h->ino[h->n] = ns_get_be64(k + 10);
	h->n++;
	return h->n >= NS_LEASE_BATCH;
}

/* Drop one client's session on op->ino (the whole count). */
static int ns_expire_session(struct vkv_txn *txn, struct ns_op *op,
			     uint64_t ino)
{
	struct ns_key k;
	int rc;

	ns_key_sess(&k, ino, op->client);
	rc = vkv_del(txn, k.b, k.len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	atomic_fetch_add_explicit(&op->ns->sessions_dropped, 1,
				  memory_order_relaxed);
	rc = ns_inode_get(txn, ino, &op->a);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || op->a.nlink)
		return rc;
	return ns_inode_release(txn, &op->a);
}

static int ns_expire_locks(struct vkv_txn *txn, struct ns_op *op, uint64_t ino)
{
	struct ns_lock_ent *e = op->buf;
	size_t n, m;
	int rc;

	rc = ns_locks_get(txn, ino, e, &n);
	if (rc < 0)
		return rc;
	m = ns_lock_drop(e, n, op->client, 0, 0, 1);
	if (m == n)
		return 0;
	atomic_fetch_add_explicit(&op->ns->locks_dropped, 1,
				  memory_order_relaxed);
	return ns_locks_put(txn, ino, e, m);
}

/* One batch of one client's holds; 1 when the client is done. */
static int ns_expire_client_txn(struct vkv_txn *txn, void *arg)
{
	struct ns_op *op = arg;
	struct ns_hold_list *h = op->aux;
	struct ns_key start, end, k;
	int rc;

	rc = ns_lease_expired(txn, op->client, op->now);
	if (rc <= 0)
		return rc < 0 ? rc : 2; /* renewed meanwhile: leave it */
	h->n = 0;
	ns_key_ino(&start, 'O', op->client);
	ns_key_prefix_end(&start, &end);
	rc = vkv_range(txn, start.b, start.len, end.b, end.len, NS_LEASE_BATCH,
		       ns_hold_cb, h);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < h->n; i++) {
		if (h->tag[i] == 'S')
			rc = ns_expire_session(txn, op, h->ino[i]);
		else if (h->tag[i] == 'L')
			rc = ns_expire_locks(txn, op, h->ino[i]);
		if (rc < 0)
			return rc;
		ns_hold_key(&k, op->client, (char)h->tag[i], h->ino[i]);
		rc = vkv_del(txn, k.b, k.len);
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	if (h->n == NS_LEASE_BATCH)
		return 0; /* more to do */
	ns_key_ino(&k, 'K', op->client);
	rc = vkv_del(txn, k.b, k.len);
	return rc < 0 && rc != -ENOENT ? rc : 1;
}

int vns_lease_expire(struct vns *ns, int64_t now_ns, size_t max)
{
	struct ns_expired_ctx c = {.max = max ? max : 1, .now = now_ns};
	struct ns_hold_list *h;
	struct ns_op op = {.ns = ns, .now = now_ns};
	int rc, done = 0;

	c.clients = calloc(c.max, sizeof(*c.clients));
	h = malloc(sizeof(*h));
	op.buf = malloc((VNS_LOCKS_MAX + 2) * sizeof(struct ns_lock_ent));
	if (!c.clients || !h || !op.buf) {
		rc = -ENOMEM;
		goto out_free;
	}
	op.aux = h;
	rc = vkv_run(ns->kv, VKV_RDONLY, ns_expired_txn, &c, VNS_RETRIES);
	if (rc < 0)
		goto out_free;
	for (size_t i = 0; i < c.n; i++) {
		op.client = c.clients[i];
		do
			rc = ns_op_run(&op, 0, ns_expire_client_txn);
		while (rc == 0);
		if (rc < 0)
			goto out_free;
		if (rc == 1) {
			done++;
			vlog_info("ns: lease of client %016" PRIx64
				  " expired: its sessions and locks are "
				  "dropped",
				  op.client);
		}
	}
	atomic_fetch_add_explicit(&ns->leases_expired, (uint64_t)done,
				  memory_order_relaxed);
	rc = done;
out_free:
	free(op.buf);
	free(h);
	free(c.clients);
	return rc;
}
