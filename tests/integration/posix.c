/* SPDX-License-Identifier: MIT */
/*
 * posix.c - POSIX behaviour checks for a mounted file system.
 *
 *   posix DIR [OTHER_DIR]
 *
 * Creates a private directory DIR/posix.XXXXXX and runs every check of the
 * table at the bottom in its own subdirectory NN-name, which is the current
 * directory while the check runs (so checks use short relative paths and a
 * forked child that dropped privileges never walks above it). The
 * subdirectory is removed after the check; a removal that fails counts as a
 * failure of that check, since it means the file system lost track of an
 * entry.
 *
 * Output, one line per check:
 *   ok N - name
 *   not ok N - name: <where>: expected X got Y (errno text)
 *   ok N - name # SKIP reason
 * then exactly "N passed, N failed, N skipped". Exit 0 iff nothing failed.
 *
 * OTHER_DIR, if given, is a directory on another file system used for the
 * EXDEV check. $POSIX_ONLY=name,name runs only the named checks.
 *
 * Run as root, most checks need it (chown, device nodes) and some fork a
 * child that becomes nobody (65534): on FUSE that needs -o allow_other.
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
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

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

static struct posix_result *posix_res;
static volatile sig_atomic_t posix_timed_out;
static int posix_n, posix_passed, posix_failed, posix_skipped;
static char posix_root[PATH_MAX + 16];	/* DIR/posix.XXXXXX, absolute */
static char posix_other[PATH_MAX];	/* optional OTHER_DIR, absolute */
static int posix_is_root;

static const char *posix_errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

/* Record a failure unless one is already recorded for this check. */
__attribute__((format(printf, 1, 2)))
static void posix_fail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&posix_res->failed, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(posix_res->msg, sizeof(posix_res->msg), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 1, 2)))
static void posix_skip(const char *fmt, ...)
{
	va_list ap;

	posix_res->skipped = 1;
	va_start(ap, fmt);
	vsnprintf(posix_res->msg, sizeof(posix_res->msg), fmt, ap);
	va_end(ap);
}

/* Expect a syscall-style result >= 0. */
static bool posix_expect_ok(long ret, int line, const char *expr)
{
	int e = errno;

	if (ret >= 0)
		return true;
	posix_fail("line %d: %.200s: expected success got %ld (%s: %s)", line,
		   expr, ret, posix_errname(e), strerror(e));
	return false;
}

/* Expect -1 with errno == @want. */
static bool posix_expect_err(long ret, int want, int line, const char *expr)
{
	int e = errno;

	if (ret == -1 && e == want)
		return true;
	if (ret != -1)
		posix_fail("line %d: %.200s: expected -1 %s got %ld (no error)",
			   line, expr, posix_errname(want), ret);
	else
		posix_fail("line %d: %.200s: expected %s got %s (%s)", line,
			   expr, posix_errname(want), posix_errname(e),
			   strerror(e));
	return false;
}

static bool posix_expect_eq(long long got, long long want, int line,
			    const char *expr)
{
	if (got == want)
		return true;
	posix_fail("line %d: %.200s: expected %lld got %lld", line, expr,
		   want, got);
	return false;
}

static bool posix_expect_mode(unsigned got, unsigned want, int line,
			      const char *expr)
{
	if (got == want)
		return true;
	posix_fail("line %d: %.200s: expected 0%o got 0%o", line, expr, want,
		   got);
	return false;
}

static bool posix_expect_true(bool cond, int line, const char *expr)
{
	if (cond)
		return true;
	posix_fail("line %d: expected %.200s got false", line, expr);
	return false;
}

static bool posix_expect_mem(const void *got, const void *want, size_t n,
			     int line, const char *expr)
{
	const unsigned char *g = got, *w = want;
	size_t i;

	for (i = 0; i < n; i++) {
		if (g[i] != w[i]) {
			posix_fail("line %d: %.200s: expected byte %zu = 0x%02x got 0x%02x",
				   line, expr, i, w[i], g[i]);
			return false;
		}
	}
	return true;
}

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

/* ---- small helpers ---------------------------------------------------- */

static void posix_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Deterministic bytes whose value depends on the position: shifts show. */
static void posix_pattern(void *buf, size_t n, uint64_t off, unsigned seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t x = off + i;

		p[i] = (unsigned char)((x * 131) ^ (x >> 9) ^ (seed * 37 + 1));
	}
}

static ssize_t posix_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = pwrite(fd, p + done, n - done, off + done);

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

/* Read up to @n bytes at @off; stops only at EOF or error. */
static ssize_t posix_pread_all(int fd, void *buf, size_t n, off_t off)
{
	char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(fd, p + done, n - done, off + done);

		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += r;
	}
	return done;
}

/* Create @name with @len bytes of @data; records a failure on error. */
static bool posix_mkfile(const char *name, const void *data, size_t len,
			 mode_t mode)
{
	int fd = open(name, O_CREAT | O_TRUNC | O_WRONLY, mode);
	bool ok;

	if (!CHECK_OK(fd))
		return false;
	ok = CHECK_EQ(posix_pwrite_all(fd, data, len, 0), len);
	ok = CHECK_OK(close(fd)) && ok;
	return ok;
}

/* Compare the whole content of @name with @want/@len. */
static bool posix_expect_content(const char *name, const void *want,
				 size_t len, int line)
{
	char *buf = malloc(len + 16);
	int fd = open(name, O_RDONLY);
	ssize_t got;
	bool ok = false;

	if (!buf) {
		posix_fail("line %d: out of memory", line);
		goto out;
	}
	if (!posix_expect_ok(fd, line, name))
		goto out;
	got = posix_pread_all(fd, buf, len + 16, 0);
	if (!posix_expect_ok(got, line, "read"))
		goto out_close;
	if (!posix_expect_eq(got, len, line, "content length"))
		goto out_close;
	ok = posix_expect_mem(buf, want, len, line, name);
out_close:
	close(fd);
out:
	free(buf);
	return ok;
}
#define CHECK_CONTENT(name, want, len)                                         \
	posix_expect_content((name), (want), (len), __LINE__)

static bool posix_all_zero(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static long long posix_ts_ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long posix_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return posix_ts_ns(ts);
}

/* Long enough for a coarse kernel clock (HZ=100) to move on. */
static void posix_tick(void)
{
	struct timespec ts = { 0, 25 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void posix_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- children and synchronisation ------------------------------------- */

/*
 * A pair of pipes between the parent and one child. A waiter that sees EOF
 * (the other side died or gave up) returns false instead of blocking.
 */
struct posix_chan {
	int p2c[2];
	int c2p[2];
};

static bool posix_chan_open(struct posix_chan *ch)
{
	ch->p2c[0] = ch->p2c[1] = ch->c2p[0] = ch->c2p[1] = -1;
	if (!CHECK_OK(pipe(ch->p2c)))
		return false;
	return CHECK_OK(pipe(ch->c2p));
}

static void posix_chan_close(struct posix_chan *ch)
{
	posix_close(ch->p2c[0]);
	posix_close(ch->p2c[1]);
	posix_close(ch->c2p[0]);
	posix_close(ch->c2p[1]);
	ch->p2c[0] = ch->p2c[1] = ch->c2p[0] = ch->c2p[1] = -1;
}

/* In the child: drop the parent's ends so that its exit reads as EOF. */
static void posix_chan_child(struct posix_chan *ch)
{
	posix_close(ch->p2c[1]);
	posix_close(ch->c2p[0]);
	ch->p2c[1] = ch->c2p[0] = -1;
}

/* In the parent: drop the child's ends. */
static void posix_chan_parent(struct posix_chan *ch)
{
	posix_close(ch->p2c[0]);
	posix_close(ch->c2p[1]);
	ch->p2c[0] = ch->c2p[1] = -1;
}

static bool posix_post(int fd, char c)
{
	return write(fd, &c, 1) == 1;
}

/* Wait for one byte; true and the byte in *@c, false on EOF/error. */
static bool posix_wait(int fd, char *c)
{
	char dummy;
	ssize_t r;

	do {
		r = read(fd, c ? c : &dummy, 1);
	} while (r < 0 && errno == EINTR && !posix_timed_out);
	return r == 1;
}

/*
 * Fork a child that runs @fn(@arg) and exits 0 iff no failure was recorded.
 * The child's failures go to the shared result like the parent's.
 */
static pid_t posix_spawn(void (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		CHECK_OK(pid);
		return -1;
	}
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(POSIX_CHILD_TIMEOUT);
		fn(arg);
		_exit(posix_res->failed ? 1 : 0);
	}
	return pid;
}

/* Reap @pid; a child that died or failed without a message gets one. */
static bool posix_reap(pid_t pid)
{
	int status;
	pid_t r;

	if (pid <= 0)
		return false;
	for (;;) {
		r = waitpid(pid, &status, 0);
		if (r == pid)
			break;
		if (r < 0 && errno == EINTR) {
			if (posix_timed_out)
				kill(pid, SIGKILL);
			continue;
		}
		posix_fail("waitpid(%d): %s", (int)pid, strerror(errno));
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFSIGNALED(status))
		posix_fail("child %d: expected exit 0 got signal %d (%s)",
			   (int)pid, WTERMSIG(status),
			   strsignal(WTERMSIG(status)));
	else
		posix_fail("child %d: expected exit 0 got exit %d", (int)pid,
			   WEXITSTATUS(status));
	return false;
}

/* In a child: become nobody/nogroup with no supplementary groups. */
static bool posix_become_nobody(void)
{
	if (!CHECK_OK(setgroups(0, NULL)))
		return false;
	if (!CHECK_OK(setgid(POSIX_NOBODY)))
		return false;
	return CHECK_OK(setuid(POSIX_NOBODY));
}

/* ---- create / open ------------------------------------------------------ */

static void check_create_excl(void)
{
	struct stat st;
	int fd, fd2;

	fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstat(fd, &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 0);
	close(fd);
	CHECK_ERR(fd2 = open("f", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST);
	posix_close(fd2);
	CHECK_OK(fd2 = open("f", O_CREAT | O_RDWR, 0644));
	posix_close(fd2);
	/* O_EXCL does not follow a symlink, even a dangling one. */
	CHECK_OK(symlink("missing", "l"));
	CHECK_ERR(fd2 = open("l", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST);
	posix_close(fd2);
	CHECK_ERR(lstat("missing", &st), ENOENT);
	/* Without O_EXCL, O_CREAT through a dangling symlink makes its target. */
	CHECK_OK(symlink("target2", "l2"));
	CHECK_OK(fd2 = open("l2", O_CREAT | O_WRONLY, 0644));
	posix_close(fd2);
	CHECK_OK(lstat("target2", &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
}

static void check_umask(void)
{
	struct stat st;
	int fd;

	umask(077);
	CHECK_OK(fd = open("f", O_CREAT | O_WRONLY, 0666));
	posix_close(fd);
	CHECK_OK(mkdir("d", 0777));
	CHECK_OK(mkfifo("p", 0666));
	CHECK_OK(symlink("f", "l"));
	umask(022);
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0600);
	CHECK_OK(stat("d", &st));
	CHECK_MODE(st.st_mode & 07777, 0700);
	CHECK_OK(lstat("p", &st));
	CHECK_MODE(st.st_mode & 07777, 0600);
	CHECK_OK(lstat("l", &st));
	CHECK_MODE(st.st_mode & 07777, 0777);	/* symlinks ignore the umask */
	/* Creating an existing file leaves its mode alone. */
	CHECK_OK(fd = open("f", O_CREAT | O_WRONLY, 0666));
	posix_close(fd);
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0600);
}

static void check_creat_missing_dir(void)
{
	int fd;

	CHECK_ERR(fd = open("nodir/f", O_CREAT | O_WRONLY, 0644), ENOENT);
	posix_close(fd);
	CHECK_ERR(fd = open("nofile", O_RDONLY), ENOENT);
	posix_close(fd);
}

static void check_path_through_file(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_ERR(fd = open("f/x", O_CREAT | O_WRONLY, 0644), ENOTDIR);
	posix_close(fd);
	CHECK_ERR(stat("f/x", &st), ENOTDIR);
	CHECK_ERR(mkdir("f/d", 0755), ENOTDIR);
	CHECK_ERR(unlink("f/x"), ENOTDIR);
}

static void check_open_errors(void)
{
	char c = 'x';
	int fd;

	CHECK_OK(mkdir("d", 0755));
	if (!posix_mkfile("f", "abc", 3, 0644))
		return;
	CHECK_ERR(fd = open("d", O_WRONLY), EISDIR);
	posix_close(fd);
	CHECK_ERR(fd = open("d", O_RDWR), EISDIR);
	posix_close(fd);
	CHECK_ERR(fd = open("f", O_RDONLY | O_DIRECTORY), ENOTDIR);
	posix_close(fd);
	fd = open("f", O_RDONLY);
	if (CHECK_OK(fd)) {
		CHECK_ERR(write(fd, &c, 1), EBADF);
		close(fd);
	}
	fd = open("f", O_WRONLY);
	if (CHECK_OK(fd)) {
		CHECK_ERR(read(fd, &c, 1), EBADF);
		close(fd);
	}
	fd = open("d", O_RDONLY | O_DIRECTORY);
	if (CHECK_OK(fd)) {
		CHECK_ERR(read(fd, &c, 1), EISDIR);
		close(fd);
	}
}

/* ---- data ----------------------------------------------------------------- */

static void check_write_read(void)
{
	enum { N = 300 * 1024 + 17 };
	char *want = malloc(N), *got = malloc(N + 1);
	size_t done = 0;
	ssize_t r;
	int fd = -1;

	if (!CHECK_TRUE(want && got))
		goto out;
	posix_pattern(want, N, 0, 1);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	/* Uneven chunks so requests straddle pages. */
	while (done < N) {
		size_t n = N - done < 7777 ? N - done : 7777;

		r = write(fd, want + done, n);
		if (!CHECK_EQ(r, n))
			goto out;
		done += n;
	}
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), N);
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	done = 0;
	while (done < N + 1) {
		r = read(fd, got + done, N + 1 - done);
		if (!CHECK_OK(r) || r == 0)
			break;
		done += r;
	}
	CHECK_EQ(done, N);
	CHECK_MEM(got, want, N);
	CHECK_EQ(read(fd, got, 10), 0);
	close(fd);
	CHECK_CONTENT("f", want, N);
out:
	free(want);
	free(got);
}

static void check_pread_pwrite(void)
{
	static const off_t offs[] = { 0, 4096, 10000, 65535, 1 << 20 };
	char want[3000], got[3000], zero[3000] = { 0 };
	struct stat st;
	unsigned i;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		posix_pattern(want, sizeof(want), offs[i], i);
		CHECK_EQ(pwrite(fd, want, sizeof(want), offs[i]), sizeof(want));
	}
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);	/* pwrite left the offset */
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		posix_pattern(want, sizeof(want), offs[i], i);
		memset(got, 0xee, sizeof(got));
		CHECK_EQ(pread(fd, got, sizeof(got), offs[i]), sizeof(got));
		CHECK_MEM(got, want, sizeof(got));
	}
	/* The gaps between the writes read as zeros. */
	CHECK_EQ(pread(fd, got, sizeof(got), 20000), sizeof(got));
	CHECK_MEM(got, zero, sizeof(got));
	CHECK_EQ(pread(fd, got, sizeof(got), (1 << 20) + 2000), 1000);
	CHECK_EQ(pread(fd, got, sizeof(got), (1 << 20) + 3000), 0);
	CHECK_EQ(pread(fd, got, sizeof(got), 1 << 30), 0);
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, (1 << 20) + 3000);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	close(fd);
}

