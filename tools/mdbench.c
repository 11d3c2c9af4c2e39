/* SPDX-License-Identifier: MIT */
/*
 * mdbench - a small mdtest-like metadata benchmark.
 *
 *   mdbench [-d DEPTH] [-b FANOUT] [-n FILES_PER_DIR] [-j JOBS] [--json] DIR
 *
 * Under DIR it makes a private run directory (DIR/mdbench.PID) and, in it,
 * one tree per job: a top directory (made untimed) with FANOUT
 * subdirectories per level down to DEPTH levels, and FILES_PER_DIR empty
 * files in every directory of the tree, the top included. The defaults
 * (-d 3 -b 8 -n 10) give 584 timed directories (8 + 64 + 512) and 5,850
 * files (585 directories x 10) per job, as in the peer baselines.
 *
 * Phases, in this order, each timed with CLOCK_MONOTONIC:
 *   dir-create   mkdir of every directory, parents first
 *   file-create  open(O_CREAT|O_EXCL|O_WRONLY) + close of every file
 *   dir-stat     stat of every directory
 *   file-stat    stat of every file
 *   file-open    open(O_RDONLY) + close of every file
 *   file-remove  unlink of every file
 *   dir-remove   rmdir of every directory, children first
 *
 * With -j N, N forked workers run each phase at the same time, each in its
 * own tree; a phase's time runs from the first worker's start to the last
 * worker's end, and its ops are summed over the workers (as mdtest does).
 *
 * Output: one line per phase, "phase ops seconds ops/s", or with --json one
 * JSON object. Any failing system call stops the run with a message naming
 * the call, the path and errno; the run directory is then removed as far as
 * possible and the exit status is 1 (2 for usage errors). SIGINT/SIGTERM stop
 * the run the same way.
 *
 * Only libc is used: this tool must also work against other file systems.
 */
/* pipe2(), nftw(): also when built alone, without the Makefile's flags. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* More workers than this are a typo, not a benchmark. */
#define MDBENCH_MAX_JOBS 1024
/* Upper bound on directories + files per tree (paths are precomputed). */
#define MDBENCH_MAX_ENTRIES (16u * 1024 * 1024)

enum mdbench_phase {
	MDBENCH_DIR_CREATE,
	MDBENCH_FILE_CREATE,
	MDBENCH_DIR_STAT,
	MDBENCH_FILE_STAT,
	MDBENCH_FILE_OPEN,
	MDBENCH_FILE_REMOVE,
	MDBENCH_DIR_REMOVE,
	MDBENCH_NR_PHASES,
};

static const char *const mdbench_phase_names[MDBENCH_NR_PHASES] = {
	[MDBENCH_DIR_CREATE] = "dir-create",
	[MDBENCH_FILE_CREATE] = "file-create",
	[MDBENCH_DIR_STAT] = "dir-stat",
	[MDBENCH_FILE_STAT] = "file-stat",
	[MDBENCH_FILE_OPEN] = "file-open",
	[MDBENCH_FILE_REMOVE] = "file-remove",
	[MDBENCH_DIR_REMOVE] = "dir-remove",
};

/*
 * The relative paths of one tree, built once before any timing so a phase
 * does nothing but system calls. Every job uses the same names under its
 * own top directory. dirs[] is in breadth-first order (parents before
 * children); files[] lists FILES_PER_DIR names per directory, the top first.
 * All strings point into @arena, which the tree owns.
 */
struct mdbench_tree {
	char *arena;
	size_t arena_len, arena_cap;
	size_t *dir_off, *file_off;	/* offsets into arena while building */
	const char **dirs, **files;
	size_t nr_dirs, nr_files;
};

/* What one job reports for one phase: status, then its own start/end. */
struct mdbench_report {
	int err;			/* 0 or -errno */
	struct timespec start, end;
};

struct mdbench_result {
	size_t ops;
	double seconds;
};

struct mdbench_opts {
	unsigned depth, fanout, files_per_dir, jobs;
	int json;
	const char *dir;
};

static volatile sig_atomic_t mdbench_stop;

static void mdbench_on_signal(int sig)
{
	(void)sig;
	mdbench_stop = 1;
}

