/* SPDX-License-Identifier: MIT */
/*
 * valor-mdload - a metadata load driver speaking the metad RPC directly.
 *
 *   valor-mdload (--metad URL[,URL...] | --mgmtd URL) [--secret FILE]
 *                [--clients N] [--files N] [--phases LIST] [--root NAME]
 *                [--record FILE] [--retry-for S] [--timeout S] [--json]
 *   valor-mdload (--metad ... | --mgmtd ...) --verify FILE
 *
 * N clients (each its own client id, as N mounts would be) work in a tree
 * /ROOT/cI/ on one event loop, each with one request in flight, client I
 * starting on metad URL I mod (number of URLs). Phases run one after the
 * other, every client finishing a phase before the next starts, and each
 * reports ops/s:
 *   mkdir    MKDIR dJ                      (J < files)
 *   create   CREATE fJ O_EXCL, then CLOSE  (one op: a create and close)
 *   stat     LOOKUP fJ
 *   readdir  READDIR+ pages of cI          (ops = entries listed)
 *   rename   RENAME fJ -> rJ
 *   unlink   UNLINK rJ (fJ without a rename phase)
 *   rmdir    RMDIR dJ
 * Default: all of them in that order.
 *
 * Retries follow the metad contract: a request that got no answer (lost
 * connection, timeout, metad killed) is sent again with the same req_id,
 * to the next metad URL, every 200 ms for up to --retry-for seconds;
 * metad answers a retry of a committed mutation with its first outcome.
 *
 * --record FILE appends "ino parent name" for every acknowledged create;
 * --verify FILE looks each up and exits 1 if any is missing or names
 * another inode (what a crash test checks afterwards).
 *
 * Exit status: 0 done (every op answered; server errors are counted and
 * reported, not fatal), 1 verify found missing files or requests gave up,
 * 2 usage, 3 no metad reachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/log.h"
#include "proto/wire_meta.h"
#include "proto/wire_msg.h"
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

#define MDL_MAX_URLS 16
#define MDL_RETRY_MS 200
#define MDL_NAME 32

enum mdl_phase {
	MDL_MKDIR,
	MDL_CREATE,
	MDL_STAT,
	MDL_READDIR,
	MDL_RENAME,
	MDL_UNLINK,
	MDL_RMDIR,
	MDL_NPHASES,
	MDL_SETUP = MDL_NPHASES, /* making /ROOT and /ROOT/cI */
	MDL_VERIFY,
};

static const char *const mdl_phase_names[] = {
	"mkdir",  "create", "stat",  "readdir", "rename",
	"unlink", "rmdir",  "setup", "verify",
};

struct mdl_opts {
	char *urls[MDL_MAX_URLS];
	int nurls;
	const char *mgmtd;
	const char *secret;
	const char *root;
	const char *record;
	const char *verify;
	uint32_t clients;
	uint32_t files;
	int phases[MDL_NPHASES];
	int nphases;
	uint32_t retry_for_ms;
	uint32_t timeout_ms;
	int json;
};

struct mdl;

/* One simulated mount. */
struct mdl_client {
	struct mdl *d;
	uint32_t idx;
	uint64_t id;	 /* client id (random, nonzero) */
	uint64_t req_id; /* last used */
	uint64_t dir;	 /* ino of /ROOT/cI */
	struct vrpc_client *cli[MDL_MAX_URLS];
	int url; /* current metad */
	struct vrpc_call call;
	struct vloop_timer retry;
	/* the request in flight */
	uint16_t op;
	uint64_t t0_ns; /* first send, for --retry-for */
	uint32_t j;	/* item of the phase */
	int step;	/* create: 0 CREATE, 1 CLOSE */
	uint64_t ino;	/* created file, for CLOSE and the record */
	char cookie[WIRE_META_NAME_MAX + 1];
	int done; /* finished the current phase */
	size_t body_len;
	uint8_t body[1024];
};