static void check_pwrite_beyond_4g(void)
{
	const off_t off = 5LL << 30;
	char want[4096], got[4096], zero[4096] = { 0 };
	struct stat st;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	posix_pattern(want, sizeof(want), off, 3);
	CHECK_EQ(pwrite(fd, want, sizeof(want), off), sizeof(want));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, off + (off_t)sizeof(want));
	CHECK_EQ(pread(fd, got, sizeof(got), off), sizeof(got));
	CHECK_MEM(got, want, sizeof(got));
	CHECK_EQ(pread(fd, got, sizeof(got), 4LL << 30), sizeof(got));
	CHECK_MEM(got, zero, sizeof(got));
	CHECK_OK(ftruncate(fd, 0));
	close(fd);
}

static void check_o_append(void)
{
	char got[16];
	int fd;

	if (!posix_mkfile("f", "abc", 3, 0644))
		return;
	fd = open("f", O_WRONLY | O_APPEND);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(write(fd, "def", 3), 3);	/* appends despite the seek */
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6);
	CHECK_EQ(write(fd, "gh", 2), 2);
	close(fd);
	CHECK_CONTENT("f", "abcdefgh", 8);
	fd = open("f", O_RDWR | O_APPEND);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(pread(fd, got, sizeof(got), 2), 6);
	CHECK_MEM(got, "cdefgh", 6);
	close(fd);
}

static void check_o_trunc(void)
{
	char buf[8192];
	struct stat st;
	int fd;

	posix_pattern(buf, sizeof(buf), 0, 4);
	if (!posix_mkfile("f", buf, sizeof(buf), 0644))
		return;
	fd = open("f", O_WRONLY | O_TRUNC);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 0);
	CHECK_EQ(write(fd, "xy", 2), 2);
	close(fd);
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_size, 2);
	CHECK_CONTENT("f", "xy", 2);
	/* O_TRUNC with O_RDONLY is unspecified; Linux truncates: not checked. */
}

static void check_ftruncate(void)
{
	enum { N = 10000 };
	char *want = malloc(100000), *got = malloc(100000);
	struct stat st;
	int fd = -1;

	if (!CHECK_TRUE(want && got))
		goto out;
	posix_pattern(want, N, 0, 5);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(pwrite(fd, want, N, 0), N);
	/* Up: the new part reads as zeros. */
	CHECK_OK(ftruncate(fd, 100000));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 100000);
	CHECK_EQ(posix_pread_all(fd, got, 100000, 0), 100000);
	CHECK_MEM(got, want, N);
	CHECK_TRUE(posix_all_zero(got + N, 100000 - N));
	/* Down, then up again: the cut bytes must not come back. */
	CHECK_OK(ftruncate(fd, 5000));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 5000);
	CHECK_EQ(posix_pread_all(fd, got, 100000, 0), 5000);
	CHECK_MEM(got, want, 5000);
	CHECK_OK(truncate("f", 8000));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 8000);
	CHECK_EQ(posix_pread_all(fd, got, 100000, 0), 8000);
	CHECK_MEM(got, want, 5000);
	CHECK_TRUE(posix_all_zero(got + 5000, 3000));
	CHECK_OK(ftruncate(fd, 0));
	CHECK_EQ(pread(fd, got, 10, 0), 0);
	CHECK_ERR(ftruncate(fd, -1), EINVAL);
out:
	posix_close(fd);
	free(want);
	free(got);
}

/* ---- attributes ------------------------------------------------------------ */

static void check_stat_fields(void)
{
	char buf[5000];
	struct stat st, dst;
	int fd;

	fd = open("f", O_CREAT | O_RDWR, 0640);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstat(fd, &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0640);
	CHECK_EQ(st.st_nlink, 1);
	CHECK_EQ(st.st_uid, geteuid());
	CHECK_EQ(st.st_gid, getegid());
	CHECK_EQ(st.st_size, 0);
	CHECK_TRUE(st.st_blocks * 512 <= 1 << 20);
	posix_pattern(buf, sizeof(buf), 0, 6);
	CHECK_EQ(write(fd, buf, sizeof(buf)), sizeof(buf));
	CHECK_OK(fsync(fd));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, sizeof(buf));
	CHECK_TRUE(st.st_blocks * 512 >= (blkcnt_t)sizeof(buf));
	CHECK_TRUE(st.st_blocks * 512 <= (blkcnt_t)sizeof(buf) + (1 << 20));
	CHECK_TRUE(st.st_blksize >= 512);
	close(fd);
	/* stat by path agrees with fstat. */
	CHECK_OK(stat("f", &dst));
	CHECK_EQ(dst.st_ino, st.st_ino);
	CHECK_EQ(dst.st_dev, st.st_dev);
	CHECK_EQ(dst.st_size, st.st_size);
	CHECK_OK(mkdir("d", 0750));
	CHECK_OK(stat("d", &dst));
	CHECK_TRUE(S_ISDIR(dst.st_mode));
	CHECK_MODE(dst.st_mode & 07777, 0750);
	CHECK_EQ(dst.st_nlink, 2);
	CHECK_EQ(dst.st_uid, geteuid());
	CHECK_TRUE(dst.st_ino != st.st_ino);
}

static void check_chmod(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(chmod("f", 0604));
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0604);
	CHECK_TRUE(S_ISREG(st.st_mode));
	fd = open("f", O_RDONLY);
	if (CHECK_OK(fd)) {
		CHECK_OK(fchmod(fd, 0755));
		CHECK_OK(fstat(fd, &st));
		CHECK_MODE(st.st_mode & 07777, 0755);
		close(fd);
	}
	CHECK_OK(chmod("f", 04755));
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 04755);
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(chmod("d", 01777));
	CHECK_OK(stat("d", &st));
	CHECK_MODE(st.st_mode & 07777, 01777);
	CHECK_TRUE(S_ISDIR(st.st_mode));
	CHECK_ERR(chmod("missing", 0644), ENOENT);
}

static void check_chown(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(chown("f", 1234, 5678));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 1234);
	CHECK_EQ(st.st_gid, 5678);
	/* -1 leaves a field alone. */
	CHECK_OK(chown("f", -1, 4321));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 1234);
	CHECK_EQ(st.st_gid, 4321);
	fd = open("f", O_RDONLY);
	if (CHECK_OK(fd)) {
		CHECK_OK(fchown(fd, 0, 0));
		CHECK_OK(fstat(fd, &st));
		CHECK_EQ(st.st_uid, 0);
		CHECK_EQ(st.st_gid, 0);
		close(fd);
	}
	/* lchown changes the link, not its target. */
	CHECK_OK(symlink("f", "l"));
	CHECK_OK(lchown("l", 2222, 3333));
	CHECK_OK(lstat("l", &st));
	CHECK_EQ(st.st_uid, 2222);
	CHECK_EQ(st.st_gid, 3333);
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 0);
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(chown("d", 99, 98));
	CHECK_OK(stat("d", &st));
	CHECK_EQ(st.st_uid, 99);
	CHECK_EQ(st.st_gid, 98);
}

static void check_chown_clears_suid(void)
{
	struct stat st;

	if (!posix_mkfile("f", "x", 1, 0755))
		return;
	CHECK_OK(chmod("f", 06755));
	CHECK_OK(chown("f", 1000, 1000));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_uid, 1000);
	CHECK_MODE(st.st_mode & 07777, 0755);
}

static void check_utimensat_ns(void)
{
	struct timespec ts[2] = { { 1000000000, 123456789 },
				  { 1500000000, 987654321 } };
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	CHECK_EQ(st.st_atim.tv_nsec, 123456789);
	CHECK_EQ(st.st_mtim.tv_sec, 1500000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 987654321);
	/* Same through futimens, with times before 1970 too. */
	ts[0].tv_sec = -1000;
	ts[0].tv_nsec = 1;
	ts[1].tv_sec = 4000000000LL;
	ts[1].tv_nsec = 999999999;
	fd = open("f", O_RDONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(futimens(fd, ts));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_atim.tv_sec, -1000);
	CHECK_EQ(st.st_atim.tv_nsec, 1);
	CHECK_EQ(st.st_mtim.tv_sec, 4000000000LL);
	CHECK_EQ(st.st_mtim.tv_nsec, 999999999);
	close(fd);
	/* On a symlink itself. */
	CHECK_OK(symlink("f", "l"));
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 5;
	CHECK_OK(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	CHECK_OK(lstat("l", &st));
	CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
	CHECK_EQ(st.st_mtim.tv_nsec, 5);
	CHECK_OK(stat("f", &st));
	CHECK_EQ(st.st_mtim.tv_sec, 4000000000LL);
}

static void check_utime_now(void)
{
	struct timespec past[2] = { { 1000000000, 1 }, { 1000000000, 2 } };
	struct timespec now[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	long long before, after;
	struct stat st;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(utimensat(AT_FDCWD, "f", past, 0));
	/* Kernel timestamps come from a coarse clock: allow a second. */
	before = posix_now_ns() - 1000000000LL;
	CHECK_OK(utimensat(AT_FDCWD, "f", now, 0));
	after = posix_now_ns() + 1000000000LL;
	CHECK_OK(stat("f", &st));
	CHECK_TRUE(posix_ts_ns(st.st_atim) >= before &&
		   posix_ts_ns(st.st_atim) <= after);
	CHECK_TRUE(posix_ts_ns(st.st_mtim) >= before &&
		   posix_ts_ns(st.st_mtim) <= after);
	/* NULL times means now as well. */
	CHECK_OK(utimensat(AT_FDCWD, "f", past, 0));
	CHECK_OK(utimensat(AT_FDCWD, "f", NULL, 0));
	CHECK_OK(stat("f", &st));
	CHECK_TRUE(posix_ts_ns(st.st_mtim) >= before &&
		   posix_ts_ns(st.st_mtim) <= after + 1000000000LL);
}

static void check_utime_omit(void)
{
	struct timespec set[2] = { { 1100000000, 111 }, { 1200000000, 222 } };
	struct timespec ts[2];
	struct stat st;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(utimensat(AT_FDCWD, "f", set, 0));
	ts[0] = (struct timespec){ 1300000000, 333 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_atim), 1300000000LL * 1000000000 + 333);
	CHECK_EQ(posix_ts_ns(st.st_mtim), 1200000000LL * 1000000000 + 222);
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 1400000000, 444 };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_atim), 1300000000LL * 1000000000 + 333);
	CHECK_EQ(posix_ts_ns(st.st_mtim), 1400000000LL * 1000000000 + 444);
	/* Both omitted: nothing changes. */
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_mtim), 1400000000LL * 1000000000 + 444);
	/* One NOW, one explicit. */
	ts[0] = (struct timespec){ 1500000000, 555 };
	ts[1] = (struct timespec){ 0, UTIME_NOW };
	CHECK_OK(utimensat(AT_FDCWD, "f", ts, 0));
	CHECK_OK(stat("f", &st));
	CHECK_EQ(posix_ts_ns(st.st_atim), 1500000000LL * 1000000000 + 555);
	CHECK_TRUE(st.st_mtim.tv_sec > 1600000000);
}

