/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of meta/kv: one suite of behaviour tests run twice through the
 * same code, once against LMDB (a fresh directory per test) and once
 * against PostgreSQL (a private server for the whole run, a fresh table per
 * test), plus a few tests of one backend's own behaviour.
 *
 * The PostgreSQL server is Debian's: initdb and pg_ctl from
 * /usr/lib/postgresql/N/bin, run as the postgres user when we are root, in
 * a temporary directory, listening on 127.0.0.1 and a socket in that
 * directory only. A forked reaper stops it and removes the directory when
 * the test process ends, however it ends (its pipe closes). Without
 * PostgreSQL installed the PostgreSQL tests print why and skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <postgresql/libpq-fe.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "meta/kv.h"

/* ---- Backends under test -------------------------------------------------- */

enum kvt_kind { KVT_LMDB, KVT_PG };

struct kvt_backend {
	enum kvt_kind kind;
	/* LMDB serializes writers; PostgreSQL runs them concurrently. */
	int writers_serialize;
	/* PostgreSQL server (KVT_PG), or why there is none. */
	char dir[64];
	char conninfo[128];
	char skip_why[256];
	int port;
	int reaper_fd; /* write end; closing it stops the server */
	pid_t reaper;
	pid_t postmaster; /* our child: we are a subreaper (see main) */
};

static struct kvt_backend kvt_lmdb = { .kind = KVT_LMDB,
				       .writers_serialize = 1,
				       .reaper_fd = -1 };
static struct kvt_backend kvt_pg = { .kind = KVT_PG, .reaper_fd = -1 };
/* The backend the running group tests; set by main() before each group. */
static struct kvt_backend *kvt_cur;

/* ---- Processes ----------------------------------------------------------- */

/*
 * Run argv (as the postgres user when @as_pg and we are root) in @cwd with
 * output appended to @log. Returns the exit status, or -1.
 */
