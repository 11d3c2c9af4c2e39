/* SPDX-License-Identifier: MIT */
/*
 * store.c - the cluster map in LMDB (record layout in store.h).
 *
 * Records are encoded with proto/wire_le.h's little-endian writer and
 * reader. Every record starts with the store format byte; "meta" also
 * carries the record counts, so a lost record is noticed, not silently
 * dropped from the map. Decoding is strict: exact lengths, enums in range,
 * the id inside a record equal to the id in its key, and the rebuilt map
 * must pass mgmtd_cluster_check().
 */
#include "mgmtd/store.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "mgmtd/cluster_i.h"
#include "proto/wire_le.h"

#define MGMTD_STORE_FORMAT 1
#define MGMTD_STORE_DB "mgmtd"
/* Address space reserved for the map; the largest map needs ~5 MiB. */
#define MGMTD_STORE_MAPSIZE ((size_t)64 << 20)
/* "target/" + 10 digits, NUL included, with room to spare. */
#define MGMTD_STORE_KEY_MAX 32
#define MGMTD_STORE_ID_DIGITS 10
/* Largest record but the table: a target with the longest path. */
#define MGMTD_STORE_REC_MAX (64 + WIRE_STR_MAX_LEN(WIRE_PATH_MAX))

struct mgmtd_store {
	MDB_env *env;
	MDB_dbi dbi;
	char *dir; /* for messages */
};