static const struct timespec posix_past[2] = { { 1000000000, 0 },
					       { 1000000000, 0 } };

/* Set @name's times far in the past; returns its ctime (ns) afterwards. */
static long long posix_set_past(const char *name)
{
	struct stat st;

	if (!CHECK_OK(utimensat(AT_FDCWD, name, posix_past, AT_SYMLINK_NOFOLLOW)))
		return 0;
	if (!CHECK_OK(lstat(name, &st)))
		return 0;
	posix_tick();
	return posix_ts_ns(st.st_ctim);
}

/* @name's mtime moved off the past and its ctime past @ctime0. */
static bool posix_expect_touched(const char *name, long long ctime0,
				 bool mtime_too, int line, const char *what)
{
	struct stat st;

	if (!posix_expect_ok(lstat(name, &st), line, name))
		return false;
	if (mtime_too && st.st_mtim.tv_sec == posix_past[1].tv_sec) {
		posix_fail("line %d: mtime of %s after %s: expected now got %lld",
			   line, name, what, (long long)st.st_mtim.tv_sec);
		return false;
	}
	if (!mtime_too && st.st_mtim.tv_sec != posix_past[1].tv_sec) {
		posix_fail("line %d: mtime of %s after %s: expected unchanged %lld got %lld",
			   line, name, what, (long long)posix_past[1].tv_sec,
			   (long long)st.st_mtim.tv_sec);
		return false;
	}
	if (posix_ts_ns(st.st_ctim) <= ctime0) {
		posix_fail("line %d: ctime of %s after %s: expected > %lld got %lld",
			   line, name, what, ctime0, posix_ts_ns(st.st_ctim));
		return false;
	}
	return true;
}
#define CHECK_TOUCHED(name, c0, what)                                          \
	posix_expect_touched((name), (c0), true, __LINE__, (what))
#define CHECK_CTIME_ONLY(name, c0, what)                                       \
	posix_expect_touched((name), (c0), false, __LINE__, (what))

static void check_times_on_write(void)
{
	long long c0;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	c0 = posix_set_past("f");
	CHECK_EQ(pwrite(fd, "abc", 3, 10), 3);
	CHECK_TOUCHED("f", c0, "write");
	c0 = posix_set_past("f");
	CHECK_OK(ftruncate(fd, 2));
	CHECK_TOUCHED("f", c0, "ftruncate");
	close(fd);
	c0 = posix_set_past("f");
	fd = open("f", O_WRONLY | O_TRUNC);
	CHECK_OK(fd);
	posix_close(fd);
	CHECK_TOUCHED("f", c0, "open(O_TRUNC)");
}

static void check_ctime_on_attr_change(void)
{
	long long c0;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	c0 = posix_set_past("f");
	CHECK_OK(chmod("f", 0600));
	CHECK_CTIME_ONLY("f", c0, "chmod");
	c0 = posix_set_past("f");
	CHECK_OK(chown("f", geteuid(), getegid()));
	CHECK_CTIME_ONLY("f", c0, "chown");
	c0 = posix_set_past("f");
	CHECK_OK(link("f", "g"));
	CHECK_CTIME_ONLY("f", c0, "link");
	c0 = posix_set_past("f");
	CHECK_OK(unlink("g"));
	CHECK_CTIME_ONLY("f", c0, "unlink of a second link");
	c0 = posix_set_past("f");
	CHECK_OK(rename("f", "h"));
	CHECK_CTIME_ONLY("h", c0, "rename");
	c0 = posix_set_past("h");
	CHECK_OK(setxattr("h", "user.t", "1", 1, 0));
	CHECK_CTIME_ONLY("h", c0, "setxattr");
}

