/* SPDX-License-Identifier: MIT */
/*
 * valorctl - see and steer a valorfs cluster and its processes.
 *
 *   valorctl [--mgmtd URL] [--secret FILE] [--json] [--timeout S] COMMAND
 *
 * Commands:
 *   status                  nodes, targets, chains and versions (mgmtd)
 *   chain-table create --replicas R [--chains N]
 *                           build the chain table (mgmtd)
 *   stats --socket PATH     counters of the process serving that control
 *                           socket (valorfs and valor-mgmtd log its path)
 *   fsck [--metad URL]      check the namespace invariants on a metad
 *                           (found in mgmtd's routing without --metad)
 *
 * A mgmtd command runs one loop of its own: connect with the RPC client,
 * make one call, wait for its callback (bounded by --timeout), print.
 *
 * Exit status, which scripts may rely on:
 *   0 success
 *   1 the server answered with an error (valorctl: CMD: ERROR (WHAT))
 *   2 usage error
 *   3 mgmtd cannot be reached (refused, unreachable, no answer in time)
 *   4 authentication failed (the --secret differs, or one side has none)
 * fsck exits 1 when it found violations.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/ctlsock.h"
#include "common/log.h"
#include "common/url.h"
#include "proto/wire_meta.h"
#include "proto/wire_msg.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

#define VALORCTL_DEFAULT_MGMTD "tcp://127.0.0.1:7000"

enum valorctl_exit {
	VALORCTL_OK = 0,
	VALORCTL_EREPLY = 1, /* the server said no */
	VALORCTL_EUSAGE = 2, /* bad command line */
	VALORCTL_EREACH = 3, /* no mgmtd there, or no answer */
	VALORCTL_EAUTH = 4,  /* secrets differ */
};

struct valorctl_opts {
	const char *mgmtd; /* the server valorctl_call() talks to */
	const char *peer;  /* what it is, for messages: NULL = "mgmtd" */
	const char *secret;
	const char *socket;
	int json;
	int timeout_ms;
};

/* ---- one call to mgmtd --------------------------------------------------- */

/* A call in flight and what it ended with; the reply body is copied. */
struct valorctl_rpc {
	struct vrpc_call call;
	int done;
	int status;
	int local;
	void *body;
	uint32_t body_len;
};

static void valorctl_rpc_done(struct vrpc_call *call,
			      const struct vrpc_result *res, void *arg)
{
	struct valorctl_rpc *r = arg;

	r->done = 1;
	r->status = res->status;
	r->local = res->local;
	if (res->status || !res->body_len)
		return;
	r->body = malloc(res->body_len);
	if (!r->body) {
		r->status = -ENOMEM;
		r->local = 1;
		return;
	}
	memcpy(r->body, res->body, res->body_len);
	r->body_len = res->body_len;
}

/*
 * Why the RPC client is not connected yet, when it is not quick about it:
 * a plain TCP connect, bounded by @timeout_ms. 0 when something listens
 * (the RPC client will get there), or -errno (-ECONNREFUSED, -ETIMEDOUT,
 * -EHOSTUNREACH, ...). Only asked after a delay, so that a healthy mgmtd
 * never sees (and logs) this extra connection.
 */
