#!/bin/bash
# SPDX-License-Identifier: MIT
#
# mgmtd.sh BUILD_DIR - valor-mgmtd, valorctl and valor-testnode on loopback.
#
# Starts valor-mgmtd (authenticated, --heartbeat-timeout 3) and three
# valor-testnode registrants with one target each, then checks through
# valorctl: the nodes and targets show, a chain table of 3 replicas is made
# and serves; a node killed with SIGKILL is failed within the timeout (+2 s)
# with its target offline and moved to the end of its chain under a new
# chain version; restarted, it comes back syncing, and serving once it
# reports up to date (SIGUSR1); a restarted mgmtd keeps the map; wrong or
# missing secrets exit 4, nobody listening exits 3; bad mgmtd command lines
# exit 2 naming the option; a non-loopback listen without a secret is
# refused; `valorctl stats --socket` reads mgmtd's counters.
#
# Prints `ok N - name`, `not ok N - name: why`, `ok N - name # SKIP why`,
# then exactly "N passed, N failed, N skipped"; exits 1 if anything failed.
#
# Everything runs in a private temp dir (KEEP_LOGS=1 keeps it); every
# process started is recorded by pid and killed by the EXIT trap; every
# wait is bounded.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
MGMTD=$BUILD/valor-mgmtd
CTL=$BUILD/valorctl
TNODE=$BUILD/valor-testnode
HB_TIMEOUT=3

N=0 PASSED=0 FAILED=0 SKIPPED=0
PIDS=()
WORK= BASE= URL=
declare -A NODE_PID

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
	stop_recorded
	remove_work
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

# ctl ARGS...: valorctl against our mgmtd with the right secret.
ctl() {
	timeout -k 5 30 "$CTL" --mgmtd "$URL" --secret "$WORK/secret" "$@"
}

# start_mgmtd: daemonized; sets MPID. 0 once it listens.
start_mgmtd() {
	local rc
	MPID=
	timeout -k 5 30 "$MGMTD" --listen "$URL" --data "$WORK/data" \
		--secret "$WORK/secret" --heartbeat-timeout "$HB_TIMEOUT" \
		--pidfile "$WORK/mgmtd.pid" </dev/null >>"$WORK/mgmtd.log" 2>&1
	rc=$?
	MPID=$(daemon_pid "$WORK/mgmtd.pid")
	[ -n "$MPID" ] && PIDS+=("$MPID")
	[ $rc -eq 0 ] && [ -n "$MPID" ] && alive "$MPID"
}

# start_node I [ARGS...]: testnode I on port BASE+I; sets NODE_PID[I].
start_node() {
	local i=$1 rc pid
	shift
	timeout -k 5 30 "$TNODE" --mgmtd "$URL" --secret "$WORK/secret" \
		--url "tcp://127.0.0.1:$((BASE + i))" --host "node$i" \
		--targets 1 --data "$WORK/node$i" --pidfile "$WORK/node$i.pid" \
		"$@" </dev/null >>"$WORK/node$i.log" 2>&1
	rc=$?
	pid=$(daemon_pid "$WORK/node$i.pid")
	NODE_PID[$i]=$pid
	[ -n "$pid" ] && PIDS+=("$pid")
	[ $rc -eq 0 ] && [ -n "$pid" ] && alive "$pid"
}

# fetch: the status as JSON in $WORK/status.json.
fetch() {
	ctl --json status >"$WORK/status.json" 2>>"$WORK/ctl.err"
}

# jq_py EXPR: evaluate a Python expression over the fetched status (d).
jq_py() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$WORK/status.json" "$1" 2>>"$WORK/ctl.err"
}

# check EXPR: fetch, then 0 when the expression is true.
check() {
	fetch && [ "$(jq_py "$1")" = True ]
}

# Python helpers over d, used in the checks below.
NODE_OF_TARGET='{t["id"]: t["node"] for t in d["targets"]}'
NODE_BY_ID='{n["id"]: n for n in d["nodes"]}'

# ---- the scenario ---------------------------------------------------------