static void check_dir_times_on_entry_change(void)
{
	long long c0;
	int fd;

	CHECK_OK(mkdir("d", 0755));
	if (!posix_mkfile("x", "x", 1, 0644))
		return;
	c0 = posix_set_past("d");
	CHECK_OK(fd = open("d/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_TOUCHED("d", c0, "create");
	c0 = posix_set_past("d");
	CHECK_OK(mkdir("d/s", 0755));
	CHECK_TOUCHED("d", c0, "mkdir");
	c0 = posix_set_past("d");
	CHECK_OK(rename("d/f", "d/g"));
	CHECK_TOUCHED("d", c0, "rename within");
	c0 = posix_set_past("d");
	CHECK_OK(rename("x", "d/x"));
	CHECK_TOUCHED("d", c0, "rename into");
	c0 = posix_set_past("d");
	CHECK_OK(link("d/x", "d/y"));
	CHECK_TOUCHED("d", c0, "link");
	c0 = posix_set_past("d");
	CHECK_OK(symlink("x", "d/l"));
	CHECK_TOUCHED("d", c0, "symlink");
	c0 = posix_set_past("d");
	CHECK_OK(mknod("d/p", S_IFIFO | 0644, 0));
	CHECK_TOUCHED("d", c0, "mknod");
	c0 = posix_set_past("d");
	CHECK_OK(unlink("d/g"));
	CHECK_TOUCHED("d", c0, "unlink");
	c0 = posix_set_past("d");
	CHECK_OK(rmdir("d/s"));
	CHECK_TOUCHED("d", c0, "rmdir");
	c0 = posix_set_past("d");
	CHECK_OK(rename("d/x", "x"));
	CHECK_TOUCHED("d", c0, "rename out of");
}

/* ---- directories and names ------------------------------------------------- */

static void check_mkdir_rmdir(void)
{
	struct stat st, p0, p1;
	int fd;

	CHECK_OK(stat(".", &p0));
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(stat("d", &st));
	CHECK_TRUE(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_nlink, 2);
	CHECK_OK(stat(".", &p1));
	CHECK_EQ(p1.st_nlink, p0.st_nlink + 1);
	CHECK_ERR(mkdir("d", 0755), EEXIST);
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_ERR(mkdir("f", 0755), EEXIST);
	CHECK_ERR(mkdir("missing/x", 0755), ENOENT);
	CHECK_ERR(mkdir("f/x", 0755), ENOTDIR);
	CHECK_OK(fd = open("d/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_ERR(rmdir("d"), ENOTEMPTY);
	CHECK_OK(unlink("d/f"));
	CHECK_OK(mkdir("d/s", 0755));
	CHECK_OK(stat("d", &st));
	CHECK_EQ(st.st_nlink, 3);
	CHECK_ERR(rmdir("d"), ENOTEMPTY);
	CHECK_OK(rmdir("d/s"));
	CHECK_OK(stat("d", &st));
	CHECK_EQ(st.st_nlink, 2);
	CHECK_OK(rmdir("d"));
	CHECK_ERR(stat("d", &st), ENOENT);
	CHECK_OK(stat(".", &p1));
	CHECK_EQ(p1.st_nlink, p0.st_nlink);
	CHECK_ERR(rmdir("d"), ENOENT);
	CHECK_ERR(rmdir("."), EINVAL);
	/* A name freed by rmdir can be reused at once. */
	CHECK_OK(mkdir("d", 0700));
	CHECK_OK(stat("d", &st));
	CHECK_MODE(st.st_mode & 07777, 0700);
}

static void check_unlink_dir(void)
{
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(unlink("d"), EISDIR);
	CHECK_ERR(unlink("missing"), ENOENT);
	CHECK_OK(access("d", F_OK));
}

static void check_rmdir_file(void)
{
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_ERR(rmdir("f"), ENOTDIR);
	CHECK_OK(symlink(".", "l"));
	CHECK_ERR(rmdir("l"), ENOTDIR);
	CHECK_OK(access("f", F_OK));
}

static void check_name_max(void)
{
	char n255[256], n256[257];
	struct stat st;
	int fd;

	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'b', 256);
	n256[256] = 0;
	fd = open(n255, O_CREAT | O_WRONLY, 0644);
	if (CHECK_OK(fd))
		close(fd);
	CHECK_OK(stat(n255, &st));
	CHECK_OK(unlink(n255));
	CHECK_OK(mkdir(n255, 0755));
	CHECK_OK(rmdir(n255));
	CHECK_OK(symlink("target", n255));
	CHECK_OK(unlink(n255));
	CHECK_ERR(fd = open(n256, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	posix_close(fd);
	CHECK_ERR(stat(n256, &st), ENAMETOOLONG);
	CHECK_ERR(mkdir(n256, 0755), ENAMETOOLONG);
	CHECK_ERR(symlink("target", n256), ENAMETOOLONG);
	if (posix_mkfile("f", "x", 1, 0644)) {
		CHECK_ERR(rename("f", n256), ENAMETOOLONG);
		CHECK_ERR(link("f", n256), ENAMETOOLONG);
	}
}

static void check_symlink(void)
{
	char buf[4096];
	struct stat st, tst;
	int fd;

	CHECK_OK(symlink("some/target", "l"));
	CHECK_EQ(readlink("l", buf, sizeof(buf)), 11);
	CHECK_MEM(buf, "some/target", 11);
	CHECK_OK(lstat("l", &st));
	CHECK_TRUE(S_ISLNK(st.st_mode));
	CHECK_EQ(st.st_size, 11);
	CHECK_ERR(stat("l", &st), ENOENT);	/* dangling */
	CHECK_ERR(symlink("x", "l"), EEXIST);
	/* readlink truncates silently to the buffer. */
	CHECK_EQ(readlink("l", buf, 4), 4);
	CHECK_MEM(buf, "some", 4);
	if (!posix_mkfile("t", "target data", 11, 0644))
		return;
	CHECK_ERR(readlink("t", buf, sizeof(buf)), EINVAL);
	CHECK_OK(symlink("t", "lt"));
	CHECK_OK(stat("lt", &st));
	CHECK_OK(stat("t", &tst));
	CHECK_EQ(st.st_ino, tst.st_ino);
	CHECK_CONTENT("lt", "target data", 11);
	CHECK_ERR(fd = open("lt", O_RDONLY | O_NOFOLLOW), ELOOP);
	posix_close(fd);
	/* Relative targets resolve from the link's directory. */
	CHECK_OK(mkdir("sub", 0755));
	CHECK_OK(symlink("../t", "sub/up"));
	CHECK_CONTENT("sub/up", "target data", 11);
	CHECK_OK(symlink("sub", "ldir"));
	CHECK_CONTENT("ldir/up", "target data", 11);
	/* Unlinking the link leaves the target. */
	CHECK_OK(unlink("lt"));
	CHECK_OK(stat("t", &tst));
}

static void check_symlink_long_target(void)
{
	char target[4096], buf[4096];
	struct stat st;

	memset(target, 'x', 4095);
	target[4095] = 0;
	for (int i = 100; i < 4095; i += 100)
		target[i] = '/';
	CHECK_OK(symlink(target, "l"));
	CHECK_EQ(readlink("l", buf, sizeof(buf)), 4095);
	CHECK_MEM(buf, target, 4095);
	CHECK_OK(lstat("l", &st));
	CHECK_EQ(st.st_size, 4095);
}

static void check_symlink_loop(void)
{
	struct stat st;
	int fd;

	CHECK_OK(symlink("b", "a"));
	CHECK_OK(symlink("a", "b"));
	CHECK_OK(symlink("self", "self"));
	CHECK_ERR(fd = open("a", O_RDONLY), ELOOP);
	posix_close(fd);
	CHECK_ERR(fd = open("self", O_CREAT | O_WRONLY, 0644), ELOOP);
	posix_close(fd);
	CHECK_ERR(stat("a", &st), ELOOP);
	CHECK_OK(lstat("a", &st));
	CHECK_TRUE(S_ISLNK(st.st_mode));
}

static void check_hardlink(void)
{
	struct stat fs, gs;
	int fd;

	if (!posix_mkfile("f", "one", 3, 0644))
		return;
	CHECK_OK(stat("f", &fs));
	CHECK_EQ(fs.st_nlink, 1);
	CHECK_OK(link("f", "g"));
	CHECK_OK(stat("f", &fs));
	CHECK_OK(stat("g", &gs));
	CHECK_EQ(fs.st_nlink, 2);
	CHECK_EQ(gs.st_nlink, 2);
	CHECK_EQ(gs.st_ino, fs.st_ino);
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(link("f", "d/h"));
	CHECK_OK(stat("d/h", &gs));
	CHECK_EQ(gs.st_nlink, 3);
	/* Data written through one name is read through another. */
	fd = open("g", O_WRONLY | O_TRUNC);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, "shared", 6), 6);
		close(fd);
	}
	CHECK_CONTENT("d/h", "shared", 6);
	CHECK_OK(unlink("f"));
	CHECK_OK(stat("g", &gs));
	CHECK_EQ(gs.st_nlink, 2);
	CHECK_OK(unlink("d/h"));
	CHECK_OK(stat("g", &gs));
	CHECK_EQ(gs.st_nlink, 1);
	CHECK_CONTENT("g", "shared", 6);
	CHECK_ERR(link("g", "g"), EEXIST);
	CHECK_ERR(link("missing", "m"), ENOENT);
	CHECK_ERR(link("d", "d2"), EPERM);
}

static void check_rename_file_replace(void)
{
	struct stat a, b;
	char buf[8];
	int fd;

	if (!posix_mkfile("a", "AAAA", 4, 0644) ||
	    !posix_mkfile("b", "BB", 2, 0644))
		return;
	CHECK_OK(stat("a", &a));
	fd = open("b", O_RDONLY);	/* the replaced file stays readable */
	CHECK_OK(fd);
	CHECK_OK(rename("a", "b"));
	CHECK_ERR(stat("a", &b), ENOENT);
	CHECK_OK(stat("b", &b));
	CHECK_EQ(b.st_ino, a.st_ino);
	CHECK_EQ(b.st_nlink, 1);
	CHECK_CONTENT("b", "AAAA", 4);
	if (fd >= 0) {
		CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 2);
		CHECK_MEM(buf, "BB", 2);
		close(fd);
	}
	/* Into another directory, and onto itself (a no-op). */
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(rename("b", "d/c"));
	CHECK_CONTENT("d/c", "AAAA", 4);
	CHECK_OK(rename("d/c", "d/c"));
	CHECK_CONTENT("d/c", "AAAA", 4);
	CHECK_ERR(rename("missing", "x"), ENOENT);
}

static void check_rename_hardlink_noop(void)
{
	if (!posix_mkfile("a", "A", 1, 0644))
		return;
	CHECK_OK(link("a", "b"));
	/* Both names of one inode: POSIX says do nothing, successfully. */
	CHECK_OK(rename("a", "b"));
	CHECK_OK(access("a", F_OK));
	CHECK_OK(access("b", F_OK));
}

static void check_rename_dir_to_empty_dir(void)
{
	struct stat st, p0;
	int fd;

	CHECK_OK(mkdir("d1", 0755));
	CHECK_OK(mkdir("d1/sub", 0755));
	CHECK_OK(fd = open("d1/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(mkdir("d2", 0755));
	CHECK_OK(stat(".", &p0));
	CHECK_OK(rename("d1", "d2"));
	CHECK_ERR(stat("d1", &st), ENOENT);
	CHECK_OK(stat("d2/f", &st));
	CHECK_OK(stat("d2/sub", &st));
	CHECK_OK(stat("d2", &st));
	CHECK_EQ(st.st_nlink, 3);
	CHECK_OK(stat(".", &st));
	CHECK_EQ(st.st_nlink, p0.st_nlink - 1);
	/* A moved directory's ".." follows it. */
	CHECK_OK(mkdir("p", 0755));
	CHECK_OK(rename("d2", "p/d"));
	CHECK_OK(stat("p", &p0));
	CHECK_EQ(p0.st_nlink, 3);
	CHECK_OK(stat("p/d/..", &st));
	CHECK_EQ(st.st_ino, p0.st_ino);
	CHECK_OK(stat("p/d/sub/../f", &st));
}

static void check_rename_dir_nonempty(void)
{
	int fd;

	CHECK_OK(mkdir("d1", 0755));
	CHECK_OK(mkdir("d2", 0755));
	CHECK_OK(fd = open("d2/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_ERR(rename("d1", "d2"), ENOTEMPTY);
	CHECK_OK(access("d1", F_OK));
	CHECK_OK(access("d2/f", F_OK));
}

static void check_rename_file_to_dir(void)
{
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(rename("f", "d"), EISDIR);
	CHECK_OK(access("f", F_OK));
}

static void check_rename_dir_to_file(void)
{
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(rename("d", "f"), ENOTDIR);
	CHECK_CONTENT("f", "x", 1);
}

static void check_rename_into_subtree(void)
{
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(mkdir("d/s", 0755));
	CHECK_ERR(rename("d", "d/s/x"), EINVAL);
	CHECK_ERR(rename("d", "d/x"), EINVAL);
	CHECK_OK(access("d/s", F_OK));
	CHECK_OK(rename("d", "d"));	/* onto itself: a no-op */
}

static void check_renameat2_noreplace(void)
{
	if (!posix_mkfile("a", "A", 1, 0644) || !posix_mkfile("b", "B", 1, 0644))
		return;
	CHECK_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE),
		  EEXIST);
	CHECK_CONTENT("a", "A", 1);
	CHECK_CONTENT("b", "B", 1);
	CHECK_OK(renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
	CHECK_CONTENT("c", "A", 1);
	CHECK_ERR(access("a", F_OK), ENOENT);
	CHECK_OK(mkdir("d", 0755));
	CHECK_ERR(renameat2(AT_FDCWD, "c", AT_FDCWD, "d", RENAME_NOREPLACE),
		  EEXIST);
}

static void check_renameat2_exchange(void)
{
	struct stat p1, p2, st;
	int fd;

	CHECK_OK(mkdir("p1", 0755));
	CHECK_OK(mkdir("p2", 0755));
	if (!posix_mkfile("p1/f", "FILE", 4, 0644))
		return;
	CHECK_OK(mkdir("p2/d", 0755));
	CHECK_OK(fd = open("p2/d/child", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(stat("p1", &p1));
	CHECK_OK(stat("p2", &p2));
	CHECK_EQ(p1.st_nlink, 2);
	CHECK_EQ(p2.st_nlink, 3);
	if (!CHECK_OK(renameat2(AT_FDCWD, "p1/f", AT_FDCWD, "p2/d",
				RENAME_EXCHANGE)))
		return;
	CHECK_OK(stat("p1/f", &st));
	CHECK_TRUE(S_ISDIR(st.st_mode));
	CHECK_OK(access("p1/f/child", F_OK));
	CHECK_OK(stat("p2/d", &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_CONTENT("p2/d", "FILE", 4);
	CHECK_OK(stat("p1", &p1));
	CHECK_OK(stat("p2", &p2));
	CHECK_EQ(p1.st_nlink, 3);
	CHECK_EQ(p2.st_nlink, 2);
	CHECK_OK(stat("p1/f/..", &st));
	CHECK_EQ(st.st_ino, p1.st_ino);
	/* Two files in one directory swap contents. */
	if (!posix_mkfile("a", "aaa", 3, 0644) ||
	    !posix_mkfile("b", "bbbbb", 5, 0644))
		return;
	CHECK_OK(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE));
	CHECK_CONTENT("a", "bbbbb", 5);
	CHECK_CONTENT("b", "aaa", 3);
	CHECK_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "missing",
			    RENAME_EXCHANGE), ENOENT);
	CHECK_ERR(renameat2(AT_FDCWD, "a", AT_FDCWD, "b",
			    RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
}

static void check_exdev(void)
{
	char path[PATH_MAX + 32];
	struct stat here, there;

	if (!posix_other[0]) {
		posix_skip("no second directory given");
		return;
	}
	if (!CHECK_OK(stat(".", &here)) || !CHECK_OK(stat(posix_other, &there)))
		return;
	if (here.st_dev == there.st_dev) {
		posix_skip("%s is on the same file system", posix_other);
		return;
	}
	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	snprintf(path, sizeof(path), "%s/posix-exdev.%d", posix_other,
		 (int)getpid());
	CHECK_ERR(rename("f", path), EXDEV);
	CHECK_ERR(link("f", path), EXDEV);
	unlink(path);
	CHECK_OK(access("f", F_OK));
}

/* ---- special files ----------------------------------------------------------- */

static void posix_fifo_child(void *arg)
{
	static const char msg2[] = "from parent to child";
	char buf[64];
	int fd;

	(void)arg;
	fd = open("p", O_WRONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "hello through the fifo", 22), 22);
	close(fd);
	fd = open("p", O_RDONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(read(fd, buf, sizeof(buf)), sizeof(msg2) - 1);
	CHECK_MEM(buf, msg2, sizeof(msg2) - 1);
	close(fd);
}

static void check_mkfifo(void)
{
	static const char msg2[] = "from parent to child";
	char buf[64];
	struct stat st;
	ssize_t r, got = 0;
	pid_t pid;
	int fd;

	if (!CHECK_OK(mkfifo("p", 0644)))
		return;
	CHECK_OK(lstat("p", &st));
	CHECK_TRUE(S_ISFIFO(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0644);
	pid = posix_spawn(posix_fifo_child, NULL);
	if (pid < 0)
		return;
	fd = open("p", O_RDONLY);
	if (CHECK_OK(fd)) {
		while ((r = read(fd, buf + got, sizeof(buf) - got)) > 0)
			got += r;
		CHECK_OK(r);
		CHECK_EQ(got, 22);
		CHECK_MEM(buf, "hello through the fifo", 22);
		close(fd);
	}
	fd = open("p", O_WRONLY);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, msg2, sizeof(msg2) - 1), sizeof(msg2) - 1);
		close(fd);
	}
	posix_reap(pid);
	CHECK_OK(lstat("p", &st));
	CHECK_EQ(st.st_size, 0);
}

static void check_mknod_sock(void)
{
	struct stat st;

	CHECK_OK(mknod("s", S_IFSOCK | 0644, 0));
	CHECK_OK(lstat("s", &st));
	CHECK_TRUE(S_ISSOCK(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0644);
	/* mknod makes regular files and FIFOs too. */
	CHECK_OK(mknod("r", S_IFREG | 0600, 0));
	CHECK_OK(lstat("r", &st));
	CHECK_TRUE(S_ISREG(st.st_mode));
	CHECK_EQ(st.st_size, 0);
	CHECK_OK(mknod("p", S_IFIFO | 0600, 0));
	CHECK_OK(lstat("p", &st));
	CHECK_TRUE(S_ISFIFO(st.st_mode));
	CHECK_ERR(mknod("s", S_IFSOCK | 0644, 0), EEXIST);
}

static void check_mknod_dev(void)
{
	dev_t c = makedev(1, 3), b = makedev(300, 70000);
	struct stat st;

	CHECK_OK(mknod("c", S_IFCHR | 0600, c));
	CHECK_OK(lstat("c", &st));
	CHECK_TRUE(S_ISCHR(st.st_mode));
	CHECK_EQ(major(st.st_rdev), 1);
	CHECK_EQ(minor(st.st_rdev), 3);
	CHECK_OK(mknod("b", S_IFBLK | 0640, b));
	CHECK_OK(lstat("b", &st));
	CHECK_TRUE(S_ISBLK(st.st_mode));
	CHECK_MODE(st.st_mode & 07777, 0640);
	CHECK_EQ(major(st.st_rdev), 300);
	CHECK_EQ(minor(st.st_rdev), 70000);
}

static void check_unix_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int srv = -1, cli = -1, acc = -1;
	struct stat st;
	char buf[8];

	strcpy(sa.sun_path, "sock");
	srv = socket(AF_UNIX, SOCK_STREAM, 0);
	cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (!CHECK_OK(srv) || !CHECK_OK(cli))
		goto out;
	if (!CHECK_OK(bind(srv, (struct sockaddr *)&sa, sizeof(sa))))
		goto out;
	CHECK_OK(listen(srv, 4));
	CHECK_OK(lstat("sock", &st));
	CHECK_TRUE(S_ISSOCK(st.st_mode));
	CHECK_ERR(bind(cli, (struct sockaddr *)&sa, sizeof(sa)), EADDRINUSE);
	if (!CHECK_OK(connect(cli, (struct sockaddr *)&sa, sizeof(sa))))
		goto out;
	acc = accept(srv, NULL, NULL);
	if (!CHECK_OK(acc))
		goto out;
	CHECK_EQ(send(cli, "ping", 4, 0), 4);
	CHECK_EQ(recv(acc, buf, sizeof(buf), 0), 4);
	CHECK_MEM(buf, "ping", 4);
	CHECK_OK(unlink("sock"));
out:
	posix_close(acc);
	posix_close(cli);
	posix_close(srv);
}

/* ---- xattrs -------------------------------------------------------------------- */

/* Is @name in the NUL-separated @list of @len bytes? */
static bool posix_xattr_listed(const char *list, ssize_t len, const char *name)
{
	ssize_t i = 0;

	while (i < len) {
		if (strcmp(list + i, name) == 0)
			return true;
		i += strlen(list + i) + 1;
	}
	return false;
}

static void check_xattr(void)
{
	char buf[8192], big[4000];
	ssize_t n;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	if (!CHECK_OK(setxattr("f", "user.a", "v1", 2, XATTR_CREATE)))
		return;
	CHECK_ERR(setxattr("f", "user.a", "v2", 2, XATTR_CREATE), EEXIST);
	CHECK_ERR(setxattr("f", "user.b", "v2", 2, XATTR_REPLACE), ENODATA);
	CHECK_EQ(getxattr("f", "user.a", NULL, 0), 2);	/* size query */
	CHECK_ERR(getxattr("f", "user.a", buf, 1), ERANGE);
	CHECK_EQ(getxattr("f", "user.a", buf, sizeof(buf)), 2);
	CHECK_MEM(buf, "v1", 2);
	CHECK_OK(setxattr("f", "user.a", "value-3", 7, XATTR_REPLACE));
	CHECK_EQ(getxattr("f", "user.a", buf, sizeof(buf)), 7);
	CHECK_MEM(buf, "value-3", 7);
	CHECK_OK(setxattr("f", "user.empty", "", 0, 0));
	CHECK_EQ(getxattr("f", "user.empty", buf, sizeof(buf)), 0);
	posix_pattern(big, sizeof(big), 0, 7);
	CHECK_OK(setxattr("f", "user.big", big, sizeof(big), 0));
	CHECK_EQ(getxattr("f", "user.big", buf, sizeof(buf)), sizeof(big));
	CHECK_MEM(buf, big, sizeof(big));
	CHECK_ERR(getxattr("f", "user.missing", buf, sizeof(buf)), ENODATA);
	/* listxattr: size query, ERANGE, then the names. */
	n = listxattr("f", NULL, 0);
	CHECK_TRUE(n >= (ssize_t)sizeof("user.a\0user.empty\0user.big"));
	CHECK_ERR(listxattr("f", buf, 3), ERANGE);
	n = listxattr("f", buf, sizeof(buf));
	if (CHECK_OK(n)) {
		CHECK_TRUE(posix_xattr_listed(buf, n, "user.a"));
		CHECK_TRUE(posix_xattr_listed(buf, n, "user.empty"));
		CHECK_TRUE(posix_xattr_listed(buf, n, "user.big"));
	}
	CHECK_OK(removexattr("f", "user.a"));
	CHECK_ERR(removexattr("f", "user.a"), ENODATA);
	CHECK_ERR(getxattr("f", "user.a", buf, sizeof(buf)), ENODATA);
	n = listxattr("f", buf, sizeof(buf));
	if (CHECK_OK(n))
		CHECK_TRUE(!posix_xattr_listed(buf, n, "user.a"));
	/* On a directory, and through an fd. */
	CHECK_OK(mkdir("d", 0755));
	CHECK_OK(setxattr("d", "user.dir", "D", 1, 0));
	CHECK_EQ(getxattr("d", "user.dir", buf, sizeof(buf)), 1);
	CHECK_ERR(getxattr("missing", "user.a", buf, sizeof(buf)), ENOENT);
}

/* ---- allocation, holes, copies ------------------------------------------------ */

static void check_fallocate_mode0(void)
{
	enum { N = 1 << 20 };
	char *buf = malloc(N);
	struct stat st;
	int fd = -1;

	if (!CHECK_TRUE(buf))
		goto out;
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	if (!CHECK_OK(fallocate(fd, 0, 0, N)))
		goto out;
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, N);
	CHECK_TRUE(st.st_blocks * 512 >= N);
	CHECK_EQ(posix_pread_all(fd, buf, N, 0), N);
	CHECK_TRUE(posix_all_zero(buf, N));
	/* Allocating inside the file changes neither size nor data. */
	CHECK_EQ(pwrite(fd, "data", 4, 1000), 4);
	CHECK_OK(fallocate(fd, 0, 0, 4096));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, N);
	CHECK_EQ(pread(fd, buf, 4, 1000), 4);
	CHECK_MEM(buf, "data", 4);
	CHECK_ERR(fallocate(fd, 0, 0, 0), EINVAL);
out:
	posix_close(fd);
	free(buf);
}

static void check_fallocate_keep_size(void)
{
	char want[100], got[200];
	struct stat st;
	int fd;

	posix_pattern(want, sizeof(want), 0, 8);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, want, sizeof(want)), sizeof(want));
	if (CHECK_OK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 20))) {
		CHECK_OK(fstat(fd, &st));
		CHECK_EQ(st.st_size, sizeof(want));
		CHECK_EQ(pread(fd, got, sizeof(got), 0), sizeof(want));
		CHECK_MEM(got, want, sizeof(want));
		CHECK_EQ(pread(fd, got, sizeof(got), 100), 0);
	}
	close(fd);
}

