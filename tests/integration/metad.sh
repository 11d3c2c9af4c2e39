#!/bin/bash
# SPDX-License-Identifier: MIT
#
# metad.sh BUILD_DIR - valor-metad on loopback, on LMDB and on a private
# PostgreSQL server, driven through its RPC by valor-mdload.
#
#  - bad command lines exit 2 naming the option; an unreachable mgmtd or
#    PostgreSQL is a start-up failure (exit 1) that says so;
#  - LMDB: a daemonized metad registers with mgmtd, serves every mdload
#    phase without an error, `valorctl fsck` finds nothing, `valorctl
#    stats` shows the counts; restarted, it still has every recorded
#    create; kill -9 in a create storm, restart: every acknowledged create
#    is there and fsck is clean;
#  - PostgreSQL (initdb + pg_ctl as the postgres user in the private
#    directory): two metad share one database; concurrent creates,
#    renames and unlinks through both; fsck clean, nothing lost; kill -9
#    of one in a create storm while the client fails over to the other,
#    restart: every acknowledged create is there, fsck is clean;
#  - GC end to end with valor-storaged (skipped without it): a chunk
#    written for a file is removed from the target once the file is
#    unlinked.
#
# Prints `ok N - name`, `not ok N - name: why`, `ok N - name # SKIP why`,
# then exactly "N passed, N failed, N skipped"; exits 1 if anything failed.
# A private temp dir (KEEP_LOGS=1 keeps it); every process started is
# recorded by pid and stopped by the EXIT trap; every wait is bounded.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
MGMTD=$BUILD/valor-mgmtd
METAD=$BUILD/valor-metad
CTL=$BUILD/valorctl
TNODE=$BUILD/valor-testnode
MDLOAD=$BUILD/valor-mdload
STORD=$BUILD/valor-storaged
CHUNK=$BUILD/valor-chunk

N=0 PASSED=0 FAILED=0 SKIPPED=0
PIDS=()
WORK= BASE= MURL= PGPORT=
PG_UP=0

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
# shellcheck source=tests/integration/pg.sh
. "$HERE/pg.sh"

cleanup() {
	stop_recorded 5
	[ "$PG_UP" = 1 ] && pg_stop
	remove_work
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

for p in "$MGMTD" "$METAD" "$CTL" "$TNODE" "$MDLOAD"; do
	if [ ! -x "$p" ]; then
		echo "ok 1 - metad suite # SKIP $p is not built"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
done

WORK=$(mktemp -d /tmp/valor-metad-test.XXXXXX) || exit 2
chmod 755 "$WORK" # the postgres user must reach its directory

ctl() {
	timeout -k 5 150 "$CTL" --mgmtd "$MURL" --secret "$WORK/secret" "$@"
}

mdload() {
	timeout -k 5 200 "$MDLOAD" --secret "$WORK/secret" "$@"
}

# start_metad NAME PORT KV [ARGS...]: daemonized; sets PID_<NAME>.
start_metad() {
	local name=$1 port=$2 kv=$3 rc pid
	shift 3
	timeout -k 5 30 "$METAD" --listen "tcp://127.0.0.1:$port" \
		--mgmtd "$MURL" --secret "$WORK/secret" --kv "$kv" \
		--pidfile "$WORK/$name.pid" --ctl-socket "$WORK/$name.sock" \
		--gc-interval 0.2 "$@" </dev/null >>"$WORK/$name.log" 2>&1
	rc=$?
	pid=$(daemon_pid "$WORK/$name.pid")
	printf -v "PID_$name" '%s' "$pid"
	[ -n "$pid" ] && PIDS+=("$pid")
	[ $rc -eq 0 ] && [ -n "$pid" ] && alive "$pid"
}

# stop_pid PID: SIGTERM, bounded wait.
stop_pid() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null
	wait_gone "$1" 10
}