static int valorctl_probe(const struct vurl *u, int timeout_ms)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t len;
	int fd, ret, err = 0;

	if (u->scheme != VURL_TCP)
		return 0;
	ret = vurl_resolve(u, 0, &ss, &len);
	if (ret < 0)
		return ret;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		goto out_close;
	if (errno != EINPROGRESS) {
		ret = -errno;
		goto out_close;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	ret = poll(&pfd, 1, timeout_ms);
	if (ret == 0) {
		ret = -ETIMEDOUT;
		goto out_close;
	}
	len = sizeof(err);
	if (ret < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	ret = -err;
out_close:
	close(fd);
	return ret;
}

static void valorctl_unreachable(const struct valorctl_opts *o, int err)
{
	const char *peer = o->peer ? o->peer : "mgmtd";

	fprintf(stderr, "valorctl: cannot reach %s at %s: %s%s%s\n", peer,
		o->mgmtd,
		err == -ETIMEDOUT ? "no answer in time (is valor-" : "",
		err == -ETIMEDOUT ? peer : strerror(-err),
		err == -ETIMEDOUT ? " running there?)" : "");
}

/*
 * Call @op on mgmtd with @body and wait for the answer. VALORCTL_OK with
 * the reply body in r->body (the caller frees it), or the exit status
 * with the reason printed; a server error (VALORCTL_EREPLY) leaves its
 * status in r->status for the caller to explain.
 */
static int valorctl_call(const struct valorctl_opts *o, uint16_t op,
			 const void *body, uint32_t len, struct valorctl_rpc *r)
{
	struct vrpc_client_opts copts = {
		.default_timeout_ms = (uint32_t)o->timeout_ms,
		.connect_timeout_ms = (uint32_t)o->timeout_ms,
		.backoff_min_ms = 100,
		.backoff_max_ms = 500,
	};
	struct vauth_secret *secret = NULL;
	struct vrpc_client *cli = NULL;
	struct vloop *loop = NULL;
	const char *why = NULL;
	uint64_t t0, waited_ms;
	int probed = 0, ret;
	struct vurl u;

	memset(r, 0, sizeof(*r));
	if (vurl_parse(&u, o->mgmtd, &why)) {
		fprintf(stderr, "valorctl: --mgmtd: bad URL '%s': %s\n",
			o->mgmtd, why);
		return VALORCTL_EUSAGE;
	}
	if (o->secret) {
		ret = vauth_secret_load(o->secret, &secret);
		if (ret < 0) {
			fprintf(stderr, "valorctl: --secret %s: %s\n",
				o->secret, strerror(-ret));
			return VALORCTL_EUSAGE;
		}
	}
	ret = vloop_new(&loop, VLOOP_POLL, 0, 0);
	if (ret < 0)
		goto out_local;
	ret = vrpc_client_new(loop, o->mgmtd, secret, &copts, &cli);
	if (ret < 0)
		goto out_local;
	vrpc_call_init(&r->call);
	ret = vrpc_call(cli, op, body, len, NULL, 0, NULL, 0, o->timeout_ms,
			valorctl_rpc_done, r, &r->call);
	if (ret < 0)
		goto out_local;

	t0 = vloop_now_ns();
	while (!r->done) {
		ret = vloop_run_once(loop, 50);
		if (ret < 0)
			goto out_local;
		waited_ms = (vloop_now_ns() - t0) / 1000000;
		if (r->done || probed || waited_ms < 250 ||
		    vrpc_client_is_up(cli))
			continue;
		/* Not up after a while: find out whether anybody listens. */
		probed = 1;
		ret = valorctl_probe(&u,
				     o->timeout_ms > (int)waited_ms
					     ? o->timeout_ms - (int)waited_ms
					     : 1);
		if (ret < 0) {
			vrpc_client_free(cli); /* runs our callback */
			cli = NULL;
			r->status = ret;
			r->local = 1;
			break;
		}
	}
	vrpc_client_free(cli);
	cli = NULL;
	ret = VALORCTL_OK;
	if (r->status == -EACCES && r->local) {
		fprintf(stderr,
			"valorctl: authentication with %s at %s failed: "
			"--secret must name the cluster's secret file\n",
			o->peer ? o->peer : "mgmtd", o->mgmtd);
		ret = VALORCTL_EAUTH;
	} else if (r->local && r->status) {
		valorctl_unreachable(o, r->status);
		ret = VALORCTL_EREACH;
	} else if (r->status) {
		ret = VALORCTL_EREPLY;
	}
	goto out_free;

out_local:
	fprintf(stderr, "valorctl: %s\n", strerror(-ret));
	ret = VALORCTL_EREACH;
out_free:
	vrpc_client_free(cli);
	vloop_free(loop);
	vauth_secret_free(secret);
	if (ret != VALORCTL_OK) {
		free(r->body);
		r->body = NULL;
	}
	return ret;
}

/* The error line of a server refusal: valorctl: CMD: ERROR (WHAT). */
static int valorctl_refused(const char *cmd, int status, const char *what)
{
	fprintf(stderr, "valorctl: %s: %s (%s)\n", cmd, strerror(-status),
		what);
	return VALORCTL_EREPLY;
}

/* ---- output helpers ------------------------------------------------------ */

static void valorctl_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* "0", "512K", "1.5G" ... into @buf. */
static const char *valorctl_bytes(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	double d = (double)v;
	int i = 0;

	while (d >= 1024 && i < 6) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, d < 10 ? "%.1f%c" : "%.0f%c", d, units[i]);
	return buf;
}