static void check_punch_hole(void)
{
	enum { N = 1 << 20, H0 = 256 << 10, H1 = 768 << 10 };
	char *want = malloc(N), *got = malloc(N);
	struct stat st0, st1;
	int fd = -1;

	if (!CHECK_TRUE(want && got))
		goto out;
	memset(want, 0xab, N);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(posix_pwrite_all(fd, want, N, 0), N);
	CHECK_OK(fsync(fd));
	CHECK_OK(fstat(fd, &st0));
	CHECK_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, H0, H1 - H0), EOPNOTSUPP);
	if (!CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				H0, H1 - H0)))
		goto out;
	CHECK_OK(fstat(fd, &st1));
	CHECK_EQ(st1.st_size, N);
	CHECK_TRUE(st1.st_blocks < st0.st_blocks);
	memset(want + H0, 0, H1 - H0);
	CHECK_EQ(posix_pread_all(fd, got, N, 0), N);
	CHECK_MEM(got, want, N);
	/* Unaligned punch zeroes exactly the bytes asked for. */
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   100, 50));
	memset(want + 100, 0, 50);
	CHECK_EQ(posix_pread_all(fd, got, N, 0), N);
	CHECK_MEM(got, want, N);
	/* Beyond EOF: nothing changes, the size stays. */
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   N - 10, 100));
	CHECK_OK(fstat(fd, &st1));
	CHECK_EQ(st1.st_size, N);
	memset(want + N - 10, 0, 10);
	CHECK_EQ(posix_pread_all(fd, got, N, 0), N);
	CHECK_MEM(got, want, N);
out:
	posix_close(fd);
	free(want);
	free(got);
}

static void check_seek_data_hole(void)
{
	enum { CHUNK = 64 << 10 };
	const off_t second = 16 << 20, eof = (16 << 20) + CHUNK;
	char *buf = malloc(CHUNK);
	off_t hole, data;
	int fd = -1;

	if (!CHECK_TRUE(buf))
		goto out;
	posix_pattern(buf, CHUNK, 0, 9);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_EQ(pwrite(fd, buf, CHUNK, 0), CHUNK);
	CHECK_EQ(pwrite(fd, buf, CHUNK, second), CHUNK);
	CHECK_OK(fsync(fd));
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 0);
	hole = lseek(fd, 0, SEEK_HOLE);
	if (!CHECK_OK(hole))
		goto out;
	if (hole < CHUNK || hole >= second) {
		posix_fail("SEEK_HOLE from 0: expected in [%d, %lld) got %lld",
			   CHUNK, (long long)second, (long long)hole);
		goto out;
	}
	data = lseek(fd, hole, SEEK_DATA);
	CHECK_TRUE(data > hole && data <= second);
	data = lseek(fd, 1 << 20, SEEK_DATA);
	CHECK_TRUE(data >= 1 << 20 && data <= second);
	CHECK_EQ(lseek(fd, second, SEEK_HOLE), eof);
	CHECK_ERR(lseek(fd, eof, SEEK_DATA), ENXIO);
	CHECK_ERR(lseek(fd, eof, SEEK_HOLE), ENXIO);
	CHECK_ERR(lseek(fd, eof + 4096, SEEK_DATA), ENXIO);
	CHECK_ERR(lseek(fd, -1, SEEK_DATA), ENXIO);
out:
	posix_close(fd);
	free(buf);
}

static void check_copy_file_range(void)
{
	enum { N = 300 * 1024, IN = 1000, OUT = 5000, LEN = 200000 };
	char *src = malloc(N), *got = malloc(N);
	loff_t in = IN, out = OUT;
	size_t done = 0;
	int fi = -1, fo = -1;
	struct stat st;
	ssize_t r;

	if (!CHECK_TRUE(src && got))
		goto out_free;
	posix_pattern(src, N, 0, 10);
	if (!posix_mkfile("src", src, N, 0644))
		goto out_free;
	fi = open("src", O_RDONLY);
	fo = open("dst", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fi) || !CHECK_OK(fo))
		goto out;
	while (done < LEN) {
		r = copy_file_range(fi, &in, fo, &out, LEN - done, 0);
		if (!CHECK_OK(r) || !CHECK_TRUE(r > 0))
			goto out;
		done += r;
	}
	CHECK_EQ(in, IN + LEN);
	CHECK_EQ(out, OUT + LEN);
	CHECK_EQ(lseek(fi, 0, SEEK_CUR), 0);	/* explicit offsets used */
	CHECK_EQ(lseek(fo, 0, SEEK_CUR), 0);
	CHECK_OK(fstat(fo, &st));
	CHECK_EQ(st.st_size, OUT + LEN);
	CHECK_EQ(posix_pread_all(fo, got, N, 0), OUT + LEN);
	CHECK_TRUE(posix_all_zero(got, OUT));
	CHECK_MEM(got + OUT, src + IN, LEN);
	/* Past the source's EOF there is nothing to copy. */
	in = N;
	CHECK_EQ(copy_file_range(fi, &in, fo, NULL, 100, 0), 0);
out:
	posix_close(fi);
	posix_close(fo);
out_free:
	free(src);
	free(got);
}

static void check_statvfs(void)
{
	struct statvfs sv, fsv;
	int fd;

	if (!CHECK_OK(statvfs(".", &sv)))
		return;
	CHECK_TRUE(sv.f_bsize > 0);
	CHECK_TRUE(sv.f_frsize > 0);
	CHECK_TRUE(sv.f_blocks > 0);
	CHECK_TRUE(sv.f_bfree <= sv.f_blocks);
	CHECK_TRUE(sv.f_bavail <= sv.f_bfree);
	CHECK_TRUE(sv.f_ffree <= sv.f_files);
	CHECK_TRUE(sv.f_favail <= sv.f_files);
	CHECK_EQ(sv.f_namemax, 255);
	fd = open(".", O_RDONLY | O_DIRECTORY);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(fstatvfs(fd, &fsv));
	CHECK_EQ(fsv.f_fsid, sv.f_fsid);
	CHECK_EQ(fsv.f_blocks, sv.f_blocks);
	close(fd);
}

/* ---- readdir ------------------------------------------------------------------ */