static void mdbench_usage(FILE *f)
{
	fprintf(f,
		"usage: mdbench [-d DEPTH] [-b FANOUT] [-n FILES_PER_DIR] [-j JOBS] [--json] DIR\n"
		"  -d DEPTH   directory levels below each tree's top (default 3)\n"
		"  -b FANOUT  subdirectories per directory (default 8)\n"
		"  -n FILES   empty files per directory, top included (default 10)\n"
		"  -j JOBS    forked workers, each with its own tree (default 1)\n"
		"  --json     print one JSON object instead of one line per phase\n"
		"Phases: dir-create file-create dir-stat file-stat file-open\n"
		"        file-remove dir-remove (ops/s, CLOCK_MONOTONIC).\n");
}

static double mdbench_ts_diff(const struct timespec *a,
			      const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static int mdbench_ts_before(const struct timespec *a,
			     const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Parse a decimal unsigned in [min, max]; returns 0 or -EINVAL. */
static int mdbench_parse_uint(const char *s, unsigned min, unsigned max,
			      unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* ---- the tree of names ---- */

static void mdbench_tree_init(struct mdbench_tree *t)
{
	memset(t, 0, sizeof(*t));
}

static void mdbench_tree_release(struct mdbench_tree *t)
{
	free(t->arena);
	free(t->dir_off);
	free(t->file_off);
	free(t->dirs);
	free(t->files);
	mdbench_tree_init(t);
}

/* Append "prefix/name%u" (or "name%u" for an empty prefix) to the arena;
 * returns the new string's offset, or -ENOMEM / -ENAMETOOLONG. */
static long mdbench_tree_add(struct mdbench_tree *t, size_t prefix_off,
			     int has_prefix, char kind, unsigned idx)
{
	char name[32];
	size_t plen = has_prefix ? strlen(t->arena + prefix_off) : 0;
	int nlen = snprintf(name, sizeof(name), "%c%u", kind, idx);
	size_t need = plen + (has_prefix ? 1 : 0) + (size_t)nlen + 1;
	size_t off = t->arena_len;

	if (need >= PATH_MAX)
		return -ENAMETOOLONG;
	if (t->arena_len + need > t->arena_cap) {
		size_t cap = t->arena_cap ? t->arena_cap * 2 : 4096;
		char *p;

		while (cap < t->arena_len + need)
			cap *= 2;
		p = realloc(t->arena, cap);
		if (!p)
			return -ENOMEM;
		t->arena = p;
		t->arena_cap = cap;
	}
	if (has_prefix) {
		memcpy(t->arena + off, t->arena + prefix_off, plen);
		t->arena[off + plen] = '/';
		plen++;
	}
	memcpy(t->arena + off + plen, name, (size_t)nlen + 1);
	t->arena_len += need;
	return (long)off;
}

/*
 * Build the names of a tree of @depth levels of @fanout directories with
 * @nfiles files in each directory. Returns 0, -ENOMEM, -E2BIG (too many
 * entries) or -ENAMETOOLONG; on error the caller still releases @t.
 */
static int mdbench_tree_build(struct mdbench_tree *t, unsigned depth,
			      unsigned fanout, unsigned nfiles)
{
	size_t level_size = 1, nr_dirs = 0, level_start, level_end, d, i;
	unsigned l, k;
	long off;

	for (l = 0; l < depth; l++) {
		if (level_size > MDBENCH_MAX_ENTRIES / fanout)
			return -E2BIG;
		level_size *= fanout;
		nr_dirs += level_size;
		if (nr_dirs > MDBENCH_MAX_ENTRIES)
			return -E2BIG;
	}
	if (nfiles && nr_dirs + 1 > MDBENCH_MAX_ENTRIES / nfiles)
		return -E2BIG;
	t->nr_dirs = nr_dirs;
	t->nr_files = (nr_dirs + 1) * nfiles;
	t->dir_off = calloc(nr_dirs + 1, sizeof(*t->dir_off));
	t->file_off = calloc(t->nr_files + 1, sizeof(*t->file_off));
	t->dirs = calloc(nr_dirs + 1, sizeof(*t->dirs));
	t->files = calloc(t->nr_files + 1, sizeof(*t->files));
	if (!t->dir_off || !t->file_off || !t->dirs || !t->files)
		return -ENOMEM;

	/* Breadth-first: level 1 under the top, then each level under the
	 * previous one, so dirs[] is a valid creation order. */
	d = 0;
	level_start = 0;
	level_end = 0;
	for (l = 0; l < depth; l++) {
		size_t parent;

		if (l == 0) {
			for (k = 0; k < fanout; k++) {
				off = mdbench_tree_add(t, 0, 0, 'd', k);
				if (off < 0)
					return (int)off;
				t->dir_off[d++] = (size_t)off;
			}
		} else {
			for (parent = level_start; parent < level_end; parent++) {
				for (k = 0; k < fanout; k++) {
					off = mdbench_tree_add(t, t->dir_off[parent],
							       1, 'd', k);
					if (off < 0)
						return (int)off;
					t->dir_off[d++] = (size_t)off;
				}
			}
		}
		level_start = level_end;
		level_end = d;
	}

	/* Files: the top directory's first, then each directory's. */
	i = 0;
	for (k = 0; k < nfiles; k++) {
		off = mdbench_tree_add(t, 0, 0, 'f', k);
		if (off < 0)
			return (int)off;
		t->file_off[i++] = (size_t)off;
	}
	for (d = 0; d < nr_dirs; d++) {
		for (k = 0; k < nfiles; k++) {
			off = mdbench_tree_add(t, t->dir_off[d], 1, 'f', k);
			if (off < 0)
				return (int)off;
			t->file_off[i++] = (size_t)off;
		}
	}

	/* The arena no longer moves: turn offsets into pointers. */
	for (d = 0; d < nr_dirs; d++)
		t->dirs[d] = t->arena + t->dir_off[d];
	for (i = 0; i < t->nr_files; i++)
		t->files[i] = t->arena + t->file_off[i];
	return 0;
}

/* ---- one phase in one tree ---- */

/* Report a failed call once, with the full path; returns -errno. */
static int mdbench_fail(const char *phase, const char *call, const char *top,
			const char *rel, int err)
{
	fprintf(stderr, "mdbench: %s: %s(%s/%s) failed: %s (errno %d)\n",
		phase, call, top, rel, strerror(err), err);
	return -err;
}

static int mdbench_interrupted(const char *phase)
{
	fprintf(stderr, "mdbench: %s: interrupted\n", phase);
	return -EINTR;
}

/*
 * Run phase @p over tree @t whose top directory is open as @topfd (named
 * @top for messages). Returns the number of ops done, or -errno after
 * printing what failed.
 */
static long mdbench_phase_run(const struct mdbench_tree *t, int topfd,
			      const char *top, enum mdbench_phase p)
{
	const char *name = mdbench_phase_names[p];
	struct stat st;
	size_t i;
	int fd;

	switch (p) {
	case MDBENCH_DIR_CREATE:
		for (i = 0; i < t->nr_dirs; i++) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			if (mkdirat(topfd, t->dirs[i], 0755) < 0)
				return mdbench_fail(name, "mkdir", top,
						    t->dirs[i], errno);
		}
		return (long)t->nr_dirs;
	case MDBENCH_FILE_CREATE:
		for (i = 0; i < t->nr_files; i++) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			fd = openat(topfd, t->files[i],
				    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
				    0644);
			if (fd < 0)
				return mdbench_fail(name, "open", top,
						    t->files[i], errno);
			if (close(fd) < 0)
				return mdbench_fail(name, "close", top,
						    t->files[i], errno);
		}
		return (long)t->nr_files;
	case MDBENCH_DIR_STAT:
		for (i = 0; i < t->nr_dirs; i++) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			if (fstatat(topfd, t->dirs[i], &st, 0) < 0)
				return mdbench_fail(name, "stat", top,
						    t->dirs[i], errno);
		}
		return (long)t->nr_dirs;
	case MDBENCH_FILE_STAT:
		for (i = 0; i < t->nr_files; i++) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			if (fstatat(topfd, t->files[i], &st, 0) < 0)
				return mdbench_fail(name, "stat", top,
						    t->files[i], errno);
		}
		return (long)t->nr_files;
	case MDBENCH_FILE_OPEN:
		for (i = 0; i < t->nr_files; i++) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			fd = openat(topfd, t->files[i], O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return mdbench_fail(name, "open", top,
						    t->files[i], errno);
			if (close(fd) < 0)
				return mdbench_fail(name, "close", top,
						    t->files[i], errno);
		}
		return (long)t->nr_files;
	case MDBENCH_FILE_REMOVE:
		for (i = 0; i < t->nr_files; i++) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			if (unlinkat(topfd, t->files[i], 0) < 0)
				return mdbench_fail(name, "unlink", top,
						    t->files[i], errno);
		}
		return (long)t->nr_files;
	case MDBENCH_DIR_REMOVE:
		for (i = t->nr_dirs; i-- > 0;) {
			if (mdbench_stop)
				return mdbench_interrupted(name);
			if (unlinkat(topfd, t->dirs[i], AT_REMOVEDIR) < 0)
				return mdbench_fail(name, "rmdir", top,
						    t->dirs[i], errno);
		}
		return (long)t->nr_dirs;
	case MDBENCH_NR_PHASES:
		break;
	}
	return -EINVAL;
}

