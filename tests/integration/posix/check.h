/* SPDX-License-Identifier: MIT */
/*
 * check.h - the framework the posix checker's checks are written in.
 *
 * The program (main.c) runs every check of its table in a fresh
 * subdirectory that is the current directory while the check runs, so a
 * check uses short relative paths and leaves whatever it likes behind: the
 * runner removes the subdirectory afterwards.
 *
 * How a check reports: the CHECK_* macros below evaluate their argument once,
 * record the first failure of the check (with the expression, the line, the
 * expectation and what came back) and yield true/false; the check function
 * decides itself whether to go on or return. Results live in a MAP_SHARED
 * page so that forked helper children record failures the same way.
 *
 * A check that blocks longer than POSIX_CHECK_TIMEOUT seconds is interrupted:
 * SIGALRM is installed without SA_RESTART, so the blocked call fails with
 * EINTR, the check records that, and the alarm repeats every second until the
 * check returns. Children run with their own alarm and the default action.
 *
 * check.c holds the framework and the helpers; the checks live in files.c,
 * names.c, data.c and locks.c, the table, the runner and main() in main.c.
 */
#ifndef VALOR_TESTS_POSIX_CHECK_H
#define VALOR_TESTS_POSIX_CHECK_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>

#define POSIX_CHECK_TIMEOUT 60	/* seconds, per check */
#define POSIX_CHILD_TIMEOUT 90	/* a stuck child dies by itself */
#define POSIX_NOBODY 65534

/* ---- results -------------------------------------------------------- */

/* One check's outcome; lives in shared memory (see top comment). */
struct posix_result {
	int failed;	/* set once, by the first failing expectation */
	int skipped;	/* the check called posix_skip() */
	char msg[1024];	/* the first failure, or the skip reason */
};

/* The current check's result: a MAP_SHARED page main() maps once. */
extern struct posix_result *posix_res;
/* Set by the SIGALRM handler when the current check ran out of time. */
extern volatile sig_atomic_t posix_timed_out;
/* Optional OTHER_DIR, absolute; empty when not given. Set by main(). */
extern char posix_other[PATH_MAX];
/* Nonzero when running as root. Set by main(). */
extern int posix_is_root;

/* errno's symbolic name ("ENOENT"), "0" for 0, "E?" if unknown; a static string. */
const char *posix_errname(int e);

/* Record a failure unless one is already recorded for this check. */
void posix_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Mark the check skipped with a reason; the check should return next. */
void posix_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The expectations behind the CHECK_* macros: each records a failure
 * naming @line and @expr when it does not hold, and returns whether it held.
 * posix_expect_ok: @ret >= 0. posix_expect_err: @ret == -1 and errno ==
 * @want. The others compare @got with @want (posix_expect_mem over @n bytes).
 */
bool posix_expect_ok(long ret, int line, const char *expr);
bool posix_expect_err(long ret, int want, int line, const char *expr);
bool posix_expect_eq(long long got, long long want, int line,
		     const char *expr);
bool posix_expect_mode(unsigned got, unsigned want, int line,
		       const char *expr);
bool posix_expect_true(bool cond, int line, const char *expr);
bool posix_expect_mem(const void *got, const void *want, size_t n, int line,
		      const char *expr);

/* Compare the whole content of file @name with @want/@len. */
bool posix_expect_content(const char *name, const void *want, size_t len,
			  int line);