# records FILE: how many creates are recorded there.
records() {
	[ -s "$1" ] && wc -l <"$1" || echo 0
}

# ---- cluster ------------------------------------------------------------------

test_cluster() {
	local try rc ok=0
	head -c 48 /dev/urandom | base64 >"$WORK/secret"
	chmod 600 "$WORK/secret"
	# BASE: mgmtd, +1 +2 metad on PostgreSQL, +3 testnode, +4 LMDB
	# metad, +5 a metad that fails to start, +6 storaged, +7 mgmtd and +8
	# metad of the GC test, +9 nobody.
	for try in 0 1 2 3 4 5 6 7; do
		BASE=$((17100 + ($$ + try * 11) % 90))
		MURL=tcp://127.0.0.1:$BASE
		local busy=0 i
		for i in 0 1 2 3 4 5 6 7 8 9; do
			port_busy $((BASE + i)) && busy=1
		done
		[ $busy = 1 ] && continue
		timeout -k 5 30 "$MGMTD" --listen "$MURL" --data "$WORK/mgmtd" \
			--secret "$WORK/secret" --pidfile "$WORK/mgmtd.pid" \
			</dev/null >>"$WORK/mgmtd.log" 2>&1
		rc=$?
		MPID=$(daemon_pid "$WORK/mgmtd.pid")
		[ -n "$MPID" ] && PIDS+=("$MPID")
		if [ $rc -eq 0 ]; then
			ok=1
			break
		fi
	done
	if [ $ok = 0 ]; then
		t_fail "mgmtd starts" "no free port range or it failed"
		show_log "$WORK/mgmtd.log"
		return 1
	fi
	timeout -k 5 30 "$TNODE" --mgmtd "$MURL" --secret "$WORK/secret" \
		--url "tcp://127.0.0.1:$((BASE + 3))" --host node1 --targets 4 \
		--data "$WORK/node1" --pidfile "$WORK/node1.pid" \
		</dev/null >>"$WORK/node1.log" 2>&1
	rc=$?
	local npid
	npid=$(daemon_pid "$WORK/node1.pid")
	[ -n "$npid" ] && PIDS+=("$npid")
	t_result "mgmtd on $MURL and a storage stand-in with 4 targets start" \
		$rc "$(tail -n 3 "$WORK/node1.log")"
}

# ---- command lines and start-up errors ------------------------------------------

test_bad_command_lines() {
	local out rc
	out=$("$METAD" --kv "lmdb:$WORK/x" --no-such-option 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"--no-such-option"* ]]
	t_result "valor-metad with a bad option exits 2 naming it" $? "exit $rc: $out"

	out=$("$METAD" --kv "lmdb:$WORK/x" --chunk-size 1000 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"--chunk-size"* ]]
	t_result "valor-metad with a bad --chunk-size exits 2 naming it" $? "exit $rc: $out"

	out=$("$METAD" --listen "tcp://127.0.0.1:$((BASE + 5))" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"--kv"* ]]
	t_result "valor-metad without --kv exits 2 asking for it" $? "exit $rc: $out"

	out=$("$METAD" --kv "mysql://x" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"--kv wants lmdb:DIR or postgresql://"* ]]
	t_result "valor-metad with an unknown --kv scheme exits 2" $? "exit $rc: $out"
}

