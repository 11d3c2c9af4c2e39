# SPDX-License-Identifier: MIT
#
# pg.sh - a private PostgreSQL server for metad tests and benchmarks;
# sourced, not run (tests/integration/metad.sh, tools/bench-meta).
#
# pg_start DIR PORT [SETTING...]: initdb and start Debian's PostgreSQL
#   (/usr/lib/postgresql/N/bin) in DIR (created; owned by the postgres
#   user when we are root), listening on 127.0.0.1:PORT and a socket in
#   DIR only, trust authentication. Extra SETTINGs are "-c name=value"
#   pairs for the server. Sets PG_URI (a libpq URI for the postgres
#   database), PG_PID (the postmaster) and PG_DIR. Returns 0, 77 when
#   PostgreSQL cannot run here (PG_WHY says why: a skip), 1 when it failed
#   (PG_WHY points at the log).
# pg_stop: stop the server pg_start started (by its data directory, then
#   by PG_PID if it is still there).

PG_URI= PG_PID= PG_DIR= PG_WHY= PG_BIN=

pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local dir=$1 port=$2
	shift 2
	PG_DIR=$dir
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
		PG_WHY="PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; make deps installs it)"
		return 77
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		PG_WHY="running as root and there is no postgres user to run the server as"
		return 77
	fi
	mkdir -p "$dir" || { PG_WHY="mkdir $dir failed"; return 1; }
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	if ! pg_as "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust \
		-E UTF8 --no-sync >"$dir/setup.log" 2>&1; then
		PG_WHY="initdb failed, see $dir/setup.log"
		return 1
	fi
	if ! pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
		-o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=200 $*" \
		-w -t 30 start >>"$dir/setup.log" 2>&1; then
		PG_WHY="pg_ctl start failed on port $port, see $dir/server.log"
		return 1
	fi
	PG_PID=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)
	PG_URI="postgresql://postgres@127.0.0.1:$port/postgres?connect_timeout=5"
	return 0
}

pg_stop() {
	[ -n "$PG_DIR" ] || return 0
	if [ -n "$PG_BIN" ] && [ -e "$PG_DIR/data/postmaster.pid" ]; then
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 20 stop \
			>>"$PG_DIR/setup.log" 2>&1
	fi
	if [ -n "$PG_PID" ] && kill -0 "$PG_PID" 2>/dev/null; then
		kill -TERM "$PG_PID" 2>/dev/null
		sleep 1
		kill -KILL "$PG_PID" 2>/dev/null
	fi
	PG_PID=
}