/* Each macro evaluates its arguments once and yields a bool; none returns. */
#define CHECK_OK(expr) posix_expect_ok((long)(expr), __LINE__, #expr)
#define CHECK_ERR(expr, e) posix_expect_err((long)(expr), (e), __LINE__, #expr)
#define CHECK_EQ(got, want)                                                    \
	posix_expect_eq((long long)(got), (long long)(want), __LINE__, #got)
#define CHECK_MODE(got, want)                                                  \
	posix_expect_mode((unsigned)(got), (unsigned)(want), __LINE__, #got)
#define CHECK_TRUE(cond) posix_expect_true((cond), __LINE__, #cond)
#define CHECK_MEM(got, want, n) posix_expect_mem((got), (want), (n), __LINE__, #got)
#define CHECK_MAP(p) posix_expect_ok((p) == MAP_FAILED ? -1L : 0L, __LINE__, #p)
#define CHECK_CONTENT(name, want, len)                                         \
	posix_expect_content((name), (want), (len), __LINE__)

/* ---- small helpers ---------------------------------------------------- */

/* close(@fd) unless it is negative. */
void posix_close(int fd);

/* Deterministic bytes whose value depends on the position: shifts show. */
void posix_pattern(void *buf, size_t n, uint64_t off, unsigned seed);

/* pwrite/pread until @n bytes, EOF (a 0 return) or an error (-1, errno). */
ssize_t posix_pwrite_all(int fd, const void *buf, size_t n, off_t off);
ssize_t posix_pread_all(int fd, void *buf, size_t n, off_t off);

/* Create @name with @len bytes of @data; records a failure on error. */
bool posix_mkfile(const char *name, const void *data, size_t len,
		  mode_t mode);

bool posix_all_zero(const void *buf, size_t n);

/* Timestamps in nanoseconds; posix_now_ns() reads CLOCK_REALTIME. */
long long posix_ts_ns(struct timespec ts);
long long posix_now_ns(void);

/* Sleep long enough for a coarse kernel clock (HZ=100) to move on. */
void posix_tick(void);
void posix_msleep(long ms);

/* ---- children and synchronisation ------------------------------------- */

/*
 * A pair of pipes between the parent and one child. A waiter that sees EOF
 * (the other side died or gave up) returns false instead of blocking.
 */
struct posix_chan {
	int p2c[2];
	int c2p[2];
};

/* Open both pipes (all fds -1 first, so posix_chan_close() always works). */
bool posix_chan_open(struct posix_chan *ch);
void posix_chan_close(struct posix_chan *ch);
/* In the child: drop the parent's ends so that its exit reads as EOF. */
void posix_chan_child(struct posix_chan *ch);
/* In the parent: drop the child's ends. */
void posix_chan_parent(struct posix_chan *ch);

/* Send one byte; false if it could not be written. */
bool posix_post(int fd, char c);
/* Wait for one byte; true and the byte in *@c (may be NULL), false on EOF/error. */
bool posix_wait(int fd, char *c);

/*
 * Fork a child that runs @fn(@arg) and exits 0 iff no failure was recorded.
 * The child's failures go to the shared result like the parent's. Returns
 * the pid, or -1 (failure recorded).
 */
pid_t posix_spawn(void (*fn)(void *), void *arg);
/* Reap @pid; a child that died or failed without a message gets one. */
bool posix_reap(pid_t pid);

/* In a child: become nobody/nogroup with no supplementary groups. */
bool posix_become_nobody(void);

/* ---- the checks (run from main.c's table, in the table's order) ------- */

/* files.c: create/open, data, attributes, times, setuid/setgid */
void check_create_excl(void);
void check_umask(void);
void check_creat_missing_dir(void);
void check_path_through_file(void);
void check_open_errors(void);
void check_write_read(void);
void check_pread_pwrite(void);
void check_pwrite_beyond_4g(void);
void check_o_append(void);
void check_o_trunc(void);
void check_ftruncate(void);
void check_stat_fields(void);
void check_chmod(void);
void check_chown(void);
void check_chown_clears_suid(void);
void check_utimensat_ns(void);
void check_utime_now(void);
void check_utime_omit(void);
void check_times_on_write(void);
void check_ctime_on_attr_change(void);
void check_dir_times_on_entry_change(void);
void check_o_append_concurrent(void);
void check_setgid_dir(void);
void check_write_clears_suid(void);

/* names.c: directories, names, links, rename, special files */
void check_mkdir_rmdir(void);
void check_unlink_dir(void);
void check_rmdir_file(void);
void check_name_max(void);
void check_symlink(void);
void check_symlink_long_target(void);
void check_symlink_loop(void);
void check_hardlink(void);
void check_rename_file_replace(void);
void check_rename_hardlink_noop(void);
void check_rename_dir_to_empty_dir(void);
void check_rename_dir_nonempty(void);
void check_rename_file_to_dir(void);
void check_rename_dir_to_file(void);
void check_rename_into_subtree(void);
void check_renameat2_noreplace(void);
void check_renameat2_exchange(void);
void check_exdev(void);
void check_mkfifo(void);
void check_mknod_sock(void);
void check_mknod_dev(void);
void check_unix_socket(void);

/* data.c: xattrs, allocation and holes, copies, statvfs, readdir */
void check_xattr(void);
void check_xattr_trusted(void);
void check_fallocate_mode0(void);
void check_fallocate_keep_size(void);
void check_punch_hole(void);
void check_punch_hole_blocks(void);
void check_seek_data_hole(void);
void check_copy_file_range(void);
void check_statvfs(void);
void check_readdir_exact(void);
void check_readdir_churn(void);
void check_readdir_seekdir(void);

/* locks.c: locks, O_TMPFILE, mmap, unlinked files, fsync, permissions */
void check_flock(void);
void check_posix_locks(void);
void check_posix_lock_ranges(void);
void check_posix_lock_release(void);
void check_o_tmpfile(void);
void check_mmap_read(void);
void check_mmap_write(void);
void check_unlinked_open(void);
void check_fsync(void);
void check_access(void);
void check_eacces_nobody(void);
void check_sticky(void);

#endif /* VALOR_TESTS_POSIX_CHECK_H */
