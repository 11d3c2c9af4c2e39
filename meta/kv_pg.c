/* SPDX-License-Identifier: MIT */
/*
 * kv_pg.c - the shared KV backend: PostgreSQL through libpq.
 *
 * One table, valor_kv (k bytea primary key, v bytea not null), created on
 * open if missing. bytea compares as memcmp then length, the order kv.h
 * promises, and the primary-key index serves the range scans. Every
 * transaction is BEGIN ISOLATION LEVEL SERIALIZABLE (READ ONLY for
 * VKV_RDONLY), so the database detects conflicts between metad processes
 * and reports SQLSTATE 40001 (serialization failure) or 40P01 (deadlock),
 * at any statement or at COMMIT; either makes the transaction dead and
 * vkv_commit() return -EAGAIN. The store keeps no state beyond its pool of
 * connections: several processes may share the database freely.
 *
 * Keys and values travel as binary parameters and results of prepared
 * statements (paramFormats = 1, resultFormat = 1): no text escaping.
 *
 * Puts are not sent one by one: they are buffered in the transaction and
 * go out pipelined (libpq pipeline mode) in front of the next statement
 * that needs an answer (get, del, range) or with the COMMIT, all in one
 * round trip. A transaction reads its own writes all the same (the
 * buffered puts reach the server before any later statement), but an
 * error of a put (a conflict, say) is reported by the next statement or
 * the commit, which kv.h allows. A create thus costs about half the round
 * trips it would statement by statement.
 *
 * Connections: a pool of at most VKV_PG_POOL_MAX, opened on demand and kept
 * idle for reuse. A transaction holds one connection from begin to
 * commit/abort; a connection that broke or is not idle afterwards is
 * closed instead of being returned. A pooled connection that broke while
 * idle (server restart) is reset once at the next begin.
 */
#include <errno.h>
#include <postgresql/libpq-fe.h> /* Debian: no -I needed */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "meta/kv.h"

#define VKV_PG_BYTEA_OID 17
#define VKV_PG_INT8_OID 20
/* Rows fetched per range statement: bounds memory on long scans. */
#define VKV_PG_RANGE_BATCH 256

static const char vkv_pg_create_sql[] =
	"CREATE TABLE IF NOT EXISTS valor_kv "
	"(k bytea PRIMARY KEY, v bytea NOT NULL)";

/* Prepared on every connection; index = enum vkv_pg_stmt. */
enum vkv_pg_stmt {
	VKV_PG_GET,
	VKV_PG_PUT,
	VKV_PG_DEL,
	VKV_PG_RANGE,	   /* [$1, $2), LIMIT $3 */
	VKV_PG_RANGE_OPEN, /* [$1, ...), LIMIT $2 */
	VKV_PG_NSTMT,
};

static const struct {
	const char *name;
	const char *sql;
	int nparams;
	Oid types[3];
} vkv_pg_stmts[VKV_PG_NSTMT] = {
	[VKV_PG_GET] = { "vkv_get", "SELECT v FROM valor_kv WHERE k = $1", 1,
			 { VKV_PG_BYTEA_OID } },
	[VKV_PG_PUT] = { "vkv_put",
			 "INSERT INTO valor_kv (k, v) VALUES ($1, $2) "
			 "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
			 2,
			 { VKV_PG_BYTEA_OID, VKV_PG_BYTEA_OID } },
	[VKV_PG_DEL] = { "vkv_del", "DELETE FROM valor_kv WHERE k = $1", 1,
			 { VKV_PG_BYTEA_OID } },
	[VKV_PG_RANGE] = { "vkv_range",
			   "SELECT k, v FROM valor_kv WHERE k >= $1 AND k < $2 "
			   "ORDER BY k LIMIT $3",
			   3,
			   { VKV_PG_BYTEA_OID, VKV_PG_BYTEA_OID,
			     VKV_PG_INT8_OID } },
	[VKV_PG_RANGE_OPEN] = { "vkv_range_open",
				"SELECT k, v FROM valor_kv WHERE k >= $1 "
				"ORDER BY k LIMIT $2",
				2,
				{ VKV_PG_BYTEA_OID, VKV_PG_INT8_OID } },
};

struct vkv_pg {
	struct vkv base;
	char *conninfo;
	pthread_mutex_t lock; /* protects the fields below */
	pthread_cond_t freed; /* signalled when nopen drops or idle grows */
	PGconn *idle[VKV_PG_POOL_MAX];
	int nidle;
	int nopen; /* idle + in use + being opened */
};

