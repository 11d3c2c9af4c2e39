/* SPDX-License-Identifier: MIT */
/*
 * valor-testnode - a stand-in storage node for tests, until valor-storaged.
 *
 *   valor-testnode --mgmtd URL --url tcp://127.0.0.1:PORT --host NAME
 *                  --targets N [--secret FILE] [--data DIR]
 *                  [--state uptodate|online] [--pidfile PATH]
 *                  [--ctl-socket PATH] [-f|--foreground] [-d]
 *
 * A real registrant speaking the real protocol: it listens on --url (every
 * request is answered -ENOSYS: it stores nothing), registers with mgmtd as
 * a storage node offering N targets (DIR/t0, DIR/t1, ...), heartbeats every
 * interval mgmtd gives, reporting every target in the local state --state
 * says (default uptodate), and pulls routing when the version moves to log
 * what mgmtd made of its targets. mgmtd answering a heartbeat -ENOENT (it
 * forgot the node) makes it register again. Signals: SIGUSR1 switches the
 * reported state to uptodate (a test drives syncing -> serving with it),
 * SIGUSR2 to online, SIGTERM/SIGINT stop it.
 *
 * A restarted storage service must report its targets online, not up to
 * date, until mgmtd has seen them offline (mgmtd/cluster.h): tests restart
 * a node with --state online.
 *
 * Without -f it daemonizes; the parent exits 0 once the node listens (the
 * registration goes on in the background), 1 on a start-up error, 2 for a
 * bad command line.
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
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/ctlsock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/url.h"
#include "proto/wire_msg.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

#define TNODE_CALL_TIMEOUT_MS 2000
#define TNODE_CAPACITY_DEFAULT (1ull << 30)

#define tnode_container_of(p, type, member)                                    \
	((type *)((char *)(p)-offsetof(type, member)))

struct tnode_opts {
	const char *mgmtd;
	const char *secret;
	const char *url;
	const char *host;
	char data[WIRE_PATH_MAX - 16]; /* room for "/tN" */
	int data_given;		       /* else the paths are only names */
	char pidfile[PATH_MAX];
	char ctl_socket[PATH_MAX];
	uint32_t ntargets;
	enum wire_local_state state;
	int foreground;
	int debug;
};

/* Loop thread only. Heap: the register request and routing are large. */
struct tnode {
	struct tnode_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct vrpc_server *srv;
	struct vrpc_client *cli;
	struct vctl *ctl;
	struct vloop_timer tick;
	struct vloop_watch sig;
	int sig_fd;
	int pidfile_written;

	/* What mgmtd told us. */
	uint32_t node_id; /* 0: not registered */
	uint32_t target_ids[WIRE_MAX_TARGETS_PER_NODE];
	uint32_t interval_ms;
	uint64_t routing_version; /* of the routing we pulled */
	uint64_t latest_version;  /* the newest a heartbeat announced */
	uint32_t public_state[WIRE_MAX_TARGETS_PER_NODE];

	/* One control call (register or heartbeat) and one routing pull. */
	struct vrpc_call ctl_call;
	int ctl_busy;
	struct vrpc_call rt_call;
	int rt_busy;
	uint8_t rt_body[WIRE_ROUTING_REQ_LEN];
	uint8_t body[WIRE_REGISTER_REQ_MAX_LEN];

	uint64_t n_register, n_heartbeat, n_errors, n_routing;

	struct wire_register_req reg;
	struct wire_heartbeat_req hb;
	struct wire_routing routing;
};

static void tnode_tick_soon(struct tnode *t, uint64_t ms)
{
	vloop_timer_add(t->loop, &t->tick, ms * 1000000ull);
}

/* ---- the target figures -------------------------------------------------- */

static void tnode_target_path(const struct tnode *t, uint32_t i, char *buf,
			      size_t len)
{
	snprintf(buf, len, "%s/t%u", t->o.data, i);
}