static void check_readdir_exact(void)
{
	static const struct {
		const char *name;
		unsigned char type;
	} want[] = {
		{ ".", DT_DIR }, { "..", DT_DIR }, { "a", DT_REG },
		{ "b", DT_REG }, { "c", DT_REG }, { "dir", DT_DIR },
		{ "link", DT_LNK }, { "fifo", DT_FIFO },
	};
	enum { NW = sizeof(want) / sizeof(want[0]) };
	int seen[NW] = { 0 };
	struct dirent *de;
	struct stat st;
	unsigned i;
	DIR *d;
	int fd;

	CHECK_OK(mkdir("t", 0755));
	CHECK_OK(fd = open("t/a", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(fd = open("t/b", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(fd = open("t/c", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(fd = open("t/gone", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(mkdir("t/dir", 0755));
	CHECK_OK(symlink("a", "t/link"));
	CHECK_OK(mkfifo("t/fifo", 0644));
	CHECK_OK(unlink("t/gone"));
	d = opendir("t");
	if (!CHECK_TRUE(d != NULL))
		return;
	while ((de = readdir(d))) {
		char path[300];

		for (i = 0; i < NW; i++)
			if (strcmp(de->d_name, want[i].name) == 0)
				break;
		if (i == NW) {
			posix_fail("readdir: expected no entry \"%s\" got one",
				   de->d_name);
			continue;
		}
		seen[i]++;
		if (de->d_type != DT_UNKNOWN && de->d_type != want[i].type)
			posix_fail("readdir: d_type of %s: expected %d got %d",
				   de->d_name, want[i].type, de->d_type);
		if (i < 2)
			continue;
		snprintf(path, sizeof(path), "t/%s", de->d_name);
		if (CHECK_OK(lstat(path, &st)) && st.st_ino != de->d_ino)
			posix_fail("readdir: d_ino of %s: expected %llu (st_ino) got %llu",
				   de->d_name, (unsigned long long)st.st_ino,
				   (unsigned long long)de->d_ino);
	}
	closedir(d);
	for (i = 0; i < NW; i++)
		if (seen[i] != 1)
			posix_fail("readdir: entry \"%s\": expected seen once got %d times",
				   want[i].name, seen[i]);
}

enum {
	POSIX_CHURN_KEEP = 2000,	/* present throughout */
	POSIX_CHURN_TMP = 500,		/* deleted during the listing */
	POSIX_CHURN_NEW = 2000,		/* created during the listing */
	POSIX_CHURN_STEP = 5,		/* tmp deleted and new made per call */
};

struct posix_churn {
	int keep[POSIX_CHURN_KEEP];
	int tmp[POSIX_CHURN_TMP];
	int new[POSIX_CHURN_NEW];
	int dots;
};

/* Count one listed name; unknown names are failures. */
static void posix_churn_count(struct posix_churn *c, const char *name)
{
	int i;

	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		c->dots++;
		return;
	}
	if (sscanf(name, "keep%d", &i) == 1 && i >= 0 && i < POSIX_CHURN_KEEP)
		c->keep[i]++;
	else if (sscanf(name, "tmp%d", &i) == 1 && i >= 0 && i < POSIX_CHURN_TMP)
		c->tmp[i]++;
	else if (sscanf(name, "new%d", &i) == 1 && i >= 0 && i < POSIX_CHURN_NEW)
		c->new[i]++;
	else
		posix_fail("readdir: expected no entry \"%s\" got one", name);
}

/*
 * List big/ with getdents64 into 512-byte buffers from the start; when
 * @churn, delete tmp entries and create new ones between calls.
 * Returns the number of new entries created.
 */
static int posix_churn_list(struct posix_churn *c, int dfd, bool churn,
			    int *next_tmp, int nnew)
{
	char buf[512], name[64];
	long pos, r;
	int i, fd;

	memset(c, 0, sizeof(*c));
	if (!CHECK_EQ(lseek(dfd, 0, SEEK_SET), 0))
		return nnew;
	for (;;) {
		r = getdents64(dfd, buf, sizeof(buf));
		if (!CHECK_OK(r) || r == 0)
			break;
		for (pos = 0; pos < r;) {
			struct dirent64 *de = (struct dirent64 *)(buf + pos);

			posix_churn_count(c, de->d_name);
			pos += de->d_reclen;
		}
		for (i = 0; churn && i < POSIX_CHURN_STEP; i++) {
			if (*next_tmp < POSIX_CHURN_TMP) {
				snprintf(name, sizeof(name), "big/tmp%d",
					 (*next_tmp)++);
				CHECK_OK(unlink(name));
			}
			if (nnew < POSIX_CHURN_NEW) {
				snprintf(name, sizeof(name), "big/new%d",
					 nnew++);
				CHECK_OK(fd = open(name, O_CREAT | O_WRONLY,
						   0644));
				posix_close(fd);
			}
		}
	}
	return nnew;
}

static void check_readdir_churn(void)
{
	struct posix_churn *c = calloc(1, sizeof(*c));
	int i, fd, dfd = -1, next_tmp = 0, nnew = 0;
	char name[64];

	if (!CHECK_TRUE(c))
		return;
	CHECK_OK(mkdir("big", 0755));
	for (i = 0; i < POSIX_CHURN_KEEP + POSIX_CHURN_TMP; i++) {
		if (i < POSIX_CHURN_KEEP)
			snprintf(name, sizeof(name), "big/keep%d", i);
		else
			snprintf(name, sizeof(name), "big/tmp%d",
				 i - POSIX_CHURN_KEEP);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (!CHECK_OK(fd))
			goto out;
		close(fd);
	}
	dfd = open("big", O_RDONLY | O_DIRECTORY);
	if (!CHECK_OK(dfd))
		goto out;
	nnew = posix_churn_list(c, dfd, true, &next_tmp, 0);
	CHECK_EQ(c->dots, 2);
	for (i = 0; i < POSIX_CHURN_KEEP; i++)
		if (c->keep[i] != 1)
			posix_fail("readdir with churn: keep%d: expected seen once got %d times",
				   i, c->keep[i]);
	for (i = 0; i < POSIX_CHURN_TMP; i++)
		if (c->tmp[i] > 1)
			posix_fail("readdir with churn: tmp%d: expected seen at most once got %d times",
				   i, c->tmp[i]);
	for (i = 0; i < nnew; i++)
		if (c->new[i] > 1)
			posix_fail("readdir with churn: new%d: expected seen at most once got %d times",
				   i, c->new[i]);
	/* A quiet listing afterwards shows exactly what exists. */
	posix_churn_list(c, dfd, false, &next_tmp, nnew);
	CHECK_EQ(c->dots, 2);
	for (i = 0; i < POSIX_CHURN_KEEP; i++)
		if (c->keep[i] != 1)
			posix_fail("readdir after churn: keep%d: expected seen once got %d times",
				   i, c->keep[i]);
	for (i = 0; i < POSIX_CHURN_TMP; i++)
		if (c->tmp[i] != (i >= next_tmp))
			posix_fail("readdir after churn: tmp%d: expected seen %d times got %d",
				   i, i >= next_tmp, c->tmp[i]);
	for (i = 0; i < nnew; i++)
		if (c->new[i] != 1)
			posix_fail("readdir after churn: new%d: expected seen once got %d times",
				   i, c->new[i]);
out:
	posix_close(dfd);
	free(c);
}

/* ---- locks ---------------------------------------------------------------------- */

static void posix_flock_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	if (!CHECK_OK(flock(fd, LOCK_EX)))
		return;
	posix_post(ch->c2p[1], 'L');
	posix_wait(ch->p2c[0], NULL);	/* "close it" (or the parent gave up) */
	close(fd);
	posix_post(ch->c2p[1], 'C');
	posix_wait(ch->p2c[0], NULL);
}

static void check_flock(void)
{
	struct posix_chan ch;
	pid_t pid = -1;
	int fd = -1;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_flock_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	CHECK_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	posix_post(ch.p2c[1], 'c');
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_OK(flock(fd, LOCK_EX | LOCK_NB));	/* released on close */
	CHECK_OK(flock(fd, LOCK_UN));
	CHECK_OK(flock(fd, LOCK_SH | LOCK_NB));
out:
	posix_close(fd);
	posix_chan_close(&ch);	/* EOF lets the child finish */
	if (pid > 0)
		posix_reap(pid);
}

/* fcntl(@cmd) on [@start, @start + @len) with lock @type. */
static int posix_setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	return fcntl(fd, cmd, &fl);
}

static void posix_lock_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	if (!CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 100)))
		return;
	posix_post(ch->c2p[1], 'L');
	if (!posix_wait(ch->p2c[0], NULL))
		return;
	posix_msleep(300);	/* the parent is in F_SETLKW by now */
	posix_post(ch->c2p[1], 'U');
	CHECK_OK(posix_setlk(fd, F_SETLK, F_UNLCK, 0, 100));
	posix_wait(ch->p2c[0], NULL);
	close(fd);
}

static void check_posix_locks(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 10 };
	struct posix_chan ch;
	long long t0, t1;
	char c = 0;
	pid_t pid;
	int fd = -1, fl_flags;

	if (!posix_mkfile("f", "0123456789", 10, 0644) ||
	    !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_lock_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 50, .l_len = 10 };
	CHECK_ERR(fcntl(fd, F_SETLK, &fl), EAGAIN);
	fl = (struct flock){ .l_type = F_RDLCK, .l_start = 0, .l_len = 10 };
	CHECK_ERR(fcntl(fd, F_SETLK, &fl), EAGAIN);
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 0, .l_len = 10 };
	if (CHECK_OK(fcntl(fd, F_GETLK, &fl))) {
		CHECK_EQ(fl.l_type, F_WRLCK);
		CHECK_EQ(fl.l_pid, pid);
		CHECK_EQ(fl.l_start, 0);
		CHECK_EQ(fl.l_len, 100);
	}
	/* A range nobody holds is free. */
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 200, .l_len = 10 };
	CHECK_OK(fcntl(fd, F_SETLK, &fl));
	fl = (struct flock){ .l_type = F_RDLCK, .l_start = 300, .l_len = 0 };
	CHECK_OK(fcntl(fd, F_GETLK, &fl));
	CHECK_EQ(fl.l_type, F_UNLCK);
	/* F_SETLKW sleeps until the child lets go. */
	posix_post(ch.p2c[1], 'r');
	t0 = posix_now_ns();
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 0, .l_len = 10 };
	CHECK_OK(fcntl(fd, F_SETLKW, &fl));
	t1 = posix_now_ns();
	CHECK_TRUE(t1 - t0 >= 150 * 1000000LL);
	fl_flags = fcntl(ch.c2p[0], F_GETFL);
	fcntl(ch.c2p[0], F_SETFL, fl_flags | O_NONBLOCK);
	CHECK_EQ(read(ch.c2p[0], &c, 1), 1);	/* 'U' came before the grant */
	CHECK_EQ(c, 'U');
out:
	posix_close(fd);
	posix_chan_close(&ch);
	if (pid > 0)
		posix_reap(pid);
}

/* ---- odds and ends ---------------------------------------------------------------- */

static void check_o_tmpfile(void)
{
	char proc[64], buf[16];
	struct stat st;
	int fd;

	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		posix_skip("O_TMPFILE not supported (%s)", posix_errname(errno));
		return;
	}
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "tmpdata", 7), 7);
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_nlink, 0);
	CHECK_TRUE(S_ISREG(st.st_mode));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	CHECK_OK(linkat(AT_FDCWD, proc, AT_FDCWD, "named", AT_SYMLINK_FOLLOW));
	CHECK_OK(stat("named", &st));
	CHECK_EQ(st.st_nlink, 1);
	CHECK_EQ(st.st_size, 7);
	CHECK_CONTENT("named", "tmpdata", 7);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 7);
	close(fd);
}

static void check_mmap_read(void)
{
	enum { N = 100000 };
	char *want = malloc(N), *p;
	int fd = -1;

	if (!CHECK_TRUE(want))
		goto out;
	posix_pattern(want, N, 0, 11);
	if (!posix_mkfile("f", want, N, 0644))
		goto out;
	fd = open("f", O_RDONLY);
	if (!CHECK_OK(fd))
		goto out;
	p = mmap(NULL, N, PROT_READ, MAP_SHARED, fd, 0);
	if (!CHECK_MAP(p))
		goto out;
	CHECK_MEM(p, want, N);
	/* The tail of the last page past EOF reads as zero. */
	CHECK_EQ(p[N], 0);
	munmap(p, N);
	/* An offset mapping. */
	p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 8192);
	if (CHECK_MAP(p)) {
		CHECK_MEM(p, want + 8192, 8192);
		munmap(p, 8192);
	}
out:
	posix_close(fd);
	free(want);
}

static void check_mmap_write(void)
{
	enum { N = 64 << 10 };
	char *want = malloc(N), *p;
	int fd = -1;

	if (!CHECK_TRUE(want))
		goto out;
	posix_pattern(want, N, 0, 12);
	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd) || !CHECK_OK(ftruncate(fd, N)))
		goto out;
	p = mmap(NULL, N, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!CHECK_MAP(p))
		goto out;
	memcpy(p, want, N);
	CHECK_OK(msync(p, N, MS_SYNC));
	CHECK_OK(munmap(p, N));
	close(fd);
	fd = -1;
	CHECK_CONTENT("f", want, N);
	/* A write(2) is seen through a mapping made before it. */
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	p = mmap(NULL, N, PROT_READ, MAP_SHARED, fd, 0);
	if (!CHECK_MAP(p))
		goto out;
	CHECK_EQ(pwrite(fd, "XYZ", 3, 5000), 3);
	CHECK_MEM(p + 5000, "XYZ", 3);
	munmap(p, N);
out:
	posix_close(fd);
	free(want);
}

static void check_unlinked_open(void)
{
	char buf[32];
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "still here", 10, 0644))
		return;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(unlink("f"));
	CHECK_ERR(stat("f", &st), ENOENT);
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_nlink, 0);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 10);
	CHECK_MEM(buf, "still here", 10);
	CHECK_EQ(pwrite(fd, " and more", 9, 10), 9);
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 19);
	CHECK_MEM(buf, "still here and more", 19);
	CHECK_OK(fsync(fd));
	/* The name is free for a new file at once. */
	if (posix_mkfile("f", "new", 3, 0644)) {
		CHECK_CONTENT("f", "new", 3);
		CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 19);
	}
	close(fd);
}

