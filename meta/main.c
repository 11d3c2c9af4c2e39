/* SPDX-License-Identifier: MIT */
/*
 * valor-metad - the metadata server (DESIGN.md §7).
 *
 *   valor-metad --kv lmdb:DIR|postgresql://... [--listen URL] [--mgmtd URL]
 *               [--secret FILE] [--chunk-size BYTES] [--stripe N]
 *               [--workers N] [--lease S] [--dedup-ttl S] [--gc-interval S]
 *               [--mgmtd-wait S] [-f] [-d] [--pidfile PATH]
 *               [--ctl-socket PATH]
 *
 * Threads: the loop thread runs the RPC server (meta/server.h), the link
 * to mgmtd (rdma/mgmtc.h: registration as a META node, heartbeats,
 * routing), the garbage collector's calls to storage (meta/gc.h), a sweep
 * timer, the signalfd and the control socket; --workers threads run the KV
 * transactions (meta/pool.h). The namespace (meta/ns.h) is shared by the
 * workers; everything else belongs to the loop thread.
 *
 * metad keeps no state of its own: with PostgreSQL several metad share one
 * database and any of them serves any request; with LMDB the directory is
 * the state.
 *
 * Without -f the program forks; the parent exits 0 once the child listens
 * (registered with mgmtd and holding routing), or 1 with the child's
 * error on stderr. Exit status 2: bad command line.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/auth.h"
#include "common/ctlsock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/url.h"
#include "meta/gc.h"
#include "meta/kv.h"
#include "meta/ns.h"
#include "meta/pool.h"
#include "meta/server.h"
#include "proto/wire_msg.h"
#include "rdma/mgmtc.h"
#include "ring/loop.h"

#define METAD_DEFAULT_LISTEN "tcp://127.0.0.1:7100"
#define METAD_DEFAULT_MGMTD "tcp://127.0.0.1:7000"
#define METAD_SWEEP_NS (1000ull * 1000 * 1000)
#define METAD_DRAIN_MS 5000

#define metad_container_of(p, type, member)                                    \
	((type *)((char *)(p)-offsetof(type, member)))

struct metad_opts {
	char listen[WIRE_URL_MAX + 1];
	char mgmtd[WIRE_URL_MAX + 1];
	char kv[PATH_MAX + 16];
	char secret[PATH_MAX];	   /* "" none */
	char pidfile[PATH_MAX];	   /* "" none */
	char ctl_socket[PATH_MAX]; /* default: see metad_parse_args */
	uint32_t chunk_size;
	uint32_t stripe;
	uint32_t workers;
	uint32_t max_inflight;
	uint32_t lease_ms;
	uint32_t dedup_ttl_ms;
	uint32_t gc_interval_ms;
	uint32_t mgmtd_wait_ms;
	int foreground;
	int debug;
};

/* Loop thread only, but for what the workers get through vns. */
struct metad {
	struct metad_opts o;
	struct vloop *loop;
	struct vauth_secret *secret;
	struct vkv *kv;
	struct vns *ns;
	struct vmgmtc *mgmtc;
	struct mpool *pool;
	struct msrv *srv;
	struct mgc *gc;
	struct vctl *ctl;
	struct vloop_watch sig;
	struct vloop_timer sweep_timer;
	struct mpool_job sweep_job;
	int sweep_busy, stopping;
	int sweep_leases, sweep_idem; /* results of the last sweep */
	int sig_fd;
	int pidfile_written;
	uint64_t start_ns;
	uint64_t owner;
	uint64_t routing_version;
	uint32_t table_version, nchains;
	int warned_no_table;
};

/* ---- command line -------------------------------------------------------- */