static int kvt_run(char *const argv[], int as_pg, const char *cwd,
		   const char *log)
{
	char *full[32];
	int n = 0, status;
	pid_t pid;

	if (as_pg && geteuid() == 0) {
		full[n++] = "runuser";
		full[n++] = "-u";
		full[n++] = "postgres";
		full[n++] = "--";
	}
	for (int i = 0; argv[i] && n < 31; i++)
		full[n++] = argv[i];
	full[n] = NULL;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		fd = open(log ? log : "/dev/null",
			  O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		execvp(full[0], full);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void kvt_rm_rf(const char *dir)
{
	char *argv[] = { "rm", "-rf", (char *)dir, NULL };

	kvt_run(argv, 0, "/", NULL);
}

/* ---- Private PostgreSQL server ------------------------------------------- */

/* Newest Debian PostgreSQL's @prog, or 0 if none is installed. */
static int kvt_pg_find(const char *prog, char *out, size_t len)
{
	char pat[96];
	glob_t g;
	int ok;

	snprintf(pat, sizeof(pat), "/usr/lib/postgresql/*/bin/%s", prog);
	if (glob(pat, 0, NULL, &g))
		return 0;
	ok = g.gl_pathc > 0;
	if (ok)
		snprintf(out, len, "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return ok;
}

/* Stop the server if it runs, then remove its directory. */
static void kvt_pg_stop_now(const char *pg_ctl, const char *dir)
{
	char data[96], pidfile[128];
	char *argv[] = { (char *)pg_ctl, "-D", data, "-m", "fast", "-w",
			 "stop", NULL };
	struct stat st;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", data);
	if (stat(pidfile, &st) == 0)
		kvt_run(argv, 1, dir, NULL);
	kvt_rm_rf(dir);
}

/*
 * Fork a process that waits for EOF on a pipe, then stops the server and
 * removes its directory: the server never outlives this test process.
 */
static int kvt_pg_reaper(struct kvt_backend *b, const char *pg_ctl)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		char c;

		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		close(fds[1]);
		while (read(fds[0], &c, 1) != 0 && errno == EINTR)
			;
		kvt_pg_stop_now(pg_ctl, b->dir);
		_exit(0);
	}
	close(fds[0]);
	b->reaper_fd = fds[1];
	b->reaper = pid;
	return 0;
}

static int kvt_pg_start(struct kvt_backend *b)
{
	char initdb[96], pg_ctl[96], data[96], log[128], opts[256];
	struct passwd *pw = NULL;
	FILE *fp;
	int rc;

	if (!kvt_pg_find("initdb", initdb, sizeof(initdb)) ||
	    !kvt_pg_find("pg_ctl", pg_ctl, sizeof(pg_ctl))) {
		snprintf(b->skip_why, sizeof(b->skip_why),
			 "PostgreSQL is not installed (no /usr/lib/postgresql/"
			 "*/bin/initdb, pg_ctl; apt-get install postgresql)");
		return -1;
	}
	if (geteuid() == 0) {
		pw = getpwnam("postgres");
		if (!pw) {
			snprintf(b->skip_why, sizeof(b->skip_why),
				 "running as root and there is no postgres "
				 "user to run the server as");
			return -1;
		}
	}
	snprintf(b->dir, sizeof(b->dir), "/tmp/valor-kv-pg-XXXXXX");
	if (!mkdtemp(b->dir)) {
		snprintf(b->skip_why, sizeof(b->skip_why), "mkdtemp: %s",
			 strerror(errno));
		return -1;
	}
	if (pw && chown(b->dir, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(b->skip_why, sizeof(b->skip_why), "chown %s: %s",
			 b->dir, strerror(errno));
		kvt_rm_rf(b->dir);
		return -1;
	}
	if (kvt_pg_reaper(b, pg_ctl) < 0) {
		snprintf(b->skip_why, sizeof(b->skip_why), "fork: %s",
			 strerror(errno));
		kvt_rm_rf(b->dir);
		return -1;
	}

	snprintf(data, sizeof(data), "%s/data", b->dir);
	snprintf(log, sizeof(log), "%s/setup.log", b->dir);
	{
		char *argv[] = { initdb, "-D", data, "-U", "postgres",
				 "--auth=trust", "-E", "UTF8", "--no-sync",
				 NULL };

		rc = kvt_run(argv, 1, b->dir, log);
	}
	if (rc) {
		snprintf(b->skip_why, sizeof(b->skip_why),
			 "initdb failed (status %d), see %s", rc, log);
		return -1;
	}
	/* A port unlikely to clash; try the next ones if taken. */
	for (int i = 0; i < 8; i++) {
		char srvlog[96];
		char *argv[] = { pg_ctl, "-D", data, "-l", srvlog, "-o", opts,
				 "-w", "-t", "30", "start", NULL };

		b->port = 25432 + (int)(getpid() % 1000) + i * 1000;
		snprintf(srvlog, sizeof(srvlog), "%s/server.log", b->dir);
		snprintf(opts, sizeof(opts),
			 "-k %s -p %d -c listen_addresses=127.0.0.1 "
			 "-c fsync=off -c synchronous_commit=off",
			 b->dir, b->port);
		rc = kvt_run(argv, 1, b->dir, log);
		if (rc == 0)
			break;
	}
	if (rc) {
		snprintf(b->skip_why, sizeof(b->skip_why),
			 "pg_ctl start failed on 8 ports, see %s/server.log",
			 b->dir);
		return -2;
	}
	snprintf(log, sizeof(log), "%s/postmaster.pid", data);
	fp = fopen(log, "r");
	if (fp) {
		int pid;

		if (fscanf(fp, "%d", &pid) == 1)
			b->postmaster = pid;
		fclose(fp);
	}
	snprintf(b->conninfo, sizeof(b->conninfo),
		 "postgresql://postgres@127.0.0.1:%d/postgres"
		 "?connect_timeout=10",
		 b->port);
	return 0;
}

/* Stop the server: the reaper does it when its pipe closes. */
static void kvt_pg_stop(struct kvt_backend *b)
{
	if (b->reaper_fd < 0)
		return;
	close(b->reaper_fd);
	b->reaper_fd = -1;
	waitpid(b->reaper, NULL, 0);
	/* pg_ctl left it to us: collect it, or it stays a zombie. */
	if (b->postmaster > 0)
		waitpid(b->postmaster, NULL, 0);
}

/* Start the server for the PostgreSQL groups: 0, or -1 = fail the run. */
static int kvt_pg_setup(struct kvt_backend *b)
{
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = kvt_pg_start(b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == -1) {
		/* Cannot run PostgreSQL here: the tests skip. */
		printf("[ SKIP     ] postgresql: %s\n", b->skip_why);
		kvt_pg_stop(b);
		return 0;
	}
	if (rc < 0) {
		/* Installed but would not start: that is a failure. */
		printf("[  ERROR   ] postgresql: %s\n", b->skip_why);
		kvt_pg_stop(b);
		return -1;
	}
	printf("[   INFO   ] postgresql server on 127.0.0.1:%d in %s, "
	       "started in %.2f s\n",
	       b->port, b->dir,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

/* ---- Per-test fixture ----------------------------------------------------- */

struct fx {
	struct kvt_backend *b;
	char dir[64]; /* LMDB */
	struct vkv *kv;
};

static void kvt_pg_silent(void *arg, const char *msg)
{
}

static const char kvt_pg_others[] =
	"FROM pg_stat_activity WHERE datname = current_database() "
	"AND backend_type = 'client backend' AND pid <> pg_backend_pid()";

/*
 * End every other session on the database and wait until they are gone;
 * then, if @drop, drop the table. 0 or -1.
 */
static int kvt_pg_kill_sessions(const char *conninfo, int drop)
{
	PGconn *c = PQconnectdb(conninfo);
	struct timespec ms10 = { 0, 10000000 };
	char sql[256];
	PGresult *r;
	int ok = 0;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, kvt_pg_silent, NULL);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) %s",
		 kvt_pg_others);
	r = PQexec(c, sql);
	PQclear(r);
	snprintf(sql, sizeof(sql), "SELECT count(*) %s", kvt_pg_others);
	for (int i = 0; i < 500 && !ok; i++) {
		r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
		     !strcmp(PQgetvalue(r, 0, 0), "0");
		PQclear(r);
		if (!ok)
			nanosleep(&ms10, NULL);
	}
	if (ok && drop) {
		r = PQexec(c, "DROP TABLE IF EXISTS valor_kv");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	PQfinish(c);
	return ok ? 0 : -1;
}

/*
 * Each PostgreSQL test starts with no table (vkv_open() creates it) and no
 * session a failed test may have left in a transaction.
 */
static int kvt_pg_drop_table(const char *conninfo)
{
	return kvt_pg_kill_sessions(conninfo, 1);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char spec[96];

	if (!f)
		return -1;
	f->b = kvt_cur;
	*state = f;
	if (f->b->kind == KVT_LMDB) {
		snprintf(f->dir, sizeof(f->dir), "/tmp/valor-kv-XXXXXX");
		if (!mkdtemp(f->dir))
			return -1;
		snprintf(spec, sizeof(spec), "lmdb:%s/db", f->dir);
		return vkv_open(spec, &f->kv) ? -1 : 0;
	}
	if (!f->b->conninfo[0])
		return 0; /* no server: the test skips */
	if (kvt_pg_drop_table(f->b->conninfo))
		return -1;
	return vkv_open(f->b->conninfo, &f->kv) ? -1 : 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vkv_close(f->kv);
	if (f->dir[0])
		kvt_rm_rf(f->dir);
	free(f);
	return 0;
}

/* The fixture, or skip() when this backend cannot run here. */
static struct fx *fx_get(void **state)
{
	struct fx *f = *state;

	if (!f->kv) {
		printf("skipped: %s\n", f->b->skip_why);
		skip();
	}
	return f;
}

/* ---- Helpers ------------------------------------------------------------- */

static void kvt_put1(struct vkv *kv, const char *k, const char *v)
{
	struct vkv_txn *t;

	assert_int_equal(vkv_txn_begin(kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, k, strlen(k), v, strlen(v)), 0);
	assert_int_equal(vkv_commit(t), 0);
}

/* The committed value of @k as a string in @buf, or -ENOENT. */
static int kvt_get1(struct vkv *kv, const char *k, char *buf, size_t len)
{
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	int rc;

	assert_int_equal(vkv_txn_begin(kv, VKV_RDONLY, &t), 0);
	rc = vkv_get(t, k, strlen(k), &v, &vlen);
	if (!rc) {
		assert_true(vlen < len);
		memcpy(buf, v, vlen);
		buf[vlen] = 0;
	}
	assert_int_equal(vkv_commit(t), 0);
	return rc;
}

static void kvt_be64(unsigned char *p, uint64_t x)
{
	for (int i = 7; i >= 0; i--, x >>= 8)
		p[i] = (unsigned char)x;
}

/* Collects a range scan's keys. */
struct kvt_scan {
	int n;
	int stop_at; /* return stop_ret at this entry (1-based); 0 = never */
	int stop_ret;
	size_t klen[1024];
	unsigned char key[1024][16];
	char val[1024][16];
};

static int kvt_scan_cb(const void *key, size_t klen, const void *val,
		       size_t vlen, void *arg)
{
	struct kvt_scan *s = arg;

	assert_true(s->n < 1024);
	s->klen[s->n] = klen;
	memcpy(s->key[s->n], key, klen < 16 ? klen : 16);
	snprintf(s->val[s->n], sizeof(s->val[0]), "%.*s", (int)vlen,
		 (const char *)val);
	s->n++;
	return s->n == s->stop_at ? s->stop_ret : 0;
}

/* ---- Basic operations ---------------------------------------------------- */

static void test_kv__put_then_get_returns_value(void **state)
{
	struct fx *f = fx_get(state);
	const unsigned char bin[] = { 0, 1, 0xff, 0, 7 };
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	char buf[64];

	kvt_put1(f->kv, "alpha", "one");
	assert_int_equal(kvt_get1(f->kv, "alpha", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "one");

	/* Binary and empty values, read back in the writing txn too. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, "bin", 3, bin, sizeof(bin)), 0);
	assert_int_equal(vkv_put(t, "empty", 5, NULL, 0), 0);
	assert_int_equal(vkv_get(t, "bin", 3, &v, &vlen), 0);
	assert_int_equal(vlen, sizeof(bin));
	assert_memory_equal(v, bin, sizeof(bin));
	assert_int_equal(vkv_commit(t), 0);

	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);
	assert_int_equal(vkv_get(t, "bin", 3, &v, &vlen), 0);
	assert_int_equal(vlen, sizeof(bin));
	assert_memory_equal(v, bin, sizeof(bin));
	assert_int_equal(vkv_get(t, "empty", 5, &v, &vlen), 0);
	assert_int_equal(vlen, 0);
	assert_int_equal(vkv_commit(t), 0);
}

static void test_kv__put_overwrites(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	char buf[64];

	kvt_put1(f->kv, "k", "first");
	kvt_put1(f->kv, "k", "second, longer");
	assert_int_equal(kvt_get1(f->kv, "k", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "second, longer");

	/* Twice in one txn: the last put wins. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, "k", 1, "x", 1), 0);
	assert_int_equal(vkv_put(t, "k", 1, "yz", 2), 0);
	assert_int_equal(vkv_get(t, "k", 1, &v, &vlen), 0);
	assert_int_equal(vlen, 2);
	assert_memory_equal(v, "yz", 2);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(kvt_get1(f->kv, "k", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "yz");
}

static void test_kv__get_absent_is_enoent(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	char buf[8];

	assert_int_equal(kvt_get1(f->kv, "nothing", buf, sizeof(buf)), -ENOENT);
	kvt_put1(f->kv, "ab", "1");
	/* A prefix or extension of a key is a different key. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_get(t, "a", 1, &v, &vlen), -ENOENT);
	assert_int_equal(vkv_get(t, "abc", 3, &v, &vlen), -ENOENT);
	assert_int_equal(vkv_get(t, "ab\0", 3, &v, &vlen), -ENOENT);
	/* -ENOENT leaves the txn usable. */
	assert_int_equal(vkv_put(t, "c", 1, "2", 1), 0);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(kvt_get1(f->kv, "c", buf, sizeof(buf)), 0);
}

static void test_kv__del_removes_and_absent_is_enoent(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	char buf[8];

	kvt_put1(f->kv, "gone", "1");
	kvt_put1(f->kv, "kept", "2");
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_del(t, "gone", 4), 0);
	assert_int_equal(vkv_get(t, "gone", 4, &v, &vlen), -ENOENT);
	assert_int_equal(vkv_del(t, "gone", 4), -ENOENT);
	assert_int_equal(vkv_del(t, "never", 5), -ENOENT);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(kvt_get1(f->kv, "gone", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(kvt_get1(f->kv, "kept", buf, sizeof(buf)), 0);

	/* Put then delete in one txn leaves nothing. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, "tmp", 3, "x", 1), 0);
	assert_int_equal(vkv_del(t, "tmp", 3), 0);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(kvt_get1(f->kv, "tmp", buf, sizeof(buf)), -ENOENT);
}

static void test_kv__bad_keys_are_einval(void **state)
{
	struct fx *f = fx_get(state);
	unsigned char big[VKV_KEY_MAX + 1];
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	struct kvt_scan *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	memset(big, 0xab, sizeof(big));
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, "", 0, "x", 1), -EINVAL);
	assert_int_equal(vkv_put(t, NULL, 3, "x", 1), -EINVAL);
	assert_int_equal(vkv_put(t, "k", 1, NULL, 1), -EINVAL);
	assert_int_equal(vkv_get(t, "", 0, &v, &vlen), -EINVAL);
	assert_int_equal(vkv_del(t, "", 0), -EINVAL);
	assert_int_equal(vkv_put(t, big, sizeof(big), "x", 1), -EINVAL);
	assert_int_equal(vkv_get(t, big, sizeof(big), &v, &vlen), -EINVAL);
	assert_int_equal(vkv_range(t, big, sizeof(big), NULL, 0, 0,
				   kvt_scan_cb, s),
			 -EINVAL);
	assert_int_equal(vkv_range(t, NULL, 0, NULL, 0, 0, NULL, s), -EINVAL);
	/* The longest key works, and the refusals did not kill the txn. */
	assert_int_equal(vkv_put(t, big, VKV_KEY_MAX, "max", 3), 0);
	assert_int_equal(vkv_commit(t), 0);

	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);
	assert_int_equal(vkv_get(t, big, VKV_KEY_MAX, &v, &vlen), 0);
	assert_int_equal(vlen, 3);
	assert_int_equal(vkv_range(t, NULL, 0, NULL, 0, 0, kvt_scan_cb, s), 1);
	assert_int_equal(s->klen[0], VKV_KEY_MAX);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(vkv_txn_begin(f->kv, 0x80, &t), -EINVAL);
	free(s);
}

/* ---- Range scans --------------------------------------------------------- */

static void test_kv__range_sorts_binary_keys(void **state)
{
	struct fx *f = fx_get(state);
	/* Unsorted on purpose; memcmp order, shorter first on a prefix. */
	static const struct {
		size_t len;
		unsigned char k[4];
	} keys[] = {
		{ 2, { 'a', 0xff } }, { 1, { 'a' } },	  { 2, { 'a', 0 } },
		{ 3, { 'a', 0, 0 } }, { 3, { 'a', 0, 1 } }, { 1, { 0xff } },
		{ 1, { 0 } },	      { 2, { 0, 0 } },	   { 1, { 0x80 } },
	};
	static const int order[] = { 6, 7, 1, 2, 3, 4, 0, 8, 5 };
	static const uint64_t nums[] = { 256, 1, 0xffffffffffull, 255,
					 65536, 0, 1ull << 63, 257 };
	struct kvt_scan *s = calloc(1, sizeof(*s));
	unsigned char k[9];
	struct vkv_txn *t;
	int n = (int)(sizeof(keys) / sizeof(keys[0]));

	assert_non_null(s);
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(vkv_put(t, keys[i].k, keys[i].len, "v", 1), 0);
	assert_int_equal(vkv_commit(t), 0);

	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);
	assert_int_equal(vkv_range(t, NULL, 0, NULL, 0, 0, kvt_scan_cb, s), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(s->klen[i], keys[order[i]].len);
		assert_memory_equal(s->key[i], keys[order[i]].k,
				    keys[order[i]].len);
	}
	assert_int_equal(vkv_commit(t), 0);

	/* Big-endian integers behind a prefix sort as numbers. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	k[0] = 'I';
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		kvt_be64(k + 1, nums[i]);
		assert_int_equal(vkv_put(t, k, 9, "n", 1), 0);
	}
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "I", 1, "J", 1, 0, kvt_scan_cb, s), 8);
	for (int i = 1; i < s->n; i++) {
		uint64_t a = 0, b = 0;

		for (int j = 1; j < 9; j++) {
			a = a << 8 | s->key[i - 1][j];
			b = b << 8 | s->key[i][j];
		}
		assert_true(a < b);
	}
	assert_int_equal(vkv_commit(t), 0);
	free(s);
}

static void kvt_put_numbered(struct vkv *kv, int n)
{
	struct vkv_txn *t;
	char k[16], v[16];

	assert_int_equal(vkv_txn_begin(kv, 0, &t), 0);
	for (int i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "r%04d", i);
		snprintf(v, sizeof(v), "v%d", i);
		assert_int_equal(vkv_put(t, k, 5, v, strlen(v)), 0);
	}
	assert_int_equal(vkv_commit(t), 0);
}

static void test_kv__range_bounds_and_limit(void **state)
{
	struct fx *f = fx_get(state);
	struct kvt_scan *s = calloc(1, sizeof(*s));
	struct vkv_txn *t;

	assert_non_null(s);
	/* More than one PostgreSQL batch (256 rows). */
	kvt_put_numbered(f->kv, 600);
	kvt_put1(f->kv, "a", "before");
	kvt_put1(f->kv, "s", "after");
	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);

	/* Start inclusive, end exclusive. */
	assert_int_equal(vkv_range(t, "r0010", 5, "r0013", 5, 0, kvt_scan_cb,
				   s),
			 3);
	assert_memory_equal(s->key[0], "r0010", 5);
	assert_memory_equal(s->key[2], "r0012", 5);
	assert_string_equal(s->val[2], "v12");

	/* Bounds between keys; empty and inverted ranges. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "r00105", 6, "r0012\xff", 6, 0,
				   kvt_scan_cb, s),
			 2);
	assert_memory_equal(s->key[0], "r0011", 5);
	assert_int_equal(vkv_range(t, "r0013", 5, "r0013", 5, 0, kvt_scan_cb,
				   s),
			 0);
	assert_int_equal(vkv_range(t, "r0013", 5, "r0010", 5, 0, kvt_scan_cb,
				   s),
			 0);
	assert_int_equal(vkv_range(t, "t", 1, NULL, 0, 0, kvt_scan_cb, s), 0);

	/* Unbounded both ways: everything, across batches, in order. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, NULL, 0, NULL, 0, 0, kvt_scan_cb, s),
			 602);
	assert_string_equal(s->val[0], "before");
	assert_memory_equal(s->key[300], "r0299", 5);
	assert_string_equal(s->val[601], "after");

	/* Unbounded end from a start; limits below, at, across a batch. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "r0590", 5, NULL, 0, 0, kvt_scan_cb, s),
			 11);
	assert_string_equal(s->val[10], "after");
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "r", 1, "s", 1, 7, kvt_scan_cb, s), 7);
	assert_int_equal(s->n, 7);
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "r", 1, NULL, 0, 300, kvt_scan_cb, s),
			 300);
	assert_memory_equal(s->key[299], "r0299", 5);
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "r", 1, "s", 1, 1000, kvt_scan_cb, s),
			 600);
	assert_int_equal(vkv_commit(t), 0);
	free(s);
}

static void test_kv__range_callback_stops_early(void **state)
{
	struct fx *f = fx_get(state);
	struct kvt_scan *s = calloc(1, sizeof(*s));
	struct vkv_txn *t;

	assert_non_null(s);
	kvt_put_numbered(f->kv, 300);
	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);
	s->stop_at = 3;
	s->stop_ret = 1;
	assert_int_equal(vkv_range(t, NULL, 0, NULL, 0, 0, kvt_scan_cb, s), 3);
	assert_int_equal(s->n, 3);

	/* Past a PostgreSQL batch boundary. */
	memset(s, 0, sizeof(*s));
	s->stop_at = 260;
	s->stop_ret = 1;
	assert_int_equal(vkv_range(t, NULL, 0, NULL, 0, 0, kvt_scan_cb, s),
			 260);

	/* A negative return is the scan's result. */
	memset(s, 0, sizeof(*s));
	s->stop_at = 5;
	s->stop_ret = -ENOTDIR;
	assert_int_equal(vkv_range(t, "r", 1, "s", 1, 0, kvt_scan_cb, s),
			 -ENOTDIR);
	assert_int_equal(s->n, 5);
	/* The txn is still fine afterwards. */
	memset(s, 0, sizeof(*s));
	assert_int_equal(vkv_range(t, "r0299", 5, NULL, 0, 0, kvt_scan_cb, s),
			 1);
	assert_int_equal(vkv_commit(t), 0);
	free(s);
}

static void test_kv__range_sees_own_writes(void **state)
{
	struct fx *f = fx_get(state);
	struct kvt_scan *s = calloc(1, sizeof(*s));
	struct vkv_txn *t;

	assert_non_null(s);
	kvt_put1(f->kv, "d1", "old");
	kvt_put1(f->kv, "d2", "old");
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, "d0", 2, "new", 3), 0);
	assert_int_equal(vkv_put(t, "d2", 2, "upd", 3), 0);
	assert_int_equal(vkv_del(t, "d1", 2), 0);
	assert_int_equal(vkv_range(t, "d", 1, "e", 1, 0, kvt_scan_cb, s), 2);
	assert_string_equal(s->val[0], "new");
	assert_memory_equal(s->key[1], "d2", 2);
	assert_string_equal(s->val[1], "upd");
	vkv_abort(t);
	free(s);
}

