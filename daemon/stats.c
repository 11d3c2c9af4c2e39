/* SPDX-License-Identifier: MIT */
/*
 * stats.c - what `valorctl stats --socket PATH` shows of a valorfs daemon:
 * the engine and its workers (CPU, requests, batches, io_uring and splice
 * counters) and, per FUSE op, counts, errors and latency quantiles summed
 * over the workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ctlsock.h"
#include "common/log.h"
#include "daemon/session.h"

static void vstats_report(void *arg, int json, struct vctl_buf *b)
{
	struct vsession *s = arg;
	double up = (vloop_now_ns() - s->t_start_ns) / 1e9;
	struct vstats_op *sum = calloc(FUSE_OPCODE_MAX + 1, sizeof(*sum));
	int first = 1;

	if (!sum) {
		b->oom = 1;
		return;
	}
	for (unsigned i = 0; i < s->nworkers; i++)
		for (int op = 0; op <= FUSE_OPCODE_MAX; op++)
			vstats_op_sum(&sum[op], &s->workers[i].ops[op]);

	if (json) {
		vctl_printf(b, "{\"program\":\"valorfs\",\"pid\":%d,"
			    "\"source\":\"%s\",\"mountpoint\":\"%s\","
			    "\"uptime_s\":%.1f,\"engine\":\"%s\",\"workers\":[",
			    (int)getpid(), s->cfg.source, s->cfg.mountpoint, up,
			    vengine_name(s->engine));
		for (unsigned i = 0; i < s->nworkers; i++) {
			struct vworker *w = &s->workers[i];

			vctl_printf(b, "%s{\"id\":%d,\"kind\":\"%s\",\"cpu\":%d,"
				    "\"requests\":%llu,\"batches\":%llu,"
				    "\"empty_reads\":%llu,\"inflight\":%u,"
				    "\"splice_in\":%lu,\"splice_out\":%lu}",
				    i ? "," : "", w->id, w->eops->name, w->cpu,
				    (unsigned long long)w->n_requests,
				    (unsigned long long)w->n_batches,
				    (unsigned long long)w->n_eagain,
				    w->inflight, w->splice.n_read,
				    w->splice.n_write);
		}
		vctl_printf(b, "],\"ops\":{");
		for (int op = 0; op <= FUSE_OPCODE_MAX; op++) {
			struct vstats_op *o = &sum[op];

			if (!o->count)
				continue;
			vctl_printf(b, "%s\"%s\":{\"count\":%llu,\"errors\":%llu,"
				    "\"avg_us\":%.1f,\"p50_us\":%.0f,"
				    "\"p99_us\":%.0f}",
				    first ? "" : ",",
				    op ? fuse_opcode_name((uint32_t)op) : "OTHER",
				    (unsigned long long)o->count,
				    (unsigned long long)o->errors,
				    o->ns_total / 1e3 / (double)o->count,
				    vstats_op_quantile_us(o, 0.5),
				    vstats_op_quantile_us(o, 0.99));
			first = 0;
		}
		vctl_printf(b, "}}\n");
		free(sum);
		return;
	}

	vctl_printf(b, "valorfs pid %d: %s on %s, up %.1f s\n", (int)getpid(),
		    s->cfg.source, s->cfg.mountpoint, up);
	vctl_printf(b, "engine %s, %u workers\n\n", vengine_name(s->engine),
		    s->nworkers);
	vctl_printf(b, "%-6s %-10s %4s %12s %10s %10s %9s %10s %10s\n",
		    "worker", "kind", "cpu", "requests", "batches",
		    "emptyrd", "inflight", "splice_in", "splice_out");
	for (unsigned i = 0; i < s->nworkers; i++) {
		struct vworker *w = &s->workers[i];

		vctl_printf(b, "%-6d %-10s %4d %12llu %10llu %10llu %9u %10lu %10lu\n",
			    w->id, w->eops->name, w->cpu,
			    (unsigned long long)w->n_requests,
			    (unsigned long long)w->n_batches,
			    (unsigned long long)w->n_eagain, w->inflight,
			    w->splice.n_read, w->splice.n_write);
	}
	vctl_printf(b, "\n%-18s %12s %10s %10s %10s %10s\n", "op", "count",
		    "errors", "avg_us", "p50_us", "p99_us");
	for (int op = 0; op <= FUSE_OPCODE_MAX; op++) {
		struct vstats_op *o = &sum[op];

		if (!o->count)
			continue;
		vctl_printf(b, "%-18s %12llu %10llu %10.1f %10.0f %10.0f\n",
			    op ? fuse_opcode_name((uint32_t)op) : "OTHER",
			    (unsigned long long)o->count,
			    (unsigned long long)o->errors,
			    o->ns_total / 1e3 / (double)o->count,
			    vstats_op_quantile_us(o, 0.5),
			    vstats_op_quantile_us(o, 0.99));
	}
	free(sum);
}

void vsession_ctl_socket_open(struct vsession *s, struct vloop *loop)
{
	int ret;

	if (s->cfg.ctl_socket[0]) {
		snprintf(s->ctl_path, sizeof(s->ctl_path), "%s",
			 s->cfg.ctl_socket);
	} else if (geteuid() == 0) {
		snprintf(s->ctl_path, sizeof(s->ctl_path),
			 "/run/valorfs/%d.sock", (int)getpid());
	} else {
		const char *rt = getenv("XDG_RUNTIME_DIR");

		snprintf(s->ctl_path, sizeof(s->ctl_path), "%s/valorfs-%d.sock",
			 rt && *rt ? rt : "/tmp", (int)getpid());
	}
	ret = vctl_open(&s->ctl, loop, s->ctl_path, vstats_report, s);
	if (ret) {
		vlog_warn("no control socket (%s): valorctl stats will not "
			  "reach this daemon", strerror(-ret));
		s->ctl = NULL;
		return;
	}
	vlog_info("control socket %s (valorctl stats --socket %s)",
		  s->ctl_path, s->ctl_path);
}

void vsession_ctl_socket_close(struct vsession *s)
{
	vctl_close(s->ctl);
	s->ctl = NULL;
}