static void metad_usage(FILE *f)
{
	fprintf(f,
		"usage: valor-metad --kv lmdb:DIR|postgresql://URI [options]\n"
		"\n"
		"  --kv SPEC            the namespace store: lmdb:DIR "
		"(embedded) or "
		"a\n"
		"                       PostgreSQL URI shared by several metad "
		"(required)\n"
		"  --listen URL         address to serve "
		"(default " METAD_DEFAULT_LISTEN ")\n"
		"  --mgmtd URL          cluster manager "
		"(default " METAD_DEFAULT_MGMTD ")\n"
		"  --secret FILE        cluster secret; required to listen "
		"beyond "
		"loopback\n"
		"  --chunk-size BYTES   chunk size of new files (default 1M; "
		"4K..64M, power of 2)\n"
		"  --stripe N           chains a new file stripes over "
		"(default "
		"4, cut to the table)\n"
		"  --workers N          threads running KV transactions "
		"(default 8)\n"
		"  --max-inflight N     requests being served at once "
		"(default 64)\n"
		"  --lease S            client lease of sessions and locks "
		"(default 30)\n"
		"  --dedup-ttl S        keep exactly-once records this long "
		"(default 300)\n"
		"  --gc-interval S      between garbage collection rounds "
		"(default 1)\n"
		"  --mgmtd-wait S       give up start-up when mgmtd does not "
		"answer (default 10)\n"
		"  -f, --foreground     do not daemonize\n"
		"  --pidfile PATH       write the daemon's pid there\n"
		"  --ctl-socket PATH    control socket (default DIR/metad.sock "
		"with lmdb,\n"
		"                       /tmp/valor-metad-PORT.sock otherwise)\n"
		"  -d                   debug log (every request)\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: 0 stopped cleanly (or, daemonized, started), 1 "
		"start-up failed,\n"
		"2 bad command line.\n");
}

static int metad_opt_url(const char *opt, const char *arg, char *out,
			 size_t len)
{
	const char *why = NULL;
	struct vurl u;

	if (vurl_parse(&u, arg, &why) || strlen(arg) >= len) {
		fprintf(stderr, "valor-metad: %s: bad URL '%s': %s\n", opt, arg,
			why ? why : "too long");
		return -EINVAL;
	}
	snprintf(out, len, "%s", arg);
	return 0;
}

/* An integer in [min, max], with an optional K/M/G suffix when @sizes. */
static int metad_opt_uint(const char *opt, const char *arg, uint64_t min,
			  uint64_t max, int sizes, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (sizes && end != arg) {
		if (*end == 'K' || *end == 'k')
			v <<= 10, end++;
		else if (*end == 'M' || *end == 'm')
			v <<= 20, end++;
		else if (*end == 'G' || *end == 'g')
			v <<= 30, end++;
	}
	if (errno || end == arg || *end || arg[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr,
			"valor-metad: %s wants a whole number from %llu to "
			"%llu, got '%s'\n",
			opt, (unsigned long long)min, (unsigned long long)max,
			arg);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* Seconds (fractions allowed) in (0, max] into ms. */
static int metad_opt_secs(const char *opt, const char *arg, double max,
			  uint32_t *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s > 0) || s > max) {
		fprintf(stderr,
			"valor-metad: %s wants seconds above 0 and up to %.0f, "
			"got '%s'\n",
			opt, max, arg);
		return -EINVAL;
	}
	*ms = (uint32_t)(s * 1000.0 + 0.5);
	if (!*ms)
		*ms = 1;
	return 0;
}

static int metad_opt_kv(const char *arg, struct metad_opts *o)
{
	if (!strncmp(arg, "lmdb:", 5)) {
		if (!arg[5] ||
		    vdaemon_abspath(arg + 5, o->kv + 5, sizeof(o->kv) - 5)) {
			fprintf(stderr, "valor-metad: --kv lmdb: wants a "
					"directory (lmdb:DIR)\n");
			return -EINVAL;
		}
		memcpy(o->kv, "lmdb:", 5);
		return 0;
	}
	if (!strncmp(arg, "postgresql://", 13) ||
	    !strncmp(arg, "postgres://", 11)) {
		if (strlen(arg) >= sizeof(o->kv)) {
			fprintf(stderr, "valor-metad: --kv: URI too long\n");
			return -EINVAL;
		}
		snprintf(o->kv, sizeof(o->kv), "%s", arg);
		return 0;
	}
	fprintf(stderr,
		"valor-metad: --kv wants lmdb:DIR or postgresql://..., got "
		"'%s'\n",
		arg);
	return -EINVAL;
}