/* ---- Transactions -------------------------------------------------------- */

static void test_kv__rdonly_txn_refuses_writes(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *t;
	char buf[8];

	kvt_put1(f->kv, "k", "v");
	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &t), 0);
	assert_int_equal(vkv_put(t, "k", 1, "w", 1), -EROFS);
	assert_int_equal(vkv_del(t, "k", 1), -EROFS);
	assert_int_equal(vkv_commit(t), 0);
	assert_int_equal(kvt_get1(f->kv, "k", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v");
}

static void test_kv__abort_discards(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *t;
	char buf[8];

	kvt_put1(f->kv, "keep", "1");
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_put(t, "new", 3, "x", 1), 0);
	assert_int_equal(vkv_put(t, "keep", 4, "2", 1), 0);
	assert_int_equal(vkv_del(t, "keep", 4), 0);
	vkv_abort(t);
	vkv_abort(NULL);
	assert_int_equal(kvt_get1(f->kv, "new", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(kvt_get1(f->kv, "keep", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "1");
}

static void test_kv__writes_visible_only_after_commit(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *w, *r, *r2;
	const void *v;
	size_t vlen;
	char buf[8];

	kvt_put1(f->kv, "base", "0");
	assert_int_equal(vkv_txn_begin(f->kv, 0, &w), 0);
	assert_int_equal(vkv_put(w, "x", 1, "1", 1), 0);
	/* A reader meanwhile sees neither the write nor, later, the commit. */
	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &r), 0);
	assert_int_equal(vkv_get(r, "base", 4, &v, &vlen), 0);
	assert_int_equal(vkv_get(r, "x", 1, &v, &vlen), -ENOENT);
	assert_int_equal(vkv_commit(w), 0);
	assert_int_equal(vkv_get(r, "x", 1, &v, &vlen), -ENOENT);
	/* A txn begun after the commit sees it. */
	assert_int_equal(vkv_txn_begin(f->kv, VKV_RDONLY, &r2), 0);
	assert_int_equal(vkv_get(r2, "x", 1, &v, &vlen), 0);
	assert_memory_equal(v, "1", 1);
	assert_int_equal(vkv_commit(r2), 0);
	assert_int_equal(vkv_commit(r), 0);
	assert_int_equal(kvt_get1(f->kv, "x", buf, sizeof(buf)), 0);
}

static void test_kv__value_valid_until_txn_end(void **state)
{
	struct fx *f = fx_get(state);
	unsigned char big[200];
	struct vkv_txn *t;
	const void *v, *v2;
	size_t vlen, vlen2;
	char k[16];

	memset(big, 'q', sizeof(big));
	kvt_put1(f->kv, "hold", "the original value");
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_get(t, "hold", 4, &v, &vlen), 0);
	/* Rewrite that key and split many pages around it. */
	assert_int_equal(vkv_put(t, "hold", 4, "x", 1), 0);
	for (int i = 0; i < 500; i++) {
		snprintf(k, sizeof(k), "hold%04d", i);
		assert_int_equal(vkv_put(t, k, strlen(k), big, sizeof(big)),
				 0);
	}
	assert_int_equal(vkv_get(t, "hold", 4, &v2, &vlen2), 0);
	assert_int_equal(vlen, 18);
	assert_memory_equal(v, "the original value", 18);
	assert_int_equal(vlen2, 1);
	assert_memory_equal(v2, "x", 1);
	assert_int_equal(vkv_commit(t), 0);
}

