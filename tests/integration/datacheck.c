/* SPDX-License-Identifier: MIT */
/*
 * datacheck.c - random file operations checked byte for byte against a model.
 *
 *   datacheck [-p NPROC] [-n OPS_PER_PROC] [-s SEED] [-S MAXSIZE] DIR
 *
 * Each of NPROC forked processes owns one file DIR/datacheck.SEED.I and an
 * in-memory model of it (a byte array of MAXSIZE and a length; bytes past the
 * length are kept zero, so growing the file in the model is just moving the
 * length). It performs OPS_PER_PROC random operations: writes at random
 * offsets (also past EOF, leaving holes), reads, truncates up and down, hole
 * punches, reads through a MAP_SHARED mapping, fsync/fdatasync, close and
 * reopen, reads at EOF and fstat. Everything read is compared with the model.
 *
 * The run is a pure function of (SEED, NPROC, OPS_PER_PROC, MAXSIZE): process
 * I draws from its own generator seeded from SEED and I. On the first
 * mismatch or failed call the process prints the op number, seed, offset,
 * length, the first differing byte and its last operations, keeps its file
 * for inspection and exits 1. Exit 0 and the line
 * "datacheck: N ops, P procs, seed S: OK" when every process passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DC_MAX_IO (256 << 10)	/* largest single read or write */
#define DC_HISTORY 16		/* operations shown after a failure */

enum dc_op {
	DC_WRITE,	/* pwrite, or lseek + write */
	DC_READ,	/* pread of a random range, may cross EOF */
	DC_MMAP_READ,	/* MAP_SHARED PROT_READ of a range inside EOF */
	DC_TRUNCATE,	/* ftruncate up or down */
	DC_PUNCH,	/* fallocate PUNCH_HOLE | KEEP_SIZE */
	DC_FSYNC,	/* fsync or fdatasync */
	DC_REOPEN,	/* close and open again */
	DC_READ_EOF,	/* pread at exactly EOF returns 0 */
	DC_STAT,	/* fstat size equals the model's */
	DC_VERIFY,	/* read the whole file */
	DC_NOPS
};

static const char *const dc_op_names[DC_NOPS] = {
	[DC_WRITE] = "write",	    [DC_READ] = "read",
	[DC_MMAP_READ] = "mmap-read", [DC_TRUNCATE] = "truncate",
	[DC_PUNCH] = "punch-hole",  [DC_FSYNC] = "fsync",
	[DC_REOPEN] = "reopen",	    [DC_READ_EOF] = "read-at-eof",
	[DC_STAT] = "fstat",	    [DC_VERIFY] = "verify-all",
};

/* Relative frequencies; the order follows enum dc_op. */
static const unsigned dc_op_weights[DC_NOPS] = {
	[DC_WRITE] = 300,   [DC_READ] = 220,	 [DC_MMAP_READ] = 100,
	[DC_TRUNCATE] = 70, [DC_PUNCH] = 70,	 [DC_FSYNC] = 30,
	[DC_REOPEN] = 40,   [DC_READ_EOF] = 50, [DC_STAT] = 40,
	[DC_VERIFY] = 5,
};

struct dc_hist {
	long opno;
	enum dc_op op;
	long long off;
	long long len;
};

/* One process's state. The model's bytes past @len are always zero. */
struct dc_proc {
	int idx;
	uint64_t seed;		/* the run's seed, for messages */
	uint64_t rng;		/* this process's generator state */
	char path[PATH_MAX];
	int fd;
	unsigned char *model;	/* @maxsize bytes */
	size_t len;
	size_t maxsize;
	unsigned char *buf;	/* scratch, DC_MAX_IO + a page */
	long opno;
	bool punch_ok;		/* cleared if the fs says EOPNOTSUPP */
	struct dc_hist hist[DC_HISTORY];
};

static long dc_pagesize;

/* splitmix64: small, fast, good enough to pick offsets and fill buffers. */
static uint64_t dc_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static uint64_t dc_below(struct dc_proc *p, uint64_t n)
{
	return dc_next(&p->rng) % n;
}

static void dc_fill(struct dc_proc *p, unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t v = dc_next(&p->rng);

		memcpy(b + i, &v, 8);
	}
	for (; i < n; i++)
		b[i] = (unsigned char)dc_next(&p->rng);
}

static void dc_print_history(const struct dc_proc *p)
{
	long first = p->opno >= DC_HISTORY ? p->opno - DC_HISTORY + 1 : 0;
	long n;

	fprintf(stderr, "datacheck: proc %d: last operations:\n", p->idx);
	for (n = first; n <= p->opno; n++) {
		const struct dc_hist *h = &p->hist[n % DC_HISTORY];

		fprintf(stderr, "  op %ld %s offset %lld length %lld\n", h->opno,
			dc_op_names[h->op], h->off, h->len);
	}
}

