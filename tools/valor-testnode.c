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
#include "rdma/mgmtc.h"
#include "rdma/rpc.h"
#include "ring/loop.h"

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

/* Loop thread only. */
struct tnode {
	struct tnode_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct vrpc_server *srv;
	struct vmgmtc *mgmtc; /* registration, heartbeats, routing */
	struct vctl *ctl;
	struct vloop_watch sig;
	int sig_fd;
	int pidfile_written;
	char (*paths)[PATH_MAX + 16];
	const char **path_ptrs;
	uint32_t target_ids[WIRE_MAX_TARGETS_PER_NODE];
	uint32_t public_state[WIRE_MAX_TARGETS_PER_NODE];
};

/* ---- the target figures -------------------------------------------------- */

static void tnode_target_path(const struct tnode *t, uint32_t i, char *buf,
			      size_t len)
{
	snprintf(buf, len, "%s/t%u", t->o.data, i);
}

/* Each heartbeat line: the state --state (or a signal) says, and the
 * capacity and use of the target's file system, or a fixed 1 GiB. */
static void tnode_fill_target(void *arg, uint32_t i,
			      struct wire_heartbeat_target *ht)
{
	struct tnode *t = arg;
	struct statvfs sv;

	ht->local_state = t->o.state;
	if (statvfs(t->paths[i], &sv)) {
		ht->capacity = TNODE_CAPACITY_DEFAULT;
		ht->used = 0;
		return;
	}
	ht->capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
	ht->used = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize;
}

static void tnode_on_registered(void *arg, uint32_t node_id,
				const uint32_t *target_ids)
{
	struct tnode *t = arg;

	memcpy(t->target_ids, target_ids,
	       t->o.ntargets * sizeof(t->target_ids[0]));
}

/* Log what mgmtd made of our targets. */
static void tnode_on_routing(void *arg, const struct wire_routing *r)
{
	struct tnode *t = arg;
	const struct wire_routing_target *w;

	for (uint32_t i = 0; i < t->o.ntargets; i++) {
		w = vrouting_target(r, t->target_ids[i]);
		if (!w || w->public_state == t->public_state[i])
			continue;
		t->public_state[i] = w->public_state;
		vlog_info("target %u is %s (routing version %llu)", w->id,
			  wire_public_state_name(w->public_state),
			  (unsigned long long)r->version);
	}
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
		vmgmtc_heartbeat_now(t->mgmtc);
		return;
	}
	vlog_info("signal %u: stopping", si.ssi_signo);
	vloop_stop(t->loop);
}

static void tnode_report(void *arg, int json, struct vctl_buf *b)
{
	struct tnode *t = arg;
	struct vmgmtc_stats st;

	vmgmtc_stats(t->mgmtc, &st);
	vctl_printf(b,
		    json ? "{\"program\":\"valor-testnode\",\"pid\":%d,"
			   "\"node_id\":%u,\"routing_version\":%llu,"
			   "\"registrations\":%llu,\"heartbeats\":%llu,"
			   "\"routing_pulls\":%llu,\"errors\":%llu,"
			   "\"state\":\"%s\"}\n"
			 : "valor-testnode pid %d: node %u, routing version "
			   "%llu\nregistrations %llu, heartbeats %llu, routing "
			   "pulls %llu, errors %llu, reporting %s\n",
		    (int)getpid(), st.node_id,
		    (unsigned long long)st.routing_version,
		    (unsigned long long)st.registrations,
		    (unsigned long long)st.heartbeats,
		    (unsigned long long)st.routing_pulls,
		    (unsigned long long)st.errors,
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
			ret = vdaemon_path_arg("valor-testnode", "--data", optarg, o->data,
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
			ret = vdaemon_path_arg("valor-testnode", "--pidfile", optarg, o->pidfile,
					     sizeof(o->pidfile));
			break;
		case O_CTL:
			ret = vdaemon_path_arg("valor-testnode", "--ctl-socket", optarg,
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
	struct vmgmtc_opts mo = {
		.mgmtd_url = t->o.mgmtd,
		.role = WIRE_ROLE_STORAGE,
		.url = t->o.url,
		.hostname = t->o.host,
		.ntargets = t->o.ntargets,
		.fill_target = tnode_fill_target,
		.on_registered = tnode_on_registered,
		.on_routing = tnode_on_routing,
		.arg = t,
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
	t->paths = calloc(t->o.ntargets ? t->o.ntargets : 1, sizeof(*t->paths));
	t->path_ptrs = calloc(t->o.ntargets ? t->o.ntargets : 1,
			      sizeof(*t->path_ptrs));
	if (!t->paths || !t->path_ptrs)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->o.ntargets; i++) {
		tnode_target_path(t, i, t->paths[i], sizeof(t->paths[i]));
		t->path_ptrs[i] = t->paths[i];
	}
	mo.secret = t->secret;
	mo.target_paths = t->path_ptrs;
	ret = vmgmtc_new(t->loop, &mo, &t->mgmtc);
	if (ret < 0) {
		vlog_err("--mgmtd %s: %s", t->o.mgmtd, strerror(-ret));
		return ret;
	}
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
	vlog_info("storage stand-in %s (%s), %u target(s) under %s, "
		  "reporting %s, mgmtd %s",
		  t->o.url, t->o.host, t->o.ntargets, t->o.data,
		  wire_local_state_name(t->o.state), t->o.mgmtd);
	return 0;
}

static void tnode_stop(struct tnode *t)
{
	vctl_close(t->ctl);
	vmgmtc_free(t->mgmtc);
	vrpc_server_free(t->srv);
	if (t->sig_fd >= 0)
		close(t->sig_fd);
	vloop_free(t->loop);
	vauth_secret_free(t->secret);
	free(t->paths);
	free(t->path_ptrs);
	if (t->pidfile_written)
		unlink(t->o.pidfile);
}

static int tnode_serve_start(void *arg)
{
	return tnode_start(arg);
}

static int tnode_serve_run(void *arg)
{
	struct tnode *t = arg;

	return vloop_run(t->loop);
}

static void tnode_serve_stop(void *arg)
{
	tnode_stop(arg);
}

/* SIGUSR1/SIGUSR2 switch the reported state (tnode_on_signal). */
static const int tnode_more_signals[] = {SIGUSR1, SIGUSR2, 0};

static const struct vdaemon_server tnode_server = {
	.name = "valor-testnode",
	.start = tnode_serve_start,
	.run = tnode_serve_run,
	.stop = tnode_serve_stop,
};

int main(int argc, char **argv)
{
	struct tnode *t;
	int ret, status;

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
	status = vdaemon_serve(&tnode_server, t, t->o.foreground,
			       tnode_more_signals);
	free(t);
	return status;
}