/* ---- Conflicts ------------------------------------------------------------ */

static uint64_t kvt_counter_get(struct vkv_txn *t)
{
	const void *v;
	size_t vlen;
	uint64_t x = 0;
	int rc = vkv_get(t, "counter", 7, &v, &vlen);

	if (rc == 0 && vlen == 8)
		memcpy(&x, v, 8);
	return x;
}

static int kvt_counter_put(struct vkv_txn *t, uint64_t x)
{
	return vkv_put(t, "counter", 7, &x, 8);
}

struct kvt_racer {
	struct vkv *kv;
	pthread_barrier_t *read_done;
	uint64_t seen;
	int put_rc, commit_rc;
	int done; /* set (release) when the racer finished */
};

/* Read the counter, wait for the other racer to read it, write it + 1. */
static void *kvt_racer_main(void *arg)
{
	struct kvt_racer *r = arg;
	struct vkv_txn *t;

	if (vkv_txn_begin(r->kv, 0, &t)) {
		r->commit_rc = -999;
		return NULL;
	}
	r->seen = kvt_counter_get(t);
	if (r->read_done)
		pthread_barrier_wait(r->read_done);
	r->put_rc = kvt_counter_put(t, r->seen + 1);
	r->commit_rc = vkv_commit(t);
	/* Release: the results above are visible to whoever sees done. */
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t kvt_counter_committed(struct vkv *kv)
{
	struct vkv_txn *t;
	uint64_t x;

	assert_int_equal(vkv_txn_begin(kv, VKV_RDONLY, &t), 0);
	x = kvt_counter_get(t);
	assert_int_equal(vkv_commit(t), 0);
	return x;
}

static void test_kv__same_key_writers_one_wins_or_serialize(void **state)
{
	struct fx *f = fx_get(state);
	struct kvt_racer r[2];
	pthread_barrier_t bar;
	pthread_t th[2];
	struct vkv_txn *t;

	memset(r, 0, sizeof(r));
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(kvt_counter_put(t, 0), 0);
	assert_int_equal(vkv_commit(t), 0);

	if (f->b->writers_serialize) {
		/*
		 * LMDB: the second writer waits for the first, then reads
		 * its result: both commit, in order, no lost update.
		 */
		struct timespec ms50 = { 0, 50000000 };

		assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
		assert_int_equal(kvt_counter_put(t, kvt_counter_get(t) + 1), 0);
		r[1].kv = f->kv;
		assert_int_equal(pthread_create(&th[1], NULL, kvt_racer_main,
						&r[1]),
				 0);
		nanosleep(&ms50, NULL);
		/* Still waiting for our write txn to end. */
		assert_int_equal(__atomic_load_n(&r[1].done, __ATOMIC_ACQUIRE),
				 0);
		assert_int_equal(vkv_commit(t), 0);
		pthread_join(th[1], NULL);
		assert_int_equal(r[1].seen, 1);
		assert_int_equal(r[1].put_rc, 0);
		assert_int_equal(r[1].commit_rc, 0);
		assert_int_equal(kvt_counter_committed(f->kv), 2);
		return;
	}

	/*
	 * PostgreSQL: both read 0, both write 1; whichever writes second
	 * waits on the first's row lock and, when it commits, fails with a
	 * serialization error: exactly one commits, the other gets -EAGAIN.
	 */
	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++) {
		r[i].kv = f->kv;
		r[i].read_done = &bar;
		assert_int_equal(pthread_create(&th[i], NULL, kvt_racer_main,
						&r[i]),
				 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	assert_int_equal(r[0].seen, 0);
	assert_int_equal(r[1].seen, 0);
	assert_true((r[0].commit_rc == 0 && r[1].commit_rc == -EAGAIN) ||
		    (r[1].commit_rc == 0 && r[0].commit_rc == -EAGAIN));
	/* The loser's put either failed itself or went through and died. */
	for (int i = 0; i < 2; i++)
		if (r[i].commit_rc)
			assert_true(r[i].put_rc == 0 || r[i].put_rc == -EAGAIN);
	assert_int_equal(kvt_counter_committed(f->kv), 1);
}

/*
 * PostgreSQL only (LMDB never has two write txns at once): a txn whose
 * reads another committed txn invalidated fails with -EAGAIN.
 */
static void test_kv__pg_stale_read_conflicts(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *a, *b;
	const void *v;
	size_t vlen;
	int rc;

	assert_int_equal(vkv_txn_begin(f->kv, 0, &a), 0);
	assert_int_equal(kvt_counter_put(a, 5), 0);
	assert_int_equal(vkv_commit(a), 0);

	/* Write skew: each reads the other's key and writes its own. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &a), 0);
	assert_int_equal(vkv_txn_begin(f->kv, 0, &b), 0);
	assert_int_equal(vkv_get(a, "counter", 7, &v, &vlen), 0);
	assert_int_equal(vkv_get(b, "flag", 4, &v, &vlen), -ENOENT);
	assert_int_equal(vkv_put(a, "flag", 4, "a", 1), 0);
	assert_int_equal(kvt_counter_put(b, 6), 0);
	assert_int_equal(vkv_commit(a), 0);
	/* b's snapshot is stale: it fails at commit or sooner. */
	assert_int_equal(vkv_commit(b), -EAGAIN);
	assert_int_equal(kvt_counter_committed(f->kv), 5);

	/* After a conflict inside the txn, the txn is dead. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &b), 0);
	assert_int_equal(kvt_counter_get(b), 5);
	assert_int_equal(vkv_txn_begin(f->kv, 0, &a), 0);
	assert_int_equal(kvt_counter_put(a, 7), 0);
	assert_int_equal(vkv_commit(a), 0);
	/* PostgreSQL puts go out with the next statement: the conflict
	 * shows at the put or at the next operation, which then fails. */
	rc = kvt_counter_put(b, 8);
	assert_true(rc == 0 || rc == -EAGAIN);
	rc = vkv_get(b, "counter", 7, &v, &vlen);
	assert_true(rc == -EAGAIN || rc == -EINVAL);
	assert_int_equal(vkv_get(b, "counter", 7, &v, &vlen), -EINVAL);
	assert_int_equal(vkv_commit(b), -EAGAIN);
	assert_int_equal(kvt_counter_committed(f->kv), 7);
}

/* ---- vkv_run ------------------------------------------------------------- */

static int kvt_incr_fn(struct vkv_txn *t, void *arg)
{
	int rc = kvt_counter_put(t, kvt_counter_get(t) + 1);

	return rc < 0 ? rc : 0;
}

static void *kvt_incr_thread(void *arg)
{
	struct vkv *kv = arg;

	return (void *)(intptr_t)vkv_run(kv, 0, kvt_incr_fn, NULL, 50);
}

struct kvt_interfere {
	struct vkv *kv;
	int serialize;
	int attempts;
	pthread_t th;
};

/*
 * Increment, but on the first attempt let another thread increment in
 * between our read and our write.
 */
static int kvt_interfered_fn(struct vkv_txn *t, void *arg)
{
	struct kvt_interfere *in = arg;
	uint64_t x = kvt_counter_get(t);
	int rc;

	if (in->attempts++ == 0) {
		rc = pthread_create(&in->th, NULL, kvt_incr_thread, in->kv);
		if (rc)
			return -rc;
		/* LMDB: it waits for us, so join it only afterwards. */
		if (!in->serialize)
			pthread_join(in->th, NULL);
	}
	rc = kvt_counter_put(t, x + 1);
	return rc < 0 ? rc : 42;
}

static void test_kv__run_retries_conflict_to_success(void **state)
{
	struct fx *f = fx_get(state);
	struct kvt_interfere in = { .kv = f->kv,
				    .serialize = f->b->writers_serialize };

	assert_int_equal(vkv_run(f->kv, 0, kvt_interfered_fn, &in, 5), 42);
	if (in.serialize) {
		pthread_join(in.th, NULL);
		assert_int_equal(in.attempts, 1);
	} else {
		assert_int_equal(in.attempts, 2);
	}
	/* Neither increment was lost. */
	assert_int_equal(kvt_counter_committed(f->kv), 2);
}

static int kvt_fail_fn(struct vkv_txn *t, void *arg)
{
	int *calls = arg;

	(*calls)++;
	assert_int_equal(kvt_counter_put(t, 99), 0);
	return *calls > 100 ? 0 : -ENOTDIR;
}

static int kvt_always_conflict_fn(struct vkv_txn *t, void *arg)
{
	int *calls = arg;

	(*calls)++;
	return -EAGAIN;
}

static int kvt_read_fn(struct vkv_txn *t, void *arg)
{
	return (int)kvt_counter_get(t);
}

static void test_kv__run_passes_errors_and_gives_up(void **state)
{
	struct fx *f = fx_get(state);
	int calls = 0;

	/* An error from fn aborts (its put is discarded), no retry. */
	assert_int_equal(vkv_run(f->kv, 0, kvt_fail_fn, &calls, 5), -ENOTDIR);
	assert_int_equal(calls, 1);
	assert_int_equal(kvt_counter_committed(f->kv), 0);
	/* -EAGAIN retries max_retries times, then is returned. */
	calls = 0;
	assert_int_equal(vkv_run(f->kv, 0, kvt_always_conflict_fn, &calls, 3),
			 -EAGAIN);
	assert_int_equal(calls, 4);
	/* Read-only runs return fn's value. */
	assert_int_equal(vkv_run(f->kv, 0, kvt_incr_fn, NULL, 0), 0);
	assert_int_equal(vkv_run(f->kv, VKV_RDONLY, kvt_read_fn, NULL, 0), 1);
	assert_int_equal(vkv_run(f->kv, 0x10, kvt_read_fn, NULL, 0), -EINVAL);
}

enum { KVT_THREADS = 4, KVT_EACH = 25 };

static void *kvt_many_incr_thread(void *arg)
{
	struct vkv *kv = arg;

	for (int i = 0; i < KVT_EACH; i++) {
		int rc = vkv_run(kv, 0, kvt_incr_fn, NULL, 100);

		if (rc)
			return (void *)(intptr_t)rc;
	}
	return NULL;
}

static void test_kv__concurrent_increments_lose_nothing(void **state)
{
	struct fx *f = fx_get(state);
	enum { THREADS = KVT_THREADS, EACH = KVT_EACH };
	pthread_t th[THREADS];

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL,
						kvt_many_incr_thread, f->kv),
				 0);
	for (int i = 0; i < THREADS; i++) {
		void *rc;

		pthread_join(th[i], &rc);
		assert_int_equal((intptr_t)rc, 0);
	}
	assert_int_equal(kvt_counter_committed(f->kv), THREADS * EACH);
}