test_start_errors() {
	local out rc
	out=$(timeout -k 5 30 "$METAD" -f --listen "tcp://127.0.0.1:$((BASE + 5))" \
		--mgmtd "tcp://127.0.0.1:$((BASE + 9))" --mgmtd-wait 1 \
		--kv "lmdb:$WORK/nomgmtd" 2>&1 </dev/null)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"cannot reach mgmtd at tcp://127.0.0.1:$((BASE + 9))"* ]]
	t_result "valor-metad with no mgmtd exits 1 saying so" $? "exit $rc: $out"

	out=$(timeout -k 5 30 "$METAD" -f --listen "tcp://127.0.0.1:$((BASE + 5))" \
		--mgmtd "$MURL" --secret "$WORK/secret" \
		--kv "postgresql://postgres@127.0.0.1:$((BASE + 9))/postgres?connect_timeout=2" \
		2>&1 </dev/null)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"cannot open the store"* ]] &&
		[[ $out == *"Connection refused"* ]]
	t_result "valor-metad with no PostgreSQL exits 1 saying so" $? "exit $rc: $out"

	out=$(timeout -k 5 30 "$METAD" --listen "tcp://127.0.0.1:$((BASE + 5))" \
		--mgmtd "$MURL" --kv "lmdb:$WORK/noauth" --mgmtd-wait 3 2>&1 </dev/null)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"cannot reach mgmtd"* ]]
	t_result "valor-metad without the cluster's secret exits 1" $? "exit $rc: $out"
}

# ---- LMDB ---------------------------------------------------------------------------

test_lmdb() {
	local lurl=tcp://127.0.0.1:$((BASE + 4)) out rc creates
	start_metad lmdb $((BASE + 4)) "lmdb:$WORK/lmdb"
	t_result "metad on LMDB starts (daemonized, returns once serving)" $? \
		"$(tail -n 5 "$WORK/lmdb.log")"
	out=$(ctl chain-table create --replicas 1 2>&1)
	t_result "chain table of 4 chains" $? "$out"
	wait_until 5 grep -q "chain table version 1 with 4 chains" "$WORK/lmdb.log"
	t_result "metad learns the chain table from routing" $? \
		"$(tail -n 3 "$WORK/lmdb.log")"

	out=$(mdload --metad "$lurl" --clients 6 --files 150 --json 2>>"$WORK/mdload.err")
	rc=$?
	echo "# lmdb mdload: $out"
	[ $rc -eq 0 ] && python3 -c 'import json, sys
d = json.loads(sys.argv[1])
ph = d["phases"]
ok = all(p["errors"] == 0 for p in ph.values()) and ph["create"]["ops"] == 900 and ph["readdir"]["ops"] == 6 * 300
sys.exit(0 if ok else 1)' "$out"
	t_result "every mdload phase on LMDB, 6 clients x 150, no errors" $? "exit $rc"

	out=$(ctl fsck 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"consistent (metad $lurl)"* ]]
	t_result "valorctl fsck (metad found through mgmtd) is clean" $? "exit $rc: $out"

	out=$(timeout -k 5 30 "$CTL" stats --socket "$WORK/lmdb.sock" 2>&1)
	creates=$(awk '$1 == "CREATE" {print $2}' <<<"$out")
	[ "${creates:-0}" -ge 900 ] && [[ $out == *"gc:"* ]]
	t_result "valorctl stats shows per-op counts (CREATE $creates) and GC counters" $? "$out"
	timeout -k 5 30 "$CTL" stats --json --socket "$WORK/lmdb.sock" |
		python3 -m json.tool >/dev/null 2>&1
	t_result "valorctl stats --json parses" $? "not JSON"

	out=$(mdload --metad "$lurl" --clients 4 --files 100 --phases mkdir,create \
		--root keep --record "$WORK/lmdb.rec" 2>&1)
	t_result "creates recorded for the restart check" $? "$out"
	stop_pid "$PID_lmdb"
	t_result "metad exits on SIGTERM" $? "pid $PID_lmdb still there"
	[ ! -e "$WORK/lmdb.pid" ]
	t_result "metad removed its pidfile" $? "$WORK/lmdb.pid is there"
	start_metad lmdb $((BASE + 4)) "lmdb:$WORK/lmdb"
	t_result "metad restarts on the same LMDB" $? "$(tail -n 5 "$WORK/lmdb.log")"
	out=$(mdload --metad "$lurl" --verify "$WORK/lmdb.rec" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"verified 400 recorded creates: 0 missing"* ]]
	t_result "after the restart every recorded create is there" $? "exit $rc: $out"

	kill_storm lmdb $((BASE + 4)) "lmdb:$WORK/lmdb" "$lurl" "$lurl"
}