/* Report and end this process; the file is kept for inspection. */
__attribute__((noreturn, format(printf, 2, 3)))
static void dc_die(const struct dc_proc *p, const char *fmt, ...)
{
	const struct dc_hist *h = &p->hist[p->opno % DC_HISTORY];
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr,
		"datacheck: FAIL proc %d op %ld (%s) seed %" PRIu64
		": offset %lld length %lld: %s\n",
		p->idx, p->opno, dc_op_names[h->op], p->seed, h->off, h->len,
		msg);
	dc_print_history(p);
	fprintf(stderr, "datacheck: model length %zu; file kept: %s\n", p->len,
		p->path);
	fflush(stderr);
	_exit(1);
}

static void dc_die_errno(const struct dc_proc *p, const char *call)
{
	int e = errno;

	dc_die(p, "%s: expected success got -1 (%s)", call, strerror(e));
}

/* @got (@n bytes read at @off) must equal the model there. */
static void dc_compare(const struct dc_proc *p, const unsigned char *got,
		       size_t off, size_t n, const char *how)
{
	size_t i;

	if (memcmp(got, p->model + off, n) == 0)
		return;
	for (i = 0; i < n && got[i] == p->model[off + i]; i++)
		;
	dc_die(p, "%s: first difference at file offset %zu: expected 0x%02x got 0x%02x",
	       how, off + i, p->model[off + i], got[i]);
}

/* Random offset with some bias toward EOF and page boundaries. */
static size_t dc_pick_off(struct dc_proc *p, size_t limit)
{
	size_t off;

	switch (dc_below(p, 4)) {
	case 0:	/* near EOF */
		off = p->len + dc_below(p, 16384);
		off = off > 8192 ? off - 8192 : 0;
		break;
	case 1:	/* page aligned */
		off = dc_below(p, limit) & ~(size_t)(dc_pagesize - 1);
		break;
	default:
		off = dc_below(p, limit);
		break;
	}
	return off < limit ? off : limit - 1;
}

static size_t dc_pick_len(struct dc_proc *p)
{
	switch (dc_below(p, 5)) {
	case 0:
	case 1:
		return 1 + dc_below(p, 64);
	case 2:
	case 3:
		return 1 + dc_below(p, 16384);
	default:
		return 1 + dc_below(p, DC_MAX_IO);
	}
}

static void dc_open(struct dc_proc *p, int flags)
{
	p->fd = open(p->path, O_RDWR | flags, 0644);
	if (p->fd < 0)
		dc_die_errno(p, "open");
}

/* pread exactly what the model predicts for [@off, @off + @n). */
static void dc_read_check(struct dc_proc *p, size_t off, size_t n)
{
	size_t want = off >= p->len ? 0 : (p->len - off < n ? p->len - off : n);
	size_t done = 0;
	ssize_t r;

	while (done < n) {
		r = pread(p->fd, p->buf + done, n - done, off + done);
		if (r < 0)
			dc_die_errno(p, "pread");
		if (r == 0)
			break;
		done += r;
	}
	if (done != want)
		dc_die(p, "pread: expected %zu bytes got %zu", want, done);
	dc_compare(p, p->buf, off, done, "pread");
}

static void dc_op_write(struct dc_proc *p, struct dc_hist *h)
{
	size_t off = dc_pick_off(p, p->maxsize), n = dc_pick_len(p), done = 0;
	bool seek = dc_below(p, 4) == 0;
	ssize_t r;

	if (n > p->maxsize - off)
		n = p->maxsize - off;
	h->off = off;
	h->len = n;
	dc_fill(p, p->buf, n);
	if (seek && lseek(p->fd, off, SEEK_SET) != (off_t)off)
		dc_die_errno(p, "lseek");
	while (done < n) {
		if (seek)
			r = write(p->fd, p->buf + done, n - done);
		else
			r = pwrite(p->fd, p->buf + done, n - done, off + done);
		if (r < 0)
			dc_die_errno(p, seek ? "write" : "pwrite");
		if (r == 0)
			dc_die(p, "write: expected %zu bytes got 0", n - done);
		done += r;
	}
	memcpy(p->model + off, p->buf, n);
	if (off + n > p->len)
		p->len = off + n;
}

static void dc_op_read(struct dc_proc *p, struct dc_hist *h)
{
	size_t off = dc_pick_off(p, p->maxsize), n = dc_pick_len(p);

	if (n > p->maxsize - off)
		n = p->maxsize - off;
	h->off = off;
	h->len = n;
	dc_read_check(p, off, n);
}

