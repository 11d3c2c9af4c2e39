/* SPDX-License-Identifier: MIT */
/*
 * test_pg.h - a private PostgreSQL server for the metadata unit tests
 * (test_ns.c, test_meta_*.c), the way test_kv.c runs one.
 *
 * Debian's initdb and pg_ctl from /usr/lib/postgresql/N/bin, run as the
 * postgres user when we are root, in a temporary directory, listening on
 * 127.0.0.1 and a socket in that directory only. A forked reaper stops it
 * and removes the directory when the test process ends, however it ends
 * (its pipe closes). Without PostgreSQL installed pgt_start() says why and
 * the caller skips the PostgreSQL groups.
 *
 * Header only (static functions): include it in one test program.
 */
#ifndef VALOR_TEST_PG_H
#define VALOR_TEST_PG_H

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <postgresql/libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pgt {
	char dir[64];
	char conninfo[128];
	char why[256]; /* why there is no server */
	int port;
	int reaper_fd; /* write end; closing it stops the server */
	pid_t reaper;
	pid_t postmaster;
};

/* Run argv (as postgres when @as_pg and root) in @cwd, output to @log. */
static int pgt_run(char *const argv[], int as_pg, const char *cwd,
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

static void pgt_rm_rf(const char *dir)
{
	char *argv[] = {"rm", "-rf", (char *)dir, NULL};

	pgt_run(argv, 0, "/", NULL);
}

static int pgt_find(const char *prog, char *out, size_t len)
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

static void pgt_stop_now(const char *pg_ctl, const char *dir)
{
	char data[96], pidfile[128];
	char *argv[] = {(char *)pg_ctl, "-D", data,   "-m",
			"immediate",	"-w", "stop", NULL};
	struct stat st;

	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", data);
	if (stat(pidfile, &st) == 0)
		pgt_run(argv, 1, dir, NULL);
	pgt_rm_rf(dir);
}

static int pgt_reaper(struct pgt *b, const char *pg_ctl)
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
		pgt_stop_now(pg_ctl, b->dir);
		_exit(0);
	}
	close(fds[0]);
	b->reaper_fd = fds[1];
	b->reaper = pid;
	return 0;
}

/*
 * Start the server. 0 = running (b->conninfo); -1 = PostgreSQL cannot run
 * here (b->why: skip); -2 = installed but would not start (b->why: fail).
 */