# kill_storm NAME PORT KV VICTIM_URL URLS: kill -9 the metad NAME during a
# create storm through URLS, restart it, check every acknowledged create.
kill_storm() {
	local name=$1 port=$2 kv=$3 urls=$5 rec=$WORK/$1.storm.rec
	local lpid rc out pidvar=PID_$1 before
	rm -f "$rec"
	mdload --metad "$urls" --clients 8 --files 400 --phases create \
		--root "storm-$name" --record "$rec" --retry-for 60 \
		>"$WORK/$name.storm.out" 2>&1 &
	lpid=$!
	PIDS+=("$lpid")
	wait_until 30 eval '[ "$(records "$rec")" -ge 300 ]'
	before=$(records "$rec")
	kill -KILL "${!pidvar}"
	wait_gone "${!pidvar}" 5
	t_result "kill -9 of metad $name after $before acknowledged creates" $? \
		"pid ${!pidvar} still there"
	sleep 0.5
	start_metad "$name" "$port" "$kv"
	t_result "metad $name restarts after kill -9" $? "$(tail -n 5 "$WORK/$name.log")"
	wait "$lpid"
	rc=$?
	out=$(cat "$WORK/$name.storm.out")
	[ $rc -eq 0 ] && [[ $out == *"create"*" 3200 "* ]]
	t_result "the create storm finishes: 3200 creates acknowledged, none given up" \
		$? "exit $rc: $out"
	out=$(mdload --metad "$4" --verify "$rec" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"verified 3200 recorded creates: 0 missing"* ]]
	t_result "every acknowledged create survived the kill -9 ($name)" $? "exit $rc: $out"
	out=$(timeout -k 5 150 "$CTL" --secret "$WORK/secret" fsck --metad "$4" 2>&1)
	rc=$?
	t_result "fsck after the kill -9 is clean ($name)" $rc "exit $rc: $out"
}

# ---- PostgreSQL -------------------------------------------------------------------