static void dc_op_mmap_read(struct dc_proc *p, struct dc_hist *h)
{
	size_t off, n, pg, maplen;
	unsigned char *m;

	if (p->len == 0)
		return;
	off = dc_below(p, p->len);
	n = dc_pick_len(p);
	if (n > p->len - off)
		n = p->len - off;
	h->off = off;
	h->len = n;
	pg = off & ~(size_t)(dc_pagesize - 1);
	maplen = off - pg + n;
	m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, p->fd, pg);
	if (m == MAP_FAILED)
		dc_die_errno(p, "mmap");
	dc_compare(p, m + (off - pg), off, n, "mmap read");
	munmap(m, maplen);
}

static void dc_op_truncate(struct dc_proc *p, struct dc_hist *h)
{
	size_t size;

	if (dc_below(p, 2) && p->len)
		size = dc_below(p, p->len + 1);	/* down */
	else
		size = dc_below(p, p->maxsize + 1);
	h->off = size;
	h->len = (long long)size - (long long)p->len;
	if (ftruncate(p->fd, size))
		dc_die_errno(p, "ftruncate");
	if (size < p->len)
		memset(p->model + size, 0, p->len - size);
	p->len = size;
}

static void dc_op_punch(struct dc_proc *p, struct dc_hist *h)
{
	size_t off = dc_pick_off(p, p->len + 4096), n = dc_pick_len(p), end;

	if (!p->punch_ok)
		return;
	h->off = off;
	h->len = n;
	if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
		      n)) {
		if (errno == EOPNOTSUPP) {
			fprintf(stderr,
				"datacheck: proc %d: punch hole not supported, not used\n",
				p->idx);
			p->punch_ok = false;
			return;
		}
		dc_die_errno(p, "fallocate(PUNCH_HOLE|KEEP_SIZE)");
	}
	end = off + n < p->len ? off + n : p->len;
	if (off < end)
		memset(p->model + off, 0, end - off);
}

static void dc_op_fsync(struct dc_proc *p, struct dc_hist *h)
{
	bool data = dc_below(p, 2);

	h->off = h->len = 0;
	if (data ? fdatasync(p->fd) : fsync(p->fd))
		dc_die_errno(p, data ? "fdatasync" : "fsync");
}

static void dc_op_stat(struct dc_proc *p, struct dc_hist *h)
{
	struct stat st;

	h->off = h->len = 0;
	if (fstat(p->fd, &st))
		dc_die_errno(p, "fstat");
	if ((size_t)st.st_size != p->len)
		dc_die(p, "fstat: expected size %zu got %lld", p->len,
		       (long long)st.st_size);
}

static void dc_op_reopen(struct dc_proc *p, struct dc_hist *h)
{
	if (close(p->fd))
		dc_die_errno(p, "close");
	dc_open(p, 0);
	dc_op_stat(p, h);
}

static void dc_op_read_eof(struct dc_proc *p, struct dc_hist *h)
{
	ssize_t r;

	h->off = p->len;
	h->len = 1 + dc_below(p, 8192);
	r = pread(p->fd, p->buf, h->len, p->len);
	if (r != 0)
		dc_die(p, "pread at EOF %zu: expected 0 got %zd (%s)", p->len,
		       r, r < 0 ? strerror(errno) : "data");
}

static void dc_op_verify(struct dc_proc *p, struct dc_hist *h)
{
	size_t off;

	h->off = 0;
	h->len = p->len;
	for (off = 0; off < p->len; off += DC_MAX_IO)
		dc_read_check(p, off, DC_MAX_IO);
	dc_read_check(p, p->len, 1);
}

static enum dc_op dc_pick_op(struct dc_proc *p)
{
	static unsigned total;
	unsigned r, i;

	if (!total)
		for (i = 0; i < DC_NOPS; i++)
			total += dc_op_weights[i];
	r = dc_below(p, total);
	for (i = 0; i < DC_NOPS - 1 && r >= dc_op_weights[i]; i++)
		r -= dc_op_weights[i];
	return (enum dc_op)i;
}

static void dc_proc_run(struct dc_proc *p, long nops)
{
	struct dc_hist *h;

	dc_open(p, O_CREAT | O_TRUNC);
	for (p->opno = 0; p->opno < nops; p->opno++) {
		h = &p->hist[p->opno % DC_HISTORY];
		h->opno = p->opno;
		h->op = dc_pick_op(p);
		h->off = h->len = 0;
		switch (h->op) {
		case DC_WRITE:
			dc_op_write(p, h);
			break;
		case DC_READ:
			dc_op_read(p, h);
			break;
		case DC_MMAP_READ:
			dc_op_mmap_read(p, h);
			break;
		case DC_TRUNCATE:
			dc_op_truncate(p, h);
			break;
		case DC_PUNCH:
			dc_op_punch(p, h);
			break;
		case DC_FSYNC:
			dc_op_fsync(p, h);
			break;
		case DC_REOPEN:
			dc_op_reopen(p, h);
			break;
		case DC_READ_EOF:
			dc_op_read_eof(p, h);
			break;
		case DC_STAT:
			dc_op_stat(p, h);
			break;
		case DC_VERIFY:
		case DC_NOPS:
			dc_op_verify(p, h);
			break;
		}
	}
	/* A last full comparison, through a fresh open. */
	p->opno--;
	h = &p->hist[p->opno % DC_HISTORY];
	h->op = DC_VERIFY;
	dc_op_reopen(p, h);
	dc_op_verify(p, h);
	if (close(p->fd))
		dc_die_errno(p, "close");
	if (unlink(p->path))
		dc_die_errno(p, "unlink");
}

