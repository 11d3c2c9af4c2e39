/* SPDX-License-Identifier: MIT */
/*
 * check.c - the posix checker's framework: result recording, expectations,
 * small file and time helpers, and helper children. See check.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ---- results -------------------------------------------------------- */

struct posix_result *posix_res;
volatile sig_atomic_t posix_timed_out;
char posix_other[PATH_MAX];	/* optional OTHER_DIR, absolute */
int posix_is_root;

const char *posix_errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "E?";
}

/* Record a failure unless one is already recorded for this check. */
void posix_fail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&posix_res->failed, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(posix_res->msg, sizeof(posix_res->msg), fmt, ap);
	va_end(ap);
}

void posix_skip(const char *fmt, ...)
{
	va_list ap;

	posix_res->skipped = 1;
	va_start(ap, fmt);
	vsnprintf(posix_res->msg, sizeof(posix_res->msg), fmt, ap);
	va_end(ap);
}

/* Expect a syscall-style result >= 0. */
bool posix_expect_ok(long ret, int line, const char *expr)
{
	int e = errno;

	if (ret >= 0)
		return true;
	posix_fail("line %d: %.200s: expected success got %ld (%s: %s)", line,
		   expr, ret, posix_errname(e), strerror(e));
	return false;
}

/* Expect -1 with errno == @want. */
bool posix_expect_err(long ret, int want, int line, const char *expr)
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

bool posix_expect_eq(long long got, long long want, int line,
		     const char *expr)
{
	if (got == want)
		return true;
	posix_fail("line %d: %.200s: expected %lld got %lld", line, expr,
		   want, got);
	return false;
}

bool posix_expect_mode(unsigned got, unsigned want, int line,
		       const char *expr)
{
	if (got == want)
		return true;
	posix_fail("line %d: %.200s: expected 0%o got 0%o", line, expr, want,
		   got);
	return false;
}

bool posix_expect_true(bool cond, int line, const char *expr)
{
	if (cond)
		return true;
	posix_fail("line %d: expected %.200s got false", line, expr);
	return false;
}

bool posix_expect_mem(const void *got, const void *want, size_t n,
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

/* ---- small helpers ---------------------------------------------------- */

void posix_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Deterministic bytes whose value depends on the position: shifts show. */
void posix_pattern(void *buf, size_t n, uint64_t off, unsigned seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t x = off + i;

		p[i] = (unsigned char)((x * 131) ^ (x >> 9) ^ (seed * 37 + 1));
	}
}

ssize_t posix_pwrite_all(int fd, const void *buf, size_t n, off_t off)
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
ssize_t posix_pread_all(int fd, void *buf, size_t n, off_t off)
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
bool posix_mkfile(const char *name, const void *data, size_t len,
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
bool posix_expect_content(const char *name, const void *want,
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

bool posix_all_zero(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

long long posix_ts_ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long posix_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return posix_ts_ns(ts);
}

/* Long enough for a coarse kernel clock (HZ=100) to move on. */
void posix_tick(void)
{
	struct timespec ts = { 0, 25 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

void posix_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- children and synchronisation ------------------------------------- */

bool posix_chan_open(struct posix_chan *ch)
{
	ch->p2c[0] = ch->p2c[1] = ch->c2p[0] = ch->c2p[1] = -1;
	if (!CHECK_OK(pipe(ch->p2c)))
		return false;
	return CHECK_OK(pipe(ch->c2p));
}

void posix_chan_close(struct posix_chan *ch)
{
	posix_close(ch->p2c[0]);
	posix_close(ch->p2c[1]);
	posix_close(ch->c2p[0]);
	posix_close(ch->c2p[1]);
	ch->p2c[0] = ch->p2c[1] = ch->c2p[0] = ch->c2p[1] = -1;
}

/* In the child: drop the parent's ends so that its exit reads as EOF. */
void posix_chan_child(struct posix_chan *ch)
{
	posix_close(ch->p2c[1]);
	posix_close(ch->c2p[0]);
	ch->p2c[1] = ch->c2p[0] = -1;
}

/* In the parent: drop the child's ends. */
void posix_chan_parent(struct posix_chan *ch)
{
	posix_close(ch->p2c[0]);
	posix_close(ch->c2p[1]);
	ch->p2c[0] = ch->c2p[1] = -1;
}

bool posix_post(int fd, char c)
{
	return write(fd, &c, 1) == 1;
}

/* Wait for one byte; true and the byte in *@c, false on EOF/error. */
bool posix_wait(int fd, char *c)
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
pid_t posix_spawn(void (*fn)(void *), void *arg)
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
bool posix_reap(pid_t pid)
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
bool posix_become_nobody(void)
{
	if (!CHECK_OK(setgroups(0, NULL)))
		return false;
	if (!CHECK_OK(setgid(POSIX_NOBODY)))
		return false;
	return CHECK_OK(setuid(POSIX_NOBODY));
}