/* "3.2s", "5m02s", "2h10m" ... into @buf. */
static const char *valorctl_age(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%.1fs", ms / 1e3);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)s / 60,
			 (unsigned long long)s % 60);
	else
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)s / 3600,
			 (unsigned long long)s / 60 % 60);
	return buf;
}

/* ---- status -------------------------------------------------------------- */

static void valorctl_status_json(const struct valorctl_opts *o,
				 const struct wire_status *s)
{
	const struct wire_routing *rt = &s->routing;

	printf("{\"mgmtd\":");
	valorctl_json_str(o->mgmtd);
	printf(",\"uptime_ms\":%llu,\"heartbeat_timeout_ms\":%u,"
	       "\"routing_version\":%llu,\"nodes\":[",
	       (unsigned long long)s->uptime_ms, s->heartbeat_timeout_ms,
	       (unsigned long long)rt->version);
	for (uint32_t i = 0; i < rt->nnodes; i++) {
		const struct wire_routing_node *n = &rt->nodes[i];

		printf("%s{\"id\":%u,\"role\":\"%s\",\"url\":", i ? "," : "",
		       n->id, wire_role_name(n->role));
		valorctl_json_str(n->url);
		printf(",\"host\":");
		valorctl_json_str(n->hostname);
		printf(",\"state\":\"%s\",\"last_seen_ms\":%llu}",
		       wire_node_state_name(s->nodes[i].state),
		       (unsigned long long)s->nodes[i].silent_ms);
	}
	printf("],\"targets\":[");
	for (uint32_t i = 0; i < rt->ntargets; i++) {
		const struct wire_routing_target *t = &rt->targets[i];

		printf("%s{\"id\":%u,\"node\":%u,\"state\":\"%s\","
		       "\"local_state\":\"%s\",\"used\":%llu,\"capacity\":%llu,"
		       "\"sync_done\":%llu,\"sync_total\":%llu}",
		       i ? "," : "", t->id, t->node_id,
		       wire_public_state_name(t->public_state),
		       wire_local_state_name(t->local_state),
		       (unsigned long long)t->used,
		       (unsigned long long)t->capacity,
		       (unsigned long long)t->sync_done,
		       (unsigned long long)t->sync_total);
	}
	printf("],\"chains\":[");
	for (uint32_t i = 0; i < rt->nchains; i++) {
		const struct wire_routing_chain *c = &rt->chains[i];

		printf("%s{\"id\":%u,\"version\":%u,\"members\":[",
		       i ? "," : "", c->id, c->version);
		for (uint32_t j = 0; j < c->ntargets; j++)
			printf("%s{\"target\":%u,\"state\":\"%s\"}",
			       j ? "," : "", c->target_ids[j],
			       wire_public_state_name(c->states[j]));
		printf("]}");
	}
	printf("],\"chain_table\":{\"version\":%u,\"chains\":[",
	       rt->table.version);
	for (uint32_t i = 0; i < rt->table.nchains; i++)
		printf("%s%u", i ? "," : "", rt->table.chain_ids[i]);
	printf("]}}\n");
}