/* 0 parsed, 1 help printed, -EINVAL (message printed). */
static int metad_parse_args(struct metad_opts *o, int argc, char **argv)
{
	enum {
		O_LISTEN = 256,
		O_MGMTD,
		O_KV,
		O_SECRET,
		O_CHUNK,
		O_STRIPE,
		O_WORKERS,
		O_INFLIGHT,
		O_LEASE,
		O_TTL,
		O_GC,
		O_WAIT,
		O_PIDFILE,
		O_CTL,
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"mgmtd", required_argument, NULL, O_MGMTD},
		{"kv", required_argument, NULL, O_KV},
		{"secret", required_argument, NULL, O_SECRET},
		{"chunk-size", required_argument, NULL, O_CHUNK},
		{"stripe", required_argument, NULL, O_STRIPE},
		{"workers", required_argument, NULL, O_WORKERS},
		{"max-inflight", required_argument, NULL, O_INFLIGHT},
		{"lease", required_argument, NULL, O_LEASE},
		{"dedup-ttl", required_argument, NULL, O_TTL},
		{"gc-interval", required_argument, NULL, O_GC},
		{"mgmtd-wait", required_argument, NULL, O_WAIT},
		{"foreground", no_argument, NULL, 'f'},
		{"pidfile", required_argument, NULL, O_PIDFILE},
		{"ctl-socket", required_argument, NULL, O_CTL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, ret = 0;

	snprintf(o->listen, sizeof(o->listen), "%s", METAD_DEFAULT_LISTEN);
	snprintf(o->mgmtd, sizeof(o->mgmtd), "%s", METAD_DEFAULT_MGMTD);
	o->chunk_size = 1u << 20;
	o->stripe = 4;
	o->workers = 8;
	o->max_inflight = 64;
	o->lease_ms = 30000;
	o->dedup_ttl_ms = 300000;
	o->gc_interval_ms = 1000;
	o->mgmtd_wait_ms = 10000;
	while (!ret &&
	       (c = getopt_long(argc, argv, "+fdh", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			ret = metad_opt_url("--listen", optarg, o->listen,
					    sizeof(o->listen));
			break;
		case O_MGMTD:
			ret = metad_opt_url("--mgmtd", optarg, o->mgmtd,
					    sizeof(o->mgmtd));
			break;
		case O_KV:
			ret = metad_opt_kv(optarg, o);
			break;
		case O_SECRET:
			ret = vdaemon_path_arg("valor-metad", "--secret", optarg, o->secret,
					     sizeof(o->secret));
			break;
		case O_CHUNK:
			ret = metad_opt_uint("--chunk-size", optarg,
					     VNS_CHUNK_MIN, VNS_CHUNK_MAX, 1,
					     &o->chunk_size);
			if (!ret && (o->chunk_size & (o->chunk_size - 1))) {
				fprintf(stderr, "valor-metad: --chunk-size "
						"must be a power of two\n");
				ret = -EINVAL;
			}
			break;
		case O_STRIPE:
			ret = metad_opt_uint("--stripe", optarg, 1,
					     WIRE_MAX_CHAINS, 0, &o->stripe);
			break;
		case O_WORKERS:
			ret = metad_opt_uint("--workers", optarg, 1,
					     MPOOL_MAX_THREADS, 0, &o->workers);
			break;
		case O_INFLIGHT:
			ret = metad_opt_uint("--max-inflight", optarg, 1, 4096,
					     0, &o->max_inflight);
			break;
		case O_LEASE:
			ret = metad_opt_secs("--lease", optarg, 3600,
					     &o->lease_ms);
			break;
		case O_TTL:
			ret = metad_opt_secs("--dedup-ttl", optarg, 86400,
					     &o->dedup_ttl_ms);
			break;
		case O_GC:
			ret = metad_opt_secs("--gc-interval", optarg, 3600,
					     &o->gc_interval_ms);
			break;
		case O_WAIT:
			ret = metad_opt_secs("--mgmtd-wait", optarg, 3600,
					     &o->mgmtd_wait_ms);
			break;
		case O_PIDFILE:
			ret = vdaemon_path_arg("valor-metad", "--pidfile", optarg, o->pidfile,
					     sizeof(o->pidfile));
			break;
		case O_CTL:
			ret = vdaemon_path_arg("valor-metad", "--ctl-socket", optarg,
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
			metad_usage(stdout);
			return 1;
		default: /* getopt named the option */
			ret = -EINVAL;
			break;
		}
	}
	if (!ret && optind < argc) {
		fprintf(stderr, "valor-metad: unexpected argument '%s'\n",
			argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && !o->kv[0]) {
		fprintf(stderr, "valor-metad: --kv lmdb:DIR or --kv "
				"postgresql://... is required (where the "
				"namespace is kept)\n");
		ret = -EINVAL;
	}
	if (!ret && !o->ctl_socket[0]) {
		struct vurl u;
		const char *why;
		int n;

		vurl_parse(&u, o->listen, &why);
		if (!strncmp(o->kv, "lmdb:", 5))
			n = snprintf(o->ctl_socket, sizeof(o->ctl_socket),
				     "%s/metad.sock", o->kv + 5);
		else
			n = snprintf(o->ctl_socket, sizeof(o->ctl_socket),
				     "/tmp/valor-metad-%u.sock", u.port);
		if (n < 0 || (size_t)n >= sizeof(o->ctl_socket)) {
			fprintf(stderr, "valor-metad: --kv: path too long\n");
			ret = -EINVAL;
		}
	}
	if (ret)
		fprintf(stderr, "Try 'valor-metad --help'.\n");
	return ret;
}

/* ---- routing ---------------------------------------------------------------
 */

static void metad_on_routing(void *arg, const struct wire_routing *r)
{
	struct metad *m = arg;
	uint64_t cap = 0, avail = 0;
	uint32_t replicas = 1;

	m->routing_version = r->version;
	for (uint32_t i = 0; i < r->nchains; i++)
		if (r->chains[i].ntargets > replicas)
			replicas = r->chains[i].ntargets;
	for (uint32_t i = 0; i < r->ntargets; i++) {
		const struct wire_routing_target *t = &r->targets[i];

		cap += t->capacity;
		avail += t->capacity > t->used ? t->capacity - t->used : 0;
	}
	if (m->srv)
		msrv_set_space(m->srv, cap / replicas, avail / replicas);
	if (r->table.version != m->table_version ||
	    r->table.nchains != m->nchains)
		vlog_info("chain table version %u with %u chains: new files "
			  "go there (routing version %llu)",
			  r->table.version, r->table.nchains,
			  (unsigned long long)r->version);
	m->table_version = r->table.version;
	m->nchains = r->table.nchains;
	vns_set_chains(m->ns, r->table.version, r->table.nchains);
	if (!r->table.nchains && !m->warned_no_table) {
		m->warned_no_table = 1;
		vlog_warn("no chain table yet: creating regular files fails "
			  "with ENOSPC until one is created (valorctl "
			  "chain-table create --replicas N)");
	}
}

static const struct wire_routing *metad_gc_routing(void *arg)
{
	struct metad *m = arg;

	return vmgmtc_routing(m->mgmtc);
}

static void metad_gc_refresh(void *arg)
{
	struct metad *m = arg;

	vmgmtc_refresh(m->mgmtc);
}

/* ---- sweeps: leases and exactly-once records ------------------------------
 */

static int64_t metad_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void metad_sweep_run(struct mpool_job *job)
{
	struct metad *m = metad_container_of(job, struct metad, sweep_job);
	int64_t now = metad_wall_ns();

	m->sweep_leases = vns_lease_expire(m->ns, now, 64);
	m->sweep_idem = vns_idem_expire(
		m->ns, now - (int64_t)m->o.dedup_ttl_ms * 1000000, 4096);
}

static void metad_sweep_done(struct vloop_post *p)
{
	struct metad *m = metad_container_of(p, struct metad, sweep_job.post);

	m->sweep_busy = 0;
	if (m->sweep_leases < 0)
		vlog_warn("lease sweep: %s", strerror(-m->sweep_leases));
	if (m->sweep_idem < 0)
		vlog_warn("exactly-once record sweep: %s",
			  strerror(-m->sweep_idem));
	if (!m->stopping)
		vloop_timer_add(m->loop, &m->sweep_timer,
				/* a full batch: more to do at once */
				m->sweep_idem >= 4096 ? 0 : METAD_SWEEP_NS);
}

static void metad_on_sweep(struct vloop_timer *t)
{
	struct metad *m = metad_container_of(t, struct metad, sweep_timer);

	if (m->sweep_busy || m->stopping)
		return;
	m->sweep_busy = 1;
	mpool_submit(m->pool, &m->sweep_job);
}

/* ---- signals, control socket -----------------------------------------------
 */

static void metad_on_signal(struct vloop_watch *w, uint32_t revents)
{
	struct metad *m = metad_container_of(w, struct metad, sig);
	struct signalfd_siginfo si;

	if (read(m->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vlog_info("signal %u: stopping", si.ssi_signo);
	vloop_stop(m->loop);
}

static void metad_json_str(struct vctl_buf *b, const char *s)
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

/* The KV spec without a password, for reports. */
static void metad_kv_shown(const char *kv, char *out, size_t len)
{
	const char *at = strchr(kv, '@'), *colon;

	snprintf(out, len, "%s", kv);
	if (!at || strncmp(kv, "postgres", 8))
		return;
	colon = strchr(strstr(kv, "//") + 2, ':');
	if (colon && colon < at)
		snprintf(out, len, "%.*s:***%s", (int)(colon - kv), kv, at);
}

static void metad_report(void *arg, int json, struct vctl_buf *b)
{
	struct metad *m = arg;
	double up = (vloop_now_ns() - m->start_ns) / 1e9;
	struct vmgmtc_stats ms;
	struct mgc_stats gs;
	struct vns_stats ns;
	char kv[sizeof(m->o.kv)];

	vmgmtc_stats(m->mgmtc, &ms);
	mgc_get_stats(m->gc, &gs);
	vns_get_stats(m->ns, &ns);
	metad_kv_shown(m->o.kv, kv, sizeof(kv));
	if (json) {
		vctl_printf(b,
			    "{\"program\":\"valor-metad\",\"pid\":%d,"
			    "\"listen\":",
			    (int)getpid());
		metad_json_str(b, m->o.listen);
		vctl_printf(b, ",\"kv\":");
		metad_json_str(b, kv);
		vctl_printf(b,
			    ",\"uptime_s\":%.1f,\"node_id\":%u,"
			    "\"routing_version\":%llu,\"table_version\":%u,"
			    "\"chains\":%u,\"gc\":{\"rounds\":%llu,"
			    "\"claimed\":%llu,\"collected\":%llu,"
			    "\"removes\":%llu,\"chunks\":%llu,"
			    "\"remove_errors\":%llu,\"stale\":%llu,"
			    "\"no_route\":%llu,\"kv_errors\":%llu},"
			    "\"replays\":%llu,\"idem_expired\":%llu,"
			    "\"leases_expired\":%llu,\"sessions_dropped\":%llu,"
			    "\"locks_dropped\":%llu,",
			    up, ms.node_id,
			    (unsigned long long)m->routing_version,
			    m->table_version, m->nchains,
			    (unsigned long long)gs.rounds,
			    (unsigned long long)gs.claimed,
			    (unsigned long long)gs.collected,
			    (unsigned long long)gs.removes,
			    (unsigned long long)gs.chunks,
			    (unsigned long long)gs.remove_errors,
			    (unsigned long long)gs.stale,
			    (unsigned long long)gs.no_route,
			    (unsigned long long)gs.kv_errors,
			    (unsigned long long)ns.replays,
			    (unsigned long long)ns.idem_expired,
			    (unsigned long long)ns.leases_expired,
			    (unsigned long long)ns.sessions_dropped,
			    (unsigned long long)ns.locks_dropped);
		msrv_report(m->srv, 1, b);
		vctl_printf(b, "}\n");
		return;
	}
	vctl_printf(b, "valor-metad pid %d: %s, kv %s, up %.1f s\n",
		    (int)getpid(), m->o.listen, kv, up);
	vctl_printf(b,
		    "node %u, routing version %llu, chain table version %u "
		    "(%u chains)\n",
		    ms.node_id, (unsigned long long)m->routing_version,
		    m->table_version, m->nchains);
	vctl_printf(
		b,
		"gc: %llu rounds, %llu claimed, %llu collected, %llu "
		"REMOVEs ok (%llu chunks), %llu failed (%llu stale), "
		"%llu without route, %llu kv errors\n",
		(unsigned long long)gs.rounds, (unsigned long long)gs.claimed,
		(unsigned long long)gs.collected,
		(unsigned long long)gs.removes, (unsigned long long)gs.chunks,
		(unsigned long long)gs.remove_errors,
		(unsigned long long)gs.stale, (unsigned long long)gs.no_route,
		(unsigned long long)gs.kv_errors);
	vctl_printf(b,
		    "exactly-once: %llu replays, %llu records expired; "
		    "leases: %llu expired (%llu sessions, %llu lock sets "
		    "dropped)\n",
		    (unsigned long long)ns.replays,
		    (unsigned long long)ns.idem_expired,
		    (unsigned long long)ns.leases_expired,
		    (unsigned long long)ns.sessions_dropped,
		    (unsigned long long)ns.locks_dropped);
	msrv_report(m->srv, 0, b);
}

/* ---- start and stop --------------------------------------------------------
 */

static int metad_open_signals(struct metad *m)
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
	m->sig.cb = metad_on_signal;
	return vloop_watch_add(m->loop, &m->sig);
}

static int metad_open_kv(struct metad *m)
{
	struct vns_layout l = {.chunk_size = m->o.chunk_size,
			       .stripe = m->o.stripe};
	char kv[sizeof(m->o.kv)];
	int ret;

	metad_kv_shown(m->o.kv, kv, sizeof(kv));
	ret = vkv_open(m->o.kv, &m->kv);
	if (ret < 0) {
		vlog_err("--kv %s: cannot open the store: %s%s", kv,
			 strerror(-ret),
			 ret == -ECONNREFUSED
				 ? " (is PostgreSQL running there, and does "
				   "it accept this user?)"
				 : "");
		return ret;
	}
	ret = vns_open(m->kv, &m->ns);
	if (ret < 0) {
		vlog_err("--kv %s: cannot open the namespace: %s", kv,
			 strerror(-ret));
		return ret;
	}
	vns_set_default_layout(m->ns, &l);
	vns_set_lease(m->ns, m->o.lease_ms);
	return 0;
}

static int metad_join_cluster(struct metad *m)
{
	struct vmgmtc_opts mo = {
		.mgmtd_url = m->o.mgmtd,
		.secret = m->secret,
		.role = WIRE_ROLE_META,
		.url = m->o.listen,
		.on_routing = metad_on_routing,
		.arg = m,
	};
	int ret;

	ret = vmgmtc_new(m->loop, &mo, &m->mgmtc);
	if (ret < 0) {
		vlog_err("--mgmtd %s: %s", m->o.mgmtd, strerror(-ret));
		return ret;
	}
	ret = vmgmtc_wait_routing(m->mgmtc, (int)m->o.mgmtd_wait_ms);
	if (ret < 0) {
		vlog_err("cannot reach mgmtd at %s: %s%s", m->o.mgmtd,
			 strerror(-ret),
			 ret == -EACCES ? " (--secret must name the cluster's "
					  "secret file)"
					: " (is valor-mgmtd running there?)");
		return ret;
	}
	return 0;
}

/* Everything up to serving; each failure is logged. Undone by _stop. */
static int metad_start(struct metad *m)
{
	struct msrv_opts so = {.listen = m->o.listen,
			       .max_inflight = m->o.max_inflight};
	struct mgc_opts go = {.interval_ms = m->o.gc_interval_ms};
	struct mgc_routing gr = {
		.get = metad_gc_routing, .refresh = metad_gc_refresh, .arg = m};
	const struct wire_routing *r;
	int ret;

	m->start_ns = vloop_now_ns();
	if (getrandom(&m->owner, sizeof(m->owner), 0) != sizeof(m->owner) ||
	    !m->owner)
		m->owner = (uint64_t)getpid() << 32 | (uint64_t)time(NULL);
	ret = vloop_new(&m->loop, VLOOP_POLL, 0, 0);
	if (ret < 0) {
		vlog_err("event loop: %s", strerror(-ret));
		return ret;
	}
	ret = metad_open_signals(m);
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
	ret = metad_open_kv(m);
	if (ret < 0)
		return ret;
	ret = mpool_new(m->loop, m->o.workers, &m->pool);
	if (ret < 0) {
		vlog_err("worker threads: %s", strerror(-ret));
		return ret;
	}
	so.secret = m->secret;
	ret = msrv_new(m->loop, m->pool, m->ns, &so, &m->srv);
	if (ret < 0) {
		vlog_err("cannot serve %s: %s%s", m->o.listen, strerror(-ret),
			 ret == -EADDRINUSE ? " (another valor-metad?)" : "");
		return ret;
	}
	/* Registered with the URL just opened; routing gives the chains. */
	ret = metad_join_cluster(m);
	if (ret < 0)
		return ret;
	r = vmgmtc_routing(m->mgmtc);
	if (r)
		metad_on_routing(m, r); /* space now that the server exists */
	go.owner = m->owner;
	go.secret = m->secret;
	ret = mgc_new(m->loop, m->pool, m->ns, &go, &gr, &m->gc);
	if (ret < 0) {
		vlog_err("garbage collector: %s", strerror(-ret));
		return ret;
	}
	m->sweep_job.run = metad_sweep_run;
	m->sweep_job.post.fn = metad_sweep_done;
	vloop_timer_add(m->loop, &m->sweep_timer, METAD_SWEEP_NS);
	ret = vctl_open(&m->ctl, m->loop, m->o.ctl_socket, metad_report, m);
	if (ret < 0) {
		vlog_warn("no control socket (%s): valorctl stats will not "
			  "reach this metad",
			  strerror(-ret));
		m->ctl = NULL;
	}
	if (m->o.pidfile[0]) {
		ret = vdaemon_write_pidfile(m->o.pidfile);
		if (ret < 0)
			return ret;
		m->pidfile_written = 1;
	}
	vlog_info("serving %s%s on %s, %u workers, node %u, chain table "
		  "version %u (%u chains), control socket %s",
		  m->o.listen, m->secret ? " (authenticated)" : "",
		  vkv_backend_name(m->kv), m->o.workers,
		  vmgmtc_node_id(m->mgmtc), m->table_version, m->nchains,
		  m->ctl ? m->o.ctl_socket : "none");
	return 0;
}

/* Undo whatever _start did: finish the work on the pool first. */
static void metad_stop(struct metad *m)
{
	uint64_t end = vloop_now_ns() + METAD_DRAIN_MS * 1000000ull;
	int leak = 0;

	m->stopping = 1;
	if (m->loop)
		vloop_timer_cancel(m->loop, &m->sweep_timer);
	mgc_free(m->gc, METAD_DRAIN_MS);
	if (m->srv && msrv_drain(m->srv, METAD_DRAIN_MS))
		leak = 1;
	while (m->sweep_busy && vloop_now_ns() < end)
		vloop_run_once(m->loop, 50);
	if (m->sweep_busy)
		leak = 1;
	vctl_close(m->ctl);
	vmgmtc_free(m->mgmtc);
	msrv_free(m->srv);
	if (!leak) {
		/* Workers may still hold the namespace otherwise. */
		mpool_free(m->pool);
		vns_close(m->ns);
		vkv_close(m->kv);
	}
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	if (!leak)
		vloop_free(m->loop);
	vauth_secret_free(m->secret);
	if (m->pidfile_written)
		unlink(m->o.pidfile);
}

static int metad_serve_start(void *arg)
{
	return metad_start(arg);
}

static int metad_serve_run(void *arg)
{
	struct metad *m = arg;
	int ret = vloop_run(m->loop);

	vlog_info("stopping");
	return ret;
}

static void metad_serve_stop(void *arg)
{
	metad_stop(arg);
}

static const struct vdaemon_server metad_server = {
	.name = "valor-metad",
	.start = metad_serve_start,
	.run = metad_serve_run,
	.stop = metad_serve_stop,
};

int main(int argc, char **argv)
{
	struct metad *m;
	int ret, status;

	vlog_set_ident("valor-metad");
	m = calloc(1, sizeof(*m));
	if (!m) {
		fprintf(stderr, "valor-metad: out of memory\n");
		return 1;
	}
	m->sig_fd = -1;
	/* Cancelled by metad_stop() whatever start-up reached. */
	vloop_timer_init(&m->sweep_timer, metad_on_sweep);
	ret = metad_parse_args(&m->o, argc, argv);
	if (ret) {
		free(m);
		return ret > 0 ? 0 : 2;
	}
	if (m->o.debug)
		vlog_set_level(VLOG_DEBUG);

	status = vdaemon_serve(&metad_server, m, m->o.foreground, NULL);
	free(m);
	return status;
}