static void check_fsync(void)
{
	int fd, dfd;

	fd = open("f", O_CREAT | O_RDWR, 0644);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "abc", 3), 3);
	CHECK_OK(fsync(fd));
	CHECK_EQ(write(fd, "def", 3), 3);
	CHECK_OK(fdatasync(fd));
	close(fd);
	CHECK_CONTENT("f", "abcdef", 6);
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	if (CHECK_OK(dfd)) {
		CHECK_OK(fsync(dfd));
		close(dfd);
	}
	CHECK_OK(fd = open("f", O_RDONLY));
	if (fd >= 0) {
		CHECK_OK(fsync(fd));	/* fsync on a read-only fd is fine */
		close(fd);
	}
}

static void check_access(void)
{
	if (!posix_mkfile("f", "x", 1, 0640))
		return;
	CHECK_OK(access("f", F_OK));
	CHECK_OK(access("f", R_OK | W_OK));
	CHECK_ERR(access("f", X_OK), EACCES);	/* even root needs an x bit */
	CHECK_OK(chmod("f", 0750));
	CHECK_OK(access("f", X_OK));
	CHECK_ERR(access("missing", F_OK), ENOENT);
	CHECK_OK(mkdir("d", 0700));
	CHECK_OK(access("d", R_OK | W_OK | X_OK));
	if (posix_is_root) {
		CHECK_OK(chmod("f", 0));
		CHECK_OK(access("f", R_OK | W_OK));
	}
}

static void posix_nobody_child(void *arg)
{
	struct stat st;
	int fd;

	(void)arg;
	if (!posix_become_nobody())
		return;
	CHECK_ERR(fd = open("ro/x", O_CREAT | O_WRONLY, 0644), EACCES);
	posix_close(fd);
	CHECK_ERR(mkdir("ro/d", 0755), EACCES);
	CHECK_ERR(unlink("ro/file"), EACCES);
	CHECK_ERR(fd = open("secret", O_RDONLY), EACCES);
	posix_close(fd);
	CHECK_ERR(access("secret", R_OK), EACCES);
	CHECK_ERR(fd = open("ro/file", O_WRONLY), EACCES);
	posix_close(fd);
	CHECK_ERR(chmod("secret", 0777), EPERM);
	CHECK_ERR(stat("private/f", &st), EACCES);
	CHECK_OK(stat("secret", &st));	/* stat needs only the directory */
	fd = open("rw/x", O_CREAT | O_WRONLY, 0644);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, "mine", 4), 4);
		close(fd);
	}
	CHECK_OK(stat("rw/x", &st));
	CHECK_EQ(st.st_uid, POSIX_NOBODY);
	CHECK_EQ(st.st_gid, POSIX_NOBODY);
	CHECK_OK(mkdir("rw/d", 0755));
	CHECK_OK(unlink("rw/x"));
}

static void check_eacces_nobody(void)
{
	int fd;

	CHECK_OK(mkdir("ro", 0755));
	CHECK_OK(mkdir("rw", 0777));
	CHECK_OK(chmod("rw", 0777));
	CHECK_OK(mkdir("private", 0700));
	CHECK_OK(fd = open("private/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	if (!posix_mkfile("ro/file", "r", 1, 0644) ||
	    !posix_mkfile("secret", "s", 1, 0600))
		return;
	posix_reap(posix_spawn(posix_nobody_child, NULL));
}

static void posix_sticky_child(void *arg)
{
	int fd;

	(void)arg;
	if (!posix_become_nobody())
		return;
	CHECK_ERR(unlink("t/rootfile"), EPERM);
	CHECK_ERR(rename("t/rootfile", "t/renamed"), EPERM);
	CHECK_ERR(rmdir("t/rootdir"), EPERM);
	fd = open("t/mine", O_CREAT | O_WRONLY, 0644);
	if (CHECK_OK(fd))
		close(fd);
	CHECK_OK(rename("t/mine", "t/mine2"));
	CHECK_OK(unlink("t/mine2"));
	/* Writing root's 0666 file is allowed; only removal is not. */
	fd = open("t/rootfile", O_WRONLY);
	if (CHECK_OK(fd))
		close(fd);
}

static void check_sticky(void)
{
	struct stat st;

	CHECK_OK(mkdir("t", 0777));
	CHECK_OK(chmod("t", 01777));
	CHECK_OK(stat("t", &st));
	CHECK_MODE(st.st_mode & 07777, 01777);
	CHECK_OK(mkdir("t/rootdir", 0777));
	if (!posix_mkfile("t/rootfile", "root", 4, 0666))
		return;
	CHECK_OK(chmod("t/rootfile", 0666));
	posix_reap(posix_spawn(posix_sticky_child, NULL));
	CHECK_CONTENT("t/rootfile", "root", 4);
	CHECK_OK(unlink("t/rootfile"));	/* the owner can */
}

/* ---- more concurrency and inheritance ------------------------------------------- */

enum { POSIX_APP_PROCS = 4, POSIX_APP_RECS = 250, POSIX_APP_REC = 64 };

static void posix_append_child(void *arg)
{
	int id = (int)(intptr_t)arg, j, fd;
	char rec[POSIX_APP_REC];

	fd = open("f", O_WRONLY | O_APPEND);
	if (!CHECK_OK(fd))
		return;
	for (j = 0; j < POSIX_APP_RECS; j++) {
		int n = snprintf(rec, sizeof(rec), "%d:%04d:", id, j);

		memset(rec + n, 'a' + id, sizeof(rec) - n - 1);
		rec[sizeof(rec) - 1] = '\n';
		if (!CHECK_EQ(write(fd, rec, sizeof(rec)), sizeof(rec)))
			break;
	}
	close(fd);
}

/* O_APPEND writes from several processes never overwrite each other. */
static void check_o_append_concurrent(void)
{
	enum { TOTAL = POSIX_APP_PROCS * POSIX_APP_RECS * POSIX_APP_REC };
	static int seen[POSIX_APP_PROCS][POSIX_APP_RECS];
	char *buf = malloc(TOTAL + 1);
	pid_t pids[POSIX_APP_PROCS];
	int i, j, id, rec;
	ssize_t got;

	memset(seen, 0, sizeof(seen));
	if (!CHECK_TRUE(buf) || !posix_mkfile("f", "", 0, 0644))
		goto out;
	for (i = 0; i < POSIX_APP_PROCS; i++)
		pids[i] = posix_spawn(posix_append_child, (void *)(intptr_t)i);
	for (i = 0; i < POSIX_APP_PROCS; i++)
		posix_reap(pids[i]);
	if (posix_res->failed)
		goto out;
	{
		int fd = open("f", O_RDONLY);

		if (!CHECK_OK(fd))
			goto out;
		got = posix_pread_all(fd, buf, TOTAL + 1, 0);
		close(fd);
	}
	if (!CHECK_EQ(got, TOTAL))
		goto out;
	for (i = 0; i < TOTAL; i += POSIX_APP_REC) {
		char *r = buf + i;

		if (sscanf(r, "%d:%d:", &id, &rec) != 2 || id < 0 ||
		    id >= POSIX_APP_PROCS || rec < 0 || rec >= POSIX_APP_RECS ||
		    r[POSIX_APP_REC - 1] != '\n' ||
		    r[POSIX_APP_REC - 2] != 'a' + id) {
			posix_fail("record at offset %d: expected \"ID:NNNN:...\\n\" got \"%.20s...\"",
				   i, r);
			goto out;
		}
		seen[id][rec]++;
	}
	for (i = 0; i < POSIX_APP_PROCS; i++)
		for (j = 0; j < POSIX_APP_RECS; j++)
			if (seen[i][j] != 1)
				posix_fail("record %d:%04d: expected once got %d times",
					   i, j, seen[i][j]);
out:
	free(buf);
}

/* telldir/seekdir: going back to a position gives the same entries again. */
static void check_readdir_seekdir(void)
{
	enum { FILES = 300, SKIP_N = 100, AGAIN = 50 };
	char first[AGAIN][256], name[64];
	struct dirent *de;
	int i, fd, total = 0;
	long pos;
	DIR *d;

	CHECK_OK(mkdir("t", 0755));
	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "t/file%03d", i);
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (!CHECK_OK(fd))
			return;
		close(fd);
	}
	d = opendir("t");
	if (!CHECK_TRUE(d != NULL))
		return;
	for (i = 0; i < SKIP_N && readdir(d); i++)
		;
	pos = telldir(d);
	for (i = 0; i < AGAIN && (de = readdir(d)); i++)
		snprintf(first[i], sizeof(first[i]), "%s", de->d_name);
	CHECK_EQ(i, AGAIN);
	seekdir(d, pos);
	for (i = 0; i < AGAIN && (de = readdir(d)); i++) {
		if (strcmp(de->d_name, first[i])) {
			posix_fail("entry %d after seekdir: expected \"%s\" got \"%s\"",
				   SKIP_N + i, first[i], de->d_name);
			break;
		}
	}
	CHECK_EQ(i, AGAIN);
	rewinddir(d);
	while (readdir(d))
		total++;
	CHECK_EQ(total, FILES + 2);
	closedir(d);
}

/* A setgid directory hands its group down, and its setgid bit to subdirs. */
static void check_setgid_dir(void)
{
	struct stat st;
	int fd;

	CHECK_OK(mkdir("g", 0755));
	CHECK_OK(chown("g", 0, 1234));
	CHECK_OK(chmod("g", 02775));
	CHECK_OK(stat("g", &st));
	CHECK_MODE(st.st_mode & 07777, 02775);
	CHECK_OK(fd = open("g/f", O_CREAT | O_WRONLY, 0644));
	posix_close(fd);
	CHECK_OK(stat("g/f", &st));
	CHECK_EQ(st.st_gid, 1234);
	CHECK_MODE(st.st_mode & 07777, 0644);
	CHECK_OK(mkdir("g/sub", 0755));
	CHECK_OK(stat("g/sub", &st));
	CHECK_EQ(st.st_gid, 1234);
	CHECK_TRUE(st.st_mode & S_ISGID);
	CHECK_OK(mknod("g/p", S_IFIFO | 0644, 0));
	CHECK_OK(stat("g/p", &st));
	CHECK_EQ(st.st_gid, 1234);
	CHECK_OK(symlink("f", "g/l"));
	CHECK_OK(lstat("g/l", &st));
	CHECK_EQ(st.st_gid, 1234);
}

static void posix_suid_writer(void *arg)
{
	int fd;

	(void)arg;
	if (!posix_become_nobody())
		return;
	fd = open("f", O_WRONLY);
	if (!CHECK_OK(fd))
		return;
	CHECK_EQ(write(fd, "y", 1), 1);
	close(fd);
	CHECK_OK(truncate("g", 0));
}

/* Writing or truncating as an unprivileged user drops setuid/setgid. */
static void check_write_clears_suid(void)
{
	struct stat st;
	int fd;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_mkfile("g", "x", 1, 0644) ||
	    !posix_mkfile("h", "x", 1, 0644))
		return;
	CHECK_OK(chmod("f", 06777));
	CHECK_OK(chmod("g", 06777));
	CHECK_OK(chmod("h", 06755));
	posix_reap(posix_spawn(posix_suid_writer, NULL));
	CHECK_OK(stat("f", &st));
	CHECK_MODE(st.st_mode & 07777, 0777);
	CHECK_OK(stat("g", &st));
	CHECK_MODE(st.st_mode & 07777, 0777);
	CHECK_EQ(st.st_size, 0);
	/* Root (CAP_FSETID) keeps them. */
	fd = open("h", O_WRONLY);
	if (CHECK_OK(fd)) {
		CHECK_EQ(write(fd, "y", 1), 1);
		close(fd);
	}
	CHECK_OK(stat("h", &st));
	CHECK_MODE(st.st_mode & 07777, 06755);
}

static void check_xattr_trusted(void)
{
	char buf[256];
	ssize_t n;

	if (!posix_mkfile("f", "x", 1, 0644))
		return;
	if (!CHECK_OK(setxattr("f", "trusted.t", "tv", 2, XATTR_CREATE)))
		return;
	CHECK_EQ(getxattr("f", "trusted.t", buf, sizeof(buf)), 2);
	CHECK_MEM(buf, "tv", 2);
	n = listxattr("f", buf, sizeof(buf));
	if (CHECK_OK(n))
		CHECK_TRUE(posix_xattr_listed(buf, n, "trusted.t"));
	CHECK_OK(removexattr("f", "trusted.t"));
	CHECK_ERR(getxattr("f", "trusted.t", buf, sizeof(buf)), ENODATA);
}

static void posix_ranges_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	/* Holds write [0,40) and [60,100) after the split, read [200,210). */
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 100));
	CHECK_OK(posix_setlk(fd, F_SETLK, F_UNLCK, 40, 20));
	CHECK_OK(posix_setlk(fd, F_SETLK, F_RDLCK, 200, 10));
	posix_post(ch->c2p[1], 'L');
	posix_wait(ch->p2c[0], NULL);
	close(fd);
}