test_start() {
	local try ok=0
	head -c 48 /dev/urandom | base64 >"$WORK/secret"
	chmod 600 "$WORK/secret"
	# Ports BASE (mgmtd), BASE+1..3 (nodes), BASE+4 (nobody) must be free.
	for try in 0 1 2 3 4 5 6 7 8 9; do
		BASE=$((17000 + ($$ + try * 137) % 1000))
		URL=tcp://127.0.0.1:$BASE
		port_busy "$BASE" || port_busy $((BASE + 1)) ||
			port_busy $((BASE + 2)) || port_busy $((BASE + 3)) ||
			port_busy $((BASE + 4)) && continue
		if start_mgmtd; then
			ok=1
			break
		fi
		grep -q "Address already in use" "$WORK/mgmtd.log" || break
	done
	if [ $ok -eq 0 ]; then
		t_fail "mgmtd starts on $URL" "see its log"
		show_log "$WORK/mgmtd.log"
		return 1
	fi
	t_ok "mgmtd starts on $URL (daemonized, parent exits once listening)"
	for i in 1 2 3; do
		start_node "$i"
		t_result "testnode $i starts" $? "$(tail -n 3 "$WORK/node$i.log")"
	done
}

test_registered() {
	local out alive_n targets_n rc
	wait_until 5 check 'sum(n["state"] == "alive" for n in d["nodes"]) == 3'
	out=$(ctl status 2>&1)
	alive_n=$(awk '/^NODES/ {s = 1; next} /^$/ {s = 0} s && $5 == "alive"' <<<"$out" | wc -l)
	targets_n=$(awk '/^TARGETS/ {s = 1; getline; next} /^$/ {s = 0} s' <<<"$out" | wc -l)
	[ "$alive_n" -eq 3 ] && [ "$targets_n" -eq 3 ]
	rc=$?
	t_result "status shows 3 alive nodes and 3 targets" $rc \
		"$alive_n alive nodes, $targets_n targets"
	[ $rc -eq 0 ] || echo "$out" | sed 's/^/#   /'
}

test_chain_table() {
	local out rc
	out=$(ctl chain-table create --replicas 3 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [[ $out == "chain table version 1: 1 chains of 3 replicas" ]]
	t_result "chain-table create --replicas 3" $? "exit $rc: $out"

	wait_until 3 check 'len(d["chains"]) == 1 and len(d["chains"][0]["members"]) == 3 and all(m["state"] == "serving" for m in d["chains"][0]["members"])'
	t_result "status shows 1 chain of 3 serving members" $? \
		"$(cat "$WORK/status.json")"

	out=$(ctl chain-table create --replicas 3 2>&1)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"valorctl: chain-table create: File exists"* ]]
	t_result "a second chain-table create exits 1 with the reason" $? \
		"exit $rc: $out"
}

test_json() {
	local text nodes targets chains
	if ! ctl --json status | python3 -m json.tool >/dev/null 2>&1; then
		t_fail "status --json parses" "python3 -m json.tool refused it"
		return
	fi
	text=$(ctl status 2>&1)
	nodes=$(awk '/^NODES/ {s = 1; getline; next} /^$/ {s = 0} s' <<<"$text" | wc -l)
	targets=$(awk '/^TARGETS/ {s = 1; getline; next} /^$/ {s = 0} s' <<<"$text" | wc -l)
	chains=$(awk '/^CHAINS/ {s = 1; getline; next} /^$/ {s = 0} s' <<<"$text" | wc -l)
	check "(len(d['nodes']), len(d['targets']), len(d['chains'])) == ($nodes, $targets, $chains) == (3, 3, 1)"
	t_result "status --json parses and has the table's counts" $? \
		"text $nodes/$targets/$chains, json $(jq_py '(len(d["nodes"]), len(d["targets"]), len(d["chains"]))')"
}

test_failure() {
	local v1 mid node port idx t0 took rc
	fetch
	v1=$(jq_py 'd["chains"][0]["version"]')
	mid=$(jq_py 'd["chains"][0]["members"][1]["target"]')
	node=$(jq_py "$NODE_OF_TARGET[$mid]")
	port=$(jq_py "$NODE_BY_ID[$node]['url'].rsplit(':', 1)[1]")
	idx=$((port - BASE))
	VICTIM=$idx VICTIM_NODE=$node VICTIM_TARGET=$mid CHAIN_V1=$v1
	if [ -z "${NODE_PID[$idx]:-}" ]; then
		t_fail "kill -9 the middle member's node" "no pid for node $idx"
		return 1
	fi
	kill -KILL "${NODE_PID[$idx]}"
	t0=$SECONDS
	wait_until $((HB_TIMEOUT + 2)) check "$NODE_BY_ID[$node]['state'] == 'failed' and [t for t in d['targets'] if t['id'] == $mid][0]['state'] == 'offline' and d['chains'][0]['members'][-1] == {'target': $mid, 'state': 'offline'} and d['chains'][0]['version'] > $v1"
	rc=$?
	took=$((SECONDS - t0))
	t_result "killed node $node is failed within $((HB_TIMEOUT + 2)) s, its target $mid offline and last, chain version up (${took} s)" \
		$rc "$(cat "$WORK/status.json")"
}