static int pgt_start(struct pgt *b)
{
	char initdb[96], pg_ctl[96], data[96], log[128], opts[256];
	struct passwd *pw = NULL;
	FILE *fp;
	int rc;

	memset(b, 0, sizeof(*b));
	b->reaper_fd = -1;
	/*
	 * The postmaster outlives pg_ctl; as a subreaper we become its
	 * parent, so pgt_stop() can collect it instead of leaving a zombie.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (!pgt_find("initdb", initdb, sizeof(initdb)) ||
	    !pgt_find("pg_ctl", pg_ctl, sizeof(pg_ctl))) {
		snprintf(b->why, sizeof(b->why),
			 "PostgreSQL is not installed (no /usr/lib/postgresql/"
			 "*/bin/initdb, pg_ctl; make deps installs it)");
		return -1;
	}
	if (geteuid() == 0) {
		pw = getpwnam("postgres");
		if (!pw) {
			snprintf(b->why, sizeof(b->why),
				 "running as root and there is no postgres "
				 "user to run the server as");
			return -1;
		}
	}
	snprintf(b->dir, sizeof(b->dir), "/tmp/valor-meta-pg-XXXXXX");
	if (!mkdtemp(b->dir)) {
		snprintf(b->why, sizeof(b->why), "mkdtemp: %s",
			 strerror(errno));
		return -1;
	}
	if (pw && chown(b->dir, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(b->why, sizeof(b->why), "chown %s: %s", b->dir,
			 strerror(errno));
		pgt_rm_rf(b->dir);
		return -1;
	}
	if (pgt_reaper(b, pg_ctl) < 0) {
		snprintf(b->why, sizeof(b->why), "fork: %s", strerror(errno));
		pgt_rm_rf(b->dir);
		return -1;
	}
	snprintf(data, sizeof(data), "%s/data", b->dir);
	snprintf(log, sizeof(log), "%s/setup.log", b->dir);
	{
		char *argv[] = {
			initdb,		"-D", data,   "-U",	   "postgres",
			"--auth=trust", "-E", "UTF8", "--no-sync", NULL};

		rc = pgt_run(argv, 1, b->dir, log);
	}
	if (rc) {
		snprintf(b->why, sizeof(b->why),
			 "initdb failed (status %d), see %s", rc, log);
		return -2;
	}
	for (int i = 0; i < 8; i++) {
		char srvlog[96];
		char *argv[] = {pg_ctl, "-D", data, "-l", srvlog,  "-o",
				opts,	"-w", "-t", "30", "start", NULL};

		b->port = 26432 + (int)(getpid() % 1000) + i * 1000;
		snprintf(srvlog, sizeof(srvlog), "%s/server.log", b->dir);
		snprintf(opts, sizeof(opts),
			 "-k %s -p %d -c listen_addresses=127.0.0.1 "
			 "-c fsync=off -c synchronous_commit=off "
			 "-c max_connections=200",
			 b->dir, b->port);
		rc = pgt_run(argv, 1, b->dir, log);
		if (rc == 0)
			break;
	}
	if (rc) {
		snprintf(b->why, sizeof(b->why),
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

/* Stop the server (the reaper does it when its pipe closes). */
static void pgt_stop(struct pgt *b)
{
	if (b->reaper_fd < 0)
		return;
	close(b->reaper_fd);
	b->reaper_fd = -1;
	waitpid(b->reaper, NULL, 0);
	if (b->postmaster > 0)
		waitpid(b->postmaster, NULL, 0);
}

/*
 * pgt_start() with the lines the test output shows: 1 = running, 0 = skip
 * (reason printed), -1 = failure (printed).
 */
static int pgt_setup(struct pgt *b)
{
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = pgt_start(b);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == -1) {
		printf("[ SKIP     ] postgresql: %s\n", b->why);
		pgt_stop(b);
		return 0;
	}
	if (rc < 0) {
		printf("[  ERROR   ] postgresql: %s\n", b->why);
		pgt_stop(b);
		return -1;
	}
	printf("[   INFO   ] postgresql server on 127.0.0.1:%d in %s, "
	       "started in %.2f s\n",
	       b->port, b->dir,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 1;
}

static void pgt_silent(void *arg, const char *msg)
{
}

/*
 * End every other session on the database, wait until they are gone, and
 * drop the KV table: the next vkv_open() starts from nothing. 0 or -1.
 */
static int pgt_fresh(const char *conninfo)
{
	static const char others[] =
		"FROM pg_stat_activity WHERE datname = current_database() "
		"AND backend_type = 'client backend' AND pid <> "
		"pg_backend_pid()";
	PGconn *c = PQconnectdb(conninfo);
	struct timespec ms10 = {0, 10000000};
	char sql[256];
	PGresult *r;
	int ok = 0;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "connect: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	PQsetNoticeProcessor(c, pgt_silent, NULL);
	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(pid) %s",
		 others);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof(sql), "SELECT count(*) %s", others);
	for (int i = 0; i < 500 && !ok; i++) {
		r = PQexec(c, sql);
		ok = PQresultStatus(r) == PGRES_TUPLES_OK &&
		     !strcmp(PQgetvalue(r, 0, 0), "0");
		PQclear(r);
		if (!ok)
			nanosleep(&ms10, NULL);
	}
	if (ok) {
		r = PQexec(c, "DROP TABLE IF EXISTS valor_kv");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	PQfinish(c);
	return ok ? 0 : -1;
}

#endif