/* Byte ranges: unlocking the middle splits a lock; read locks share. */
static void check_posix_lock_ranges(void)
{
	struct flock fl;
	struct posix_chan ch;
	pid_t pid;
	int fd = -1;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_ranges_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		goto out;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 45, 10));	/* the gap */
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 10, 10), EAGAIN);
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 70, 10), EAGAIN);
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_RDLCK, 99, 1), EAGAIN);
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 100, 10));
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 30, .l_len = 20 };
	if (CHECK_OK(fcntl(fd, F_GETLK, &fl))) {
		CHECK_EQ(fl.l_type, F_WRLCK);
		CHECK_EQ(fl.l_start, 0);
		CHECK_EQ(fl.l_len, 40);
		CHECK_EQ(fl.l_pid, pid);
	}
	CHECK_OK(posix_setlk(fd, F_SETLK, F_RDLCK, 200, 10));	/* shared */
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 205, 1), EAGAIN);
	fl = (struct flock){ .l_type = F_WRLCK, .l_start = 200, .l_len = 1 };
	if (CHECK_OK(fcntl(fd, F_GETLK, &fl)))
		CHECK_EQ(fl.l_type, F_RDLCK);
out:
	posix_close(fd);
	posix_chan_close(&ch);
	if (pid > 0)
		posix_reap(pid);
}

static void posix_release_child(void *arg)
{
	struct posix_chan *ch = arg;
	int fd, fd2;

	posix_chan_child(ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd))
		return;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	posix_post(ch->c2p[1], 'L');
	if (!posix_wait(ch->p2c[0], NULL))
		return;
	/* Closing any fd of the file drops all of this process's locks. */
	fd2 = open("f", O_RDONLY);
	if (CHECK_OK(fd2))
		close(fd2);
	posix_post(ch->c2p[1], 'C');
	if (!posix_wait(ch->p2c[0], NULL))
		return;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 20, 10));
	posix_post(ch->c2p[1], 'M');
	/* Exiting with the fd still open drops the rest. */
	posix_wait(ch->p2c[0], NULL);
}

static void check_posix_lock_release(void)
{
	struct posix_chan ch;
	pid_t pid;
	int fd = -1;

	if (!posix_mkfile("f", "x", 1, 0644) || !posix_chan_open(&ch))
		return;
	pid = posix_spawn(posix_release_child, &ch);
	if (pid < 0)
		goto out;
	posix_chan_parent(&ch);
	fd = open("f", O_RDWR);
	if (!CHECK_OK(fd) || !CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 10), EAGAIN);
	posix_post(ch.p2c[1], 'c');
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	CHECK_OK(posix_setlk(fd, F_SETLK, F_UNLCK, 0, 10));
	posix_post(ch.p2c[1], 'm');
	if (!CHECK_TRUE(posix_wait(ch.c2p[0], NULL)))
		goto out;
	CHECK_ERR(posix_setlk(fd, F_SETLK, F_WRLCK, 20, 10), EAGAIN);
	posix_post(ch.p2c[1], 'x');
	posix_reap(pid);
	pid = -1;
	CHECK_OK(posix_setlk(fd, F_SETLK, F_WRLCK, 20, 10));
out:
	posix_close(fd);
	posix_chan_close(&ch);
	if (pid > 0)
		posix_reap(pid);
}

/* ---- the table ----------------------------------------------------------------- */

enum posix_flags {
	POSIX_NEEDS_ROOT = 1 << 0,
};

struct posix_check {
	const char *name;
	void (*fn)(void);
	unsigned flags;
};

static const struct posix_check posix_checks[] = {
	{ "create_excl", check_create_excl, 0 },
	{ "umask", check_umask, 0 },
	{ "creat_missing_dir", check_creat_missing_dir, 0 },
	{ "path_through_file", check_path_through_file, 0 },
	{ "open_errors", check_open_errors, 0 },
	{ "write_read", check_write_read, 0 },
	{ "pread_pwrite", check_pread_pwrite, 0 },
	{ "pwrite_beyond_4g", check_pwrite_beyond_4g, 0 },
	{ "o_append", check_o_append, 0 },
	{ "o_append_concurrent", check_o_append_concurrent, 0 },
	{ "o_trunc", check_o_trunc, 0 },
	{ "ftruncate", check_ftruncate, 0 },
	{ "stat_fields", check_stat_fields, 0 },
	{ "chmod", check_chmod, 0 },
	{ "chown", check_chown, POSIX_NEEDS_ROOT },
	{ "chown_clears_suid", check_chown_clears_suid, POSIX_NEEDS_ROOT },
	{ "write_clears_suid", check_write_clears_suid, POSIX_NEEDS_ROOT },
	{ "setgid_dir", check_setgid_dir, POSIX_NEEDS_ROOT },
	{ "utimensat_ns", check_utimensat_ns, 0 },
	{ "utime_now", check_utime_now, 0 },
	{ "utime_omit", check_utime_omit, 0 },
	{ "times_on_write", check_times_on_write, 0 },
	{ "ctime_on_attr_change", check_ctime_on_attr_change, 0 },
	{ "dir_times_on_entry_change", check_dir_times_on_entry_change, 0 },
	{ "mkdir_rmdir", check_mkdir_rmdir, 0 },
	{ "unlink_dir", check_unlink_dir, 0 },
	{ "rmdir_file", check_rmdir_file, 0 },
	{ "name_max", check_name_max, 0 },
	{ "symlink", check_symlink, 0 },
	{ "symlink_long_target", check_symlink_long_target, 0 },
	{ "symlink_loop", check_symlink_loop, 0 },
	{ "hardlink", check_hardlink, 0 },
	{ "rename_file_replace", check_rename_file_replace, 0 },
	{ "rename_hardlink_noop", check_rename_hardlink_noop, 0 },
	{ "rename_dir_to_empty_dir", check_rename_dir_to_empty_dir, 0 },
	{ "rename_dir_nonempty", check_rename_dir_nonempty, 0 },
	{ "rename_file_to_dir", check_rename_file_to_dir, 0 },
	{ "rename_dir_to_file", check_rename_dir_to_file, 0 },
	{ "rename_into_subtree", check_rename_into_subtree, 0 },
	{ "renameat2_noreplace", check_renameat2_noreplace, 0 },
	{ "renameat2_exchange", check_renameat2_exchange, 0 },
	{ "exdev", check_exdev, 0 },
	{ "mkfifo", check_mkfifo, 0 },
	{ "mknod_sock", check_mknod_sock, 0 },
	{ "mknod_dev", check_mknod_dev, POSIX_NEEDS_ROOT },
	{ "unix_socket", check_unix_socket, 0 },
	{ "xattr", check_xattr, 0 },
	{ "xattr_trusted", check_xattr_trusted, POSIX_NEEDS_ROOT },
	{ "fallocate_mode0", check_fallocate_mode0, 0 },
	{ "fallocate_keep_size", check_fallocate_keep_size, 0 },
	{ "punch_hole", check_punch_hole, 0 },
	{ "seek_data_hole", check_seek_data_hole, 0 },
	{ "copy_file_range", check_copy_file_range, 0 },
	{ "statvfs", check_statvfs, 0 },
	{ "readdir_exact", check_readdir_exact, 0 },
	{ "readdir_churn", check_readdir_churn, 0 },
	{ "readdir_seekdir", check_readdir_seekdir, 0 },
	{ "flock", check_flock, 0 },
	{ "posix_locks", check_posix_locks, 0 },
	{ "posix_lock_ranges", check_posix_lock_ranges, 0 },
	{ "posix_lock_release", check_posix_lock_release, 0 },
	{ "o_tmpfile", check_o_tmpfile, 0 },
	{ "mmap_read", check_mmap_read, 0 },
	{ "mmap_write", check_mmap_write, 0 },
	{ "unlinked_open", check_unlinked_open, 0 },
	{ "fsync", check_fsync, 0 },
	{ "access", check_access, 0 },
	{ "eacces_nobody", check_eacces_nobody, POSIX_NEEDS_ROOT },
	{ "sticky", check_sticky, POSIX_NEEDS_ROOT },
};

/* ---- runner ---------------------------------------------------------------------- */

static void posix_on_alarm(int sig)
{
	(void)sig;
	posix_timed_out = 1;
	alarm(1);	/* keep interrupting until the check gives up */
}

static int posix_rm_one(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) ? -1 : 0;
	return unlink(path) ? -1 : 0;
}

/* Remove a tree bottom-up; 0, or -1 with errno set. */
static int posix_rm_tree(const char *path)
{
	return nftw(path, posix_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void posix_print_result(const char *name)
{
	if (posix_res->failed) {
		posix_failed++;
		printf("not ok %d - %s: %s\n", posix_n, name, posix_res->msg);
	} else if (posix_res->skipped) {
		posix_skipped++;
		printf("ok %d - %s # SKIP %s\n", posix_n, name, posix_res->msg);
	} else {
		posix_passed++;
		printf("ok %d - %s\n", posix_n, name);
	}
	fflush(stdout);
}

static void posix_run_check(const struct posix_check *c)
{
	char dir[64];

	posix_n++;
	memset(posix_res, 0, sizeof(*posix_res));
	if ((c->flags & POSIX_NEEDS_ROOT) && !posix_is_root) {
		posix_skip("needs root");
		posix_print_result(c->name);
		return;
	}
	snprintf(dir, sizeof(dir), "%02d-%s", posix_n, c->name);
	if (mkdir(dir, 0755) || chmod(dir, 0755) || chdir(dir)) {
		posix_fail("setting up %s/%s: %s", posix_root, dir,
			   strerror(errno));
		posix_print_result(c->name);
		return;
	}
	posix_timed_out = 0;
	alarm(POSIX_CHECK_TIMEOUT);
	c->fn();
	alarm(0);
	if (posix_timed_out) {
		char first[sizeof(posix_res->msg)];

		snprintf(first, sizeof(first), "%s", posix_res->msg);
		posix_res->failed = 1;
		snprintf(posix_res->msg, sizeof(posix_res->msg),
			 "timed out after %d s; first failure: %.900s",
			 POSIX_CHECK_TIMEOUT, first);
	}
	if (chdir(posix_root)) {
		fprintf(stderr, "posix: chdir %s: %s\n", posix_root,
			strerror(errno));
		exit(2);
	}
	umask(022);	/* in case a check changed it */
	if (posix_rm_tree(dir) && !posix_res->failed)
		posix_fail("cleanup: removing %s: expected success got -1 (%s)",
			   dir, strerror(errno));
	posix_print_result(c->name);
}

/* $POSIX_ONLY, if set, is a comma-separated list of the checks to run. */
static bool posix_selected(const char *name)
{
	const char *only = getenv("POSIX_ONLY"), *p;
	size_t n = strlen(name);

	if (!only || !*only)
		return true;
	for (p = only; (p = strstr(p, name)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static void posix_usage(void)
{
	fprintf(stderr, "usage: posix DIR [OTHER_DIR]\n"
			"  runs POSIX behaviour checks in a private directory under DIR;\n"
			"  OTHER_DIR (another file system) enables the EXDEV check;\n"
			"  POSIX_ONLY=name,name runs only the named checks\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = posix_on_alarm };	/* no SA_RESTART */
	size_t i, nchecks = sizeof(posix_checks) / sizeof(posix_checks[0]);
	char base[PATH_MAX];

	if (argc < 2 || argc > 3 || argv[1][0] == '-')
		posix_usage();
	if (!realpath(argv[1], base)) {
		fprintf(stderr, "posix: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	if (argc == 3 && !realpath(argv[2], posix_other)) {
		fprintf(stderr, "posix: %s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	posix_res = mmap(NULL, sizeof(*posix_res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (posix_res == MAP_FAILED) {
		perror("posix: mmap");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	posix_is_root = geteuid() == 0;
	snprintf(posix_root, sizeof(posix_root), "%s/posix.XXXXXX", base);
	if (!mkdtemp(posix_root) || chmod(posix_root, 0755) ||
	    chdir(posix_root)) {
		fprintf(stderr, "posix: private directory %s: %s\n",
			posix_root, strerror(errno));
		return 2;
	}
	for (i = 0; i < nchecks; i++)
		if (posix_selected(posix_checks[i].name))
			posix_run_check(&posix_checks[i]);

	/* The private directory must be empty and removable now. */
	posix_n++;
	memset(posix_res, 0, sizeof(*posix_res));
	if (chdir(base) || rmdir(posix_root))
		posix_fail("rmdir %s: expected success got -1 (%s)", posix_root,
			   strerror(errno));
	posix_print_result("remove_private_dir");

	printf("%d passed, %d failed, %d skipped\n", posix_passed, posix_failed,
	       posix_skipped);
	return posix_failed ? 1 : 0;
}
