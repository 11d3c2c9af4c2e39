/* SPDX-License-Identifier: MIT */
/*
 * valor-mgmtd - the cluster manager (DESIGN.md §6).
 *
 *   valor-mgmtd --data DIR [--listen URL] [--secret FILE]
 *               [--heartbeat-timeout S] [-f] [-d] [--pidfile PATH]
 *               [--ctl-socket PATH]
 *
 * One thread runs everything on one poll loop: the RPC server (REGISTER,
 * HEARTBEAT, GET_ROUTING, CHAIN_TABLE_CREATE, STATUS), a tick every 200 ms
 * that fails silent nodes, a signalfd for SIGINT/SIGTERM and the control
 * socket. That thread owns the cluster map (mgmtd/cluster.h, not
 * thread-safe) and its store (mgmtd/store.h).
 *
 * Persistence rule (store.h): whenever a call moved the routing version,
 * the map is saved before the call's reply goes out, so nobody is ever told
 * about a map the disk does not hold; a failed save answers -EIO and is
 * retried by the next request or tick. Heartbeat figures alone (capacity,
 * used, sync progress) do not move the version: they are saved every
 * MGMTD_FIGURES_SAVE_S seconds and at exit.
 *
 * Without -f the program forks; the parent exits 0 once the child listens,
 * or 1 with the child's error on stderr. Exit status 2: bad command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/ctlsock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/url.h"
#include "mgmtd/cluster.h"
#include "mgmtd/store.h"
#include "proto/wire_msg.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

#define MGMTD_DEFAULT_LISTEN "tcp://127.0.0.1:7000"
#define MGMTD_TICK_NS (200ull * 1000 * 1000)
#define MGMTD_FIGURES_SAVE_S 10
#define MGMTD_TIMEOUT_MAX_S 3600

#define mgmtd_container_of(p, type, member)                                    \
	((type *)((char *)(p)-offsetof(type, member)))

/* The served operations, in opcode order: index = opcode - REGISTER. */
enum mgmtd_op {
	MGMTD_OP_REGISTER,
	MGMTD_OP_HEARTBEAT,
	MGMTD_OP_GET_ROUTING,
	MGMTD_OP_CHAIN_TABLE_CREATE,
	MGMTD_OP_STATUS,
	MGMTD_NOPS,
};

struct mgmtd_opts {
	char listen[WIRE_URL_MAX + 1];
	char data[PATH_MAX];
	char secret[PATH_MAX];	   /* "" none */
	char pidfile[PATH_MAX];	   /* "" none */
	char ctl_socket[PATH_MAX]; /* default DIR/mgmtd.sock */
	uint32_t heartbeat_timeout_ms;
	int foreground;
	int debug;
};

/*
 * The server. Everything below is used by the loop thread only. Heap
 * allocated as a whole: the scratch messages are hundreds of KiB, and
 * handlers run one at a time, so one of each is enough.
 */
struct mgmtd {
	struct mgmtd_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct mgmtd_store *store;
	struct mgmtd_cluster *cl;
	struct vrpc_server *srv;
	struct vctl *ctl;
	struct vloop_timer tick;
	struct vloop_watch sig;
	int sig_fd;
	int lock_fd;
	int pidfile_written;
	uint64_t start_ns;

	/* Persistence: what the disk holds, and whether figures moved. */
	uint64_t saved_version;
	uint64_t saved_ns;
	int figures_dirty;
	int save_failing; /* log a failing streak once */
	uint64_t saves, save_errors;

	struct vstats_op ops[MGMTD_NOPS];
	uint64_t bad_bodies;

	struct wire_register_req reg;
	struct wire_heartbeat_req hb;
	struct wire_status status;
	uint8_t out[WIRE_MSG_BODY_MAX];
};

/* ---- command line -------------------------------------------------------- */

static void mgmtd_usage(FILE *f)
{
	fprintf(f,
		"usage: valor-mgmtd --data DIR [options]\n"
		"\n"
		"  --data DIR               where the cluster map is kept "
		"(LMDB; "
		"required)\n"
		"  --listen URL             address to serve "
		"(default " MGMTD_DEFAULT_LISTEN ")\n"
		"  --secret FILE            cluster secret; required to listen "
		"beyond loopback\n"
		"  --heartbeat-timeout S    a node silent this long is failed "
		"(default 5)\n"
		"  -f, --foreground         do not daemonize\n"
		"  --pidfile PATH           write the daemon's pid there\n"
		"  --ctl-socket PATH        control socket (default "
		"DIR/mgmtd.sock)\n"
		"  -d                       debug log (every request)\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: 0 stopped cleanly (or, daemonized, started), 1 "
		"start-up failed,\n"
		"2 bad command line.\n");
}