/* ---- Opening ------------------------------------------------------------- */

static void test_kv__open_rejects_bad_specs(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv *kv = (struct vkv *)1;
	char path[96];
	FILE *fp;

	assert_int_equal(vkv_open(NULL, &kv), -EINVAL);
	assert_null(kv);
	assert_int_equal(vkv_open("redis://x", &kv), -EINVAL);
	assert_int_equal(vkv_open("lmdb:", &kv), -EINVAL);
	assert_int_equal(vkv_open("", &kv), -EINVAL);
	vkv_close(NULL);

	if (f->b->kind == KVT_LMDB) {
		assert_string_equal(vkv_backend_name(f->kv), "lmdb");
		/* A regular file where the directory should be. */
		snprintf(path, sizeof(path), "%s/file", f->dir);
		fp = fopen(path, "w");
		assert_non_null(fp);
		fclose(fp);
		snprintf(path, sizeof(path), "lmdb:%s/file", f->dir);
		assert_true(vkv_open(path, &kv) < 0);
		assert_null(kv);
		return;
	}
	assert_string_equal(vkv_backend_name(f->kv), "postgresql");
	/* A port nothing listens on (our server's, plus one). */
	snprintf(path, sizeof(path),
		 "postgresql://postgres@127.0.0.1:%d/postgres", f->b->port + 1);
	assert_int_equal(vkv_open(path, &kv), -ECONNREFUSED);
	assert_null(kv);
}

