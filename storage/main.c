/* SPDX-License-Identifier: MIT */
/*
 * valor-storaged - a storage server (DESIGN.md §8).
 *
 *   valor-storaged --listen URL --mgmtd URL --target DIR [--target DIR...]
 *                  [--secret FILE] [-f] [-d] [--pidfile PATH]
 *                  [--ctl-socket PATH]
 *
 * One thread runs everything on one poll loop: the RPC server (every
 * 0x03xx storage opcode, storage/server.h), the link to mgmtd
 * (rdma/mgmtc.h: registration, heartbeats with each target's local state
 * and resync progress, routing pulls that install the chains), the peer
 * connections of forwards and resyncs, a signalfd and the control socket
 * (valorctl stats). Chunk I/O is synchronous on that thread.
 *
 * Start-up: targets are locked (DIR/storaged.lock), the server listens,
 * then the node registers and waits for its first routing (at most
 * STORD_MGMTD_WAIT_MS): an unreachable mgmtd or a refused secret is a
 * start-up error with the reason. Without -f the program forks; the parent
 * exits 0 once the child is registered and serving, or 1 with the child's
 * error on stderr. Exit status 2: bad command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/ctlsock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/url.h"
#include "proto/wire_msg.h"
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"
#include "ring/loop.h"
#include "storage/server.h"

#define STORD_MGMTD_WAIT_MS 5000

struct stord_opts {
	char listen[WIRE_URL_MAX + 1];
	char mgmtd[WIRE_URL_MAX + 1];
	char secret[PATH_MAX];	   /* "" none */
	char pidfile[PATH_MAX];	   /* "" none */
	char ctl_socket[PATH_MAX]; /* default DIR0/storaged.sock */
	uint32_t ntargets;
	char *targets[WIRE_MAX_TARGETS_PER_NODE]; /* absolute, malloc'd */
	int foreground;
	int debug;
};

/* The process. Loop thread only. */
struct stord {
	struct stord_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct vstor_net net;
	int net_made;
	struct vstor *srv;
	struct vrpc_server *rpc;
	struct vmgmtc *mgmtc;
	struct vctl *ctl;
	struct vloop_watch sig;
	int sig_fd;
	int lock_fds[WIRE_MAX_TARGETS_PER_NODE];
	int pidfile_written;
	uint64_t start_ns;
};

/* ---- command line -------------------------------------------------------- */

static void stord_usage(FILE *f)
{
	fprintf(f,
		"usage: valor-storaged --listen URL --mgmtd URL --target DIR "
		"[--target DIR ...]\n"
		"                      [options]\n"
		"\n"
		"  --listen URL       address to serve (tcp://HOST:PORT)\n"
		"  --mgmtd URL        the cluster manager\n"
		"  --target DIR       a storage target (repeat for more; "
		"created if missing)\n"
		"  --secret FILE      cluster secret; required to listen beyond "
		"loopback\n"
		"  -f, --foreground   do not daemonize\n"
		"  --pidfile PATH     write the daemon's pid there\n"
		"  --ctl-socket PATH  control socket (default "
		"FIRST-TARGET/storaged.sock)\n"
		"  -d                 debug log (every request)\n"
		"  -h, --help         this text\n"
		"\n"
		"Exit status: 0 stopped cleanly (or, daemonized, started), 1 "
		"start-up failed,\n"
		"2 bad command line.\n");
}

static int stord_opt_url(const char *opt, const char *arg, char *out,
			 size_t len)
{
	const char *why = NULL;
	struct vurl u;

	if (vurl_parse(&u, arg, &why) || strlen(arg) >= len) {
		fprintf(stderr, "valor-storaged: %s: bad URL '%s': %s\n", opt,
			arg, why ? why : "too long");
		return -EINVAL;
	}
	snprintf(out, len, "%s", arg);
	return 0;
}

static int stord_opt_target(struct stord_opts *o, const char *arg)
{
	char path[WIRE_PATH_MAX + 1];

	if (o->ntargets == WIRE_MAX_TARGETS_PER_NODE) {
		fprintf(stderr, "valor-storaged: at most %d --target\n",
			WIRE_MAX_TARGETS_PER_NODE);
		return -EINVAL;
	}
	if (vdaemon_path_arg("valor-storaged", "--target", arg, path, sizeof(path)))
		return -EINVAL;
	for (uint32_t i = 0; i < o->ntargets; i++) {
		if (!strcmp(o->targets[i], path)) {
			fprintf(stderr,
				"valor-storaged: --target %s given twice\n",
				path);
			return -EINVAL;
		}
	}
	o->targets[o->ntargets] = strdup(path);
	if (!o->targets[o->ntargets])
		return -ENOMEM;
	o->ntargets++;
	return 0;
}