/* A PGresult kept alive because a get handed out a pointer into it. */
struct vkv_pg_keep {
	struct vkv_pg_keep *next;
	PGresult *res;
};

struct vkv_pg_txn {
	struct vkv_txn base;
	PGconn *conn;
	struct vkv_pg_keep *keep;
	int err; /* first fatal error (< 0); the txn is dead once set */
	/* Puts not sent yet, in order: (u32 klen, u32 vlen, key, value)*. */
	uint8_t *wbuf;
	size_t wlen, wcap;
	unsigned wn;
};

static const struct vkv_ops vkv_pg_ops;

static struct vkv_pg *vkv_pg_of(struct vkv *kv)
{
	return (struct vkv_pg *)kv;
}

static struct vkv_pg_txn *vkv_pg_txn_of(struct vkv_txn *txn)
{
	return (struct vkv_pg_txn *)txn;
}

/* libpq messages end in a newline; log lines must not. */
static int vkv_pg_msglen(const char *msg)
{
	size_t n = msg ? strlen(msg) : 0;

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	return (int)n;
}

/* Drop NOTICEs ("relation already exists, skipping") unless debugging. */
static void vkv_pg_notice(void *arg, const char *msg)
{
	vlog_debug("kv pg: %.*s", vkv_pg_msglen(msg), msg);
}

/*
 * Convert a statement's outcome to 0 or -errno, once: -EAGAIN for a
 * serialization failure or deadlock, -ECONNRESET when the connection is
 * gone, -EIO for any other error (logged). @res may be NULL (out of memory
 * or connection lost).
 */
static int vkv_pg_result_err(PGconn *conn, PGresult *res,
			     ExecStatusType want, const char *what)
{
	const char *state, *msg;

	if (res && PQresultStatus(res) == want)
		return 0;
	if (PQstatus(conn) == CONNECTION_BAD) {
		msg = PQerrorMessage(conn);
		vlog_err("kv pg: %s: connection to %s lost: %.*s", what,
			 PQhost(conn) ? PQhost(conn) : "?", vkv_pg_msglen(msg),
			 msg);
		return -ECONNRESET;
	}
	if (!res) {
		msg = PQerrorMessage(conn);
		vlog_err("kv pg: %s: %.*s", what, vkv_pg_msglen(msg), msg);
		return -ENOMEM;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	msg = PQresultErrorMessage(res);
	if (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))) {
		/* Connection exception, or the server ended the session: in
		 * pipeline mode this arrives before libpq marks the
		 * connection bad. */
		vlog_err("kv pg: %s: connection lost: %s %.*s", what, state,
			 vkv_pg_msglen(msg), msg);
		return -ECONNRESET;
	}
	if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01"))) {
		vlog_debug("kv pg: %s: conflict %s: %.*s", what, state,
			   vkv_pg_msglen(msg), msg);
		return -EAGAIN;
	}
	vlog_err("kv pg: %s: %s %.*s", what, state ? state : "-",
		 vkv_pg_msglen(msg), msg);
	return -EIO;
}

/* Run a parameterless command; 0 or -errno as vkv_pg_result_err(). */
static int vkv_pg_exec(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	int rc = vkv_pg_result_err(conn, res, PGRES_COMMAND_OK, what);

	PQclear(res);
	return rc;
}

/* ---- Connections --------------------------------------------------------- */

static int vkv_pg_prepare(PGconn *conn)
{
	for (int i = 0; i < VKV_PG_NSTMT; i++) {
		PGresult *res = PQprepare(conn, vkv_pg_stmts[i].name,
					  vkv_pg_stmts[i].sql,
					  vkv_pg_stmts[i].nparams,
					  vkv_pg_stmts[i].types);
		int rc = vkv_pg_result_err(conn, res, PGRES_COMMAND_OK,
					   vkv_pg_stmts[i].name);

		PQclear(res);
		if (rc)
			return rc;
	}
	return 0;
}

/* Open a connection ready for transactions (statements prepared). */
static int vkv_pg_connect(struct vkv_pg *kv, PGconn **out)
{
	PGconn *conn = PQconnectdb(kv->conninfo);
	const char *msg;
	int rc;

	if (!conn)
		return -ENOMEM;
	if (PQstatus(conn) != CONNECTION_OK) {
		msg = PQerrorMessage(conn);
		vlog_err("kv pg: cannot connect: %.*s", vkv_pg_msglen(msg),
			 msg);
		PQfinish(conn);
		return -ECONNREFUSED;
	}
	PQsetNoticeProcessor(conn, vkv_pg_notice, NULL);
	rc = vkv_pg_prepare(conn);
	if (rc) {
		PQfinish(conn);
		return rc;
	}
	*out = conn;
	return 0;
}