test_return() {
	local i=$VICTIM st rc
	start_node "$i" --state online
	t_result "testnode $i restarts (reporting online)" $? \
		"$(tail -n 3 "$WORK/node$i.log")"
	wait_until 5 check "$NODE_BY_ID[$VICTIM_NODE]['state'] == 'alive' and len(d['nodes']) == 3 and d['chains'][0]['members'][-1]['target'] == $VICTIM_TARGET and d['chains'][0]['members'][-1]['state'] in ('waiting', 'syncing')"
	rc=$?
	st=$(jq_py "d['chains'][0]['members'][-1]['state']")
	t_result "it keeps node id $VICTIM_NODE and comes back $st" $rc \
		"$(cat "$WORK/status.json")"

	kill -USR1 "${NODE_PID[$i]}"
	wait_until 5 check "all(m['state'] == 'serving' for m in d['chains'][0]['members'])"
	t_result "reporting up to date (SIGUSR1) it serves again" $? \
		"$(cat "$WORK/status.json")"
}

test_restart() {
	local before after
	fetch
	cp "$WORK/status.json" "$WORK/before.json"
	kill -TERM "$MPID"
	wait_gone "$MPID" 10
	t_result "mgmtd exits on SIGTERM" $? "pid $MPID still there"
	[ ! -e "$WORK/mgmtd.pid" ]
	t_result "mgmtd removed its pidfile" $? "$WORK/mgmtd.pid is still there"

	start_mgmtd
	t_result "mgmtd restarts on the same data dir" $? \
		"$(tail -n 5 "$WORK/mgmtd.log")"
	fetch
	python3 - "$WORK/before.json" "$WORK/status.json" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
def shape(d):
    return ([(n["id"], n["url"], n["host"]) for n in d["nodes"]],
            [(t["id"], t["node"]) for t in d["targets"]],
            [(c["id"], [m["target"] for m in c["members"]]) for c in d["chains"]],
            d["chain_table"])
ok = shape(a) == shape(b)
ok = ok and b["routing_version"] >= a["routing_version"]
ok = ok and all(cb["version"] >= ca["version"] for ca, cb in zip(a["chains"], b["chains"]))
sys.exit(0 if ok else 1)
EOF
	t_result "the restarted mgmtd shows the same nodes, targets, chain; versions not lower" \
		$? "before $(cat "$WORK/before.json") after $(cat "$WORK/status.json")"

	wait_until 5 check 'sum(n["state"] == "alive" for n in d["nodes"]) == 3 and all(m["state"] == "serving" for m in d["chains"][0]["members"])'
	t_result "the nodes heartbeat the new mgmtd: 3 alive, chain serving" $? \
		"$(cat "$WORK/status.json")"
}

test_auth() {
	local out rc
	head -c 48 /dev/urandom | base64 >"$WORK/wrong"
	chmod 600 "$WORK/wrong"
	out=$(timeout -k 5 30 "$CTL" --mgmtd "$URL" --secret "$WORK/wrong" status 2>&1)
	rc=$?
	[ $rc -eq 4 ] && [[ $out == *"authentication with mgmtd at $URL failed"* ]]
	t_result "valorctl with a wrong secret exits 4" $? "exit $rc: $out"
	wait_until 3 grep -q "failed authentication" "$WORK/mgmtd.log"
	t_result "mgmtd logs the refusal" $? "$(tail -n 3 "$WORK/mgmtd.log")"

	out=$(timeout -k 5 30 "$CTL" --mgmtd "$URL" status 2>&1)
	rc=$?
	[ $rc -eq 4 ]
	t_result "valorctl without a secret exits 4" $? "exit $rc: $out"
}

test_unreachable() {
	local out rc port=$((BASE + 4))
	if port_busy "$port"; then
		t_skip "valorctl with nobody listening exits 3" "port $port is busy"
		return
	fi
	out=$(timeout -k 5 30 "$CTL" --mgmtd "tcp://127.0.0.1:$port" status 2>&1)
	rc=$?
	[ $rc -eq 3 ] && [[ $out == *"cannot reach mgmtd at tcp://127.0.0.1:$port"* ]]
	t_result "valorctl with nobody listening exits 3" $? "exit $rc: $out"
}