/* ---- One backend's own behaviour ----------------------------------------- */

static void test_kv__lmdb_map_full_is_enospc(void **state)
{
	struct fx *f = fx_get(state);
	unsigned char val[1024];
	struct vkv *kv;
	struct vkv_txn *t;
	char dir[96], k[16], buf[8];
	int rc = 0, i;

	snprintf(dir, sizeof(dir), "%s/small", f->dir);
	assert_int_equal(vkv_lmdb_open(dir, 256 << 10, &kv), 0);
	kvt_put1(kv, "first", "1");
	memset(val, 7, sizeof(val));
	assert_int_equal(vkv_txn_begin(kv, 0, &t), 0);
	for (i = 0; i < 1000 && !rc; i++) {
		snprintf(k, sizeof(k), "fill%04d", i);
		rc = vkv_put(t, k, strlen(k), val, sizeof(val));
	}
	assert_int_equal(rc, -ENOSPC);
	/* The txn is dead: further use refused, commit reports why. */
	assert_int_equal(vkv_put(t, "more", 4, "x", 1), -EINVAL);
	assert_int_equal(vkv_commit(t), -ENOSPC);
	/* Nothing of it was applied; the store still works. */
	assert_int_equal(kvt_get1(kv, "fill0000", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(kvt_get1(kv, "first", buf, sizeof(buf)), 0);
	kvt_put1(kv, "after", "2");
	vkv_close(kv);
}

/* Two stores on one database act like two metad processes. */
static void test_kv__pg_two_stores_share_one_database(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv *other;
	struct vkv_txn *a, *b;
	char buf[16];

	/* The table exists now: opening again must not fail. */
	assert_int_equal(vkv_open(f->b->conninfo, &other), 0);
	kvt_put1(f->kv, "from-one", "1");
	assert_int_equal(kvt_get1(other, "from-one", buf, sizeof(buf)), 0);
	kvt_put1(other, "from-two", "2");
	assert_int_equal(kvt_get1(f->kv, "from-two", buf, sizeof(buf)), 0);

	/* A conflict between them. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &a), 0);
	assert_int_equal(vkv_txn_begin(other, 0, &b), 0);
	assert_int_equal(kvt_counter_get(a), 0);
	assert_int_equal(kvt_counter_get(b), 0);
	assert_int_equal(kvt_counter_put(a, 1), 0);
	assert_int_equal(vkv_commit(a), 0);
	{
		int rc = kvt_counter_put(b, 1);

		assert_true(rc == 0 || rc == -EAGAIN);
	}
	assert_int_equal(vkv_commit(b), -EAGAIN);
	vkv_close(other);
}

/* A lost connection is -ECONNRESET; the pool recovers from it. */
static void test_kv__pg_lost_connection_is_econnreset(void **state)
{
	struct fx *f = fx_get(state);
	struct vkv_txn *t;
	const void *v;
	size_t vlen;
	char buf[8];
	int rc;

	kvt_put1(f->kv, "k", "v");
	/* Broken while idle in the pool: the next begin reconnects. */
	assert_int_equal(kvt_pg_kill_sessions(f->b->conninfo, 0), 0);
	assert_int_equal(kvt_get1(f->kv, "k", buf, sizeof(buf)), 0);

	/* Broken inside a txn: that txn fails, not silently retried. */
	assert_int_equal(vkv_txn_begin(f->kv, 0, &t), 0);
	assert_int_equal(vkv_get(t, "k", 1, &v, &vlen), 0);
	assert_int_equal(kvt_pg_kill_sessions(f->b->conninfo, 0), 0);
	/* A buffered put may only fail when it is sent: at the commit. */
	rc = vkv_put(t, "k", 1, "w", 1);
	assert_true(rc == 0 || rc == -ECONNRESET);
	assert_int_equal(vkv_commit(t), -ECONNRESET);
	assert_int_equal(kvt_get1(f->kv, "k", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "v");
	kvt_put1(f->kv, "k", "w");
}

/* ---- Main ---------------------------------------------------------------- */

#define KVT(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest common[] = {
		KVT(test_kv__put_then_get_returns_value),
		KVT(test_kv__put_overwrites),
		KVT(test_kv__get_absent_is_enoent),
		KVT(test_kv__del_removes_and_absent_is_enoent),
		KVT(test_kv__bad_keys_are_einval),
		KVT(test_kv__range_sorts_binary_keys),
		KVT(test_kv__range_bounds_and_limit),
		KVT(test_kv__range_callback_stops_early),
		KVT(test_kv__range_sees_own_writes),
		KVT(test_kv__rdonly_txn_refuses_writes),
		KVT(test_kv__abort_discards),
		KVT(test_kv__writes_visible_only_after_commit),
		KVT(test_kv__value_valid_until_txn_end),
		KVT(test_kv__same_key_writers_one_wins_or_serialize),
		KVT(test_kv__run_retries_conflict_to_success),
		KVT(test_kv__run_passes_errors_and_gives_up),
		KVT(test_kv__concurrent_increments_lose_nothing),
		KVT(test_kv__open_rejects_bad_specs),
	};
	const struct CMUnitTest lmdb_only[] = {
		KVT(test_kv__lmdb_map_full_is_enospc),
	};
	const struct CMUnitTest pg_only[] = {
		KVT(test_kv__pg_stale_read_conflicts),
		KVT(test_kv__pg_two_stores_share_one_database),
		KVT(test_kv__pg_lost_connection_is_econnreset),
	};
	int failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vlog_set_level(VLOG_WARN);
	kvt_cur = &kvt_lmdb;
	failed += cmocka_run_group_tests_name("kv lmdb", common, NULL, NULL);
	failed += cmocka_run_group_tests_name("kv lmdb only", lmdb_only, NULL,
					      NULL);
	kvt_cur = &kvt_pg;
	/*
	 * The postmaster outlives pg_ctl; becoming a subreaper makes it our
	 * child, so kvt_pg_stop() can collect it instead of leaving a zombie
	 * for an init that may not reap.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (kvt_pg_setup(&kvt_pg))
		return 1;
	failed += cmocka_run_group_tests_name("kv postgresql", common, NULL,
					      NULL);
	failed += cmocka_run_group_tests_name("kv postgresql only", pg_only,
					      NULL, NULL);
	kvt_pg_stop(&kvt_pg);
	return failed ? 1 : 0;
}