static void valorctl_status_text(const struct valorctl_opts *o,
				 const struct wire_status *s)
{
	const struct wire_routing *rt = &s->routing;
	char a[32], b[32];

	printf("mgmtd %s: up %s, routing version %llu, heartbeat timeout "
	       "%.1fs\n",
	       o->mgmtd, valorctl_age(s->uptime_ms, a, sizeof(a)),
	       (unsigned long long)rt->version, s->heartbeat_timeout_ms / 1e3);
	if (rt->table.version)
		printf("chain table version %u, %u chains\n", rt->table.version,
		       rt->table.nchains);
	else
		printf("no chain table yet (valorctl chain-table create "
		       "--replicas R)\n");

	printf("\nNODES\n%-5s %-8s %-28s %-16s %-8s %s\n", "ID", "ROLE", "URL",
	       "HOST", "STATE", "LAST-SEEN");
	for (uint32_t i = 0; i < rt->nnodes; i++) {
		const struct wire_routing_node *n = &rt->nodes[i];

		printf("%-5u %-8s %-28s %-16s %-8s %s ago\n", n->id,
		       wire_role_name(n->role), n->url[0] ? n->url : "-",
		       n->hostname, wire_node_state_name(s->nodes[i].state),
		       valorctl_age(s->nodes[i].silent_ms, a, sizeof(a)));
	}

	printf("\nTARGETS\n%-5s %-5s %-8s %-9s %-15s %s\n", "ID", "NODE",
	       "STATE", "LOCAL", "USED/CAPACITY", "SYNC");
	for (uint32_t i = 0; i < rt->ntargets; i++) {
		const struct wire_routing_target *t = &rt->targets[i];
		char used[40], sync[48];

		snprintf(used, sizeof(used), "%s/%s",
			 valorctl_bytes(t->used, a, sizeof(a)),
			 valorctl_bytes(t->capacity, b, sizeof(b)));
		if (t->sync_total)
			snprintf(sync, sizeof(sync), "%llu/%llu",
				 (unsigned long long)t->sync_done,
				 (unsigned long long)t->sync_total);
		else
			snprintf(sync, sizeof(sync), "-");
		printf("%-5u %-5u %-8s %-9s %-15s %s\n", t->id, t->node_id,
		       wire_public_state_name(t->public_state),
		       wire_local_state_name(t->local_state), used, sync);
	}

	printf("\nCHAINS\n%-5s %-8s %s\n", "ID", "VERSION",
	       "MEMBERS (head first: target:state)");
	for (uint32_t i = 0; i < rt->nchains; i++) {
		const struct wire_routing_chain *c = &rt->chains[i];

		printf("%-5u %-8u", c->id, c->version);
		for (uint32_t j = 0; j < c->ntargets; j++)
			printf(" %u:%s", c->target_ids[j],
			       wire_public_state_name(c->states[j]));
		printf("\n");
	}
}

static int valorctl_status(struct valorctl_opts *o, int argc, char **argv)
{
	struct wire_status *s;
	struct valorctl_rpc r;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o->json = 1;
		} else {
			fprintf(stderr, "valorctl status: unexpected '%s'\n",
				argv[i]);
			return VALORCTL_EUSAGE;
		}
	}
	ret = valorctl_call(o, WIRE_MGMTD_STATUS, NULL, 0, &r);
	if (ret == VALORCTL_EREPLY)
		return valorctl_refused("status", r.status,
					r.status == -ENOSYS
						? "not a valor-mgmtd?"
						: "answer of mgmtd");
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(r.body);
		fprintf(stderr, "valorctl: out of memory\n");
		return VALORCTL_EREPLY;
	}
	ret = wire_status_decode(r.body, r.body_len, s);
	free(r.body);
	if (ret < 0) {
		fprintf(stderr,
			"valorctl: status: the reply does not decode: "
			"%s (a mgmtd of another version?)\n",
			strerror(-ret));
		free(s);
		return VALORCTL_EREPLY;
	}
	if (o->json)
		valorctl_status_json(o, s);
	else
		valorctl_status_text(o, s);
	free(s);
	return VALORCTL_OK;
}

/* ---- chain-table --------------------------------------------------------- */