static void dc_child(int idx, uint64_t seed, const char *dir, long nops,
		     size_t maxsize)
{
	struct dc_proc *p = calloc(1, sizeof(*p));

	if (!p) {
		fprintf(stderr, "datacheck: out of memory\n");
		_exit(1);
	}
	p->idx = idx;
	p->seed = seed;
	p->rng = seed ^ (0x5851f42d4c957f2dULL * (uint64_t)(idx + 1));
	dc_next(&p->rng);
	p->maxsize = maxsize;
	p->punch_ok = true;
	p->model = calloc(1, maxsize);
	p->buf = malloc(DC_MAX_IO + dc_pagesize);
	if (!p->model || !p->buf) {
		fprintf(stderr, "datacheck: out of memory\n");
		_exit(1);
	}
	snprintf(p->path, sizeof(p->path), "%s/datacheck.%" PRIu64 ".%d", dir,
		 seed, idx);
	dc_proc_run(p, nops);
	_exit(0);
}

static void dc_usage(void)
{
	fprintf(stderr,
		"usage: datacheck [-p NPROC] [-n OPS_PER_PROC] [-s SEED] [-S MAXSIZE] DIR\n"
		"  defaults: -p 4 -n 25000 -S 1048576, SEED from the clock\n");
	exit(2);
}

/* Parse a positive number with an optional k/m/g suffix. */
static bool dc_parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v == 0)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	unsigned long long nproc = 4, nops = 25000, maxsize = 1 << 20, seed;
	struct timespec now;
	int opt, i, failed = 0;
	pid_t *pids;
	struct stat st;

	clock_gettime(CLOCK_REALTIME, &now);
	seed = ((uint64_t)now.tv_sec * 1000003ULL) ^ (uint64_t)now.tv_nsec ^
	       ((uint64_t)getpid() << 32);
	seed %= 1000000000000ULL;	/* short enough to retype */
	while ((opt = getopt(argc, argv, "p:n:s:S:h")) != -1) {
		switch (opt) {
		case 'p':
			if (!dc_parse_size(optarg, &nproc) || nproc > 1024)
				dc_usage();
			break;
		case 'n':
			if (!dc_parse_size(optarg, &nops))
				dc_usage();
			break;
		case 's':
			errno = 0;
			seed = strtoull(optarg, NULL, 0);
			if (errno)
				dc_usage();
			break;
		case 'S':
			if (!dc_parse_size(optarg, &maxsize) ||
			    maxsize > (1ULL << 32))
				dc_usage();
			break;
		default:
			dc_usage();
		}
	}
	if (optind != argc - 1)
		dc_usage();
	if (stat(argv[optind], &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "datacheck: %s: not a directory\n",
			argv[optind]);
		return 2;
	}
	dc_pagesize = sysconf(_SC_PAGESIZE);
	printf("datacheck: %llu procs x %llu ops, max size %llu, seed %llu, in %s\n",
	       nproc, nops, maxsize, seed, argv[optind]);
	fflush(stdout);
	pids = calloc(nproc, sizeof(*pids));
	if (!pids)
		return 2;
	for (i = 0; i < (int)nproc; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("datacheck: fork");
			failed = 1;
			break;
		}
		if (pids[i] == 0)
			dc_child(i, seed, argv[optind], nops, maxsize);
	}
	for (i = 0; i < (int)nproc && pids[i] > 0; i++) {
		int status;

		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			if (WIFSIGNALED(status))
				fprintf(stderr,
					"datacheck: proc %d seed %llu: killed by signal %d (%s)\n",
					i, seed, WTERMSIG(status),
					strsignal(WTERMSIG(status)));
			failed = 1;
		}
	}
	free(pids);
	if (failed) {
		printf("datacheck: %llu ops, %llu procs, seed %llu: FAILED\n",
		       nproc * nops, nproc, seed);
		return 1;
	}
	printf("datacheck: %llu ops, %llu procs, seed %llu: OK\n", nproc * nops,
	       nproc, seed);
	return 0;
}