/* Capacity and use of target @i's file system, or a fixed 1 GiB. */
static void tnode_target_space(const struct tnode *t, uint32_t i,
			       uint64_t *capacity, uint64_t *used)
{
	char path[PATH_MAX + 16];
	struct statvfs sv;

	tnode_target_path(t, i, path, sizeof(path));
	if (statvfs(path, &sv)) {
		*capacity = TNODE_CAPACITY_DEFAULT;
		*used = 0;
		return;
	}
	*capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
	*used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

/* ---- calls to mgmtd ------------------------------------------------------ */

static void tnode_on_routing(struct vrpc_call *call,
			     const struct vrpc_result *res, void *arg)
{
	struct tnode *t = arg;
	int ret;

	t->rt_busy = 0;
	if (res->status) {
		vlog_debug("GET_ROUTING: %s", strerror(-res->status));
		return;
	}
	ret = wire_routing_decode(res->body, res->body_len, &t->routing);
	if (ret < 0) {
		vlog_warn("GET_ROUTING: the reply does not decode: %s",
			  strerror(-ret));
		return;
	}
	t->n_routing++;
	if (t->routing.unchanged)
		return;
	t->routing_version = t->routing.version;
	for (uint32_t i = 0; i < t->o.ntargets; i++) {
		for (uint32_t j = 0; j < t->routing.ntargets; j++) {
			const struct wire_routing_target *w =
				&t->routing.targets[j];

			if (w->id != t->target_ids[i] ||
			    w->public_state == t->public_state[i])
				continue;
			t->public_state[i] = w->public_state;
			vlog_info("target %u is %s (routing version %llu)",
				  w->id,
				  wire_public_state_name(w->public_state),
				  (unsigned long long)t->routing_version);
		}
	}
}

/* Pull routing when a heartbeat announced a newer one. */
static void tnode_pull_routing(struct tnode *t)
{
	struct wire_routing_req q = {.since_version = t->routing_version};
	size_t len;
	int ret;

	if (t->rt_busy || t->latest_version <= t->routing_version)
		return;
	if (wire_routing_req_encode(&q, t->rt_body, sizeof(t->rt_body), &len))
		return;
	ret = vrpc_call(t->cli, WIRE_MGMTD_GET_ROUTING, t->rt_body,
			(uint32_t)len, NULL, 0, NULL, 0, TNODE_CALL_TIMEOUT_MS,
			tnode_on_routing, t, &t->rt_call);
	if (ret == 0)
		t->rt_busy = 1;
}

static void tnode_on_register(struct vrpc_call *call,
			      const struct vrpc_result *res, void *arg)
{
	struct tnode *t = arg;
	struct wire_register_resp resp;
	int ret;

	t->ctl_busy = 0;
	ret = res->status;
	if (!ret)
		ret = wire_register_resp_decode(res->body, res->body_len,
						&resp);
	if (!ret && resp.ntargets != t->o.ntargets)
		ret = -EPROTO;
	if (ret) {
		t->n_errors++;
		vlog(ret == -ETIMEDOUT || ret == -ECONNRESET ? VLOG_INFO
							     : VLOG_WARN,
		     "REGISTER with %s: %s; retrying", t->o.mgmtd,
		     strerror(-ret));
		return;
	}
	t->n_register++;
	t->node_id = resp.node_id;
	memcpy(t->target_ids, resp.target_ids,
	       resp.ntargets * sizeof(resp.target_ids[0]));
	if (resp.heartbeat_interval_ms)
		t->interval_ms = resp.heartbeat_interval_ms;
	vlog_info("registered with %s as node %u, %u target(s) from id %u, "
		  "heartbeat every %u ms",
		  t->o.mgmtd, t->node_id, resp.ntargets,
		  resp.ntargets ? resp.target_ids[0] : 0, t->interval_ms);
	tnode_tick_soon(t, 0); /* report the local states at once */
}

static void tnode_on_heartbeat(struct vrpc_call *call,
			       const struct vrpc_result *res, void *arg)
{
	struct tnode *t = arg;
	struct wire_heartbeat_resp resp;
	int ret;

	t->ctl_busy = 0;
	ret = res->status;
	if (!ret)
		ret = wire_heartbeat_resp_decode(res->body, res->body_len,
						 &resp);
	if (ret == -ENOENT && !res->local) {
		vlog_warn("mgmtd does not know node %u: registering again",
			  t->node_id);
		t->node_id = 0;
		tnode_tick_soon(t, 0);
		return;
	}
	if (ret) {
		t->n_errors++;
		vlog_info("HEARTBEAT: %s", strerror(-ret));
		return;
	}
	t->n_heartbeat++;
	if (resp.routing_version > t->latest_version)
		t->latest_version = resp.routing_version;
	tnode_pull_routing(t);
}

static int tnode_send_register(struct tnode *t)
{
	struct wire_register_req *q = &t->reg;
	size_t len;
	int ret;

	memset(q, 0, sizeof(*q));
	q->node_id = 0; /* mgmtd finds us by url and role */
	q->role = WIRE_ROLE_STORAGE;
	snprintf(q->url, sizeof(q->url), "%s", t->o.url);
	snprintf(q->hostname, sizeof(q->hostname), "%s", t->o.host);
	q->ntargets = t->o.ntargets;
	for (uint32_t i = 0; i < t->o.ntargets; i++) {
		tnode_target_path(t, i, q->targets[i].path,
				  sizeof(q->targets[i].path));
		tnode_target_space(t, i, &q->targets[i].capacity,
				   &q->targets[i].used);
	}
	ret = wire_register_req_encode(q, t->body, sizeof(t->body), &len);
	if (ret < 0)
		return ret;
	ret = vrpc_call(t->cli, WIRE_MGMTD_REGISTER, t->body, (uint32_t)len,
			NULL, 0, NULL, 0, TNODE_CALL_TIMEOUT_MS,
			tnode_on_register, t, &t->ctl_call);
	if (ret == 0)
		t->ctl_busy = 1;
	return ret;
}

static int tnode_send_heartbeat(struct tnode *t)
{
	struct wire_heartbeat_req *q = &t->hb;
	size_t len;
	int ret;

	memset(q, 0, sizeof(*q));
	q->node_id = t->node_id;
	q->routing_version = t->routing_version;
	q->ntargets = t->o.ntargets;
	for (uint32_t i = 0; i < t->o.ntargets; i++) {
		q->targets[i].id = t->target_ids[i];
		q->targets[i].local_state = t->o.state;
		tnode_target_space(t, i, &q->targets[i].capacity,
				   &q->targets[i].used);
	}
	ret = wire_heartbeat_req_encode(q, t->body, sizeof(t->body), &len);
	if (ret < 0)
		return ret;
	ret = vrpc_call(t->cli, WIRE_MGMTD_HEARTBEAT, t->body, (uint32_t)len,
			NULL, 0, NULL, 0, TNODE_CALL_TIMEOUT_MS,
			tnode_on_heartbeat, t, &t->ctl_call);
	if (ret == 0)
		t->ctl_busy = 1;
	return ret;
}

static void tnode_on_tick(struct vloop_timer *tm)
{
	struct tnode *t = tnode_container_of(tm, struct tnode, tick);
	int ret = 0;

	tnode_tick_soon(t, t->interval_ms);
	if (t->ctl_busy)
		return; /* the last one has not come back yet */
	if (t->node_id)
		ret = tnode_send_heartbeat(t);
	else
		ret = tnode_send_register(t);
	if (ret < 0)
		vlog_err("cannot call mgmtd: %s", strerror(-ret));
}

/* ---- signals, control socket -------------------------------------------- */

static void tnode_on_signal(struct vloop_watch *w, uint32_t revents)
{
	struct tnode *t = tnode_container_of(w, struct tnode, sig);
	struct signalfd_siginfo si;

	if (read(t->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
		t->o.state = si.ssi_signo == SIGUSR1 ? WIRE_LOCAL_UPTODATE
						     : WIRE_LOCAL_ONLINE;
		vlog_info("reporting targets %s from now on",
			  wire_local_state_name(t->o.state));
		if (t->node_id)
			tnode_tick_soon(t, 0);
		return;
	}
	vlog_info("signal %u: stopping", si.ssi_signo);
	vloop_stop(t->loop);
}

static void tnode_report(void *arg, int json, struct vctl_buf *b)
{
	struct tnode *t = arg;

	vctl_printf(b,
		    json ? "{\"program\":\"valor-testnode\",\"pid\":%d,"
			   "\"node_id\":%u,\"routing_version\":%llu,"
			   "\"registrations\":%llu,\"heartbeats\":%llu,"
			   "\"routing_pulls\":%llu,\"errors\":%llu,"
			   "\"state\":\"%s\"}\n"
			 : "valor-testnode pid %d: node %u, routing version "
			   "%llu\nregistrations %llu, heartbeats %llu, routing "
			   "pulls %llu, errors %llu, reporting %s\n",
		    (int)getpid(), t->node_id,
		    (unsigned long long)t->routing_version,
		    (unsigned long long)t->n_register,
		    (unsigned long long)t->n_heartbeat,
		    (unsigned long long)t->n_routing,
		    (unsigned long long)t->n_errors,
		    wire_local_state_name(t->o.state));
}

/* ---- command line -------------------------------------------------------- */

static void tnode_usage(FILE *f)
{
	fprintf(f,
		"usage: valor-testnode --mgmtd URL --url tcp://HOST:PORT "
		"--host NAME --targets N\n"
		"                      [--secret FILE] [--data DIR] [--state "
		"uptodate|online]\n"
		"                      [--pidfile PATH] [--ctl-socket PATH] "
		"[-f] [-d]\n"
		"A stand-in storage node for tests: registers N targets "
		"(DIR/t0, ...) and\nheartbeats them. SIGUSR1: report "
		"uptodate, SIGUSR2: report online.\n");
}

static int tnode_path_opt(const char *opt, const char *arg, char *out,
			  size_t len)
{
	char cwd[PATH_MAX];
	int n;

	if (arg[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		n = snprintf(out, len, "%s", arg);
	else
		n = snprintf(out, len, "%s/%s", cwd, arg);
	if (!arg[0] || n < 0 || (size_t)n >= len) {
		fprintf(stderr, "valor-testnode: %s wants a path, got '%s'\n",
			opt, arg);
		return -EINVAL;
	}
	return 0;
}

/* 0, 1 help printed, -EINVAL (message printed). */
static int tnode_parse_args(struct tnode_opts *o, int argc, char **argv)
{
	enum {
		O_MGMTD = 256,
		O_SECRET,
		O_URL,
		O_HOST,
		O_TARGETS,
		O_DATA,
		O_STATE,
		O_PIDFILE,
		O_CTL
	};
	static const struct option longopts[] = {
		{"mgmtd", required_argument, NULL, O_MGMTD},
		{"secret", required_argument, NULL, O_SECRET},
		{"url", required_argument, NULL, O_URL},
		{"host", required_argument, NULL, O_HOST},
		{"targets", required_argument, NULL, O_TARGETS},
		{"data", required_argument, NULL, O_DATA},
		{"state", required_argument, NULL, O_STATE},
		{"pidfile", required_argument, NULL, O_PIDFILE},
		{"ctl-socket", required_argument, NULL, O_CTL},
		{"foreground", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *why = NULL;
	struct vurl u;
	char *end;
	unsigned long n;
	int c, ret = 0;

	o->state = WIRE_LOCAL_UPTODATE;
	while (!ret &&
	       (c = getopt_long(argc, argv, "+fdh", longopts, NULL)) != -1) {
		switch (c) {
		case O_MGMTD:
			o->mgmtd = optarg;
			break;
		case O_SECRET:
			o->secret = optarg;
			break;
		case O_URL:
			o->url = optarg;
			break;
		case O_HOST:
			o->host = optarg;
			break;
		case O_TARGETS:
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end ||
			    n > WIRE_MAX_TARGETS_PER_NODE) {
				fprintf(stderr,
					"valor-testnode: --targets "
					"wants 0 to %d, got '%s'\n",
					WIRE_MAX_TARGETS_PER_NODE, optarg);
				ret = -EINVAL;
			}
			o->ntargets = (uint32_t)n;
			break;
		case O_DATA:
			ret = tnode_path_opt("--data", optarg, o->data,
					     sizeof(o->data));
			o->data_given = 1;
			break;
		case O_STATE:
			if (!strcmp(optarg, "uptodate")) {
				o->state = WIRE_LOCAL_UPTODATE;
			} else if (!strcmp(optarg, "online")) {
				o->state = WIRE_LOCAL_ONLINE;
			} else {
				fprintf(stderr,
					"valor-testnode: --state wants "
					"uptodate or online, got "
					"'%s'\n",
					optarg);
				ret = -EINVAL;
			}
			break;
		case O_PIDFILE:
			ret = tnode_path_opt("--pidfile", optarg, o->pidfile,
					     sizeof(o->pidfile));
			break;
		case O_CTL:
			ret = tnode_path_opt("--ctl-socket", optarg,
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
			tnode_usage(stdout);
			return 1;
		default:
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "valor-testnode: unexpected argument '%s'\n",
			argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && (!o->mgmtd || !o->url || !o->host)) {
		fprintf(stderr, "valor-testnode: --mgmtd, --url and --host are "
				"required\n");
		ret = -EINVAL;
	}
	if (!ret &&
	    (vurl_parse(&u, o->url, &why) || strlen(o->url) > WIRE_URL_MAX)) {
		fprintf(stderr, "valor-testnode: --url: bad URL '%s': %s\n",
			o->url, why ? why : "too long");
		ret = -EINVAL;
	}
	if (!ret && (!o->host[0] || strlen(o->host) > WIRE_HOSTNAME_MAX)) {
		fprintf(stderr, "valor-testnode: --host wants 1 to %d bytes\n",
			WIRE_HOSTNAME_MAX);
		ret = -EINVAL;
	}
	if (!ret && !o->data[0])
		snprintf(o->data, sizeof(o->data), "/var/lib/valor-testnode/%s",
			 o->host);
	if (ret)
		fprintf(stderr, "Try 'valor-testnode --help'.\n");
	return ret;
}

/* ---- start and stop ------------------------------------------------------ */

/* The target directories, when they can be made (best effort). */
static void tnode_make_dirs(const struct tnode *t)
{
	char path[PATH_MAX + 16];

	if (!t->o.data_given)
		return;
	if (mkdir(t->o.data, 0755) && errno != EEXIST)
		return;
	for (uint32_t i = 0; i < t->o.ntargets; i++) {
		tnode_target_path(t, i, path, sizeof(path));
		mkdir(path, 0755);
	}
}

static int tnode_start(struct tnode *t)
{
	struct vrpc_client_opts copts = {
		.backoff_min_ms = 100,
		.backoff_max_ms = 1000,
	};
	sigset_t set;
	int ret;

	ret = vloop_new(&t->loop, VLOOP_POLL, 0, 0);
	if (ret < 0)
		return ret;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	t->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (t->sig_fd < 0)
		return -errno;
	t->sig.fd = t->sig_fd;
	t->sig.events = POLLIN;
	t->sig.cb = tnode_on_signal;
	ret = vloop_watch_add(t->loop, &t->sig);
	if (ret < 0)
		return ret;
	if (t->o.secret) {
		ret = vauth_secret_load(t->o.secret, &t->secret);
		if (ret < 0) {
			vlog_err("--secret %s: unusable (%s)", t->o.secret,
				 strerror(-ret));
			return ret;
		}
	}
	tnode_make_dirs(t);
	ret = vrpc_server_new(t->loop, t->o.url, t->secret, NULL, 0, t,
			      &t->srv);
	if (ret < 0) {
		vlog_err("cannot listen on %s: %s", t->o.url, strerror(-ret));
		return ret;
	}
	ret = vrpc_client_new(t->loop, t->o.mgmtd, t->secret, &copts, &t->cli);
	if (ret < 0) {
		vlog_err("--mgmtd %s: %s", t->o.mgmtd, strerror(-ret));
		return ret;
	}
	vrpc_call_init(&t->ctl_call);
	vrpc_call_init(&t->rt_call);
	if (t->o.ctl_socket[0]) {
		ret = vctl_open(&t->ctl, t->loop, t->o.ctl_socket, tnode_report,
				t);
		if (ret < 0)
			return ret;
	}
	if (t->o.pidfile[0]) {
		ret = vdaemon_write_pidfile(t->o.pidfile);
		if (ret)
			return ret;
		t->pidfile_written = 1;
	}
	t->interval_ms = 1000; /* until mgmtd says */
	vloop_timer_init(&t->tick, tnode_on_tick);
	tnode_tick_soon(t, 0);
	vlog_info("storage stand-in %s (%s), %u target(s) under %s, "
		  "reporting %s, mgmtd %s",
		  t->o.url, t->o.host, t->o.ntargets, t->o.data,
		  wire_local_state_name(t->o.state), t->o.mgmtd);
	return 0;
}

static void tnode_stop(struct tnode *t)
{
	vctl_close(t->ctl);
	vrpc_client_free(t->cli); /* fails calls in flight: callbacks run */
	vrpc_server_free(t->srv);
	if (t->sig_fd >= 0)
		close(t->sig_fd);
	vloop_free(t->loop);
	vauth_secret_free(t->secret);
	if (t->pidfile_written)
		unlink(t->o.pidfile);
}

int main(int argc, char **argv)
{
	struct tnode *t;
	int notify_fd = -1, ret, status = 0;
	sigset_t set;

	vlog_set_ident("valor-testnode");
	t = calloc(1, sizeof(*t));
	if (!t) {
		fprintf(stderr, "valor-testnode: out of memory\n");
		return 1;
	}
	t->sig_fd = -1;
	ret = tnode_parse_args(&t->o, argc, argv);
	if (ret) {
		free(t);
		return ret > 0 ? 0 : 2;
	}
	if (t->o.debug)
		vlog_set_level(VLOG_DEBUG);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!t->o.foreground) {
		ret = vdaemon_fork(&notify_fd);
		if (ret < 0) {
			vlog_err("cannot daemonize: %s", strerror(-ret));
			free(t);
			return 1;
		}
	}
	ret = tnode_start(t);
	if (ret < 0) {
		status = 1;
		goto out_stop;
	}
	vdaemon_ready(&notify_fd, 0);
	if (!t->o.foreground) {
		vdaemon_detach_stdio();
		if (chdir("/"))
			vlog_warn("chdir /: %s", strerror(errno));
	}
	ret = vloop_run(t->loop);
	if (ret < 0) {
		vlog_err("event loop failed: %s", strerror(-ret));
		status = 1;
	}
out_stop:
	tnode_stop(t);
	vdaemon_ready(&notify_fd, 1);
	free(t);
	return status;
}