/* A whole decimal number in [min, max] into @out; -EINVAL otherwise. */
static int valorctl_uint(const char *s, uint32_t min, uint32_t max,
			 uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static const char *valorctl_chain_table_why(int status)
{
	switch (status) {
	case -EEXIST:
		return "a chain table already exists";
	case -EINVAL:
		return "more replicas than storage nodes with targets, or a "
		       "bad count";
	case -ENOMEM:
		return "mgmtd is out of memory";
	case -EIO:
		return "mgmtd cannot save its map";
	default:
		return "answer of mgmtd";
	}
}

static int valorctl_chain_table(struct valorctl_opts *o, int argc, char **argv)
{
	struct wire_chain_table_create_req q = {0};
	struct wire_chain_table_create_resp resp;
	uint8_t body[WIRE_CHAIN_TABLE_CREATE_REQ_LEN];
	struct valorctl_rpc r;
	size_t len;
	int ret;

	if (argc < 1 || strcmp(argv[0], "create")) {
		fprintf(stderr, "valorctl chain-table: expected 'create "
				"--replicas R [--chains N]'\n");
		return VALORCTL_EUSAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--replicas") && i + 1 < argc) {
			if (valorctl_uint(argv[++i], 1, WIRE_MAX_REPLICAS,
					  &q.replicas)) {
				fprintf(stderr,
					"valorctl chain-table create: "
					"--replicas wants 1 to %d, "
					"got '%s'\n",
					WIRE_MAX_REPLICAS, argv[i]);
				return VALORCTL_EUSAGE;
			}
		} else if (!strcmp(argv[i], "--chains") && i + 1 < argc) {
			if (valorctl_uint(argv[++i], 0, WIRE_MAX_CHAINS,
					  &q.chains)) {
				fprintf(stderr,
					"valorctl chain-table create: "
					"--chains wants 0 to %d, got "
					"'%s'\n",
					WIRE_MAX_CHAINS, argv[i]);
				return VALORCTL_EUSAGE;
			}
		} else if (!strcmp(argv[i], "--json")) {
			o->json = 1;
		} else {
			fprintf(stderr,
				"valorctl chain-table create: unexpected "
				"'%s'\n",
				argv[i]);
			return VALORCTL_EUSAGE;
		}
	}
	if (!q.replicas) {
		fprintf(stderr, "valorctl chain-table create: --replicas R is "
				"required\n");
		return VALORCTL_EUSAGE;
	}
	ret = wire_chain_table_create_req_encode(&q, body, sizeof(body), &len);
	if (ret < 0) {
		fprintf(stderr, "valorctl chain-table create: %s\n",
			strerror(-ret));
		return VALORCTL_EUSAGE;
	}
	ret = valorctl_call(o, WIRE_MGMTD_CHAIN_TABLE_CREATE, body,
			    (uint32_t)len, &r);
	if (ret == VALORCTL_EREPLY)
		return valorctl_refused("chain-table create", r.status,
					valorctl_chain_table_why(r.status));
	if (ret)
		return ret;
	ret = wire_chain_table_create_resp_decode(r.body, r.body_len, &resp);
	free(r.body);
	if (ret < 0) {
		fprintf(stderr,
			"valorctl: chain-table create: the reply does "
			"not decode: %s\n",
			strerror(-ret));
		return VALORCTL_EREPLY;
	}
	if (o->json)
		printf("{\"table_version\":%u,\"chains\":%u,\"replicas\":%u}\n",
		       resp.table_version, resp.nchains, q.replicas);
	else
		printf("chain table version %u: %u chains of %u replicas\n",
		       resp.table_version, resp.nchains, q.replicas);
	return VALORCTL_OK;
}

/* ---- stats --------------------------------------------------------------- */

static int valorctl_stats(struct valorctl_opts *o, int argc, char **argv)
{
	char *out = NULL;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			o->socket = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			o->json = 1;
		else {
			fprintf(stderr, "valorctl stats: unexpected '%s'\n",
				argv[i]);
			return VALORCTL_EUSAGE;
		}
	}
	if (!o->socket) {
		fprintf(stderr,
			"valorctl stats: --socket PATH is required "
			"(valorfs and valor-mgmtd log their control socket "
			"at start)\n");
		return VALORCTL_EUSAGE;
	}
	ret = vctl_query(o->socket, o->json ? "stats json" : "stats", &out);
	if (ret) {
		fprintf(stderr, "valorctl stats: %s: %s\n", o->socket,
			strerror(-ret));
		return VALORCTL_EREPLY;
	}
	fputs(out, stdout);
	ret = !strncmp(out, "error:", 6) ? VALORCTL_EREPLY : VALORCTL_OK;
	free(out);
	return ret;
}

/* ---- fsck ---------------------------------------------------------------- */