/* Take an idle connection or open one; waits while the pool is full. */
static int vkv_pg_conn_get(struct vkv_pg *kv, PGconn **out)
{
	int rc;

	pthread_mutex_lock(&kv->lock);
	while (!kv->nidle && kv->nopen >= VKV_PG_POOL_MAX)
		pthread_cond_wait(&kv->freed, &kv->lock);
	if (kv->nidle) {
		*out = kv->idle[--kv->nidle];
		pthread_mutex_unlock(&kv->lock);
		return 0;
	}
	kv->nopen++;
	pthread_mutex_unlock(&kv->lock);

	rc = vkv_pg_connect(kv, out);
	if (rc) {
		pthread_mutex_lock(&kv->lock);
		kv->nopen--;
		pthread_cond_signal(&kv->freed);
		pthread_mutex_unlock(&kv->lock);
	}
	return rc;
}

/* Return @conn to the pool, or close it if it is broken or mid-txn. */
static void vkv_pg_conn_put(struct vkv_pg *kv, PGconn *conn)
{
	int keep = PQstatus(conn) == CONNECTION_OK &&
		   PQtransactionStatus(conn) == PQTRANS_IDLE;

	if (!keep)
		PQfinish(conn);
	pthread_mutex_lock(&kv->lock);
	if (keep)
		kv->idle[kv->nidle++] = conn;
	else
		kv->nopen--;
	pthread_cond_signal(&kv->freed);
	pthread_mutex_unlock(&kv->lock);
}

/* ---- Store --------------------------------------------------------------- */

static void vkv_pg_free(struct vkv_pg *kv)
{
	while (kv->nidle)
		PQfinish(kv->idle[--kv->nidle]);
	pthread_cond_destroy(&kv->freed);
	pthread_mutex_destroy(&kv->lock);
	free(kv->conninfo);
	free(kv);
}

/*
 * Create the table. Two processes running CREATE TABLE IF NOT EXISTS at
 * the same moment can still collide in the catalog (23505 or 42P07), so
 * try again: the second attempt sees the table.
 */
static int vkv_pg_create_table(PGconn *conn)
{
	int rc = -EIO;

	for (int i = 0; i < 3; i++) {
		PGresult *res = PQexec(conn, vkv_pg_create_sql);
		const char *state;

		if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
			PQclear(res);
			return 0;
		}
		state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (state && (!strcmp(state, "23505") ||
			      !strcmp(state, "42P07"))) {
			PQclear(res);
			continue;
		}
		rc = vkv_pg_result_err(conn, res, PGRES_COMMAND_OK,
				       "create table");
		PQclear(res);
		return rc;
	}
	return rc;
}