struct mdl_verify_ent {
	uint64_t ino, parent;
	char name[WIRE_META_NAME_MAX + 1];
};

struct mdl {
	struct mdl_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct mdl_client *c;
	enum mdl_phase phase;
	uint32_t active; /* clients not done with the phase */
	uint64_t phase_t0;
	uint64_t ops, errors, gaveup, rpcs;
	uint64_t root;
	FILE *rec;
	int first_err_logged;
	/* verify */
	struct mdl_verify_ent *vents;
	size_t nvents, vnext;
	uint64_t missing;
	/* results */
	struct {
		int ran;
		uint64_t ops, errors, rpcs;
		double secs;
	} res[MDL_NPHASES];
	struct wire_meta_req q;
	struct wire_meta_rep r;
};

static void mdl_next(struct mdl_client *c);

/* ---- requests -------------------------------------------------------------
 */

static void mdl_req_init(struct mdl_client *c, uint16_t op)
{
	struct wire_meta_req *q = &c->d->q;

	memset(q, 0, offsetof(struct wire_meta_req, value));
	q->client = c->id;
	q->req_id = ++c->req_id;
	c->op = op;
}

static void mdl_call_done(struct vrpc_call *call, const struct vrpc_result *res,
			  void *arg);

/* Send (or send again) the encoded request of @c. */
static void mdl_send(struct mdl_client *c)
{
	struct mdl *d = c->d;
	int ret;

	d->rpcs++;
	vrpc_call_init(&c->call);
	ret = vrpc_call(c->cli[c->url], c->op, c->body, (uint32_t)c->body_len,
			NULL, 0, NULL, 0, (int)d->o.timeout_ms, mdl_call_done,
			c, &c->call);
	if (ret < 0) {
		fprintf(stderr, "valor-mdload: call: %s\n", strerror(-ret));
		vloop_timer_add(d->loop, &c->retry, MDL_RETRY_MS * 1000000ull);
	}
}

/* Encode d->q for @c's op and send it. */
static void mdl_issue(struct mdl_client *c)
{
	int ret = wire_meta_req_encode(c->op, &c->d->q, c->body,
				       sizeof(c->body), &c->body_len);

	if (ret < 0) {
		fprintf(stderr, "valor-mdload: encode: %s\n", strerror(-ret));
		exit(2);
	}
	c->t0_ns = vloop_now_ns();
	mdl_send(c);
}

static void mdl_on_retry(struct vloop_timer *t)
{
	struct mdl_client *c =
		(struct mdl_client *)((char *)t -
				      offsetof(struct mdl_client, retry));

	mdl_send(c);
}

static void mdl_name(char *buf, char p, uint32_t j)
{
	snprintf(buf, MDL_NAME, "%c%u", p, j);
}

/* ---- phase steps ----------------------------------------------------------
 */

static void mdl_client_done(struct mdl_client *c)
{
	c->done = 1;
	c->d->active--;
}