/* The URL of the first live metad in mgmtd's routing into @url. */
static int valorctl_find_metad(struct valorctl_opts *o, char *url, size_t len)
{
	struct wire_routing_req q = {.since_version = 0};
	uint8_t body[WIRE_ROUTING_REQ_LEN];
	struct wire_routing *r;
	struct valorctl_rpc rpc;
	size_t blen;
	int ret;

	ret = wire_routing_req_encode(&q, body, sizeof(body), &blen);
	if (ret < 0)
		return VALORCTL_EUSAGE;
	ret = valorctl_call(o, WIRE_MGMTD_GET_ROUTING, body, (uint32_t)blen,
			    &rpc);
	if (ret == VALORCTL_EREPLY)
		return valorctl_refused("fsck", rpc.status,
					"routing from mgmtd");
	if (ret)
		return ret;
	r = malloc(sizeof(*r));
	ret = r ? wire_routing_decode(rpc.body, rpc.body_len, r) : -ENOMEM;
	free(rpc.body);
	if (ret < 0) {
		fprintf(stderr, "valorctl: fsck: routing does not decode: %s\n",
			strerror(-ret));
		free(r);
		return VALORCTL_EREPLY;
	}
	ret = VALORCTL_EREACH;
	for (uint32_t i = 0; i < r->nnodes; i++)
		if (r->nodes[i].role == WIRE_ROLE_META && r->nodes[i].alive) {
			snprintf(url, len, "%s", r->nodes[i].url);
			ret = VALORCTL_OK;
			break;
		}
	if (ret)
		fprintf(stderr,
			"valorctl: fsck: mgmtd at %s knows no live metad "
			"(use --metad URL)\n",
			o->mgmtd);
	free(r);
	return ret;
}

static int valorctl_fsck(struct valorctl_opts *o, int argc, char **argv)
{
	char url[WIRE_URL_MAX + 1] = "";
	struct valorctl_opts mo = *o;
	struct wire_meta_req *q = NULL;
	struct wire_meta_rep *rep = NULL;
	uint8_t body[64];
	struct valorctl_rpc r;
	size_t len;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--metad") && i + 1 < argc)
			snprintf(url, sizeof(url), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--json"))
			o->json = 1;
		else {
			fprintf(stderr, "valorctl fsck: unexpected '%s'\n",
				argv[i]);
			return VALORCTL_EUSAGE;
		}
	}
	if (!url[0]) {
		ret = valorctl_find_metad(o, url, sizeof(url));
		if (ret)
			return ret;
	}
	q = calloc(1, sizeof(*q));
	rep = malloc(sizeof(*rep));
	if (!q || !rep) {
		ret = VALORCTL_EREACH;
		goto out_free;
	}
	q->uid = (uint32_t)getuid();
	q->gid = (uint32_t)getgid();
	ret = wire_meta_req_encode(WIRE_META_FSCK, q, body, sizeof(body), &len);
	if (ret < 0) {
		ret = VALORCTL_EUSAGE;
		goto out_free;
	}
	/* A scan of the whole namespace: allow it time. */
	mo.mgmtd = url;
	mo.peer = "metad";
	mo.json = o->json;
	if (mo.timeout_ms < 120000)
		mo.timeout_ms = 120000;
	ret = valorctl_call(&mo, WIRE_META_FSCK, body, (uint32_t)len, &r);
	if (ret == VALORCTL_EREPLY) {
		ret = valorctl_refused("fsck", r.status, "answer of metad");
		goto out_free;
	}
	if (ret)
		goto out_free;
	ret = wire_meta_rep_decode(WIRE_META_FSCK, r.body, r.body_len, rep);
	free(r.body);
	if (ret < 0) {
		fprintf(stderr, "valorctl: fsck: the reply does not decode: "
				"%s\n",
			strerror(-ret));
		ret = VALORCTL_EREPLY;
		goto out_free;
	}
	if (o->json) {
		char *line = rep->report, *nl;

		printf("{\"metad\":");
		valorctl_json_str(url);
		printf(",\"violations\":%u,\"report\":[", rep->violations);
		for (int first = 1; *line; line = nl + 1, first = 0) {
			nl = strchr(line, '\n');
			if (!nl)
				break;
			*nl = '\0';
			printf("%s", first ? "" : ",");
			valorctl_json_str(line);
		}
		printf("]}\n");
	} else {
		fputs(rep->report, stdout);
		if (rep->violations)
			printf("fsck: %u violation(s) (metad %s)\n",
			       rep->violations, url);
		else
			printf("fsck: the namespace is consistent (metad "
			       "%s)\n",
			       url);
	}
	ret = rep->violations ? VALORCTL_EREPLY : VALORCTL_OK;
out_free:
	free(q);
	free(rep);
	return ret;
}

