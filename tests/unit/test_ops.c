/* SPDX-License-Identifier: MIT */
/*
 * The request path without a kernel: raw FUSE messages go through
 * vreq_dispatch() (decode, dispatch table, handlers, mem backend) and the
 * replies are captured by a fake engine instead of being written to
 * /dev/fuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "daemon/htable.h"
#include "daemon/itable.h"
#include "daemon/session.h"
#include "proto/fuse_reply.h"

/* The last reply the fake engine saw. */
static struct {
	int n;
	struct fuse_out_header h;
	uint8_t body[1 << 16];
	size_t body_len;
} cap;

static int capture_send(struct vworker *w, struct vreq *r,
			const struct iovec *iov, int iovcnt)
{
	size_t off = 0;

	cap.n++;
	memcpy(&cap.h, iov[0].iov_base, sizeof(cap.h));
	for (int i = 1; i < iovcnt; i++) {
		if (off + iov[i].iov_len <= sizeof(cap.body))
			memcpy(cap.body + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	cap.body_len = off;
	return 0;
}

static const struct vengine_ops capture_ops = {
	.name = "capture",
	.send = capture_send,
};

struct fixture {
	struct vsession s;
	struct vworker *w;
	uint64_t unique;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vfs_config cfg;
	struct fuse_init_in in = { .major = 7, .minor = 45,
				   .max_readahead = 1 << 20,
				   .flags = 0x73fffffb, .flags2 = 0x5fd };
	struct fuse_init_out out;
	size_t outlen;

	vfs_config_defaults(&cfg);
	strcpy(cfg.source, "mem");
	strcpy(cfg.mountpoint, "/nonexistent");
	cfg.queue_depth = 4;
	cfg.max_write = 128 * 1024;
	cfg.mem_size_mb = 64;
	assert_int_equal(vsession_init(&f->s, &cfg), 0);
	in.flags |= FUSE_INIT_EXT;
	assert_int_equal(vsession_negotiate(&f->s, &in, &out, &outlen), 0);
	f->s.nworkers = 1;
	f->s.workers = calloc(1, sizeof(*f->s.workers));
	f->w = &f->s.workers[0];
	assert_int_equal(vworker_init(f->w, &f->s, 0, -1, -1, 0, VLOOP_POLL, 0,
				      &capture_ops), 0);
	f->unique = 100;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vsession_release(&f->s);
	free(f);
	return 0;
}

/*
 * Build and dispatch one request: header + @arg + up to two strings
 * (each with its NUL) and @data. Returns the number of replies sent.
 */
static int req(struct fixture *f, uint32_t opcode, uint64_t nodeid,
	       const void *arg, size_t arglen, const char *s1, const char *s2,
	       const void *data, size_t datalen)
{
	struct vreq *r = vworker_req_get(f->w);
	struct fuse_in_header *h;
	size_t len = sizeof(*h);
	int before = cap.n;

	assert_non_null(r);
	h = (struct fuse_in_header *)r->buf;
	memset(h, 0, sizeof(*h));
	if (arglen)
		memcpy(r->buf + len, arg, arglen);
	len += arglen;
	if (s1) {
		memcpy(r->buf + len, s1, strlen(s1) + 1);
		len += strlen(s1) + 1;
	}
	if (s2) {
		memcpy(r->buf + len, s2, strlen(s2) + 1);
		len += strlen(s2) + 1;
	}
	if (datalen) {
		memcpy(r->buf + len, data, datalen);
		len += datalen;
	}
	h->len = (uint32_t)len;
	h->opcode = opcode;
	h->unique = f->unique += 2;
	h->nodeid = nodeid;
	r->len = len;
	memset(&cap.h, 0, sizeof(cap.h));
	vreq_dispatch(r);
	return cap.n - before;
}

static uint64_t do_mkdir(struct fixture *f, uint64_t parent, const char *name)
{
	struct fuse_mkdir_in in = { .mode = 0755 };
	struct fuse_entry_out e;

	assert_int_equal(req(f, FUSE_MKDIR, parent, &in, sizeof(in), name,
			     NULL, NULL, 0), 1);
	assert_int_equal(cap.h.error, 0);
	assert_int_equal(cap.body_len, sizeof(e));
	memcpy(&e, cap.body, sizeof(e));
	assert_true(S_ISDIR(e.attr.mode));
	return e.nodeid;
}

static void test_ops__lookup_missing_is_enoent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(req(f, FUSE_LOOKUP, 1, NULL, 0, "nope", NULL, NULL,
			     0), 1);
	assert_int_equal(cap.h.error, -ENOENT);
	assert_int_equal(cap.h.len, sizeof(struct fuse_out_header));
	assert_int_equal(cap.h.unique, f->unique);
}

static void test_ops__mkdir_counts_lookup_and_forget_releases(void **state)
{
	struct fixture *f = *state;
	uint64_t ino = do_mkdir(f, 1, "d");
	struct fuse_forget_in fg = { .nlookup = 1 };

	assert_int_equal(itable_count(f->s.it, ino), 1);
	assert_int_equal(req(f, FUSE_LOOKUP, 1, NULL, 0, "d", NULL, NULL, 0),
			 1);
	assert_int_equal(cap.h.error, 0);
	assert_int_equal(itable_count(f->s.it, ino), 2);
	fg.nlookup = 2;
	/* FORGET gets no reply. */
	assert_int_equal(req(f, FUSE_FORGET, ino, &fg, sizeof(fg), NULL, NULL,
			     NULL, 0), 0);
	assert_int_equal(itable_count(f->s.it, ino), 0);
	/* The request went back to the pool. */
	assert_int_equal(f->w->nfree, f->w->nreqs);
}

static void test_ops__create_write_read(void **state)
{
	struct fixture *f = *state;
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	struct fuse_entry_out e;
	struct fuse_open_out o;
	struct fuse_write_in wi = { 0 };
	struct fuse_read_in ri = { 0 };
	struct fuse_write_out wo;
	const char msg[] = "hello, valorfs";

	assert_int_equal(req(f, FUSE_CREATE, 1, &ci, sizeof(ci), "f", NULL,
			     NULL, 0), 1);
	assert_int_equal(cap.h.error, 0);
	assert_int_equal(cap.body_len, sizeof(e) + sizeof(o));
	memcpy(&e, cap.body, sizeof(e));
	memcpy(&o, cap.body + sizeof(e), sizeof(o));
	assert_true(S_ISREG(e.attr.mode));

	wi.fh = o.fh;
	wi.offset = 10;
	wi.size = sizeof(msg);
	assert_int_equal(req(f, FUSE_WRITE, e.nodeid, &wi, sizeof(wi), NULL,
			     NULL, msg, sizeof(msg)), 1);
	assert_int_equal(cap.h.error, 0);
	memcpy(&wo, cap.body, sizeof(wo));
	assert_int_equal(wo.size, sizeof(msg));

	ri.fh = o.fh;
	ri.offset = 0;
	ri.size = 4096;
	assert_int_equal(req(f, FUSE_READ, e.nodeid, &ri, sizeof(ri), NULL,
			     NULL, NULL, 0), 1);
	assert_int_equal(cap.h.error, 0);
	assert_int_equal(cap.body_len, 10 + sizeof(msg));
	for (int i = 0; i < 10; i++)
		assert_int_equal(cap.body[i], 0);	/* a hole */
	assert_memory_equal(cap.body + 10, msg, sizeof(msg));
}

static void test_ops__stale_fh_is_ebadf(void **state)
{
	struct fixture *f = *state;
	struct fuse_read_in ri = { .fh = 0x1234500000007ULL, .size = 10 };

	assert_int_equal(req(f, FUSE_READ, 1, &ri, sizeof(ri), NULL, NULL,
			     NULL, 0), 1);
	assert_int_equal(cap.h.error, -EBADF);
}

static void test_ops__malformed_requests_get_errors(void **state)
{
	struct fixture *f = *state;
	struct vreq *r;
	char longname[300];

	/* A name that is not terminated inside the message. */
	r = vworker_req_get(f->w);
	{
		struct fuse_in_header *h = (struct fuse_in_header *)r->buf;

		memset(h, 0, sizeof(*h));
		h->opcode = FUSE_LOOKUP;
		h->unique = 77;
		h->nodeid = 1;
		memcpy(r->buf + sizeof(*h), "abc", 3);
		h->len = sizeof(*h) + 3;
		r->len = h->len;
		vreq_dispatch(r);
		assert_int_equal(cap.h.unique, 77);
		assert_int_equal(cap.h.error, -EINVAL);
	}
	/* Too long a name. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(req(f, FUSE_LOOKUP, 1, NULL, 0, longname, NULL, NULL,
			     0), 1);
	assert_int_equal(cap.h.error, -ENAMETOOLONG);
	/* A truncated fixed argument. */
	assert_int_equal(req(f, FUSE_READ, 1, "xx", 2, NULL, NULL, NULL, 0), 1);
	assert_int_equal(cap.h.error, -EINVAL);
	/* An opcode nobody knows. */
	assert_int_equal(req(f, 999, 1, NULL, 0, NULL, NULL, NULL, 0), 1);
	assert_int_equal(cap.h.error, -ENOSYS);
	/* Fewer bytes than a header: nothing to answer, nothing leaked. */
	r = vworker_req_get(f->w);
	memset(r->buf, 0, 16);
	r->len = 16;
	{
		int before = cap.n;

		vreq_dispatch(r);
		assert_int_equal(cap.n, before);
	}
	assert_int_equal(f->w->nfree, f->w->nreqs);
}

static void test_ops__readdirplus_counts_entries(void **state)
{
	struct fixture *f = *state;
	uint64_t d = do_mkdir(f, 1, "dir");
	uint64_t a = do_mkdir(f, d, "a");
	uint64_t b = do_mkdir(f, d, "b");
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_open_out o;
	struct fuse_read_in ri = { .size = 4096 };
	size_t pos = 0;
	int names = 0;

	assert_int_equal(req(f, FUSE_OPENDIR, d, &oi, sizeof(oi), NULL, NULL,
			     NULL, 0), 1);
	assert_int_equal(cap.h.error, 0);
	memcpy(&o, cap.body, sizeof(o));
	ri.fh = o.fh;
	assert_int_equal(req(f, FUSE_READDIRPLUS, d, &ri, sizeof(ri), NULL,
			     NULL, NULL, 0), 1);
	assert_int_equal(cap.h.error, 0);
	while (pos < cap.body_len) {
		struct fuse_direntplus *dp =
			(struct fuse_direntplus *)(cap.body + pos);

		names++;
		pos += fuse_direntplus_size(dp->dirent.namelen);
	}
	assert_int_equal(names, 4);	/* ".", "..", "a", "b" */
	/* mkdir gave one reference each, readdirplus one more. */
	assert_int_equal(itable_count(f->s.it, a), 2);
	assert_int_equal(itable_count(f->s.it, b), 2);
	/* The directory itself was not counted by its own "." entry. */
	assert_int_equal(itable_count(f->s.it, d), 1);
}

static void test_ops__init_grants_only_what_was_asked(void **state)
{
	struct fixture *f = *state;

	assert_true(f->s.flags & FUSE_ASYNC_READ);
	assert_true(f->s.flags & FUSE_MAX_PAGES);
	assert_false(f->s.flags & FUSE_WRITEBACK_CACHE);
	assert_int_equal(f->s.max_write, 128 * 1024);
	assert_int_equal(f->s.max_pages, 32);
}

static void test_ops__second_init_refused(void **state)
{
	struct fixture *f = *state;
	struct fuse_init_in in = { .major = 7, .minor = 45 };

	assert_int_equal(req(f, FUSE_INIT, 0, &in, sizeof(in), NULL, NULL,
			     NULL, 0), 1);
	assert_int_equal(cap.h.error, -EPROTO);
}

static void test_ops__unlink_rmdir_errnos(void **state)
{
	struct fixture *f = *state;
	uint64_t d = do_mkdir(f, 1, "full");

	do_mkdir(f, d, "child");
	assert_int_equal(req(f, FUSE_RMDIR, 1, NULL, 0, "full", NULL, NULL, 0),
			 1);
	assert_int_equal(cap.h.error, -ENOTEMPTY);
	assert_int_equal(req(f, FUSE_UNLINK, 1, NULL, 0, "full", NULL, NULL,
			     0), 1);
	assert_int_equal(cap.h.error, -EISDIR);
	assert_int_equal(req(f, FUSE_RMDIR, d, NULL, 0, "child", NULL, NULL,
			     0), 1);
	assert_int_equal(cap.h.error, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ops__lookup_missing_is_enoent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__mkdir_counts_lookup_and_forget_releases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__create_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__stale_fh_is_ebadf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__malformed_requests_get_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__readdirplus_counts_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__init_grants_only_what_was_asked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__second_init_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ops__unlink_rmdir_errnos, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