int vkv_pg_open(const char *conninfo, struct vkv **out)
{
	struct vkv_pg *kv;
	PGconn *conn;
	const char *msg;
	int err;

	*out = NULL;
	if (!conninfo)
		return -EINVAL;
	kv = calloc(1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	kv->base.ops = &vkv_pg_ops;
	pthread_mutex_init(&kv->lock, NULL);
	pthread_cond_init(&kv->freed, NULL);
	kv->conninfo = strdup(conninfo);
	if (!kv->conninfo) {
		err = -ENOMEM;
		goto out_free;
	}

	/* The first connection creates the table before preparing on it. */
	conn = PQconnectdb(conninfo);
	if (!conn) {
		err = -ENOMEM;
		goto out_free;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		msg = PQerrorMessage(conn);
		vlog_err("kv pg: cannot connect: %.*s", vkv_pg_msglen(msg),
			 msg);
		err = -ECONNREFUSED;
		goto out_finish;
	}
	PQsetNoticeProcessor(conn, vkv_pg_notice, NULL);
	err = vkv_pg_create_table(conn);
	if (!err)
		err = vkv_pg_prepare(conn);
	if (err)
		goto out_finish;
	kv->idle[kv->nidle++] = conn;
	kv->nopen = 1;
	*out = &kv->base;
	return 0;

out_finish:
	PQfinish(conn);
out_free:
	vkv_pg_free(kv);
	return err;
}

static void vkv_pg_close(struct vkv *base)
{
	struct vkv_pg *kv = vkv_pg_of(base);

	if (kv->nidle != kv->nopen)
		vlog_warn("kv pg: closed with %d transactions open",
			  kv->nopen - kv->nidle);
	vkv_pg_free(kv);
}

/* ---- Transactions -------------------------------------------------------- */

static int vkv_pg_txn_begin(struct vkv *base, unsigned flags,
			    struct vkv_txn **out)
{
	const char *sql = (flags & VKV_RDONLY)
				  ? "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"
				  : "BEGIN ISOLATION LEVEL SERIALIZABLE";
	struct vkv_pg *kv = vkv_pg_of(base);
	struct vkv_pg_txn *t;
	int rc;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->base.kv = base;
	t->base.flags = flags;
	rc = vkv_pg_conn_get(kv, &t->conn);
	if (rc)
		goto out_free;
	rc = vkv_pg_exec(t->conn, sql, "begin");
	if (rc == -ECONNRESET) {
		/* Broke while idle in the pool: nothing was done, reconnect. */
		vlog_info("kv pg: reconnecting");
		PQreset(t->conn);
		rc = PQstatus(t->conn) == CONNECTION_OK ? 0 : -ECONNRESET;
		if (!rc) {
			PQsetNoticeProcessor(t->conn, vkv_pg_notice, NULL);
			rc = vkv_pg_prepare(t->conn);
		}
		if (!rc)
			rc = vkv_pg_exec(t->conn, sql, "begin");
	}
	if (rc)
		goto out_put;
	*out = &t->base;
	return 0;

out_put:
	vkv_pg_conn_put(kv, t->conn);
out_free:
	free(t);
	return rc;
}

/* Release everything @t holds; its transaction has ended (or is dropped). */
static void vkv_pg_txn_free(struct vkv_pg_txn *t)
{
	free(t->wbuf);
	while (t->keep) {
		struct vkv_pg_keep *k = t->keep;

		t->keep = k->next;
		PQclear(k->res);
		free(k);
	}
	vkv_pg_conn_put(vkv_pg_of(t->base.kv), t->conn);
	free(t);
}

/* Read one u32 of the put buffer. */
static uint32_t vkv_pg_wget32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * The buffered puts then @stmt (prepared, or the COMMIT when @stmt is
 * VKV_PG_NSTMT) in one pipeline: one round trip. @stmt's result into *out
 * (COMMIT: cleared), the first error otherwise (the statements after it
 * are aborted by the server).
 */
static int vkv_pg_pipeline(struct vkv_pg_txn *t, enum vkv_pg_stmt stmt,
			   const char *const *vals, const int *lens,
			   const int *fmts, ExecStatusType want,
			   PGresult **out)
{
	static const int put_fmts[2] = { 1, 1 };
	unsigned sent = 0, got = 0, all = t->wn + 1;
	size_t off = 0;
	int rc = 0;

	if (!PQenterPipelineMode(t->conn))
		return vkv_pg_result_err(t->conn, NULL, want, "pipeline");
	while (off < t->wlen) {
		uint32_t kl = vkv_pg_wget32(t->wbuf + off);
		uint32_t vl = vkv_pg_wget32(t->wbuf + off + 4);
		const char *pv[2] = { (const char *)t->wbuf + off + 8,
				      (const char *)t->wbuf + off + 8 + kl };
		const int pl[2] = { (int)kl, (int)vl };

		if (!PQsendQueryPrepared(t->conn, vkv_pg_stmts[VKV_PG_PUT].name,
					 2, pv, pl, put_fmts, 1))
			break;
		sent++;
		off += 8 + kl + vl;
	}
	if (sent == t->wn &&
	    (stmt == VKV_PG_NSTMT
		     ? PQsendQueryParams(t->conn, "COMMIT", 0, NULL, NULL, NULL,
					 NULL, 0)
		     : PQsendQueryPrepared(t->conn, vkv_pg_stmts[stmt].name,
					   vkv_pg_stmts[stmt].nparams, vals,
					   lens, fmts, 1)))
		sent++;
	t->wlen = 0;
	t->wn = 0;
	if (!PQpipelineSync(t->conn) || sent == 0) {
		rc = vkv_pg_result_err(t->conn, NULL, want, "pipeline");
		PQexitPipelineMode(t->conn);
		return rc;
	}
	/* Every query's result (then a NULL), then the sync's. */
	for (;;) {
		PGresult *res = PQgetResult(t->conn);
		ExecStatusType st;
		int last;

		if (!res) {
			if (PQstatus(t->conn) == CONNECTION_BAD) {
				if (!rc)
					rc = vkv_pg_result_err(t->conn, NULL,
							       want, "pipeline");
				break;
			}
			continue; /* end of one query's results */
		}
		st = PQresultStatus(res);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		last = ++got == sent;
		if (st == PGRES_PIPELINE_ABORTED) {
			PQclear(res);
			continue;
		}
		if (!rc) {
			rc = vkv_pg_result_err(
				t->conn, res,
				last && stmt != VKV_PG_NSTMT ? want
							     : PGRES_COMMAND_OK,
				last && stmt != VKV_PG_NSTMT
					? vkv_pg_stmts[stmt].name
					: last ? "commit" : "put");
			if (!rc && last && out && stmt != VKV_PG_NSTMT) {
				*out = res;
				continue;
			}
		}
		PQclear(res);
	}
	PQexitPipelineMode(t->conn);
	if (!rc && sent < all) /* could not even send them all */
		rc = vkv_pg_result_err(t->conn, NULL, want, "pipeline");
	if (rc && out && *out) {
		PQclear(*out);
		*out = NULL;
	}
	return rc;
}

/*
 * Execute prepared statement @stmt with binary parameters and results,
 * behind the buffered puts if any. On success *res is the caller's
 * (PQclear); on failure it is NULL, the txn is dead and the error is
 * recorded.
 */
static int vkv_pg_run(struct vkv_pg_txn *t, enum vkv_pg_stmt stmt,
		      const char *const *vals, const int *lens,
		      const int *fmts, ExecStatusType want, PGresult **out)
{
	PGresult *res;
	int rc;

	*out = NULL;
	if (t->err)
		return -EINVAL;
	if (t->wn) {
		rc = vkv_pg_pipeline(t, stmt, vals, lens, fmts, want, out);
		if (rc)
			t->err = rc;
		return rc;
	}
	res = PQexecPrepared(t->conn, vkv_pg_stmts[stmt].name,
			     vkv_pg_stmts[stmt].nparams, vals, lens, fmts, 1);
	rc = vkv_pg_result_err(t->conn, res, want, vkv_pg_stmts[stmt].name);
	if (rc) {
		PQclear(res);
		t->err = rc;
		return rc;
	}
	*out = res;
	return 0;
}

static int vkv_pg_get(struct vkv_txn *base, const void *key, size_t klen,
		      const void **val, size_t *vlen)
{
	struct vkv_pg_txn *t = vkv_pg_txn_of(base);
	const char *vals[1] = { key };
	const int lens[1] = { (int)klen }, fmts[1] = { 1 };
	struct vkv_pg_keep *k;
	PGresult *res;
	int rc;

	rc = vkv_pg_run(t, VKV_PG_GET, vals, lens, fmts, PGRES_TUPLES_OK, &res);
	if (rc)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return -ENOENT;
	}
	k = malloc(sizeof(*k));
	if (!k) {
		PQclear(res);
		return -ENOMEM;
	}
	k->res = res;
	k->next = t->keep;
	t->keep = k;
	*val = PQgetvalue(res, 0, 0);
	*vlen = (size_t)PQgetlength(res, 0, 0);
	return 0;
}