test_pg() {
	local a=tcp://127.0.0.1:$((BASE + 1)) b=tcp://127.0.0.1:$((BASE + 2))
	local out rc try
	for try in 0 1 2 3 4 5 6 7; do
		PGPORT=$((17500 + ($$ + try * 7) % 100))
		port_busy "$PGPORT" || break
	done
	pg_start "$WORK/pg" "$PGPORT" -c fsync=off -c synchronous_commit=off
	rc=$?
	if [ $rc -eq 77 ]; then
		t_skip "PostgreSQL tests" "$PG_WHY"
		return 0
	fi
	[ $rc -eq 0 ] && PG_UP=1
	t_result "a private PostgreSQL server on 127.0.0.1:$PGPORT starts" $rc \
		"$PG_WHY $(tail -n 5 "$WORK/pg/server.log" 2>/dev/null)"
	[ $rc -eq 0 ] || return 1

	start_metad pga $((BASE + 1)) "$PG_URI" --workers 8
	t_result "metad A on PostgreSQL starts" $? "$(tail -n 5 "$WORK/pga.log")"
	start_metad pgb $((BASE + 2)) "$PG_URI" --workers 8
	t_result "metad B on the same database starts" $? "$(tail -n 5 "$WORK/pgb.log")"

	out=$(mdload --metad "$a,$b" --clients 8 --files 150 \
		--phases mkdir,create,stat,readdir,rename,unlink,rmdir --json \
		2>>"$WORK/mdload.err")
	rc=$?
	echo "# postgresql mdload (2 metad): $out"
	[ $rc -eq 0 ] && python3 -c 'import json, sys
d = json.loads(sys.argv[1])
ph = d["phases"]
ok = all(p["errors"] == 0 for p in ph.values()) and ph["create"]["ops"] == 1200 and ph["rename"]["ops"] == 1200 and ph["unlink"]["ops"] == 1200
sys.exit(0 if ok else 1)' "$out"
	t_result "concurrent mkdir/create/rename/unlink/rmdir through both metad, no errors" $? \
		"exit $rc"

	out=$(mdload --metad "$b,$a" --clients 8 --files 100 --phases create \
		--root kept --record "$WORK/pg.rec" 2>&1)
	t_result "creates recorded through both metad" $? "$out"
	# Renamed through the other metad, each keeps its inode as rJ.
	out=$(mdload --metad "$a,$b" --clients 8 --files 100 --phases rename \
		--root kept 2>&1)
	t_result "the recorded files renamed through both metad" $? "$out"
	sed 's/ f\([0-9]*\)$/ r\1/' "$WORK/pg.rec" >"$WORK/pg.renamed.rec"
	out=$(mdload --metad "$a" --verify "$WORK/pg.renamed.rec" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"verified 800 recorded creates: 0 missing"* ]]
	t_result "nothing lost: every create found under its new name" $? \
		"exit $rc: $out"

	out=$(ctl fsck --metad "$b" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"consistent (metad $b)"* ]]
	t_result "valorctl fsck on the shared database is clean" $? "exit $rc: $out"

	kill_storm pga $((BASE + 1)) "$PG_URI" "$b" "$a,$b"

	# A dangling entry written behind metad's back: fsck names it, exit 1.
	local key=44000000000000000167686f7374 psql=$PG_BIN/psql
	[ -x "$psql" ] || psql=psql
	pg_as "$psql" -q "$PG_URI" -c "INSERT INTO valor_kv VALUES (decode('$key', 'hex'), decode('013f420f000000000000800000', 'hex'))" \
		>>"$WORK/psql.log" 2>&1
	out=$(ctl fsck --metad "$b" 2>&1)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"dentry 1/ghost -> 999999: no such inode"* ]] &&
		[[ $out == *"1 violation(s)"* ]]
	t_result "valorctl fsck reports a dangling entry and exits 1" $? "exit $rc: $out"
	pg_as "$psql" -q "$PG_URI" -c "DELETE FROM valor_kv WHERE k = decode('$key', 'hex')" \
		>>"$WORK/psql.log" 2>&1
	out=$(ctl fsck --metad "$a" 2>&1)
	t_result "and is clean again once it is gone" $? "$out"
}

# ---- GC end to end --------------------------------------------------------------------