/* The one place LMDB's return codes become -errno. */
static int mgmtd_store_errno(int rc)
{
	if (rc > 0)
		return -rc; /* LMDB passes system errors through as is */
	switch (rc) {
	case 0:
		return 0;
	case MDB_MAP_FULL:
		return -ENOSPC;
	case MDB_NOTFOUND:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static int mgmtd_store_fail(const struct mgmtd_store *st, const char *what,
			    int rc)
{
	vlog_err("mgmtd store %s: %s: %s", st->dir, what, mdb_strerror(rc));
	return mgmtd_store_errno(rc);
}

int mgmtd_store_open(const char *dir, struct mgmtd_store **out)
{
	struct mgmtd_store *st;
	MDB_txn *txn;
	int rc, err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dir = strdup(dir);
	if (!st->dir) {
		err = -ENOMEM;
		goto out_free;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		err = -errno;
		vlog_err("mgmtd store %s: mkdir: %s", dir, strerror(errno));
		goto out_free;
	}
	rc = mdb_env_create(&st->env);
	if (rc) {
		err = mgmtd_store_fail(st, "mdb_env_create", rc);
		goto out_free;
	}
	rc = mdb_env_set_maxdbs(st->env, 1);
	if (!rc)
		rc = mdb_env_set_mapsize(st->env, MGMTD_STORE_MAPSIZE);
	if (!rc)
		rc = mdb_env_open(st->env, dir, 0, 0600);
	if (rc) {
		err = mgmtd_store_fail(st, "open", rc);
		goto out_close_env;
	}
	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc) {
		err = mgmtd_store_fail(st, "begin", rc);
		goto out_close_env;
	}
	rc = mdb_dbi_open(txn, MGMTD_STORE_DB, MDB_CREATE, &st->dbi);
	if (rc) {
		mdb_txn_abort(txn);
		err = mgmtd_store_fail(st, "open database", rc);
		goto out_close_env;
	}
	rc = mdb_txn_commit(txn);
	if (rc) {
		err = mgmtd_store_fail(st, "commit", rc);
		goto out_close_env;
	}
	*out = st;
	return 0;

out_close_env:
	mdb_env_close(st->env);
out_free:
	free(st->dir);
	free(st);
	return err;
}

void mgmtd_store_close(struct mgmtd_store *st)
{
	if (!st)
		return;
	mdb_env_close(st->env);
	free(st->dir);
	free(st);
}

/* ---- Encoding ------------------------------------------------------------ */

static void mgmtd_store_enc_meta(struct wire_w *w,
				 const struct mgmtd_cluster *cl)
{
	wire_put_u8(w, MGMTD_STORE_FORMAT);
	wire_put_u32(w, cl->next_node_id);
	wire_put_u32(w, cl->next_target_id);
	wire_put_u64(w, cl->routing_version);
	wire_put_u32(w, cl->nnodes);
	wire_put_u32(w, cl->ntargets);
	wire_put_u32(w, cl->nchains);
}

static void mgmtd_store_enc_table(struct wire_w *w,
				  const struct mgmtd_cluster *cl)
{
	wire_put_u8(w, MGMTD_STORE_FORMAT);
	wire_put_u32(w, cl->table_version);
	wire_put_u32(w, cl->ntable);
	for (uint32_t i = 0; i < cl->ntable; i++)
		wire_put_u32(w, cl->table[i]);
}

static void mgmtd_store_enc_node(struct wire_w *w, const struct mgmtd_node *n)
{
	wire_put_u8(w, MGMTD_STORE_FORMAT);
	wire_put_u32(w, n->id);
	wire_put_u8(w, (uint8_t)n->role);
	wire_put_str(w, n->url, WIRE_URL_MAX);
	wire_put_str(w, n->hostname, WIRE_HOSTNAME_MAX);
	wire_put_u8(w, n->state == MGMTD_NODE_FAILED);
}

static void mgmtd_store_enc_target(struct wire_w *w,
				   const struct mgmtd_target *t)
{
	wire_put_u8(w, MGMTD_STORE_FORMAT);
	wire_put_u32(w, t->id);
	wire_put_u32(w, t->node_id);
	wire_put_str(w, t->path, WIRE_PATH_MAX);
	wire_put_u64(w, t->capacity);
	wire_put_u64(w, t->used);
	wire_put_u64(w, t->sync_done);
	wire_put_u64(w, t->sync_total);
	wire_put_u8(w, (uint8_t)t->local);
}

static void mgmtd_store_enc_chain(struct wire_w *w, const struct mgmtd_chain *c)
{
	wire_put_u8(w, MGMTD_STORE_FORMAT);
	wire_put_u32(w, c->id);
	wire_put_u32(w, c->version);
	wire_put_u8(w, (uint8_t)c->nmembers);
	for (uint32_t j = 0; j < c->nmembers; j++) {
		wire_put_u32(w, c->members[j].target_id);
		wire_put_u8(w, (uint8_t)c->members[j].state);
	}
}

/* Put one encoded record. 0 or -errno. */
static int mgmtd_store_put(struct mgmtd_store *st, MDB_txn *txn,
			   const char *key, const struct wire_w *w)
{
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
	MDB_val v = {.mv_size = w->len, .mv_data = w->p};
	int rc;

	if (w->err) {
		vlog_err("mgmtd store %s: cannot encode %s (%d)", st->dir, key,
			 w->err);
		return w->err;
	}
	rc = mdb_put(txn, st->dbi, &k, &v, 0);
	if (rc)
		return mgmtd_store_fail(st, "put", rc);
	return 0;
}

static int mgmtd_store_put_records(struct mgmtd_store *st, MDB_txn *txn,
				   const struct mgmtd_cluster *cl)
{
	uint8_t buf[MGMTD_STORE_REC_MAX];
	char key[MGMTD_STORE_KEY_MAX];
	struct wire_w w;
	uint8_t *tbuf;
	size_t tcap = 16 + 4 * (size_t)cl->ntable;
	int err;

	wire_w_init(&w, buf, sizeof(buf));
	mgmtd_store_enc_meta(&w, cl);
	err = mgmtd_store_put(st, txn, "meta", &w);
	if (err)
		return err;
	tbuf = malloc(tcap);
	if (!tbuf)
		return -ENOMEM;
	wire_w_init(&w, tbuf, tcap);
	mgmtd_store_enc_table(&w, cl);
	err = mgmtd_store_put(st, txn, "table", &w);
	free(tbuf);
	if (err)
		return err;
	for (uint32_t i = 0; i < cl->nnodes && !err; i++) {
		snprintf(key, sizeof(key), "node/%010" PRIu32, cl->nodes[i].id);
		wire_w_init(&w, buf, sizeof(buf));
		mgmtd_store_enc_node(&w, &cl->nodes[i]);
		err = mgmtd_store_put(st, txn, key, &w);
	}
	for (uint32_t i = 0; i < cl->ntargets && !err; i++) {
		snprintf(key, sizeof(key), "target/%010" PRIu32,
			 cl->targets[i].id);
		wire_w_init(&w, buf, sizeof(buf));
		mgmtd_store_enc_target(&w, &cl->targets[i]);
		err = mgmtd_store_put(st, txn, key, &w);
	}
	for (uint32_t i = 0; i < cl->nchains && !err; i++) {
		snprintf(key, sizeof(key), "chain/%010" PRIu32,
			 cl->chains[i].id);
		wire_w_init(&w, buf, sizeof(buf));
		mgmtd_store_enc_chain(&w, &cl->chains[i]);
		err = mgmtd_store_put(st, txn, key, &w);
	}
	return err;
}

/* ---- Decoding ------------------------------------------------------------ */

/* What "meta" says beyond the counters it sets in the map. */
struct mgmtd_store_meta {
	uint32_t nnodes, ntargets, nchains;
};

/*
 * Each decoder fills its record from r and returns NULL, or a reason the
 * record is corrupt. The caller checks that r was consumed exactly.
 */
static const char *mgmtd_store_dec_meta(struct wire_r *r,
					struct mgmtd_cluster *cl,
					struct mgmtd_store_meta *m)
{
	cl->next_node_id = wire_get_u32(r);
	cl->next_target_id = wire_get_u32(r);
	cl->routing_version = wire_get_u64(r);
	m->nnodes = wire_get_u32(r);
	m->ntargets = wire_get_u32(r);
	m->nchains = wire_get_u32(r);
	return NULL;
}

static const char *mgmtd_store_dec_table(struct wire_r *r,
					 struct mgmtd_cluster *cl)
{
	uint32_t version = wire_get_u32(r), n = wire_get_u32(r);
	uint32_t *ids;
	int err;

	if (r->err)
		return NULL;
	if (n > WIRE_MAX_CHAINS || wire_r_left(r) != 4 * (size_t)n)
		return "chain count does not match the record's length";
	err = mgmtd_cluster_restore_table(cl, version, n, &ids);
	if (err) {
		wire_r_fail(r, err);
		return "out of memory";
	}
	for (uint32_t i = 0; i < n; i++)
		ids[i] = wire_get_u32(r);
	return NULL;
}

static const char *mgmtd_store_dec_node(struct wire_r *r, struct mgmtd_node *n)
{
	uint8_t failed;

	memset(n, 0, sizeof(*n));
	n->id = wire_get_u32(r);
	n->role = wire_get_u8(r);
	wire_get_str(r, n->url, WIRE_URL_MAX);
	wire_get_str(r, n->hostname, WIRE_HOSTNAME_MAX);
	failed = wire_get_u8(r);
	if (r->err)
		return NULL;
	if (n->role < WIRE_ROLE_MGMTD || n->role > WIRE_ROLE_CLIENT)
		return "unknown role";
	if (failed > 1)
		return "failed flag neither 0 nor 1";
	/* restore_done() makes every node that was not failed PENDING. */
	n->state = failed ? MGMTD_NODE_FAILED : MGMTD_NODE_ALIVE;
	return NULL;
}

static const char *mgmtd_store_dec_target(struct wire_r *r,
					  struct mgmtd_target *t)
{
	memset(t, 0, sizeof(*t));
	t->id = wire_get_u32(r);
	t->node_id = wire_get_u32(r);
	wire_get_str(r, t->path, WIRE_PATH_MAX);
	t->capacity = wire_get_u64(r);
	t->used = wire_get_u64(r);
	t->sync_done = wire_get_u64(r);
	t->sync_total = wire_get_u64(r);
	t->local = wire_get_u8(r);
	if (!r->err && t->local > WIRE_LOCAL_OFFLINE)
		return "unknown local state";
	return NULL;
}

static const char *mgmtd_store_dec_chain(struct wire_r *r,
					 struct mgmtd_chain *c)
{
	memset(c, 0, sizeof(*c));
	c->id = wire_get_u32(r);
	c->version = wire_get_u32(r);
	c->nmembers = wire_get_u8(r);
	if (!r->err && (!c->nmembers || c->nmembers > WIRE_MAX_REPLICAS))
		return "member count out of range";
	for (uint32_t j = 0; j < c->nmembers; j++) {
		c->members[j].target_id = wire_get_u32(r);
		c->members[j].state = wire_get_u8(r);
		if (!r->err && c->members[j].state > WIRE_PUBLIC_OFFLINE)
			return "unknown public state";
	}
	return NULL;
}

/* Kinds of key, by prefix. */
enum mgmtd_store_kind {
	MGMTD_STORE_META,
	MGMTD_STORE_TABLE,
	MGMTD_STORE_NODE,
	MGMTD_STORE_TARGET,
	MGMTD_STORE_CHAIN,
};

static const struct {
	const char *prefix; /* exact key when the kind has no id */
	bool has_id;
} mgmtd_store_kinds[] = {
	[MGMTD_STORE_META] = {"meta", false},
	[MGMTD_STORE_TABLE] = {"table", false},
	[MGMTD_STORE_NODE] = {"node/", true},
	[MGMTD_STORE_TARGET] = {"target/", true},
	[MGMTD_STORE_CHAIN] = {"chain/", true},
};

/*
 * Classify key k: its kind and, for records with an id, the id (exactly
 * MGMTD_STORE_ID_DIGITS decimal digits, not 0, within u32). -1 if it is not
 * one of our keys.
 */
static int mgmtd_store_key_kind(const MDB_val *k, uint32_t *id)
{
	const char *s = k->mv_data;

	for (int kind = 0; kind <= MGMTD_STORE_CHAIN; kind++) {
		const char *p = mgmtd_store_kinds[kind].prefix;
		size_t plen = strlen(p);
		uint64_t v = 0;

		if (k->mv_size < plen || memcmp(s, p, plen))
			continue;
		if (!mgmtd_store_kinds[kind].has_id)
			return k->mv_size == plen ? kind : -1;
		if (k->mv_size != plen + MGMTD_STORE_ID_DIGITS)
			return -1;
		for (size_t i = plen; i < k->mv_size; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -1;
			v = v * 10 + (uint64_t)(s[i] - '0');
		}
		if (!v || v > UINT32_MAX)
			return -1;
		*id = (uint32_t)v;
		return kind;
	}
	return -1;
}

/*
 * Decode and add one record: 0; -EBADMSG with *why saying what is wrong;
 * -ENOMEM.
 */
static int mgmtd_store_load_record(struct mgmtd_cluster *cl, const MDB_val *k,
				   const MDB_val *v,
				   struct mgmtd_store_meta *meta,
				   unsigned *seen, const char **why)
{
	struct wire_r r;
	uint32_t id = 0, rec_id = 0;
	int kind = mgmtd_store_key_kind(k, &id);
	union {
		struct mgmtd_node n;
		struct mgmtd_target t;
		struct mgmtd_chain c;
	} u;

	*why = NULL;
	if (kind < 0) {
		*why = "not a key of the mgmtd store";
		return -EBADMSG;
	}
	wire_r_init(&r, v->mv_data, v->mv_size);
	if (wire_get_u8(&r) != MGMTD_STORE_FORMAT && !r.err) {
		*why = "unknown record format";
		return -EBADMSG;
	}
	switch (kind) {
	case MGMTD_STORE_META:
		*why = mgmtd_store_dec_meta(&r, cl, meta);
		break;
	case MGMTD_STORE_TABLE:
		*why = mgmtd_store_dec_table(&r, cl);
		break;
	case MGMTD_STORE_NODE:
		*why = mgmtd_store_dec_node(&r, &u.n);
		rec_id = u.n.id;
		break;
	case MGMTD_STORE_TARGET:
		*why = mgmtd_store_dec_target(&r, &u.t);
		rec_id = u.t.id;
		break;
	case MGMTD_STORE_CHAIN:
		*why = mgmtd_store_dec_chain(&r, &u.c);
		rec_id = u.c.id;
		break;
	}
	if (*why)
		return r.err == -ENOMEM ? -ENOMEM : -EBADMSG;
	if (wire_r_finish(&r)) {
		*why = r.err == -ENAMETOOLONG ? "string too long"
					      : "truncated, a NUL inside a "
						"string, or bytes left over";
		return -EBADMSG;
	}
	if (id != rec_id) {
		*why = "id does not match its key";
		return -EBADMSG;
	}
	*seen |= 1u << kind;
	switch (kind) {
	case MGMTD_STORE_NODE:
		return mgmtd_cluster_restore_node(cl, &u.n);
	case MGMTD_STORE_TARGET:
		return mgmtd_cluster_restore_target(cl, &u.t);
	case MGMTD_STORE_CHAIN:
		return mgmtd_cluster_restore_chain(cl, &u.c);
	}
	return 0;
}

/* Walk every record of a read transaction into cl. 0 or -errno. */
static int mgmtd_store_load_all(struct mgmtd_store *st, MDB_txn *txn,
				struct mgmtd_cluster *cl, uint64_t now_ns)
{
	struct mgmtd_store_meta meta = {0};
	unsigned seen = 0, nrec = 0;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, st->dbi, &cur);
	if (rc)
		return mgmtd_store_fail(st, "cursor", rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *why;
		int err =
			mgmtd_store_load_record(cl, &k, &v, &meta, &seen, &why);

		nrec++;
		if (err) {
			vlog_err("mgmtd store %s: record \"%.*s\": %s", st->dir,
				 (int)(k.mv_size < 64 ? k.mv_size : 64),
				 (const char *)k.mv_data,
				 why ? why : strerror(-err));
			mdb_cursor_close(cur);
			return err;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return mgmtd_store_fail(st, "read", rc);
	if (!nrec)
		return 0; /* a new store: the empty map */
	if (!(seen & (1u << MGMTD_STORE_META)) ||
	    !(seen & (1u << MGMTD_STORE_TABLE))) {
		vlog_err("mgmtd store %s: \"meta\" or \"table\" is missing",
			 st->dir);
		return -EBADMSG;
	}
	if (meta.nnodes != cl->nnodes || meta.ntargets != cl->ntargets ||
	    meta.nchains != cl->nchains) {
		vlog_err(
			"mgmtd store %s: \"meta\" counts %u nodes, %u targets, "
			"%u chains; the store holds %u, %u, %u",
			st->dir, meta.nnodes, meta.ntargets, meta.nchains,
			cl->nnodes, cl->ntargets, cl->nchains);
		return -EBADMSG;
	}
	if (mgmtd_cluster_restore_done(cl, now_ns)) {
		vlog_err("mgmtd store %s: the stored map is inconsistent",
			 st->dir);
		return -EBADMSG;
	}
	return 0;
}

int mgmtd_store_load(struct mgmtd_store *st, const struct mgmtd_config *cfg,
		     uint64_t now_ns, struct mgmtd_cluster **out)
{
	struct mgmtd_cluster *cl;
	MDB_txn *txn;
	int rc, err;

	err = mgmtd_cluster_new(cfg, &cl);
	if (err)
		return err;
	rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		err = mgmtd_store_fail(st, "begin", rc);
		goto out_free;
	}
	err = mgmtd_store_load_all(st, txn, cl, now_ns);
	mdb_txn_abort(txn);
	if (err)
		goto out_free;
	vlog_info("mgmtd store %s: %u nodes, %u targets, %u chains, routing "
		  "version %" PRIu64,
		  st->dir, cl->nnodes, cl->ntargets, cl->nchains,
		  cl->routing_version);
	*out = cl;
	return 0;

out_free:
	mgmtd_cluster_free(cl);
	return err;
}

/*
 * The routing version of the stored map: 0 when the store is empty,
 * -EBADMSG when "meta" does not decode.
 */
static int mgmtd_store_stored_version(struct mgmtd_store *st, MDB_txn *txn,
				      uint64_t *version)
{
	MDB_val k = {.mv_size = 4, .mv_data = (void *)"meta"}, v;
	struct wire_r r;
	int rc;

	*version = 0;
	rc = mdb_get(txn, st->dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return mgmtd_store_fail(st, "get meta", rc);
	wire_r_init(&r, v.mv_data, v.mv_size);
	if (wire_get_u8(&r) != MGMTD_STORE_FORMAT || v.mv_size < 17) {
		vlog_err("mgmtd store %s: stored \"meta\" is corrupt; not "
			 "overwriting it",
			 st->dir);
		return -EBADMSG;
	}
	wire_get_u32(&r);
	wire_get_u32(&r);
	*version = wire_get_u64(&r);
	return 0;
}

int mgmtd_store_save(struct mgmtd_store *st, const struct mgmtd_cluster *cl)
{
	uint64_t stored;
	MDB_txn *txn;
	int rc, err;

	rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		return mgmtd_store_fail(st, "begin", rc);
	err = mgmtd_store_stored_version(st, txn, &stored);
	if (err)
		goto out_abort;
	if (stored > cl->routing_version) {
		vlog_err("mgmtd store %s: refusing to replace routing version "
			 "%" PRIu64 " by older %" PRIu64,
			 st->dir, stored, cl->routing_version);
		err = -ESTALE;
		goto out_abort;
	}
	rc = mdb_drop(txn, st->dbi, 0);
	if (rc) {
		err = mgmtd_store_fail(st, "clear", rc);
		goto out_abort;
	}
	err = mgmtd_store_put_records(st, txn, cl);
	if (err)
		goto out_abort;
	rc = mdb_txn_commit(txn);
	if (rc)
		return mgmtd_store_fail(st, "commit", rc);
	return 0;

out_abort:
	mdb_txn_abort(txn);
	return err;
}