static int vkv_pg_put(struct vkv_txn *base, const void *key, size_t klen,
		      const void *val, size_t vlen)
{
	struct vkv_pg_txn *t = vkv_pg_txn_of(base);
	size_t need = 8 + klen + vlen;
	uint8_t *p;

	if (t->err)
		return -EINVAL;
	if (vlen > INT32_MAX)
		return -EFBIG;
	if (t->wlen + need > t->wcap) {
		size_t cap = t->wcap ? 2 * t->wcap : 4096;

		while (cap < t->wlen + need)
			cap *= 2;
		p = realloc(t->wbuf, cap);
		if (!p)
			return -ENOMEM;
		t->wbuf = p;
		t->wcap = cap;
	}
	p = t->wbuf + t->wlen;
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(klen >> (8 * i));
		p[4 + i] = (uint8_t)(vlen >> (8 * i));
	}
	memcpy(p + 8, key, klen);
	if (vlen)
		memcpy(p + 8 + klen, val, vlen);
	t->wlen += need;
	t->wn++;
	return 0;
}

static int vkv_pg_del(struct vkv_txn *base, const void *key, size_t klen)
{
	struct vkv_pg_txn *t = vkv_pg_txn_of(base);
	const char *vals[1] = { key };
	const int lens[1] = { (int)klen }, fmts[1] = { 1 };
	PGresult *res;
	int rc;

	rc = vkv_pg_run(t, VKV_PG_DEL, vals, lens, fmts, PGRES_COMMAND_OK,
			&res);
	if (rc)
		return rc;
	rc = strcmp(PQcmdTuples(res), "0") ? 0 : -ENOENT;
	PQclear(res);
	return rc;
}