test_gc() {
	local gm=tcp://127.0.0.1:$((BASE + 7)) gd=tcp://127.0.0.1:$((BASE + 8))
	local out rc ino spid gpid dpid
	if [ ! -x "$STORD" ] || [ ! -x "$CHUNK" ]; then
		t_skip "GC end to end" "$STORD or $CHUNK is not built"
		return 0
	fi
	timeout -k 5 30 "$MGMTD" --listen "$gm" --data "$WORK/gmgmtd" \
		--secret "$WORK/secret" --pidfile "$WORK/gmgmtd.pid" \
		</dev/null >>"$WORK/gmgmtd.log" 2>&1
	gpid=$(daemon_pid "$WORK/gmgmtd.pid")
	[ -n "$gpid" ] && PIDS+=("$gpid")
	timeout -k 5 30 "$STORD" --listen "tcp://127.0.0.1:$((BASE + 6))" \
		--mgmtd "$gm" --secret "$WORK/secret" --target "$WORK/target" \
		--pidfile "$WORK/storaged.pid" </dev/null >>"$WORK/storaged.log" 2>&1
	rc=$?
	spid=$(daemon_pid "$WORK/storaged.pid")
	[ -n "$spid" ] && PIDS+=("$spid")
	t_result "GC cluster: mgmtd and valor-storaged start" $rc \
		"$(tail -n 5 "$WORK/storaged.log")"
	[ $rc -eq 0 ] || return 1
	wait_until 5 eval 'timeout 10 "$CTL" --mgmtd "$gm" --secret "$WORK/secret" chain-table create --replicas 1 >"$WORK/gct.out" 2>&1'
	t_result "GC cluster: chain table" $? "$(cat "$WORK/gct.out")"
	timeout -k 5 30 "$METAD" --listen "$gd" --mgmtd "$gm" \
		--secret "$WORK/secret" --kv "lmdb:$WORK/gcdb" \
		--pidfile "$WORK/gcmetad.pid" --gc-interval 0.2 \
		</dev/null >>"$WORK/gcmetad.log" 2>&1
	rc=$?
	dpid=$(daemon_pid "$WORK/gcmetad.pid")
	[ -n "$dpid" ] && PIDS+=("$dpid")
	t_result "GC cluster: metad starts" $rc "$(tail -n 5 "$WORK/gcmetad.log")"
	wait_until 5 grep -q "chain table version 1 with 1 chains" "$WORK/gcmetad.log"

	mdload --metad "$gd" --clients 1 --files 3 --phases create --root gc \
		--record "$WORK/gc.rec" >/dev/null 2>&1
	ino=$(head -n 1 "$WORK/gc.rec" 2>/dev/null | cut -d' ' -f1)
	out=$(timeout -k 5 30 "$CHUNK" --mgmtd "$gm" --secret "$WORK/secret" \
		write --inode "${ino:-0}" --index 0 --length 5000 2>&1 &&
		timeout -k 5 30 "$CHUNK" --mgmtd "$gm" --secret "$WORK/secret" \
			last --inode "${ino:-0}" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == *"last index 0 length 5000"* ]]
	t_result "a chunk of file inode ${ino:-?} is on the target" $? "exit $rc: $out"

	mdload --metad "$gd" --clients 1 --files 3 --phases unlink --root gc \
		>/dev/null 2>&1
	t_result "the files are unlinked" $? "mdload unlink failed"
	wait_until 10 eval 'timeout -k 5 30 "$CHUNK" --mgmtd "$gm" --secret "$WORK/secret" last --inode "${ino:-0}" 2>&1 | grep -q "none index 0 length 0"'
	t_result "GC removed the file's chunk from the target" $? \
		"$(timeout 30 "$CHUNK" --mgmtd "$gm" --secret "$WORK/secret" last --inode "${ino:-0}" 2>&1)"
	wait_until 10 eval 'timeout 30 "$CTL" stats --json --socket "$WORK/gcdb/metad.sock" | python3 -c "import json,sys; sys.exit(0 if json.load(sys.stdin)[\"gc\"][\"collected\"] >= 3 else 1)"'
	t_result "GC deleted the 3 inodes (stats: collected)" $? \
		"$(timeout 30 "$CTL" stats --socket "$WORK/gcdb/metad.sock" 2>&1 | sed -n 3p)"
	out=$(timeout -k 5 150 "$CTL" --secret "$WORK/secret" fsck --metad "$gd" 2>&1)
	t_result "fsck after GC is clean" $? "$out"
	stop_pid "$dpid"
	stop_pid "$spid"
	stop_pid "$gpid"
}

test_shutdown() {
	local p ok=0
	for p in "${PID_lmdb:-}" "${PID_pga:-}" "${PID_pgb:-}"; do
		[ -n "$p" ] || continue
		stop_pid "$p" || ok=1
	done
	t_result "every metad stops on SIGTERM" $ok "one is still running"
	[ "$PG_UP" = 1 ] && pg_stop && PG_UP=0
	! alive "$PG_PID"
	t_result "the private PostgreSQL server is stopped" $? "postmaster $PG_PID runs"
}

if test_cluster; then
	test_bad_command_lines
	test_start_errors
	test_lmdb
	test_pg
	test_gc
	test_shutdown
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