/* Seconds, fractions allowed, above the 1 s heartbeat interval. */
static int mgmtd_opt_timeout(const char *arg, uint32_t *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s > 1.0) ||
	    s > MGMTD_TIMEOUT_MAX_S) {
		fprintf(stderr,
			"valor-mgmtd: --heartbeat-timeout wants seconds above "
			"the 1 s heartbeat interval (up to %d), got '%s'\n",
			MGMTD_TIMEOUT_MAX_S, arg);
		return -EINVAL;
	}
	*ms = (uint32_t)(s * 1000.0 + 0.5);
	return 0;
}

/* 0 parsed, 1 help printed, -EINVAL (message printed). */
static int mgmtd_parse_args(struct mgmtd_opts *o, int argc, char **argv)
{
	enum { O_LISTEN = 256, O_DATA, O_SECRET, O_TIMEOUT, O_PIDFILE, O_CTL };
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"data", required_argument, NULL, O_DATA},
		{"secret", required_argument, NULL, O_SECRET},
		{"heartbeat-timeout", required_argument, NULL, O_TIMEOUT},
		{"foreground", no_argument, NULL, 'f'},
		{"pidfile", required_argument, NULL, O_PIDFILE},
		{"ctl-socket", required_argument, NULL, O_CTL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *why = NULL;
	struct vurl u;
	int c, ret = 0;

	snprintf(o->listen, sizeof(o->listen), "%s", MGMTD_DEFAULT_LISTEN);
	o->heartbeat_timeout_ms = 5000;
	while (!ret &&
	       (c = getopt_long(argc, argv, "+fdh", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (vurl_parse(&u, optarg, &why) ||
			    strlen(optarg) > WIRE_URL_MAX) {
				fprintf(stderr,
					"valor-mgmtd: --listen: bad URL '%s': "
					"%s\n",
					optarg, why ? why : "too long");
				ret = -EINVAL;
				break;
			}
			snprintf(o->listen, sizeof(o->listen), "%s", optarg);
			break;
		case O_DATA:
			ret = vdaemon_path_arg("valor-mgmtd", "--data", optarg, o->data,
					     sizeof(o->data));
			break;
		case O_SECRET:
			ret = vdaemon_path_arg("valor-mgmtd", "--secret", optarg, o->secret,
					     sizeof(o->secret));
			break;
		case O_TIMEOUT:
			ret = mgmtd_opt_timeout(optarg,
						&o->heartbeat_timeout_ms);
			break;
		case O_PIDFILE:
			ret = vdaemon_path_arg("valor-mgmtd", "--pidfile", optarg, o->pidfile,
					     sizeof(o->pidfile));
			break;
		case O_CTL:
			ret = vdaemon_path_arg("valor-mgmtd", "--ctl-socket", optarg,
					     o->ctl_socket,
					     sizeof(o->ctl_socket));
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'h':
			mgmtd_usage(stdout);
			return 1;
		default: /* getopt named the option */
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "valor-mgmtd: unexpected argument '%s'\n",
			argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && !o->data[0]) {
		fprintf(stderr, "valor-mgmtd: --data DIR is required (where "
				"the cluster map is kept)\n");
		ret = -EINVAL;
	}
	if (!ret && !o->ctl_socket[0] &&
	    snprintf(o->ctl_socket, sizeof(o->ctl_socket), "%s/mgmtd.sock",
		     o->data) >= (int)sizeof(o->ctl_socket)) {
		fprintf(stderr, "valor-mgmtd: --data: path too long\n");
		ret = -EINVAL;
	}
	if (ret)
		fprintf(stderr, "Try 'valor-mgmtd --help'.\n");
	return ret;
}

/* ---- persistence --------------------------------------------------------- */

/*
 * Bring the disk up to the map when the routing version moved (or @figures
 * and heartbeat figures changed). 0, or -EIO when the save failed (logged
 * once per failing streak).
 */
static int mgmtd_persist(struct mgmtd *m, int figures)
{
	uint64_t v = mgmtd_routing_version(m->cl);
	int ret;

	if (v == m->saved_version && !(figures && m->figures_dirty))
		return 0;
	ret = mgmtd_store_save(m->store, m->cl);
	if (ret < 0) {
		m->save_errors++;
		if (!m->save_failing)
			vlog_err("cannot save the cluster map (routing version "
				 "%llu) in %s: %s; answering -EIO until it "
				 "works",
				 (unsigned long long)v, m->o.data,
				 strerror(-ret));
		m->save_failing = 1;
		return -EIO;
	}
	if (m->save_failing)
		vlog_info("cluster map saved again (routing version %llu)",
			  (unsigned long long)v);
	m->save_failing = 0;
	m->saves++;
	m->saved_version = v;
	m->saved_ns = vloop_now_ns();
	m->figures_dirty = 0;
	return 0;
}

/* ---- handlers ------------------------------------------------------------ */

/* Answer, and count the request under @op. */
static void mgmtd_reply(struct mgmtd *m, struct vrpc_req *req, enum mgmtd_op op,
			uint64_t t0, int status, size_t len)
{
	vstats_op_add(&m->ops[op], vloop_now_ns() - t0, status);
	vlog_debug("%s from %s: %s", wire_op_name(req->opcode),
		   vrpc_req_peer(req), status ? strerror(-status) : "ok");
	vrpc_reply(req, status, status ? NULL : m->out,
		   status ? 0 : (uint32_t)len, NULL, 0);
}

/* A body that does not decode: logged, answered -EBADMSG. */
static int mgmtd_bad_body(struct mgmtd *m, struct vrpc_req *req, int err)
{
	m->bad_bodies++;
	vlog_warn("%s from %s: malformed body (%u bytes): %s",
		  wire_op_name(req->opcode), vrpc_req_peer(req), req->body_len,
		  strerror(-err));
	return -EBADMSG;
}

static void mgmtd_on_register(struct vrpc_req *req, void *arg)
{
	struct mgmtd *m = arg;
	const struct wire_register_req *q = &m->reg;
	uint64_t t0 = vloop_now_ns();
	struct wire_register_resp resp;
	uint32_t n, last_id;
	size_t len = 0;
	int ret;

	ret = wire_register_req_decode(req->body, req->body_len, &m->reg);
	if (ret < 0) {
		ret = mgmtd_bad_body(m, req, ret);
		goto out_reply;
	}
	/* Ids are never reused and nodes are sorted by id: a new node's id
	 * is above every id known now. */
	n = mgmtd_node_count(m->cl);
	last_id = n ? mgmtd_node_at(m->cl, n - 1)->id : 0;
	ret = mgmtd_register(m->cl, q, t0, &resp);
	if (ret < 0) {
		vlog_warn("REGISTER from %s (%s at '%s', node id %u) refused: "
			  "%s",
			  vrpc_req_peer(req), wire_role_name(q->role), q->url,
			  q->node_id, strerror(-ret));
		goto out_reply;
	}
	ret = mgmtd_persist(m, 0);
	if (ret < 0)
		goto out_reply;
	/* cluster.c logs new nodes; returning ones are news here. */
	vlog(resp.node_id <= last_id ? VLOG_INFO : VLOG_DEBUG,
	     "node %u registered from %s: %s at '%s' on %s, %u target(s); "
	     "routing version %llu",
	     resp.node_id, vrpc_req_peer(req), wire_role_name(q->role), q->url,
	     q->hostname, q->ntargets,
	     (unsigned long long)mgmtd_routing_version(m->cl));
	ret = wire_register_resp_encode(&resp, m->out, sizeof(m->out), &len);
out_reply:
	mgmtd_reply(m, req, MGMTD_OP_REGISTER, t0, ret, len);
}

static void mgmtd_on_heartbeat(struct vrpc_req *req, void *arg)
{
	struct mgmtd *m = arg;
	uint64_t t0 = vloop_now_ns();
	uint64_t v0 = mgmtd_routing_version(m->cl);
	struct wire_heartbeat_resp resp;
	size_t len = 0;
	int ret;

	ret = wire_heartbeat_req_decode(req->body, req->body_len, &m->hb);
	if (ret < 0) {
		ret = mgmtd_bad_body(m, req, ret);
		goto out_reply;
	}
	ret = mgmtd_heartbeat(m->cl, &m->hb, t0, &resp);
	if (ret < 0) {
		/* -ENOENT tells the node to register again: routine. */
		vlog(ret == -ENOENT ? VLOG_INFO : VLOG_WARN,
		     "HEARTBEAT from %s (node %u) refused: %s",
		     vrpc_req_peer(req), m->hb.node_id, strerror(-ret));
		goto out_reply;
	}
	if (resp.routing_version != v0)
		vlog_info("routing version %llu: heartbeat of node %u changed "
			  "target states",
			  (unsigned long long)resp.routing_version,
			  m->hb.node_id);
	else
		m->figures_dirty = 1;
	ret = mgmtd_persist(m, 0);
	if (ret < 0)
		goto out_reply;
	ret = wire_heartbeat_resp_encode(&resp, m->out, sizeof(m->out), &len);
out_reply:
	mgmtd_reply(m, req, MGMTD_OP_HEARTBEAT, t0, ret, len);
}

static void mgmtd_on_get_routing(struct vrpc_req *req, void *arg)
{
	struct mgmtd *m = arg;
	uint64_t t0 = vloop_now_ns();
	struct wire_routing_req q;
	size_t len = 0;
	int ret;

	ret = wire_routing_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = mgmtd_bad_body(m, req, ret);
		goto out_reply;
	}
	/* Never serve a version the disk does not hold. */
	ret = mgmtd_persist(m, 0);
	if (ret < 0)
		goto out_reply;
	mgmtd_routing(m->cl, q.since_version, &m->status.routing);
	ret = wire_routing_encode(&m->status.routing, m->out, sizeof(m->out),
				  &len);
out_reply:
	mgmtd_reply(m, req, MGMTD_OP_GET_ROUTING, t0, ret, len);
}

static void mgmtd_on_chain_table_create(struct vrpc_req *req, void *arg)
{
	struct mgmtd *m = arg;
	uint64_t t0 = vloop_now_ns();
	struct wire_chain_table_create_req q;
	struct wire_chain_table_create_resp resp;
	size_t len = 0;
	int ret;

	ret = wire_chain_table_create_req_decode(req->body, req->body_len, &q);
	if (ret < 0) {
		ret = mgmtd_bad_body(m, req, ret);
		goto out_reply;
	}
	ret = mgmtd_chain_table_create(m->cl, q.replicas, q.chains, &resp);
	if (ret < 0) {
		vlog_warn("CHAIN_TABLE_CREATE from %s (%u replicas, %u chains) "
			  "refused: %s",
			  vrpc_req_peer(req), q.replicas, q.chains,
			  strerror(-ret));
		goto out_reply;
	}
	ret = mgmtd_persist(m, 0);
	if (ret < 0)
		goto out_reply;
	vlog_debug("chain table version %u created from %s: %u chains of %u "
		   "replicas; routing version %llu",
		   resp.table_version, vrpc_req_peer(req), resp.nchains,
		   q.replicas,
		   (unsigned long long)mgmtd_routing_version(m->cl));
	ret = wire_chain_table_create_resp_encode(&resp, m->out, sizeof(m->out),
						  &len);
out_reply:
	mgmtd_reply(m, req, MGMTD_OP_CHAIN_TABLE_CREATE, t0, ret, len);
}

static uint32_t mgmtd_wire_node_state(enum mgmtd_node_state s)
{
	switch (s) {
	case MGMTD_NODE_PENDING:
		return WIRE_NODE_PENDING;
	case MGMTD_NODE_ALIVE:
		return WIRE_NODE_ALIVE;
	case MGMTD_NODE_FAILED:
	default:
		return WIRE_NODE_FAILED;
	}
}

static void mgmtd_on_status(struct vrpc_req *req, void *arg)
{
	struct mgmtd *m = arg;
	struct wire_status *s = &m->status;
	uint64_t t0 = vloop_now_ns();
	size_t len = 0;
	int ret;

	if (req->body_len) {
		ret = mgmtd_bad_body(m, req, -EBADMSG);
		goto out_reply;
	}
	ret = mgmtd_persist(m, 0);
	if (ret < 0)
		goto out_reply;
	s->uptime_ms = (t0 - m->start_ns) / 1000000;
	s->heartbeat_timeout_ms =
		mgmtd_cluster_config(m->cl)->heartbeat_timeout_ms;
	mgmtd_routing(m->cl, 0, &s->routing);
	/* Routing lists the nodes in the cluster's order. */
	for (uint32_t i = 0; i < s->routing.nnodes; i++) {
		const struct mgmtd_node *n = mgmtd_node_at(m->cl, i);

		s->nodes[i].state = mgmtd_wire_node_state(n->state);
		s->nodes[i].silent_ms =
			t0 > n->last_heartbeat_ns
				? (t0 - n->last_heartbeat_ns) / 1000000
				: 0;
	}
	ret = wire_status_encode(s, m->out, sizeof(m->out), &len);
out_reply:
	mgmtd_reply(m, req, MGMTD_OP_STATUS, t0, ret, len);
}

/* Indexed by opcode; holes (and everything past the table) get -ENOSYS. */
static const struct vrpc_handler mgmtd_handlers[] = {
	[WIRE_MGMTD_REGISTER] = {mgmtd_on_register, "REGISTER"},
	[WIRE_MGMTD_HEARTBEAT] = {mgmtd_on_heartbeat, "HEARTBEAT"},
	[WIRE_MGMTD_GET_ROUTING] = {mgmtd_on_get_routing, "GET_ROUTING"},
	[WIRE_MGMTD_CHAIN_TABLE_CREATE] = {mgmtd_on_chain_table_create,
					   "CHAIN_TABLE_CREATE"},
	[WIRE_MGMTD_STATUS] = {mgmtd_on_status, "STATUS"},
};

#define MGMTD_NHANDLERS (sizeof(mgmtd_handlers) / sizeof(mgmtd_handlers[0]))

_Static_assert(WIRE_MGMTD_STATUS - WIRE_MGMTD_REGISTER == MGMTD_OP_STATUS,
	       "enum mgmtd_op follows the opcodes");

/* ---- tick, signals ------------------------------------------------------- */

static void mgmtd_on_tick(struct vloop_timer *t)
{
	struct mgmtd *m = mgmtd_container_of(t, struct mgmtd, tick);
	uint64_t now = vloop_now_ns();
	int failed;

	/* cluster.c logs each node that fails. */
	failed = mgmtd_tick(m->cl, now);
	if (failed > 0)
		vlog_warn("%d node(s) failed; routing version %llu", failed,
			  (unsigned long long)mgmtd_routing_version(m->cl));
	mgmtd_persist(m, now - m->saved_ns >=
				 MGMTD_FIGURES_SAVE_S * 1000000000ull);
	vloop_timer_add(m->loop, t, MGMTD_TICK_NS);
}

static void mgmtd_on_signal(struct vloop_watch *w, uint32_t revents)
{
	struct mgmtd *m = mgmtd_container_of(w, struct mgmtd, sig);
	struct signalfd_siginfo si;

	if (read(m->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vlog_info("signal %u: stopping", si.ssi_signo);
	vloop_stop(m->loop);
}

/* ---- control socket ------------------------------------------------------ */

static void mgmtd_json_str(struct vctl_buf *b, const char *s)
{
	vctl_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			vctl_printf(b, "\\%c", c);
		else if (c < 0x20)
			vctl_printf(b, "\\u%04x", c);
		else
			vctl_printf(b, "%c", c);
	}
	vctl_printf(b, "\"");
}

static void mgmtd_report(void *arg, int json, struct vctl_buf *b)
{
	struct mgmtd *m = arg;
	double up = (vloop_now_ns() - m->start_ns) / 1e9;
	uint32_t nn = mgmtd_node_count(m->cl), alive = 0, table_version, ntab;

	for (uint32_t i = 0; i < nn; i++)
		alive += mgmtd_node_at(m->cl, i)->state != MGMTD_NODE_FAILED;
	mgmtd_chain_table(m->cl, &table_version, &ntab);

	if (json) {
		vctl_printf(b,
			    "{\"program\":\"valor-mgmtd\",\"pid\":%d,"
			    "\"listen\":",
			    (int)getpid());
		mgmtd_json_str(b, m->o.listen);
		vctl_printf(b, ",\"data\":");
		mgmtd_json_str(b, m->o.data);
		vctl_printf(b,
			    ",\"uptime_s\":%.1f,\"routing_version\":%llu,"
			    "\"nodes\":%u,\"nodes_alive\":%u,\"targets\":%u,"
			    "\"chains\":%u,\"table_version\":%u,\"saves\":%llu,"
			    "\"save_errors\":%llu,\"bad_bodies\":%llu,"
			    "\"ops\":{",
			    up,
			    (unsigned long long)mgmtd_routing_version(m->cl),
			    nn, alive, mgmtd_target_count(m->cl),
			    mgmtd_chain_count(m->cl), table_version,
			    (unsigned long long)m->saves,
			    (unsigned long long)m->save_errors,
			    (unsigned long long)m->bad_bodies);
		for (int i = 0; i < MGMTD_NOPS; i++) {
			const struct vstats_op *o = &m->ops[i];
			uint64_t cnt = o->count;

			vctl_printf(
				b,
				"%s\"%s\":{\"count\":%llu,\"errors\":%llu,"
				"\"avg_us\":%.1f,\"p50_us\":%.0f,"
				"\"p99_us\":%.0f}",
				i ? "," : "",
				mgmtd_handlers[WIRE_MGMTD_REGISTER + i].name,
				(unsigned long long)cnt,
				(unsigned long long)o->errors,
				cnt ? o->ns_total / 1e3 / (double)cnt : 0.0,
				vstats_op_quantile_us(o, 0.5),
				vstats_op_quantile_us(o, 0.99));
		}
		vctl_printf(b, "}}\n");
		return;
	}

	vctl_printf(b, "valor-mgmtd pid %d: %s, data %s, up %.1f s\n",
		    (int)getpid(), m->o.listen, m->o.data, up);
	vctl_printf(b,
		    "routing version %llu, %u nodes (%u alive), %u targets, "
		    "%u chains, chain table version %u\n",
		    (unsigned long long)mgmtd_routing_version(m->cl), nn, alive,
		    mgmtd_target_count(m->cl), mgmtd_chain_count(m->cl),
		    table_version);
	vctl_printf(b,
		    "store: %llu saves, %llu errors; %llu malformed "
		    "requests\n\n",
		    (unsigned long long)m->saves,
		    (unsigned long long)m->save_errors,
		    (unsigned long long)m->bad_bodies);
	vctl_printf(b, "%-20s %12s %10s %10s %10s %10s\n", "op", "count",
		    "errors", "avg_us", "p50_us", "p99_us");
	for (int i = 0; i < MGMTD_NOPS; i++) {
		const struct vstats_op *o = &m->ops[i];
		uint64_t cnt = o->count;

		vctl_printf(b, "%-20s %12llu %10llu %10.1f %10.0f %10.0f\n",
			    mgmtd_handlers[WIRE_MGMTD_REGISTER + i].name,
			    (unsigned long long)cnt,
			    (unsigned long long)o->errors,
			    cnt ? o->ns_total / 1e3 / (double)cnt : 0.0,
			    vstats_op_quantile_us(o, 0.5),
			    vstats_op_quantile_us(o, 0.99));
	}
}

/* ---- start and stop ------------------------------------------------------ */

/* One mgmtd per data directory: a second one would fork the map. */
static int mgmtd_lock_data(struct mgmtd *m)
{
	char path[PATH_MAX + 16];
	int ret;

	snprintf(path, sizeof(path), "%s/mgmtd.lock", m->o.data);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock_fd < 0) {
		ret = -errno;
		vlog_err("%s: %s", path, strerror(-ret));
		return ret;
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		if (ret == -EWOULDBLOCK)
			vlog_err("another valor-mgmtd is using %s", m->o.data);
		else
			vlog_err("%s: flock: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

static int mgmtd_open_signals(struct mgmtd *m)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sig_fd < 0)
		return -errno;
	m->sig.fd = m->sig_fd;
	m->sig.events = POLLIN;
	m->sig.cb = mgmtd_on_signal;
	return vloop_watch_add(m->loop, &m->sig);
}

/* Everything up to listening; each failure is logged. Undone by _stop. */
static int mgmtd_start(struct mgmtd *m)
{
	struct mgmtd_config cfg;
	int ret;

	m->start_ns = vloop_now_ns();
	ret = vloop_new(&m->loop, VLOOP_POLL, 0, 0);
	if (ret < 0) {
		vlog_err("event loop: %s", strerror(-ret));
		return ret;
	}
	ret = mgmtd_open_signals(m);
	if (ret < 0) {
		vlog_err("signalfd: %s", strerror(-ret));
		return ret;
	}
	if (m->o.secret[0]) {
		ret = vauth_secret_load(m->o.secret, &m->secret);
		if (ret < 0) {
			vlog_err("--secret %s: unusable (%s)", m->o.secret,
				 strerror(-ret));
			return ret;
		}
	}

	ret = mgmtd_store_open(m->o.data, &m->store);
	if (ret < 0) {
		vlog_err("--data %s: cannot open the store: %s", m->o.data,
			 strerror(-ret));
		return ret;
	}
	ret = mgmtd_lock_data(m);
	if (ret < 0)
		return ret;
	mgmtd_config_defaults(&cfg);
	cfg.heartbeat_timeout_ms = m->o.heartbeat_timeout_ms;
	ret = mgmtd_store_load(m->store, &cfg, vloop_now_ns(), &m->cl);
	if (ret < 0) {
		vlog_err("--data %s: cannot load the cluster map: %s; not "
			 "starting (an empty map would lose the cluster)",
			 m->o.data, strerror(-ret));
		return ret;
	}
	m->saved_version = mgmtd_routing_version(m->cl);
	m->saved_ns = vloop_now_ns();

	ret = vrpc_server_new(m->loop, m->o.listen, m->secret, mgmtd_handlers,
			      MGMTD_NHANDLERS, m, &m->srv);
	if (ret < 0) {
		vlog_err("cannot serve %s: %s%s", m->o.listen, strerror(-ret),
			 ret == -EADDRINUSE ? " (another valor-mgmtd?)" : "");
		return ret;
	}
	ret = vctl_open(&m->ctl, m->loop, m->o.ctl_socket, mgmtd_report, m);
	if (ret < 0) {
		vlog_warn("no control socket (%s): valorctl stats will not "
			  "reach this mgmtd",
			  strerror(-ret));
		m->ctl = NULL;
	}
	if (m->o.pidfile[0]) {
		ret = vdaemon_write_pidfile(m->o.pidfile);
		if (ret < 0)
			return ret;
		m->pidfile_written = 1;
	}
	vloop_timer_init(&m->tick, mgmtd_on_tick);
	ret = vloop_timer_add(m->loop, &m->tick, MGMTD_TICK_NS);
	if (ret < 0)
		return ret;
	vlog_info("serving %s%s, data %s, heartbeat timeout %.1f s, routing "
		  "version %llu, control socket %s",
		  m->o.listen, m->secret ? " (authenticated)" : "", m->o.data,
		  m->o.heartbeat_timeout_ms / 1e3,
		  (unsigned long long)mgmtd_routing_version(m->cl),
		  m->ctl ? m->o.ctl_socket : "none");
	return 0;
}

/* Undo whatever _start did; saves the map one last time. */
static void mgmtd_stop(struct mgmtd *m)
{
	if (m->cl && m->store)
		mgmtd_persist(m, 1);
	vctl_close(m->ctl);
	vrpc_server_free(m->srv);
	mgmtd_cluster_free(m->cl);
	mgmtd_store_close(m->store);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	vloop_free(m->loop);
	vauth_secret_free(m->secret);
	if (m->pidfile_written)
		unlink(m->o.pidfile);
}

static int mgmtd_serve_start(void *arg)
{
	return mgmtd_start(arg);
}

static int mgmtd_serve_run(void *arg)
{
	struct mgmtd *m = arg;
	int ret = vloop_run(m->loop);

	vlog_info("stopped at routing version %llu",
		  (unsigned long long)mgmtd_routing_version(m->cl));
	return ret;
}

static void mgmtd_serve_stop(void *arg)
{
	mgmtd_stop(arg);
}

static const struct vdaemon_server mgmtd_server = {
	.name = "valor-mgmtd",
	.start = mgmtd_serve_start,
	.run = mgmtd_serve_run,
	.stop = mgmtd_serve_stop,
};

int main(int argc, char **argv)
{
	struct mgmtd *m;
	int ret, status;

	vlog_set_ident("valor-mgmtd");
	m = calloc(1, sizeof(*m));
	if (!m) {
		fprintf(stderr, "valor-mgmtd: out of memory\n");
		return 1;
	}
	m->sig_fd = m->lock_fd = -1;
	ret = mgmtd_parse_args(&m->o, argc, argv);
	if (ret) {
		free(m);
		return ret > 0 ? 0 : 2;
	}
	if (m->o.debug)
		vlog_set_level(VLOG_DEBUG);

	status = vdaemon_serve(&mgmtd_server, m, m->o.foreground, NULL);
	free(m);
	return status;
}