/*
 * Scan in batches of VKV_PG_RANGE_BATCH rows; each next batch starts at
 * the last key plus a zero byte, the smallest key above it.
 */
static int vkv_pg_range(struct vkv_txn *base, const void *start, size_t slen,
			const void *end, size_t elen, size_t limit,
			vkv_range_cb cb, void *arg)
{
	struct vkv_pg_txn *t = vkv_pg_txn_of(base);
	unsigned char from[VKV_KEY_MAX + 1];
	size_t flen = slen, done = 0;
	char lim[24];

	if (slen)
		memcpy(from, start, slen);
	for (;;) {
		size_t want = VKV_PG_RANGE_BATCH;
		const char *vals[3];
		int lens[3], fmts[3] = { 1, 1, 0 };
		enum vkv_pg_stmt stmt;
		PGresult *res;
		int rows, rc;

		if (limit && limit - done < want)
			want = limit - done;
		snprintf(lim, sizeof(lim), "%zu", want);
		vals[0] = (const char *)from;
		lens[0] = (int)flen;
		if (end) {
			stmt = VKV_PG_RANGE;
			vals[1] = end;
			lens[1] = (int)elen;
			vals[2] = lim;
			lens[2] = 0;
		} else {
			stmt = VKV_PG_RANGE_OPEN;
			vals[1] = lim;
			lens[1] = 0;
			fmts[1] = 0;
		}
		rc = vkv_pg_run(t, stmt, vals, lens, fmts, PGRES_TUPLES_OK,
				&res);
		if (rc)
			return rc;
		rows = PQntuples(res);
		for (int i = 0; i < rows; i++) {
			int stop;

			done++;
			stop = cb(PQgetvalue(res, i, 0),
				  (size_t)PQgetlength(res, i, 0),
				  PQgetvalue(res, i, 1),
				  (size_t)PQgetlength(res, i, 1), arg);
			if (stop) {
				PQclear(res);
				return stop < 0 ? stop : (int)done;
			}
		}
		if ((size_t)rows < want || (limit && done >= limit)) {
			PQclear(res);
			return (int)done;
		}
		flen = (size_t)PQgetlength(res, rows - 1, 0);
		if (flen > VKV_KEY_MAX) {
			/* Not written through kv.h: refuse, do not overflow. */
			vlog_err("kv pg: range: key of %zu bytes in valor_kv",
				 flen);
			PQclear(res);
			t->err = -EIO;
			return -EIO;
		}
		memcpy(from, PQgetvalue(res, rows - 1, 0), flen);
		from[flen++] = 0;
		PQclear(res);
	}
}

static int vkv_pg_commit(struct vkv_txn *base)
{
	struct vkv_pg_txn *t = vkv_pg_txn_of(base);
	int rc = t->err;

	if (rc) {
		/* PostgreSQL already aborted it; end it on the connection. */
		if (rc != -ECONNRESET)
			vkv_pg_exec(t->conn, "ROLLBACK", "rollback");
	} else if (t->wn) {
		/* The buffered puts and the COMMIT: one round trip. */
		rc = vkv_pg_pipeline(t, VKV_PG_NSTMT, NULL, NULL, NULL,
				     PGRES_COMMAND_OK, NULL);
		if (rc && rc != -ECONNRESET &&
		    PQtransactionStatus(t->conn) != PQTRANS_IDLE)
			vkv_pg_exec(t->conn, "ROLLBACK", "rollback");
	} else {
		rc = vkv_pg_exec(t->conn, "COMMIT", "commit");
	}
	vkv_pg_txn_free(t);
	return rc;
}

static void vkv_pg_abort(struct vkv_txn *base)
{
	struct vkv_pg_txn *t = vkv_pg_txn_of(base);

	if (t->err != -ECONNRESET)
		vkv_pg_exec(t->conn, "ROLLBACK", "rollback");
	vkv_pg_txn_free(t);
}

static const struct vkv_ops vkv_pg_ops = {
	.name = "postgresql",
	.close = vkv_pg_close,
	.txn_begin = vkv_pg_txn_begin,
	.get = vkv_pg_get,
	.put = vkv_pg_put,
	.del = vkv_pg_del,
	.range = vkv_pg_range,
	.commit = vkv_pg_commit,
	.abort = vkv_pg_abort,
};