test_bad_command_lines() {
	local out rc pid
	out=$(timeout -k 5 30 "$MGMTD" --data "$WORK/bad" --no-such-option 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"--no-such-option"* ]]
	t_result "valor-mgmtd with a bad option exits 2 naming it" $? \
		"exit $rc: $out"

	out=$(timeout -k 5 30 "$MGMTD" --data "$WORK/bad" --heartbeat-timeout x 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"--heartbeat-timeout"* ]]
	t_result "valor-mgmtd with a bad --heartbeat-timeout exits 2 naming it" \
		$? "exit $rc: $out"

	out=$(timeout -k 5 30 "$MGMTD" --listen "tcp://0.0.0.0:$((BASE + 4))" \
		--data "$WORK/open" --pidfile "$WORK/open.pid" 2>&1 </dev/null)
	rc=$?
	pid=$(daemon_pid "$WORK/open.pid")
	[ -n "$pid" ] && PIDS+=("$pid")
	[ $rc -ne 0 ] && [ -z "$pid" ] && [[ $out == *"without a secret"* ]]
	t_result "valor-mgmtd refuses a non-loopback listen without --secret" \
		$? "exit $rc: $out"

	out=$(timeout -k 5 30 "$MGMTD" --listen "$URL" --data "$WORK/second" \
		--pidfile "$WORK/second.pid" 2>&1 </dev/null)
	rc=$?
	pid=$(daemon_pid "$WORK/second.pid")
	[ -n "$pid" ] && PIDS+=("$pid")
	[ $rc -eq 1 ] && [ -z "$pid" ] && [[ $out == *"Address already in use"* ]]
	t_result "a second valor-mgmtd on a busy port exits 1 saying so" $? \
		"exit $rc: $out"

	out=$("$CTL" no-such-command 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *"unknown command 'no-such-command'"* ]]
	t_result "valorctl with an unknown command exits 2" $? "exit $rc: $out"
}

test_stats() {
	local out reg hb
	out=$(timeout -k 5 30 "$CTL" stats --socket "$WORK/data/mgmtd.sock" 2>&1)
	reg=$(awk '$1 == "REGISTER" {print $2}' <<<"$out")
	hb=$(awk '$1 == "HEARTBEAT" {print $2}' <<<"$out")
	[ "${reg:-0}" -gt 0 ] && [ "${hb:-0}" -gt 0 ]
	t_result "valorctl stats --socket shows REGISTER ($reg) and HEARTBEAT ($hb) counts" \
		$? "$out"
	timeout -k 5 30 "$CTL" stats --json --socket "$WORK/data/mgmtd.sock" |
		python3 -m json.tool >/dev/null 2>&1
	t_result "valorctl stats --json parses" $? "not JSON"
}

test_shutdown() {
	local i pid ok=0
	for i in 1 2 3; do
		pid=${NODE_PID[$i]:-}
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	[ -n "$MPID" ] && kill -TERM "$MPID" 2>/dev/null
	for pid in "${NODE_PID[@]}" "$MPID"; do
		wait_gone "$pid" 10 || ok=1
	done
	for i in 1 2 3; do
		[ -e "$WORK/node$i.pid" ] && ok=1
	done
	[ -e "$WORK/mgmtd.pid" ] && ok=1
	t_result "SIGTERM stops every process and removes the pidfiles" $ok \
		"$(ls "$WORK")"
}

main() {
	local p
	for p in "$MGMTD" "$CTL" "$TNODE"; do
		if [ ! -x "$p" ]; then
			t_fail "mgmtd tests" "$p not built"
			return
		fi
	done
	if ! command -v python3 >/dev/null; then
		t_skip "mgmtd tests" "python3 is needed to read valorctl --json"
		return
	fi
	WORK=$(mktemp -d /tmp/valor-mgmtd-it.XXXXXX) || {
		t_fail "mgmtd tests" "mktemp failed"
		return
	}
	if ! test_start; then
		return
	fi
	test_registered
	test_chain_table
	test_json
	if test_failure; then
		test_return
	fi
	test_stats	# before the restart resets the counters
	test_restart
	test_auth
	test_unreachable
	test_bad_command_lines
	test_shutdown
	if [ "$FAILED" -gt 0 ]; then
		echo "# mgmtd log:"
		show_log "$WORK/mgmtd.log" 40
	fi
}

main
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