/* Start @c's next request of the phase, or mark it done. */
static void mdl_next(struct mdl_client *c)
{
	struct mdl *d = c->d;
	struct wire_meta_req *q = &d->q;
	char name[MDL_NAME];

	if (d->phase == MDL_VERIFY) {
		struct mdl_verify_ent *e;

		if (d->vnext >= d->nvents) {
			mdl_client_done(c);
			return;
		}
		e = &d->vents[d->vnext];
		c->j = (uint32_t)d->vnext++;
		mdl_req_init(c, WIRE_META_LOOKUP);
		q->ino = e->parent;
		snprintf(q->name, sizeof(q->name), "%s", e->name);
		mdl_issue(c);
		return;
	}
	if (d->phase == MDL_READDIR) {
		if (c->j) { /* eof seen */
			mdl_client_done(c);
			return;
		}
		mdl_req_init(c, WIRE_META_READDIR);
		q->ino = c->dir;
		snprintf(q->name, sizeof(q->name), "%s", c->cookie);
		q->max = WIRE_META_READDIR_MAX;
		q->plus = true;
		mdl_issue(c);
		return;
	}
	if (c->j >= d->o.files) {
		mdl_client_done(c);
		return;
	}
	switch (d->phase) {
	case MDL_MKDIR:
		mdl_req_init(c, WIRE_META_MKDIR);
		q->ino = c->dir;
		mdl_name(q->name, 'd', c->j);
		q->mode = 0755;
		break;
	case MDL_CREATE:
		if (c->step == 0) {
			mdl_req_init(c, WIRE_META_CREATE);
			q->ino = c->dir;
			mdl_name(q->name, 'f', c->j);
			q->mode = 0644;
			q->oflags = O_CREAT | O_EXCL | O_WRONLY;
		} else {
			mdl_req_init(c, WIRE_META_CLOSE);
			q->ino = c->ino;
		}
		break;
	case MDL_STAT:
		mdl_req_init(c, WIRE_META_LOOKUP);
		q->ino = c->dir;
		mdl_name(q->name, 'f', c->j);
		break;
	case MDL_RENAME:
		mdl_req_init(c, WIRE_META_RENAME);
		q->ino = q->ino2 = c->dir;
		mdl_name(q->name, 'f', c->j);
		mdl_name(q->name2, 'r', c->j);
		break;
	case MDL_UNLINK: {
		int renamed = 0;

		for (int i = 0; i < d->o.nphases; i++)
			renamed |= d->o.phases[i] == MDL_RENAME;
		mdl_req_init(c, WIRE_META_UNLINK);
		q->ino = c->dir;
		mdl_name(name, renamed ? 'r' : 'f', c->j);
		snprintf(q->name, sizeof(q->name), "%s", name);
		break;
	}
	case MDL_RMDIR:
		mdl_req_init(c, WIRE_META_RMDIR);
		q->ino = c->dir;
		mdl_name(q->name, 'd', c->j);
		break;
	default:
		mdl_client_done(c);
		return;
	}
	mdl_issue(c);
}

/*
 * Is this answer worth sending again? No answer from a metad (connection
 * lost, timeout), or -EAGAIN (its transaction kept conflicting), except
 * for LOCK, where -EAGAIN is the answer.
 */
static int mdl_retryable(const struct vrpc_result *res, uint16_t op)
{
	if (res->local)
		return res->status != -ECANCELED;
	return res->status == -EAGAIN && op != WIRE_META_LOCK;
}

static void mdl_count_error(struct mdl_client *c, int status)
{
	struct mdl *d = c->d;

	d->errors++;
	if (!d->first_err_logged) {
		d->first_err_logged = 1;
		fprintf(stderr,
			"valor-mdload: %s: first error: %s (client %u, item "
			"%u)\n",
			mdl_phase_names[d->phase], strerror(-status), c->idx,
			c->j);
	}
}