/* 0 parsed, 1 help printed, -EINVAL (message printed). */
static int stord_parse_args(struct stord_opts *o, int argc, char **argv)
{
	enum {
		O_LISTEN = 256,
		O_MGMTD,
		O_TARGET,
		O_SECRET,
		O_PIDFILE,
		O_CTL
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"mgmtd", required_argument, NULL, O_MGMTD},
		{"target", required_argument, NULL, O_TARGET},
		{"secret", required_argument, NULL, O_SECRET},
		{"foreground", no_argument, NULL, 'f'},
		{"pidfile", required_argument, NULL, O_PIDFILE},
		{"ctl-socket", required_argument, NULL, O_CTL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, ret = 0;

	while (!ret &&
	       (c = getopt_long(argc, argv, "+fdh", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			ret = stord_opt_url("--listen", optarg, o->listen,
					    sizeof(o->listen));
			break;
		case O_MGMTD:
			ret = stord_opt_url("--mgmtd", optarg, o->mgmtd,
					    sizeof(o->mgmtd));
			break;
		case O_TARGET:
			ret = stord_opt_target(o, optarg);
			break;
		case O_SECRET:
			ret = vdaemon_path_arg("valor-storaged", "--secret", optarg, o->secret,
					     sizeof(o->secret));
			break;
		case O_PIDFILE:
			ret = vdaemon_path_arg("valor-storaged", "--pidfile", optarg, o->pidfile,
					     sizeof(o->pidfile));
			break;
		case O_CTL:
			ret = vdaemon_path_arg("valor-storaged", "--ctl-socket", optarg,
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
			stord_usage(stdout);
			return 1;
		default: /* getopt named the option */
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "valor-storaged: unexpected argument '%s'\n",
			argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && !o->listen[0]) {
		fprintf(stderr, "valor-storaged: --listen URL is required "
				"(where peers and clients reach this node)\n");
		ret = -EINVAL;
	}
	if (!ret && !o->mgmtd[0]) {
		fprintf(stderr, "valor-storaged: --mgmtd URL is required\n");
		ret = -EINVAL;
	}
	if (!ret && !o->ntargets) {
		fprintf(stderr, "valor-storaged: at least one --target DIR is "
				"required\n");
		ret = -EINVAL;
	}
	if (!ret && !o->ctl_socket[0] &&
	    snprintf(o->ctl_socket, sizeof(o->ctl_socket), "%s/storaged.sock",
		     o->targets[0]) >= (int)sizeof(o->ctl_socket)) {
		fprintf(stderr, "valor-storaged: --target: path too long\n");
		ret = -EINVAL;
	}
	if (ret)
		fprintf(stderr, "Try 'valor-storaged --help'.\n");
	return ret;
}

/* ---- glue ---------------------------------------------------------------- */

static void stord_on_req(struct vrpc_req *req, void *arg)
{
	vstor_handle(arg, req);
}

/* Indexed by opcode; everything else gets -ENOSYS from the RPC layer. */
static const struct vrpc_handler stord_handlers[] = {
	[WIRE_STORAGE_WRITE] = {stord_on_req, "WRITE"},
	[WIRE_STORAGE_READ] = {stord_on_req, "READ"},
	[WIRE_STORAGE_SYNC] = {stord_on_req, "SYNC"},
	[WIRE_STORAGE_TRUNCATE] = {stord_on_req, "TRUNCATE"},
	[WIRE_STORAGE_REMOVE] = {stord_on_req, "REMOVE"},
	[WIRE_STORAGE_QUERY_LAST_CHUNK] = {stord_on_req, "QUERY_LAST_CHUNK"},
	[WIRE_STORAGE_DUMP_META] = {stord_on_req, "DUMP_META"},
	[WIRE_STORAGE_SPACE] = {stord_on_req, "SPACE"},
	[WIRE_STORAGE_FORWARD] = {stord_on_req, "FORWARD"},
	[WIRE_STORAGE_CUT] = {stord_on_req, "CUT"},
	[WIRE_STORAGE_RESYNC] = {stord_on_req, "RESYNC"},
};

#define STORD_NHANDLERS (sizeof(stord_handlers) / sizeof(stord_handlers[0]))

static void stord_fill_target(void *arg, uint32_t i,
			      struct wire_heartbeat_target *t)
{
	struct stord *d = arg;

	vstor_fill_target(d->srv, i, t);
}

static void stord_on_registered(void *arg, uint32_t node_id,
				const uint32_t *target_ids)
{
	struct stord *d = arg;

	vstor_set_ids(d->srv, node_id, target_ids);
	for (uint32_t i = 0; i < d->o.ntargets; i++)
		vlog_info("target %u is %s", target_ids[i], d->o.targets[i]);
}

static void stord_on_routing(void *arg, const struct wire_routing *r)
{
	struct stord *d = arg;

	vstor_set_routing(d->srv, r);
}

static void stord_refresh(void *arg)
{
	struct stord *d = arg;

	if (d->mgmtc)
		vmgmtc_refresh(d->mgmtc);
}

static void stord_heartbeat(void *arg)
{
	struct stord *d = arg;

	if (d->mgmtc)
		vmgmtc_heartbeat_now(d->mgmtc);
}

static void stord_report(void *arg, int json, struct vctl_buf *b)
{
	struct stord *d = arg;
	struct vmgmtc_stats ms = {0};

	if (json) {
		vstor_report(d->srv, 1, b);
		vctl_printf(b, "\n");
		return;
	}
	if (d->mgmtc)
		vmgmtc_stats(d->mgmtc, &ms);
	vctl_printf(b, "valor-storaged pid %d: %s, mgmtd %s, up %.1f s\n",
		    (int)getpid(), d->o.listen, d->o.mgmtd,
		    (vloop_now_ns() - d->start_ns) / 1e9);
	vctl_printf(b,
		    "mgmtd link: %llu registrations, %llu heartbeats, %llu "
		    "routing pulls, %llu errors\n",
		    (unsigned long long)ms.registrations,
		    (unsigned long long)ms.heartbeats,
		    (unsigned long long)ms.routing_pulls,
		    (unsigned long long)ms.errors);
	vstor_report(d->srv, 0, b);
}

static void stord_on_signal(struct vloop_watch *w, uint32_t revents)
{
	struct stord *d = (struct stord *)((char *)w - offsetof(struct stord,
							       sig));
	struct signalfd_siginfo si;

	if (read(d->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vlog_info("signal %u: stopping", si.ssi_signo);
	vloop_stop(d->loop);
}

/* ---- start and stop ------------------------------------------------------ */

/* Create the target directory if missing and lock it for this process. */
static int stord_lock_target(struct stord *d, uint32_t i)
{
	char path[PATH_MAX + 16];
	int ret;

	if (mkdir(d->o.targets[i], 0700) && errno != EEXIST) {
		ret = -errno;
		vlog_err("--target %s: %s", d->o.targets[i], strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/storaged.lock", d->o.targets[i]);
	d->lock_fds[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fds[i] < 0) {
		ret = -errno;
		vlog_err("--target %s: %s: %s", d->o.targets[i], path,
			 strerror(-ret));
		return ret;
	}
	if (flock(d->lock_fds[i], LOCK_EX | LOCK_NB)) {
		ret = -errno;
		vlog_err("--target %s: %s", d->o.targets[i],
			 ret == -EWOULDBLOCK ? "another valor-storaged uses it"
					     : strerror(-ret));
		return ret;
	}
	return 0;
}

static int stord_open_signals(struct stord *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	d->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sig_fd < 0)
		return -errno;
	d->sig.fd = d->sig_fd;
	d->sig.events = POLLIN;
	d->sig.cb = stord_on_signal;
	return vloop_watch_add(d->loop, &d->sig);
}

static const char *stord_mgmtd_why(int err)
{
	switch (err) {
	case -EACCES:
		return "authentication failed (the secrets differ, or only "
		       "one side has one)";
	case -ETIMEDOUT:
		return "no answer";
	default:
		return strerror(-err);
	}
}

/* Everything up to serving; each failure is logged. Undone by _stop. */
static int stord_start(struct stord *d)
{
	struct vstor_opts so = {0};
	struct vmgmtc_opts mo = {0};
	int ret;

	d->start_ns = vloop_now_ns();
	ret = vloop_new(&d->loop, VLOOP_POLL, 0, 0);
	if (ret < 0) {
		vlog_err("event loop: %s", strerror(-ret));
		return ret;
	}
	ret = stord_open_signals(d);
	if (ret < 0) {
		vlog_err("signalfd: %s", strerror(-ret));
		return ret;
	}
	if (d->o.secret[0]) {
		ret = vauth_secret_load(d->o.secret, &d->secret);
		if (ret < 0) {
			vlog_err("--secret %s: unusable (%s)", d->o.secret,
				 strerror(-ret));
			return ret;
		}
	}
	for (uint32_t i = 0; i < d->o.ntargets; i++) {
		ret = stord_lock_target(d, i);
		if (ret < 0)
			return ret;
	}
	ret = vstor_rpcnet_new(d->loop, d->secret, &d->net);
	if (ret < 0)
		return ret;
	d->net_made = 1;
	vstor_rpcnet_hooks(d->net.arg, stord_refresh, stord_heartbeat, d);
	/* Tests only: slow resyncs down to watch their progress. */
	if (getenv("VALOR_STORAGED_TEST_RESYNC_PAUSE_MS"))
		so.resync_pause_ms = (uint32_t)strtoul(
			getenv("VALOR_STORAGED_TEST_RESYNC_PAUSE_MS"), NULL, 10);
	so.ntargets = d->o.ntargets;
	so.target_paths = (const char *const *)d->o.targets;
	ret = vstor_new(d->loop, &so, &d->net, &d->srv);
	if (ret < 0) {
		vlog_err("storage server: %s", strerror(-ret));
		return ret;
	}
	ret = vrpc_server_new(d->loop, d->o.listen, d->secret, stord_handlers,
			      STORD_NHANDLERS, d->srv, &d->rpc);
	if (ret < 0) {
		vlog_err("cannot serve %s: %s%s", d->o.listen, strerror(-ret),
			 ret == -EADDRINUSE ? " (another server on it?)" : "");
		return ret;
	}
	ret = vctl_open(&d->ctl, d->loop, d->o.ctl_socket, stord_report, d);
	if (ret < 0) {
		vlog_warn("no control socket (%s): valorctl stats will not "
			  "reach this node",
			  strerror(-ret));
		d->ctl = NULL;
	}

	mo.mgmtd_url = d->o.mgmtd;
	mo.secret = d->secret;
	mo.role = WIRE_ROLE_STORAGE;
	mo.url = d->o.listen;
	mo.ntargets = d->o.ntargets;
	mo.target_paths = (const char *const *)d->o.targets;
	mo.fill_target = stord_fill_target;
	mo.on_registered = stord_on_registered;
	mo.on_routing = stord_on_routing;
	mo.arg = d;
	ret = vmgmtc_new(d->loop, &mo, &d->mgmtc);
	if (ret < 0) {
		vlog_err("--mgmtd %s: %s", d->o.mgmtd, strerror(-ret));
		return ret;
	}
	ret = vmgmtc_wait_routing(d->mgmtc, STORD_MGMTD_WAIT_MS);
	if (ret < 0) {
		vlog_err("mgmtd %s: cannot register: %s", d->o.mgmtd,
			 stord_mgmtd_why(ret));
		return ret;
	}
	if (d->o.pidfile[0]) {
		ret = vdaemon_write_pidfile(d->o.pidfile);
		if (ret < 0)
			return ret;
		d->pidfile_written = 1;
	}
	vlog_info("serving %s%s as node %u with %u target(s), mgmtd %s, "
		  "control socket %s",
		  d->o.listen, d->secret ? " (authenticated)" : "",
		  vmgmtc_node_id(d->mgmtc), d->o.ntargets, d->o.mgmtd,
		  d->ctl ? d->o.ctl_socket : "none");
	return 0;
}

static void stord_stop(struct stord *d)
{
	vmgmtc_free(d->mgmtc);
	d->mgmtc = NULL;
	/* Fails the peer calls in flight; their answers still go out. */
	if (d->net_made)
		vstor_rpcnet_free(d->net.arg);
	vrpc_server_free(d->rpc);
	vstor_free(d->srv);
	vctl_close(d->ctl);
	for (uint32_t i = 0; i < d->o.ntargets; i++)
		if (d->lock_fds[i] >= 0)
			close(d->lock_fds[i]);
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	vloop_free(d->loop);
	vauth_secret_free(d->secret);
	if (d->pidfile_written)
		unlink(d->o.pidfile);
}

static void stord_free_opts(struct stord_opts *o)
{
	for (uint32_t i = 0; i < o->ntargets; i++)
		free(o->targets[i]);
}

static int stord_serve_start(void *arg)
{
	return stord_start(arg);
}

static int stord_serve_run(void *arg)
{
	struct stord *d = arg;
	int ret = vloop_run(d->loop);

	vlog_info("stopped");
	return ret;
}

static void stord_serve_stop(void *arg)
{
	stord_stop(arg);
}

static const struct vdaemon_server stord_server = {
	.name = "valor-storaged",
	.start = stord_serve_start,
	.run = stord_serve_run,
	.stop = stord_serve_stop,
};

int main(int argc, char **argv)
{
	struct stord *d;
	int ret, status;

	vlog_set_ident("valor-storaged");
	d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "valor-storaged: out of memory\n");
		return 1;
	}
	d->sig_fd = -1;
	for (int i = 0; i < WIRE_MAX_TARGETS_PER_NODE; i++)
		d->lock_fds[i] = -1;
	ret = stord_parse_args(&d->o, argc, argv);
	if (ret) {
		stord_free_opts(&d->o);
		free(d);
		return ret > 0 ? 0 : 2;
	}
	if (d->o.debug)
		vlog_set_level(VLOG_DEBUG);

	status = vdaemon_serve(&stord_server, d, d->o.foreground, NULL);
	stord_free_opts(&d->o);
	free(d);
	return status;
}