/* ---- main ---------------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(struct valorctl_opts *o, int argc, char **argv);
	const char *help;
} valorctl_cmds[] = {
	{"status", valorctl_status,
	 "status [--json]                     nodes, targets, chains, "
	 "versions"},
	{"chain-table", valorctl_chain_table,
	 "chain-table create --replicas R [--chains N]\n"
	 "                                      build the chain table"},
	{"stats", valorctl_stats,
	 "stats --socket PATH [--json]        counters of a valorfs or "
	 "valor-mgmtd process"},
	{"fsck", valorctl_fsck,
	 "fsck [--metad URL] [--json]         check the namespace (exit 1 "
	 "on violations)"},
};

#define VALORCTL_NCMDS (sizeof(valorctl_cmds) / sizeof(valorctl_cmds[0]))

static void valorctl_usage(FILE *f)
{
	fprintf(f, "usage: valorctl [--mgmtd URL] [--secret FILE] [--json] "
		   "[--timeout S] COMMAND [ARGS]\n\n"
		   "  --mgmtd URL     cluster manager "
		   "(default " VALORCTL_DEFAULT_MGMTD ")\n"
		   "  --secret FILE   cluster secret, when mgmtd has one\n"
		   "  --json          one JSON object instead of tables\n"
		   "  --timeout S     give up after S seconds (default 5)\n"
		   "\ncommands:\n");
	for (size_t i = 0; i < VALORCTL_NCMDS; i++)
		fprintf(f, "  %s\n", valorctl_cmds[i].help);
	fprintf(f, "\nexit status: 0 ok, 1 the server answered an error, "
		   "2 usage,\n3 cannot reach mgmtd, 4 authentication "
		   "failed\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"mgmtd", required_argument, NULL, 'm'},
		{"secret", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct valorctl_opts o = {
		.mgmtd = VALORCTL_DEFAULT_MGMTD,
		.timeout_ms = 5000,
	};
	double secs;
	char *end;
	int c;

	/* Library errors (an authentication failure's reason) go to stderr
	 * above valorctl's own line; the rest is noise for a CLI. */
	vlog_set_ident("valorctl");
	vlog_set_level(VLOG_ERR);
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.mgmtd = optarg;
			break;
		case 's':
			o.secret = optarg;
			break;
		case 'j':
			o.json = 1;
			break;
		case 't':
			secs = strtod(optarg, &end);
			if (end == optarg || *end || !(secs > 0) ||
			    secs > 3600) {
				fprintf(stderr,
					"valorctl: --timeout wants seconds "
					"(0 to 3600), got '%s'\n",
					optarg);
				return VALORCTL_EUSAGE;
			}
			o.timeout_ms = (int)(secs * 1000 + 0.5);
			if (o.timeout_ms < 1)
				o.timeout_ms = 1;
			break;
		case 'h':
			valorctl_usage(stdout);
			return VALORCTL_OK;
		default:
			valorctl_usage(stderr);
			return VALORCTL_EUSAGE;
		}
	}
	if (optind >= argc) {
		valorctl_usage(stderr);
		return VALORCTL_EUSAGE;
	}
	for (size_t i = 0; i < VALORCTL_NCMDS; i++)
		if (!strcmp(argv[optind], valorctl_cmds[i].name))
			return valorctl_cmds[i].fn(&o, argc - optind - 1,
						   argv + optind + 1);
	fprintf(stderr, "valorctl: unknown command '%s'\n", argv[optind]);
	valorctl_usage(stderr);
	return VALORCTL_EUSAGE;
}
