/* SPDX-License-Identifier: MIT */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <numa.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "proto/fuse_reply.h"
#include "daemon/htable.h"
#include "daemon/itable.h"
#include "daemon/mount.h"

/* ------------------------------------------------------------------ */
/* Workers and their request pools                                     */

static void vworker_resume_post(struct vloop_post *p);

static void *vworker_mem_alloc(size_t size, int node)
{
	void *p;

	if (node >= 0 && numa_available() >= 0) {
		p = numa_alloc_onnode(size, node);
		return p;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void vworker_mem_free(void *p, size_t size, int node)
{
	if (!p)
		return;
	if (node >= 0 && numa_available() >= 0)
		numa_free(p, size);
	else
		munmap(p, size);
}

int vworker_init(struct vworker *w, struct vsession *s, int id, int cpu,
		 int fd, int own_fd, enum vloop_backend lb,
		 unsigned loop_flags, const struct vengine_ops *eops)
{
	size_t bufsize = s->bufsize;
	int ret;

	/* Cannot-fail part first, so vworker_release handles any state. */
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->id = id;
	w->cpu = cpu;
	w->numa_node = -1;
	w->fd = fd;
	w->own_fd = own_fd;
	w->eops = eops;
	w->bufsize = bufsize;
	w->resume_post.fn = vworker_resume_post;
	w->splice.pipe[0] = w->splice.pipe[1] = -1;
	pthread_mutex_init(&w->pool_lock, NULL);

	if (cpu >= 0 && numa_available() >= 0)
		w->numa_node = numa_node_of_cpu(cpu);

	ret = vloop_new(&w->loop, lb, 256, loop_flags);
	if (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP) {
		if (lb == VLOOP_URING)
			vlog_warn("worker %d: io_uring unavailable (%s), "
				  "using the poll loop", id, strerror(-ret));
		ret = vloop_new(&w->loop, VLOOP_POLL, 0, 0);
	}
	if (ret)
		return ret;

	w->nreqs = s->cfg.queue_depth;
	w->reqs = calloc(w->nreqs, sizeof(*w->reqs));
	if (!w->reqs)
		return -ENOMEM;
	w->mem_size = (size_t)w->nreqs * bufsize;
	w->mem = vworker_mem_alloc(w->mem_size, w->numa_node);
	if (!w->mem)
		return -ENOMEM;
	for (unsigned i = 0; i < w->nreqs; i++) {
		struct vreq *r = &w->reqs[i];

		r->w = w;
		r->buf = (uint8_t *)w->mem + (size_t)i * bufsize;
		/* Requests that produce data carry at most a header and a
		 * short name, well inside the first page. */
		r->data = r->buf + 4096;
		r->data_cap = bufsize - 4096;
		r->next = w->free_list;
		w->free_list = r;
		w->nfree++;
	}
	return 0;
}

void vworker_drain(struct vworker *w, int timeout_ms)
{
	uint64_t deadline = vloop_now_ns() + (uint64_t)timeout_ms * 1000000;
	struct io_uring_sqe *sqe;

	if (!w->inflight || vloop_backend_of(w->loop) != VLOOP_URING)
		return;
	sqe = vloop_sqe_get(w->loop);
	if (sqe)
		io_uring_prep_cancel_fd(sqe, w->fd, IORING_ASYNC_CANCEL_ALL);
	while (w->inflight && vloop_now_ns() < deadline)
		if (vloop_run_once(w->loop, 50) < 0)
			break;
	if (w->inflight)
		vlog_warn("worker %d: %u io_uring ops still pending at exit",
			  w->id, w->inflight);
}

void vworker_release(struct vworker *w)
{
	if (!w->s)
		return;
	if (w->eng_priv_free)
		w->eng_priv_free(w);
	if (w->inflight && vloop_backend_of(w->loop) == VLOOP_URING) {
		/* The kernel may still write into these buffers: keep them. */
		w->mem = NULL;
	}
	vloop_free(w->loop);
	w->loop = NULL;
	vworker_mem_free(w->mem, w->mem_size, w->numa_node);
	w->mem = NULL;
	free(w->reqs);
	w->reqs = NULL;
	if (w->splice.n_read || w->splice.n_write || w->splice.n_fallback)
		vlog_info("worker %d: splice: %lu requests in, %lu replies out, "
			  "%lu fell back to writev", w->id, w->splice.n_read,
			  w->splice.n_write, w->splice.n_fallback);
	vsplice_release(&w->splice);
	if (w->own_fd && w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	pthread_mutex_destroy(&w->pool_lock);
}

struct vreq *vworker_req_get(struct vworker *w)
{
	struct vreq *r;

	pthread_mutex_lock(&w->pool_lock);
	r = w->free_list;
	if (r) {
		w->free_list = r->next;
		w->nfree--;
		r->next = NULL;
	} else if (!w->paused) {
		/* Every request is in flight: stop reading until one frees. */
		w->paused = 1;
		vloop_watch_del(w->loop, &w->watch);
	}
	pthread_mutex_unlock(&w->pool_lock);
	return r;
}

static void vworker_resume(struct vworker *w)
{
	if (atomic_load(&w->s->stopping))
		return;
	if (vloop_watch_add(w->loop, &w->watch))
		vlog_err("worker %d: cannot resume reading", w->id);
}

static void vworker_resume_post(struct vloop_post *p)
{
	struct vworker *w = (struct vworker *)((char *)p -
			    offsetof(struct vworker, resume_post));
	int resume;

	atomic_store(&w->resume_queued, 0);
	pthread_mutex_lock(&w->pool_lock);
	resume = w->paused && w->nfree > 0;
	if (resume)
		w->paused = 0;
	pthread_mutex_unlock(&w->pool_lock);
	if (resume)
		vworker_resume(w);
}

void vworker_req_put(struct vreq *r)
{
	struct vworker *w = r->w;
	int resume;

	pthread_mutex_lock(&w->pool_lock);
	r->next = w->free_list;
	w->free_list = r;
	w->nfree++;
	resume = w->paused;
	pthread_mutex_unlock(&w->pool_lock);
	if (!resume)
		return;
	if (w->started && pthread_equal(pthread_self(), w->thread)) {
		pthread_mutex_lock(&w->pool_lock);
		w->paused = 0;
		pthread_mutex_unlock(&w->pool_lock);
		vworker_resume(w);
	} else if (!atomic_exchange(&w->resume_queued, 1)) {
		/* Another thread freed it: let the owner re-arm its watch. */
		vloop_post(w->loop, &w->resume_post);
	}
}

int vworker_backend_enter(struct vworker *w)
{
	struct backend *b = w->s->bk;
	int ret;

	if (!b->ops->worker_start)
		return 0;
	ret = b->ops->worker_start(b, (unsigned)w->id, w->loop);
	if (ret) {
		vlog_err("worker %d: backend set-up failed: %s", w->id,
			 strerror(-ret));
		vsession_stop(w->s);
	}
	return ret;
}

void vworker_backend_leave(struct vworker *w)
{
	struct backend *b = w->s->bk;

	if (b->ops->worker_stop)
		b->ops->worker_stop(b, (unsigned)w->id);
}

void vworker_conn_gone(struct vworker *w, int err)
{
	struct vsession *s = w->s;

	if (!atomic_load(&s->stopping))
		vlog_info("worker %d: connection ended (%s): unmounted",
			  w->id, strerror(-err));
	s->conn_gone = 1;
	vsession_stop(s);
}

/* ------------------------------------------------------------------ */
/* Session                                                             */

static void vsession_sync_done(struct bcall *c)
{
	(void)c;
}

/*
 * A user's own mount of a fresh file system: its root belongs to that user,
 * as with any file system a user creates. mem completes inline.
 */
static void vsession_root_owner(struct vsession *s, uint32_t uid, uint32_t gid)
{
	struct vctx root = { .uid = 0, .gid = 0 };
	struct vsetattr sa = { .valid = VSET_UID | VSET_GID, .uid = uid,
			       .gid = gid };
	struct bcall c = { .done = vsession_sync_done };

	s->bk->ops->setattr(s->bk, &root, FUSE_ROOT_ID, &sa, &c);
	if (c.err)
		vlog_warn("cannot give the root to uid %u: %s", uid,
			  strerror(-c.err));
}

int vsession_init(struct vsession *s, const struct vfs_config *cfg)
{
	pthread_mutexattr_t ma;

	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->fd = -1;
	s->stop_efd = -1;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->pending_lock, &ma);
	pthread_mutexattr_destroy(&ma);

	s->t_start_ns = vloop_now_ns();
	s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_efd < 0)
		return -errno;
	s->it = itable_new();
	s->ht = htable_new();
	if (!s->it || !s->ht)
		return -ENOMEM;
	if (!strcmp(cfg->source, "mem")) {
		s->bk = mem_backend_new((uint64_t)cfg->mem_size_mb << 20);
		if (!s->bk)
			return -ENOMEM;
		if (getuid() != 0)
			vsession_root_owner(s, getuid(), getgid());
	} else if (!strncmp(cfg->source, "tcp://", 6) ||
		   !strncmp(cfg->source, "rdma://", 7)) {
		int err = 0;

		s->bk = cluster_backend_new(cfg->source,
					    cfg->secret[0] ? cfg->secret : NULL,
					    cfg->timeout_s, &err);
		if (!s->bk)
			return err;
	} else {
		vlog_err("source '%s': expected 'mem' or a mgmtd URL "
			 "(tcp://HOST:PORT)", cfg->source);
		return -EINVAL;
	}
	if (cfg->splice == VSPLICE_READ || cfg->splice == VSPLICE_BOTH) {
		/* A spliced request must fit a pipe: 80 + max_write bytes in
		 * whole pages, and pipes are capped at pipe-max-size. */
		size_t cap = vsplice_pipe_max() - 4096;

		if (s->cfg.max_write > cap) {
			vlog_info("splice=read: max_write lowered from %u to %zu "
				  "(pipe-max-size)", s->cfg.max_write, cap);
			s->cfg.max_write = (uint32_t)cap;
		}
	}
	cfg = &s->cfg;
	/* A fuse-uring payload must hold max(8192, max_write). */
	s->bufsize = (size_t)(cfg->max_write > 8192 ? cfg->max_write : 8192) +
		     4096;
	s->want_fuse_uring = (cfg->engine == VENGINE_AUTO ||
			      cfg->engine == VENGINE_FUSE_URING) &&
			     vengine_uring_probe(IORING_SETUP_SQE128) == 0;
	return 0;
}

static void vsession_backend_forget(void *arg, uint64_t ino)
{
	struct vsession *s = arg;

	if (ino != 1)
		s->bk->ops->forget(s->bk, ino);
}

void vsession_release(struct vsession *s)
{
	for (unsigned i = 0; s->workers && i < s->nworkers; i++) {
		struct vworker *w = &s->workers[i];

		if (w->s)
			vlog_info("worker %d (%s, cpu %d): %llu requests, %llu "
				  "empty reads", w->id, w->eops->name, w->cpu,
				  (unsigned long long)w->n_requests,
				  (unsigned long long)w->n_eagain);
		vworker_release(w);
	}
	free(s->workers);
	s->workers = NULL;
	/* A failure after mounting (pidfile, workers) must not leave a dead
	 * mount behind. */
	if (s->mounted && !s->conn_gone)
		vmount_unmount(&s->cfg, s->used_fusermount);
	s->mounted = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	/* The kernel's references die with the connection. */
	if (s->it && s->bk)
		itable_drain(s->it, vsession_backend_forget, s);
	if (s->bk)
		s->bk->ops->destroy(s->bk);
	itable_free(s->it);
	htable_free(s->ht);
	if (s->stop_efd >= 0)
		close(s->stop_efd);
	pthread_mutex_destroy(&s->pending_lock);
}

void vsession_kick(struct vsession *s)
{
	uint64_t one = 1;

	if (write(s->stop_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vlog_err("cannot wake the main thread: %s", strerror(errno));
}

void vsession_stop(struct vsession *s)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, 1);
	if (write(s->stop_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vlog_err("cannot signal shutdown: %s", strerror(errno));
}

/* Read and answer INIT (and anything odd before it) on s->fd. */
static int vsession_handshake(struct vsession *s)
{
	size_t bufsize = s->bufsize;
	uint8_t *buf = aligned_alloc(4096, bufsize);
	int ret = -EIO;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		struct fuse_req_in in;
		struct fuse_out_header h;
		struct fuse_init_out out;
		struct iovec iov[2];
		size_t outlen = 0;
		ssize_t n;

		ret = poll(&pfd, 1, 30000);
		if (ret == 0) {
			vlog_err("the kernel sent no INIT within 30 s");
			ret = -ETIMEDOUT;
			break;
		}
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		n = read(s->fd, buf, bufsize);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
				continue;
			ret = -errno;
			vlog_err("reading INIT: %s", strerror(-ret));
			break;
		}
		ret = fuse_decode(buf, (size_t)n, &s->dctx, &in);
		if (ret || in.opcode != FUSE_INIT) {
			vlog_err("expected INIT, got %s (%s)",
				 fuse_opcode_name(in.opcode),
				 ret ? strerror(-ret) : "out of order");
			if (in.unique) {
				fuse_out_header_fill(&h, in.unique, -EIO, 0);
				if (write(s->fd, &h, sizeof(h)) < 0)
					vlog_warn("reply: %s", strerror(errno));
			}
			continue;
		}
		ret = vsession_negotiate(s, &in.u.init, &out, &outlen);
		if (ret) {
			fuse_out_header_fill(&h, in.unique, ret, 0);
			outlen = 0;
		} else {
			h.len = sizeof(h) + outlen;
			h.error = 0;
			h.unique = in.unique;
		}
		iov[0].iov_base = &h;
		iov[0].iov_len = sizeof(h);
		iov[1].iov_base = &out;
		iov[1].iov_len = outlen;
		if (writev(s->fd, iov, outlen ? 2 : 1) < 0) {
			ret = -errno;
			vlog_err("replying to INIT: %s", strerror(-ret));
			break;
		}
		if (ret)
			break;
		if (in.u.init.major == 7)
			break;	/* negotiated */
	}
	free(buf);
	return ret;
}

int vsession_mount(struct vsession *s)
{
	int fd = vmount_mount(&s->cfg, &s->used_fusermount);
	int ret;

	if (fd < 0)
		return fd;
	s->fd = fd;
	s->mounted = 1;
	ret = vsession_handshake(s);
	if (ret) {
		vmount_unmount(&s->cfg, s->used_fusermount);
		s->mounted = 0;
	}
	return ret;
}

/* Stop everything once stop_efd fires: unmount, then end the loops. */
static void vsession_shutdown(struct vsession *s)
{
	if (s->mounted && !s->conn_gone) {
		vlog_info("unmounting %s", s->cfg.mountpoint);
		vmount_unmount(&s->cfg, s->used_fusermount);
	}
	s->mounted = 0;
	for (unsigned i = 0; i < s->nworkers; i++)
		if (s->workers[i].loop)
			vloop_stop(s->workers[i].loop);
}

/* Control watches: signals and the stop eventfd. */
struct vsession_ctl {
	struct vsession *s;
	struct vloop *loop;
	struct vloop_watch sig, stop;
	int sigfd;
};

static void vsession_ctl_signal(struct vloop_watch *wt, uint32_t revents)
{
	struct vsession_ctl *ctl = (struct vsession_ctl *)((char *)wt -
				   offsetof(struct vsession_ctl, sig));
	struct signalfd_siginfo si;

	while (read(ctl->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			continue;
		vlog_info("signal %u: shutting down", si.ssi_signo);
		vsession_stop(ctl->s);
	}
}

/* fuse-uring could not register: serve the same connection with uring. */
static void vsession_restart_uring(struct vsession *s)
{
	int ret;

	vengine_clone_stop(s);
	for (unsigned i = 0; i < s->nworkers; i++)
		vworker_release(&s->workers[i]);
	free(s->workers);
	s->workers = NULL;
	s->nworkers = 0;
	s->engine = VENGINE_URING;
	ret = vengine_uring_start(s);
	if (ret) {
		vlog_err("cannot start engine uring: %s", strerror(-ret));
		vsession_stop(s);
	}
}

static void vsession_ctl_stop(struct vloop_watch *wt, uint32_t revents)
{
	struct vsession_ctl *ctl = (struct vsession_ctl *)((char *)wt -
				   offsetof(struct vsession_ctl, stop));
	struct vsession *s = ctl->s;
	uint64_t v;

	if (read(s->stop_efd, &v, sizeof(v)) < 0 && errno == EAGAIN)
		return;
	if (!atomic_load(&s->stopping)) {
		if (atomic_exchange(&s->restart_uring, 2) == 1)
			vsession_restart_uring(s);
		return;
	}
	vsession_shutdown(s);
	vloop_stop(ctl->loop);
}

static int vsession_ctl_setup(struct vsession_ctl *ctl, struct vsession *s,
			      struct vloop *loop)
{
	sigset_t set;
	int ret;

	ctl->s = s;
	ctl->loop = loop;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	ctl->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ctl->sigfd < 0)
		return -errno;
	ctl->sig.fd = ctl->sigfd;
	ctl->sig.events = POLLIN;
	ctl->sig.cb = vsession_ctl_signal;
	ctl->stop.fd = s->stop_efd;
	ctl->stop.events = POLLIN;
	ctl->stop.cb = vsession_ctl_stop;
	ret = vloop_watch_add(loop, &ctl->sig);
	if (!ret)
		ret = vloop_watch_add(loop, &ctl->stop);
	return ret;
}

static void vsession_ctl_release(struct vsession_ctl *ctl)
{
	if (ctl->loop) {
		vloop_watch_del(ctl->loop, &ctl->sig);
		vloop_watch_del(ctl->loop, &ctl->stop);
	}
	if (ctl->sigfd >= 0)
		close(ctl->sigfd);
}

/* The backend's control work runs on @loop (see backend.h attach). */
static int vsession_attach(struct vsession *s, struct vloop *loop)
{
	int ret;

	if (!s->bk->ops->attach)
		return 0;
	ret = s->bk->ops->attach(s->bk, loop);
	if (ret)
		vlog_err("backend %s: cannot start: %s", s->bk->ops->name,
			 strerror(-ret));
	else
		s->attached = 1;
	return ret;
}

static void vsession_detach(struct vsession *s)
{
	if (s->attached && s->bk->ops->detach)
		s->bk->ops->detach(s->bk);
	s->attached = 0;
}

int vsession_run(struct vsession *s)
{
	struct vsession_ctl ctl = { .sigfd = -1 };
	struct vloop *ctl_loop = NULL;
	int ret;

	s->engine = s->cfg.engine;
	if (s->flags & FUSE_OVER_IO_URING) {
		s->engine = VENGINE_FUSE_URING;
	} else if (s->engine == VENGINE_FUSE_URING) {
		vlog_warn("engine fuse-uring unavailable: the kernel did not "
			  "offer FUSE-over-io_uring (needs Linux >= 6.14 and "
			  "/sys/module/fuse/parameters/enable_uring=Y); "
			  "using engine uring");
		s->engine = VENGINE_URING;
	}
	/*
	 * Without the kernel's rings, auto means clone: make bench measured
	 * uring no faster than clone here (latency is dominated by wake-ups,
	 * which io_uring READs on /dev/fuse do not avoid).
	 */
	if (s->engine == VENGINE_AUTO)
		s->engine = VENGINE_CLONE;
	if (s->engine == VENGINE_URING) {
		ret = vengine_uring_probe(0);
		if (ret) {
			vlog_warn("io_uring is not available (%s): engine clone",
				  strerror(-ret));
			s->engine = VENGINE_CLONE;
		}
	}

	if (s->engine == VENGINE_SYNC) {
		s->nworkers = 1;
		s->workers = calloc(1, sizeof(*s->workers));
		if (!s->workers)
			return 1;
		ret = vworker_init(&s->workers[0], s, 0, -1, s->fd, 0,
				   VLOOP_POLL, 0, &vengine_fd_ops);
		if (!ret)
			ret = vsession_ctl_setup(&ctl, s, s->workers[0].loop);
		if (!ret)
			ret = vsession_attach(s, s->workers[0].loop);
		if (!ret) {
			vlog_info("engine sync: one thread, poll + read/writev");
			vsession_ctl_socket_open(s, s->workers[0].loop);
			ret = vengine_sync_run(s);
			vsession_ctl_socket_close(s);
			vsession_detach(s);
		}
		vsession_ctl_release(&ctl);
		goto out;
	}

	ret = vloop_new(&ctl_loop, VLOOP_POLL, 0, 0);
	if (ret)
		goto out;
	ret = vsession_ctl_setup(&ctl, s, ctl_loop);
	if (ret)
		goto out_ctl;
	ret = vsession_attach(s, ctl_loop);
	if (ret)
		goto out_ctl;
	if (s->engine == VENGINE_FUSE_URING)
		ret = vengine_fuse_uring_start(s);
	else if (s->engine == VENGINE_URING)
		ret = vengine_uring_start(s);
	else
		ret = vengine_clone_start(s);
	if (ret == 0) {
		vsession_ctl_socket_open(s, ctl_loop);
		ret = vloop_run(ctl_loop);
		vsession_ctl_socket_close(s);
	}
	/* Stops and joins whatever was started, also after a failed start. */
	vengine_clone_stop(s);
	vsession_detach(s);
out_ctl:
	vsession_ctl_release(&ctl);
	vloop_free(ctl_loop);
out:
	if (ret)
		vlog_err("session ended with an error: %s", strerror(-ret));
	if (s->mounted && !s->conn_gone)
		vmount_unmount(&s->cfg, s->used_fusermount);
	s->mounted = 0;
	return ret ? 1 : 0;
}