/* Time one phase; fills @r. Returns ops done or -errno. */
static long mdbench_phase_timed(const struct mdbench_tree *t, int topfd,
				const char *top, enum mdbench_phase p,
				struct mdbench_report *r)
{
	long ops;

	clock_gettime(CLOCK_MONOTONIC, &r->start);
	ops = mdbench_phase_run(t, topfd, top, p);
	clock_gettime(CLOCK_MONOTONIC, &r->end);
	r->err = ops < 0 ? (int)ops : 0;
	return ops;
}

/* ---- jobs ---- */

/* A job's own top directory: RUNDIR/jN, made untimed before phase 1. */
struct mdbench_job {
	pid_t pid;		/* 0 when run in-process or after reaping */
	int go_fd;		/* parent -> worker: one byte per phase */
	int report_fd;		/* worker -> parent: one mdbench_report */
	char top[PATH_MAX];
};

/* write()/read() exactly @len bytes; returns 0 or -errno (-EPIPE on EOF). */
static int mdbench_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int mdbench_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR) {
			if (mdbench_stop)
				return -EINTR;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A forked worker: for every go byte run the next phase and report.
 * Stops at the first failure or when the parent closes the go pipe.
 * Never returns.
 */
static void mdbench_worker_main(const struct mdbench_tree *t,
				const char *top, int go_fd, int report_fd)
{
	struct mdbench_report r;
	int topfd, p;
	char go;

	topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (topfd < 0) {
		mdbench_fail("setup", "open", top, ".", errno);
		_exit(1);
	}
	for (p = 0; p < MDBENCH_NR_PHASES; p++) {
		if (mdbench_read_all(go_fd, &go, 1) < 0)
			_exit(1);
		mdbench_phase_timed(t, topfd, top, (enum mdbench_phase)p, &r);
		if (mdbench_write_all(report_fd, &r, sizeof(r)) < 0 || r.err)
			_exit(1);
	}
	close(topfd);
	_exit(0);
}

/* Fork the worker for @j; returns 0 or -errno. */
static int mdbench_job_start(struct mdbench_job *j,
			     const struct mdbench_tree *t)
{
	int go[2], rep[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		return err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(rep[0]);
		close(rep[1]);
		return err;
	}
	if (pid == 0) {
		close(go[1]);
		close(rep[0]);
		mdbench_worker_main(t, j->top, go[0], rep[1]);
	}
	close(go[0]);
	close(rep[1]);
	j->pid = pid;
	j->go_fd = go[1];
	j->report_fd = rep[0];
	return 0;
}

/* Close the pipes and reap the worker (it exits on EOF of the go pipe). */
static void mdbench_job_stop(struct mdbench_job *j, int kill_it)
{
	if (j->go_fd >= 0)
		close(j->go_fd);
	if (j->report_fd >= 0)
		close(j->report_fd);
	j->go_fd = -1;
	j->report_fd = -1;
	if (j->pid > 0) {
		if (kill_it)
			kill(j->pid, SIGTERM);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		j->pid = 0;
	}
}

/*
 * Run phase @p in every job at once and merge the reports into @res.
 * Returns 0 or -errno (the failing worker has printed why).
 */
static int mdbench_phase_all(struct mdbench_job *jobs, unsigned njobs,
			     const struct mdbench_tree *t, int topfd,
			     enum mdbench_phase p, struct mdbench_result *res)
{
	struct mdbench_report r, first = { 0 };
	size_t per_job = (p == MDBENCH_DIR_CREATE || p == MDBENCH_DIR_STAT ||
			  p == MDBENCH_DIR_REMOVE) ? t->nr_dirs : t->nr_files;
	unsigned i;
	int err = 0, ret;
	char go = (char)p;

	if (njobs == 1 && jobs[0].pid == 0) {
		if (mdbench_phase_timed(t, topfd, jobs[0].top, p, &r) < 0)
			return r.err;
		res->ops = per_job;
		res->seconds = mdbench_ts_diff(&r.start, &r.end);
		return 0;
	}
	for (i = 0; i < njobs; i++) {
		ret = mdbench_write_all(jobs[i].go_fd, &go, 1);
		if (ret < 0) {
			fprintf(stderr, "mdbench: %s: cannot start worker %u: %s\n",
				mdbench_phase_names[p], i, strerror(-ret));
			return ret;
		}
	}
	for (i = 0; i < njobs; i++) {
		ret = mdbench_read_all(jobs[i].report_fd, &r, sizeof(r));
		if (ret < 0) {
			if (ret == -EINTR)
				fprintf(stderr, "mdbench: %s: interrupted\n",
					mdbench_phase_names[p]);
			else
				fprintf(stderr, "mdbench: %s: worker %u died\n",
					mdbench_phase_names[p], i);
			return ret;
		}
		if (r.err && !err)
			err = r.err;
		if (i == 0) {
			first = r;
		} else {
			if (mdbench_ts_before(&r.start, &first.start))
				first.start = r.start;
			if (mdbench_ts_before(&first.end, &r.end))
				first.end = r.end;
		}
	}
	if (err)
		return err;
	res->ops = per_job * njobs;
	res->seconds = mdbench_ts_diff(&first.start, &first.end);
	return 0;
}

/* ---- output ---- */

static double mdbench_rate(const struct mdbench_result *r)
{
	return r->seconds > 0 ? (double)r->ops / r->seconds : 0.0;
}

static void mdbench_print_text(const struct mdbench_result *res)
{
	int p;

	for (p = 0; p < MDBENCH_NR_PHASES; p++)
		printf("%-12s %9zu %10.6f %12.0f\n", mdbench_phase_names[p],
		       res[p].ops, res[p].seconds, mdbench_rate(&res[p]));
}

static void mdbench_print_json(const struct mdbench_opts *o,
			       const struct mdbench_tree *t,
			       const struct mdbench_result *res)
{
	int p;

	printf("{\"depth\": %u, \"fanout\": %u, \"files_per_dir\": %u, "
	       "\"jobs\": %u, \"dirs\": %zu, \"files\": %zu, \"phases\": {",
	       o->depth, o->fanout, o->files_per_dir, o->jobs,
	       t->nr_dirs * o->jobs, t->nr_files * o->jobs);
	for (p = 0; p < MDBENCH_NR_PHASES; p++)
		printf("%s\"%s\": {\"ops\": %zu, \"seconds\": %.9f, "
		       "\"ops_per_sec\": %.1f}",
		       p ? ", " : "", mdbench_phase_names[p], res[p].ops,
		       res[p].seconds, mdbench_rate(&res[p]));
	printf("}}\n");
}

/* ---- set-up and clean-up ---- */

static int mdbench_rm_entry(const char *path, const struct stat *st,
			    int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		fprintf(stderr, "mdbench: cleanup: cannot remove %s: %s\n",
			path, strerror(errno));
	return 0;
}

/* Best-effort removal of whatever is left under @path (after a failure). */
static void mdbench_rm_tree(const char *path)
{
	nftw(path, mdbench_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mdbench_parse_args(int argc, char **argv, struct mdbench_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->depth = 3;
	o->fanout = 8;
	o->files_per_dir = 10;
	o->jobs = 1;
	o->json = 0;
	while ((c = getopt_long(argc, argv, "d:b:n:j:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (mdbench_parse_uint(optarg, 0, 64, &o->depth) < 0)
				goto bad_value;
			break;
		case 'b':
			if (mdbench_parse_uint(optarg, 1, 1u << 20, &o->fanout) < 0)
				goto bad_value;
			break;
		case 'n':
			if (mdbench_parse_uint(optarg, 0, 1u << 24,
					       &o->files_per_dir) < 0)
				goto bad_value;
			break;
		case 'j':
			if (mdbench_parse_uint(optarg, 1, MDBENCH_MAX_JOBS,
					       &o->jobs) < 0)
				goto bad_value;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'h':
			mdbench_usage(stdout);
			exit(0);
		default:
			mdbench_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		mdbench_usage(stderr);
		return -EINVAL;
	}
	o->dir = argv[optind];
	return 0;

bad_value:
	fprintf(stderr, "mdbench: bad value for -%c: '%s'\n", c, optarg);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct mdbench_result res[MDBENCH_NR_PHASES] = { 0 };
	struct mdbench_job *jobs = NULL;
	struct mdbench_tree tree;
	struct mdbench_opts o;
	struct sigaction sa;
	char rundir[PATH_MAX];
	unsigned i, started = 0;
	int topfd = -1, ret, status = 1, p;

	if (mdbench_parse_args(argc, argv, &o) < 0)
		return 2;

	mdbench_tree_init(&tree);
	ret = mdbench_tree_build(&tree, o.depth, o.fanout, o.files_per_dir);
	if (ret < 0) {
		fprintf(stderr, "mdbench: cannot lay out the tree: %s\n",
			ret == -E2BIG ? "too many entries" : strerror(-ret));
		goto out_release_tree;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mdbench_on_signal;	/* no SA_RESTART: reads see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = snprintf(rundir, sizeof(rundir), "%s/mdbench.%ld", o.dir,
		       (long)getpid());
	if (ret < 0 || (size_t)ret >= sizeof(rundir) - 16) {
		fprintf(stderr, "mdbench: %s: path too long\n", o.dir);
		goto out_release_tree;
	}
	if (mkdir(rundir, 0755) < 0) {
		fprintf(stderr, "mdbench: setup: mkdir(%s) failed: %s (errno %d)\n",
			rundir, strerror(errno), errno);
		goto out_release_tree;
	}

	jobs = calloc(o.jobs, sizeof(*jobs));
	if (!jobs) {
		fprintf(stderr, "mdbench: out of memory\n");
		goto out_rm_rundir;
	}
	for (i = 0; i < o.jobs; i++) {
		jobs[i].go_fd = -1;
		jobs[i].report_fd = -1;
		ret = snprintf(jobs[i].top, sizeof(jobs[i].top), "%s/j%u",
			       rundir, i);
		if (ret < 0 || (size_t)ret >= sizeof(jobs[i].top)) {
			fprintf(stderr, "mdbench: %s: path too long\n", rundir);
			goto out_stop_jobs;
		}
		if (mkdir(jobs[i].top, 0755) < 0) {
			fprintf(stderr,
				"mdbench: setup: mkdir(%s) failed: %s (errno %d)\n",
				jobs[i].top, strerror(errno), errno);
			goto out_stop_jobs;
		}
	}
	if (o.jobs == 1) {
		topfd = open(jobs[0].top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (topfd < 0) {
			fprintf(stderr,
				"mdbench: setup: open(%s) failed: %s (errno %d)\n",
				jobs[0].top, strerror(errno), errno);
			goto out_stop_jobs;
		}
	} else {
		for (i = 0; i < o.jobs; i++) {
			ret = mdbench_job_start(&jobs[i], &tree);
			if (ret < 0) {
				fprintf(stderr, "mdbench: cannot fork worker %u: %s\n",
					i, strerror(-ret));
				goto out_stop_jobs;
			}
			started++;
		}
	}

	for (p = 0; p < MDBENCH_NR_PHASES; p++) {
		if (mdbench_stop) {
			fprintf(stderr, "mdbench: interrupted\n");
			goto out_stop_jobs;
		}
		if (mdbench_phase_all(jobs, o.jobs, &tree, topfd,
				      (enum mdbench_phase)p, &res[p]) < 0)
			goto out_stop_jobs;
	}
	status = 0;

out_stop_jobs:
	for (i = 0; i < started; i++)
		mdbench_job_stop(&jobs[i], status != 0);
	if (topfd >= 0)
		close(topfd);
	if (status == 0) {
		/* Everything timed is gone; only the empty tops remain. */
		for (i = 0; i < o.jobs; i++) {
			if (rmdir(jobs[i].top) < 0) {
				fprintf(stderr,
					"mdbench: cleanup: rmdir(%s) failed: %s (errno %d)\n",
					jobs[i].top, strerror(errno), errno);
				status = 1;
			}
		}
	}
	free(jobs);
out_rm_rundir:
	if (status == 0 && rmdir(rundir) < 0) {
		fprintf(stderr, "mdbench: cleanup: rmdir(%s) failed: %s (errno %d)\n",
			rundir, strerror(errno), errno);
		status = 1;
	}
	if (status != 0)
		mdbench_rm_tree(rundir);
	if (status == 0) {
		if (o.json)
			mdbench_print_json(&o, &tree, res);
		else
			mdbench_print_text(res);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "mdbench: writing results: %s\n",
				strerror(errno));
			status = 1;
		}
	}
out_release_tree:
	mdbench_tree_release(&tree);
	return status;
}