static void mdl_call_done(struct vrpc_call *call, const struct vrpc_result *res,
			  void *arg)
{
	struct mdl_client *c = arg;
	struct mdl *d = c->d;
	struct wire_meta_rep *r = &d->r;
	int st = res->status;

	if (res->local && st == -ECANCELED)
		return; /* client freed at exit */
	if (st && mdl_retryable(res, c->op)) {
		if ((vloop_now_ns() - c->t0_ns) / 1000000 < d->o.retry_for_ms) {
			c->url = (c->url + 1) % d->o.nurls;
			vloop_timer_add(d->loop, &c->retry,
					MDL_RETRY_MS * 1000000ull);
			return;
		}
		d->gaveup++;
	}
	if (!st && wire_meta_rep_decode(c->op, res->body, res->body_len, r))
		st = -EBADMSG;
	if (d->phase == MDL_SETUP) {
		/* Handled by the setup driver. */
		c->ino = st ? 0 : r->attr.ino;
		c->done = st ? st : 1;
		d->active--;
		return;
	}
	if (d->phase == MDL_VERIFY) {
		struct mdl_verify_ent *e = &d->vents[c->j];

		if (st || r->attr.ino != e->ino) {
			d->missing++;
			fprintf(stderr,
				"valor-mdload: missing: %" PRIu64
				"/%s (ino %" PRIu64 "): %s\n",
				e->parent, e->name, e->ino,
				st ? strerror(-st) : "names another inode");
		}
		d->ops++;
		mdl_next(c);
		return;
	}
	if (d->phase == MDL_CREATE && c->step == 0) {
		if (st) {
			mdl_count_error(c, st);
			c->j++;
		} else {
			c->ino = r->attr.ino;
			c->step = 1;
			if (d->rec)
				fprintf(d->rec, "%" PRIu64 " %" PRIu64 " f%u\n",
					c->ino, c->dir, c->j);
		}
		mdl_next(c);
		return;
	}
	if (d->phase == MDL_CREATE) {
		c->step = 0;
		if (st)
			mdl_count_error(c, st);
		else
			d->ops++;
		c->j++;
		mdl_next(c);
		return;
	}
	if (d->phase == MDL_READDIR) {
		if (st) {
			mdl_count_error(c, st);
			c->j = 1;
		} else {
			d->ops += r->nents;
			if (r->nents)
				snprintf(c->cookie, sizeof(c->cookie), "%s",
					 r->ents[r->nents - 1].name);
			if (r->eof || !r->nents)
				c->j = 1;
		}
		mdl_next(c);
		return;
	}
	if (st)
		mdl_count_error(c, st);
	else
		d->ops++;
	c->j++;
	mdl_next(c);
}

/* ---- driving --------------------------------------------------------------
 */

/* Run the loop until every client is done. 0, or -errno. */
static int mdl_run_until_done(struct mdl *d)
{
	while (d->active) {
		int ret = vloop_run_once(d->loop, 100);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* One request per client, each for itself: used for setup steps. */
static int mdl_setup_each(struct mdl *d,
			  void (*fill)(struct mdl_client *c, void *arg),
			  void *arg, uint32_t n)
{
	d->phase = MDL_SETUP;
	d->active = n;
	for (uint32_t i = 0; i < n; i++) {
		d->c[i].done = 0;
		fill(&d->c[i], arg);
		mdl_issue(&d->c[i]);
	}
	return mdl_run_until_done(d);
}

static void mdl_fill_mkroot(struct mdl_client *c, void *arg)
{
	mdl_req_init(c, WIRE_META_MKDIR);
	c->d->q.ino = 1;
	snprintf(c->d->q.name, sizeof(c->d->q.name), "%s", c->d->o.root);
	c->d->q.mode = 0755;
}

static void mdl_fill_lookroot(struct mdl_client *c, void *arg)
{
	mdl_req_init(c, WIRE_META_LOOKUP);
	c->d->q.ino = 1;
	snprintf(c->d->q.name, sizeof(c->d->q.name), "%s", c->d->o.root);
}

static void mdl_fill_mkdir_c(struct mdl_client *c, void *arg)
{
	int lookup = *(int *)arg;

	mdl_req_init(c, lookup ? WIRE_META_LOOKUP : WIRE_META_MKDIR);
	c->d->q.ino = c->d->root;
	snprintf(c->d->q.name, sizeof(c->d->q.name), "c%u", c->idx);
	c->d->q.mode = 0755;
}

/* /ROOT and /ROOT/cI exist (made or found). 0 or -errno. */
static int mdl_setup(struct mdl *d)
{
	int ret, lookup = 0;

	ret = mdl_setup_each(d, mdl_fill_mkroot, NULL, 1);
	if (ret < 0)
		return ret;
	if (d->c[0].done < 0 && d->c[0].done != -EEXIST)
		return d->c[0].done;
	if (d->c[0].done == -EEXIST) {
		ret = mdl_setup_each(d, mdl_fill_lookroot, NULL, 1);
		if (ret < 0 || d->c[0].done < 0)
			return ret < 0 ? ret : d->c[0].done;
	}
	d->root = d->c[0].ino;
	for (int pass = 0; pass < 2; pass++) {
		int again = 0;

		lookup = pass;
		ret = mdl_setup_each(d, mdl_fill_mkdir_c, &lookup,
				     d->o.clients);
		if (ret < 0)
			return ret;
		for (uint32_t i = 0; i < d->o.clients; i++) {
			if (d->c[i].done == 1)
				d->c[i].dir = d->c[i].ino;
			else if (d->c[i].done == -EEXIST && !pass)
				again = 1;
			else if (!d->c[i].dir)
				return d->c[i].done < 0 ? d->c[i].done : -EIO;
		}
		if (!again)
			break;
	}
	return 0;
}

static int mdl_run_phase(struct mdl *d, enum mdl_phase p)
{
	int ret;

	d->phase = p;
	d->ops = d->errors = d->rpcs = 0;
	d->first_err_logged = 0;
	d->active = d->o.clients;
	d->phase_t0 = vloop_now_ns();
	for (uint32_t i = 0; i < d->o.clients; i++) {
		struct mdl_client *c = &d->c[i];

		c->done = 0;
		c->j = 0;
		c->step = 0;
		c->cookie[0] = '\0';
	}
	for (uint32_t i = 0; i < d->o.clients; i++)
		mdl_next(&d->c[i]);
	ret = mdl_run_until_done(d);
	if (ret < 0)
		return ret;
	if (p < MDL_NPHASES) {
		d->res[p].ran = 1;
		d->res[p].ops = d->ops;
		d->res[p].errors = d->errors;
		d->res[p].rpcs = d->rpcs;
		d->res[p].secs = (vloop_now_ns() - d->phase_t0) / 1e9;
	}
	if (d->rec)
		fflush(d->rec);
	return 0;
}

static void mdl_print(struct mdl *d)
{
	int first = 1;

	if (d->o.json) {
		printf("{\"clients\":%u,\"files\":%u,\"urls\":%d,\"phases\":{",
		       d->o.clients, d->o.files, d->o.nurls);
		for (int i = 0; i < d->o.nphases; i++) {
			int p = d->o.phases[i];
			double s = d->res[p].secs;

			printf("%s\"%s\":{\"ops\":%llu,\"errors\":%llu,"
			       "\"rpcs\":%llu,\"secs\":%.3f,\"ops_s\":%.0f}",
			       first ? "" : ",", mdl_phase_names[p],
			       (unsigned long long)d->res[p].ops,
			       (unsigned long long)d->res[p].errors,
			       (unsigned long long)d->res[p].rpcs, s,
			       s > 0 ? d->res[p].ops / s : 0.0);
			first = 0;
		}
		printf("},\"gave_up\":%llu}\n", (unsigned long long)d->gaveup);
		return;
	}
	printf("valor-mdload: %u clients x %u items on %d metad\n",
	       d->o.clients, d->o.files, d->o.nurls);
	printf("%-8s %10s %8s %10s %9s %10s\n", "phase", "ops", "errors",
	       "rpcs", "secs", "ops/s");
	for (int i = 0; i < d->o.nphases; i++) {
		int p = d->o.phases[i];
		double s = d->res[p].secs;

		printf("%-8s %10llu %8llu %10llu %9.3f %10.0f\n",
		       mdl_phase_names[p], (unsigned long long)d->res[p].ops,
		       (unsigned long long)d->res[p].errors,
		       (unsigned long long)d->res[p].rpcs, s,
		       s > 0 ? d->res[p].ops / s : 0.0);
	}
	if (d->gaveup)
		printf("%llu requests gave up after --retry-for\n",
		       (unsigned long long)d->gaveup);
}

/* ---- set-up ---------------------------------------------------------------
 */

static int mdl_urls_from_mgmtd(struct mdl *d)
{
	struct vmgmtc_opts mo = {.mgmtd_url = d->o.mgmtd, .secret = d->secret};
	const struct wire_routing *r;
	struct vmgmtc *m;
	int ret;

	ret = vmgmtc_new(d->loop, &mo, &m);
	if (ret < 0)
		return ret;
	ret = vmgmtc_wait_routing(m, (int)d->o.timeout_ms);
	if (ret < 0) {
		fprintf(stderr, "valor-mdload: cannot reach mgmtd at %s: %s\n",
			d->o.mgmtd, strerror(-ret));
		vmgmtc_free(m);
		return ret;
	}
	r = vmgmtc_routing(m);
	for (uint32_t i = 0; i < r->nnodes && d->o.nurls < MDL_MAX_URLS; i++)
		if (r->nodes[i].role == WIRE_ROLE_META && r->nodes[i].alive)
			d->o.urls[d->o.nurls++] = strdup(r->nodes[i].url);
	vmgmtc_free(m);
	if (!d->o.nurls) {
		fprintf(stderr,
			"valor-mdload: mgmtd at %s knows no live "
			"metad\n",
			d->o.mgmtd);
		return -ENOENT;
	}
	return 0;
}

static int mdl_clients_new(struct mdl *d)
{
	struct vrpc_client_opts co = {.default_timeout_ms = d->o.timeout_ms,
				      .backoff_min_ms = 50,
				      .backoff_max_ms = 500};
	uint32_t n = d->o.clients ? d->o.clients : 1;

	d->c = calloc(n, sizeof(*d->c));
	if (!d->c)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct mdl_client *c = &d->c[i];

		c->d = d;
		c->idx = i;
		while (!c->id)
			if (getrandom(&c->id, sizeof(c->id), 0) < 0)
				return -errno;
		c->url = (int)(i % (uint32_t)d->o.nurls);
		vloop_timer_init(&c->retry, mdl_on_retry);
		for (int u = 0; u < d->o.nurls; u++) {
			int ret = vrpc_client_new(d->loop, d->o.urls[u],
						  d->secret, &co, &c->cli[u]);

			if (ret < 0) {
				fprintf(stderr, "valor-mdload: %s: %s\n",
					d->o.urls[u], strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

static int mdl_load_verify(struct mdl *d)
{
	FILE *f = fopen(d->o.verify, "r");
	size_t cap = 0;
	char line[512];

	if (!f) {
		fprintf(stderr, "valor-mdload: --verify %s: %s\n", d->o.verify,
			strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		struct mdl_verify_ent e;

		if (sscanf(line, "%" SCNu64 " %" SCNu64 " %255s", &e.ino,
			   &e.parent, e.name) != 3)
			continue;
		if (d->nvents == cap) {
			struct mdl_verify_ent *v;

			cap = cap ? 2 * cap : 1024;
			v = realloc(d->vents, cap * sizeof(*v));
			if (!v) {
				fclose(f);
				return -ENOMEM;
			}
			d->vents = v;
		}
		d->vents[d->nvents++] = e;
	}
	fclose(f);
	return 0;
}

static int mdl_parse_phases(struct mdl_opts *o, const char *arg)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", arg);
	o->nphases = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int p;

		for (p = 0; p < MDL_NPHASES; p++)
			if (!strcmp(tok, mdl_phase_names[p]))
				break;
		if (p == MDL_NPHASES || o->nphases == MDL_NPHASES) {
			fprintf(stderr,
				"valor-mdload: --phases: unknown or "
				"repeated phase '%s'\n",
				tok);
			return -EINVAL;
		}
		o->phases[o->nphases++] = p;
	}
	return o->nphases ? 0 : -EINVAL;
}

static int mdl_parse_uint(const char *opt, const char *arg, uint32_t min,
			  uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "valor-mdload: %s wants %u to %u, got '%s'\n",
			opt, min, max, arg);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static void mdl_usage(FILE *f)
{
	fprintf(f,
		"usage: valor-mdload (--metad URL[,URL...] | --mgmtd URL) "
		"[options]\n\n"
		"  --metad URLS     metad to load (comma-separated; clients "
		"spread over them)\n"
		"  --mgmtd URL      find every live metad in mgmtd's routing\n"
		"  --secret FILE    cluster secret\n"
		"  --clients N      concurrent clients (default 16)\n"
		"  --files N        items per client and phase (default 1000)\n"
		"  --phases LIST    of mkdir,create,stat,readdir,rename,unlink,"
		"rmdir\n"
		"                   (default all, in that order)\n"
		"  --root NAME      top directory (default mdload.PID)\n"
		"  --record FILE    append 'ino parent name' per acknowledged "
		"create\n"
		"  --verify FILE    look up every recorded create; exit 1 if "
		"one is missing\n"
		"  --retry-for S    keep retrying unanswered requests (default "
		"30)\n"
		"  --timeout S      per request (default 5)\n"
		"  --json           results as one JSON object\n");
}

static int mdl_parse_args(struct mdl_opts *o, int argc, char **argv)
{
	enum {
		O_METAD = 256,
		O_MGMTD,
		O_SECRET,
		O_CLIENTS,
		O_FILES,
		O_PHASES,
		O_ROOT,
		O_RECORD,
		O_VERIFY,
		O_RETRY,
		O_TIMEOUT,
		O_JSON,
	};
	static const struct option longopts[] = {
		{"metad", required_argument, NULL, O_METAD},
		{"mgmtd", required_argument, NULL, O_MGMTD},
		{"secret", required_argument, NULL, O_SECRET},
		{"clients", required_argument, NULL, O_CLIENTS},
		{"files", required_argument, NULL, O_FILES},
		{"phases", required_argument, NULL, O_PHASES},
		{"root", required_argument, NULL, O_ROOT},
		{"record", required_argument, NULL, O_RECORD},
		{"verify", required_argument, NULL, O_VERIFY},
		{"retry-for", required_argument, NULL, O_RETRY},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint32_t secs;
	int c, ret = 0;

	o->clients = 16;
	o->files = 1000;
	o->retry_for_ms = 30000;
	o->timeout_ms = 5000;
	for (int p = 0; p < MDL_NPHASES; p++)
		o->phases[o->nphases++] = p;
	while (!ret &&
	       (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_METAD: {
			char *s = strdup(optarg), *save = NULL, *tok;

			for (tok = strtok_r(s, ",", &save);
			     tok && o->nurls < MDL_MAX_URLS;
			     tok = strtok_r(NULL, ",", &save))
				o->urls[o->nurls++] = strdup(tok);
			free(s);
			break;
		}
		case O_MGMTD:
			o->mgmtd = optarg;
			break;
		case O_SECRET:
			o->secret = optarg;
			break;
		case O_CLIENTS:
			ret = mdl_parse_uint("--clients", optarg, 1, 4096,
					     &o->clients);
			break;
		case O_FILES:
			ret = mdl_parse_uint("--files", optarg, 1, 100000000,
					     &o->files);
			break;
		case O_PHASES:
			ret = mdl_parse_phases(o, optarg);
			break;
		case O_ROOT:
			o->root = optarg;
			break;
		case O_RECORD:
			o->record = optarg;
			break;
		case O_VERIFY:
			o->verify = optarg;
			break;
		case O_RETRY:
			ret = mdl_parse_uint("--retry-for", optarg, 0, 86400,
					     &secs);
			o->retry_for_ms = secs * 1000;
			break;
		case O_TIMEOUT:
			ret = mdl_parse_uint("--timeout", optarg, 1, 3600,
					     &secs);
			o->timeout_ms = secs * 1000;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case 'h':
			mdl_usage(stdout);
			exit(0);
		default:
			ret = -EINVAL;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "valor-mdload: unexpected argument '%s'\n",
			argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && !o->nurls && !o->mgmtd) {
		fprintf(stderr, "valor-mdload: --metad URL or --mgmtd URL is "
				"required\n");
		ret = -EINVAL;
	}
	if (!ret && o->root &&
	    (!o->root[0] || strchr(o->root, '/') || strlen(o->root) > 200)) {
		fprintf(stderr, "valor-mdload: --root wants a plain name\n");
		ret = -EINVAL;
	}
	return ret;
}

/* Free everything @d holds (clients first: their callbacks may run). */
static void mdl_free(struct mdl *d)
{
	if (d->c)
		for (uint32_t i = 0; i < d->o.clients; i++)
			for (int u = 0; u < d->o.nurls; u++)
				vrpc_client_free(d->c[i].cli[u]);
	free(d->c);
	if (d->rec)
		fclose(d->rec);
	for (int u = 0; u < d->o.nurls; u++)
		free(d->o.urls[u]);
	free(d->vents);
	vloop_free(d->loop);
	vauth_secret_free(d->secret);
	free(d);
}

/* Everything but parsing; returns the exit status. */
static int mdl_main(struct mdl *d)
{
	int ret, status = 0;

	if (d->o.secret) {
		ret = vauth_secret_load(d->o.secret, &d->secret);
		if (ret < 0) {
			fprintf(stderr, "valor-mdload: --secret %s: %s\n",
				d->o.secret, strerror(-ret));
			return 2;
		}
	}
	ret = vloop_new(&d->loop, VLOOP_POLL, 0, 0);
	if (ret < 0)
		return 1;
	if (!d->o.nurls && mdl_urls_from_mgmtd(d) < 0)
		return 3;
	if (d->o.verify) {
		d->o.clients = d->o.clients > 64 ? 64 : d->o.clients;
		if (mdl_load_verify(d) < 0 || mdl_clients_new(d) < 0)
			return 1;
		ret = mdl_run_phase(d, MDL_VERIFY);
		printf("valor-mdload: verified %zu recorded creates: %llu "
		       "missing\n",
		       d->nvents, (unsigned long long)d->missing);
		return ret < 0 || d->missing || d->gaveup ? 1 : 0;
	}
	if (d->o.record) {
		d->rec = fopen(d->o.record, "a");
		if (!d->rec) {
			fprintf(stderr, "valor-mdload: --record %s: %s\n",
				d->o.record, strerror(errno));
			return 2;
		}
		/* Lines out as they come: a test watches the file grow. */
		setvbuf(d->rec, NULL, _IOLBF, 0);
	}
	if (mdl_clients_new(d) < 0)
		return 1;
	ret = mdl_setup(d);
	if (ret < 0) {
		fprintf(stderr, "valor-mdload: cannot make /%s/cN on %s: %s\n",
			d->o.root, d->o.urls[0], strerror(-ret));
		return ret == -ETIMEDOUT || ret == -ECONNREFUSED ||
				       ret == -ECONNRESET
			       ? 3
			       : 1;
	}
	for (int i = 0; i < d->o.nphases; i++) {
		ret = mdl_run_phase(d, (enum mdl_phase)d->o.phases[i]);
		if (ret < 0) {
			fprintf(stderr, "valor-mdload: loop: %s\n",
				strerror(-ret));
			status = 1;
			break;
		}
	}
	mdl_print(d);
	return d->gaveup ? 1 : status;
}

int main(int argc, char **argv)
{
	struct mdl *d = calloc(1, sizeof(*d));
	char root[64];
	int status;

	vlog_set_ident("valor-mdload");
	vlog_set_level(VLOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	if (!d)
		return 1;
	if (mdl_parse_args(&d->o, argc, argv)) {
		fprintf(stderr, "Try 'valor-mdload --help'.\n");
		mdl_free(d);
		return 2;
	}
	if (!d->o.root) {
		snprintf(root, sizeof(root), "mdload.%d", (int)getpid());
		d->o.root = root;
	}
	status = mdl_main(d);
	mdl_free(d);
	return status;
}
