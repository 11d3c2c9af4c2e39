#!/bin/bash
# SPDX-License-Identifier: MIT
#
# storaged.sh BUILD_DIR - valor-storaged: three nodes, one chain of three.
#
# Starts valor-mgmtd (authenticated, --heartbeat-timeout 3) and three
# valor-storaged with one target each, creates a chain table of 3 replicas
# and checks, with valor-chunk as the client:
#   - data written through the head reads back identical from every member;
#   - kill -9 of the middle, then the tail, then the head, each during a
#     stream of writes: mgmtd fails it, the stream completes, the data reads
#     back; restarted, the target resyncs (status shows it syncing with
#     progress, then serving) and every chunk is identical on all members
#     (valor-chunk verify);
#   - bytes flipped in a chunk file: the read still returns the right data,
#     the chunk is repaired and the repair counted (valorctl stats);
#   - CUT/REMOVE leave the members identical;
#   - bad input: unknown options exit 2 naming them, garbage and malformed
#     bodies are refused without a crash, a missing mgmtd and a wrong secret
#     are start-up errors with the reason.
#
# Prints `ok N - name`, `not ok N - name: why`, then exactly
# "N passed, N failed, N skipped"; exits 1 if anything failed.
# Everything runs in a private temp dir (KEEP_LOGS=1 keeps it); every
# process started is recorded by pid and stopped by the EXIT trap; every
# wait is bounded. Resyncs are paced (VALOR_STORAGED_TEST_RESYNC_PAUSE_MS)
# so their progress can be watched.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
MGMTD=$BUILD/valor-mgmtd
STORD=$BUILD/valor-storaged
CTL=$BUILD/valorctl
CHUNK=$BUILD/valor-chunk
HB_TIMEOUT=3
CS=65536	# chunk size of the streams
NSTREAM=150	# chunks per stream

N=0 PASSED=0 FAILED=0 SKIPPED=0
PIDS=()
WORK= BASE= URL= MPID=
declare -A NODE_PID

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
	stop_recorded
	remove_work
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

ctl() {
	timeout -k 5 30 "$CTL" --mgmtd "$URL" --secret "$WORK/secret" "$@"
}

# chunk ARGS...: valor-chunk against our cluster, bounded.
chunk() {
	timeout -k 5 120 "$CHUNK" --mgmtd "$URL" --secret "$WORK/secret" \
		--timeout 60 "$@"
}

fetch() {
	ctl --json status >"$WORK/status.json" 2>>"$WORK/ctl.err"
}

jq_py() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$WORK/status.json" "$1" 2>>"$WORK/ctl.err"
}

check() {
	fetch && [ "$(jq_py "$1")" = True ]
}

ALL_SERVING='len(d["chains"]) == 1 and len(d["chains"][0]["members"]) == 3 and all(m["state"] == "serving" for m in d["chains"][0]["members"])'
TARGET='{t["id"]: t for t in d["targets"]}'

start_mgmtd() {
	local rc
	timeout -k 5 30 "$MGMTD" --listen "$URL" --data "$WORK/mgmtd" \
		--secret "$WORK/secret" --heartbeat-timeout "$HB_TIMEOUT" \
		--pidfile "$WORK/mgmtd.pid" </dev/null >>"$WORK/mgmtd.log" 2>&1
	rc=$?
	MPID=$(daemon_pid "$WORK/mgmtd.pid")
	[ -n "$MPID" ] && PIDS+=("$MPID")
	[ $rc -eq 0 ] && [ -n "$MPID" ] && alive "$MPID"
}

# start_node I: storaged I on port BASE+I, target WORK/node$I/t.
start_node() {
	local i=$1 rc pid
	mkdir -p "$WORK/node$i"
	VALOR_STORAGED_TEST_RESYNC_PAUSE_MS=40 timeout -k 5 30 "$STORD" \
		--listen "tcp://127.0.0.1:$((BASE + i))" --mgmtd "$URL" \
		--secret "$WORK/secret" --target "$WORK/node$i/t" \
		--pidfile "$WORK/s$i.pid" --ctl-socket "$WORK/s$i.sock" \
		</dev/null >>"$WORK/s$i.log" 2>&1
	rc=$?
	pid=$(daemon_pid "$WORK/s$i.pid")
	NODE_PID[$i]=$pid
	[ -n "$pid" ] && PIDS+=("$pid")
	[ $rc -eq 0 ] && [ -n "$pid" ] && alive "$pid"
}

# node_of MEMBER: index I of the node holding chain member MEMBER (0 head).
node_of() {
	local t node port
	t=$(jq_py "d['chains'][0]['members'][$1]['target']")
	node=$(jq_py "{t['id']: t['node'] for t in d['targets']}[$t]")
	port=$(jq_py "{n['id']: n['url'] for n in d['nodes']}[$node].rsplit(':', 1)[1]")
	echo $((port - BASE))
}

# repairs I: the repair counter of storaged I.
repairs() {
	timeout -k 5 10 "$CTL" stats --json --socket "$WORK/s$1.sock" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["repairs"])'
}

# ---- the scenario ---------------------------------------------------------

test_start() {
	local try ok=0 i
	head -c 48 /dev/urandom | base64 >"$WORK/secret"
	chmod 600 "$WORK/secret"
	for try in 0 1 2 3 4 5 6 7 8 9; do
		BASE=$((17200 + ($$ + try * 37) % 95))
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
		t_fail "mgmtd starts" "see its log"
		show_log "$WORK/mgmtd.log"
		return 1
	fi
	t_ok "mgmtd starts on $URL"
	for i in 1 2 3; do
		start_node "$i"
		t_result "storaged $i starts (daemonized, returns once registered)" \
			$? "$(tail -n 3 "$WORK/s$i.log")" || ok=0
	done
	[ $ok -eq 1 ] || return 1
	ctl chain-table create --replicas 3 >/dev/null 2>>"$WORK/ctl.err"
	wait_until 10 check "$ALL_SERVING"
	t_result "a chain of 3 storaged targets serves" $? \
		"$(cat "$WORK/status.json")"
}

test_write_read() {
	local k rc=0 out
	head -c 300000 /dev/urandom >"$WORK/data1"
	out=$(chunk write --inode 100 --index 0 --file "$WORK/data1" 2>&1)
	t_result "a 300000-byte write through the head succeeds" $? "$out"
	# a partial overwrite in the middle, mirrored locally
	head -c 5000 /dev/urandom >"$WORK/patch"
	out=$(chunk write --inode 100 --index 0 --offset 70000 \
		--file "$WORK/patch" 2>&1)
	dd if="$WORK/patch" of="$WORK/data1" bs=1 seek=70000 conv=notrunc \
		status=none
	for k in 0 1 2; do
		chunk read --inode 100 --index 0 --member $k \
			--out "$WORK/read$k" 2>>"$WORK/chunk.err" &&
			cmp -s "$WORK/data1" "$WORK/read$k" || rc=1
	done
	t_result "it reads back identical from every member (after a partial overwrite)" \
		$rc "$(tail -n 3 "$WORK/chunk.err")"
	out=$(chunk read --inode 100 --index 7 --length 100 2>&1 | wc -c)
	[ "$out" -eq 0 ]
	t_result "a chunk never written reads as a hole (0 bytes)" $? "$out bytes"
}

# failover MEMBER NAME INODE: kill -9 chain member MEMBER (0 head, 1 middle,
# 2 tail) during a stream of writes to INODE, then bring it back.
failover() {
	local m=$1 name=$2 ino=$3 i v1 tgt spid rc saw=0 t0 out st
	fetch
	i=$(node_of "$m")
	v1=$(jq_py 'd["chains"][0]["version"]')
	tgt=$(jq_py "d['chains'][0]['members'][$m]['target']")
	chunk stream --inode "$ino" --chunks $NSTREAM --chunk-size $CS \
		--delay-ms 20 >"$WORK/stream$ino.out" 2>&1 &
	spid=$!
	sleep 1
	kill -KILL "${NODE_PID[$i]}"
	t0=$SECONDS
	wait_until $((HB_TIMEOUT + 4)) check "$TARGET[$tgt]['state'] == 'offline' and d['chains'][0]['members'][-1]['target'] == $tgt and d['chains'][0]['version'] > $v1"
	t_result "$name (target $tgt) killed during writes: mgmtd fails it and moves it last ($((SECONDS - t0)) s)" \
		$? "$(cat "$WORK/status.json")"
	wait "$spid"
	rc=$?
	t_result "the stream of $NSTREAM writes completes across the failure ($(tail -n 1 "$WORK/stream$ino.out"))" \
		$rc "exit $rc: $(tail -n 5 "$WORK/stream$ino.out")"
	out=$(chunk check --inode "$ino" --chunks $NSTREAM --chunk-size $CS 2>&1)
	t_result "every chunk of the stream reads back right on the shorter chain" \
		$? "$out"

	start_node "$i"
	t_result "the $name's storaged restarts" $? "$(tail -n 3 "$WORK/s$i.log")"
	# Watch the resync: syncing with progress, then serving.
	t0=$SECONDS
	while [ $((SECONDS - t0)) -lt 30 ]; do
		fetch
		st=$(jq_py "'serving' if $ALL_SERVING else '%d/%d' % ($TARGET[$tgt]['sync_done'], $TARGET[$tgt]['sync_total']) if $TARGET[$tgt]['state'] == 'syncing' and $TARGET[$tgt]['sync_total'] > 0 else 'other'")
		[ "$st" = serving ] && break
		[[ $st == */* ]] && saw=$st
		sleep 0.1
	done
	[ "$saw" != 0 ] && [ "$(jq_py "$ALL_SERVING")" = True ]
	t_result "it resyncs: status shows it syncing with progress (${saw} chunks), then serving ($((SECONDS - t0)) s)" \
		$? "last progress '$saw'; $(cat "$WORK/status.json")"
	out=$(chunk verify 2>&1)
	t_result "valor-chunk verify: every chunk identical on all members" \
		$? "$out"
}

test_corruption() {
	local i k cid before after path rc out
	head -c 200000 /dev/urandom >"$WORK/data2"
	chunk write --inode 300 --index 2 --file "$WORK/data2" >/dev/null 2>&1
	fetch
	k=1
	i=$(node_of $k)
	cid=$(jq_py 'd["chains"][0]["id"]')
	path=$(printf "%s/node%d/t/chain-%d/chunks/%02x/%02x/%016x/2" "$WORK" \
		"$i" "$cid" $((300 & 255)) $((300 >> 8 & 255)) 300)
	if [ ! -f "$path" ]; then
		t_fail "corrupt a chunk file on disk" "no $path"
		return
	fi
	before=$(repairs "$i")
	printf '\xde\xad\xbe\xef' | dd of="$path" bs=1 seek=70001 conv=notrunc \
		status=none
	chunk read --inode 300 --index 2 --member $k --out "$WORK/read-c" \
		2>>"$WORK/chunk.err" && cmp -s "$WORK/data2" "$WORK/read-c"
	t_result "bytes flipped in a chunk file: the read from that member still returns the written data" \
		$? "$(tail -n 3 "$WORK/chunk.err")"
	after=$(repairs "$i")
	[ -n "$before" ] && [ "$after" = $((before + 1)) ]
	t_result "the chunk was repaired from another replica and counted (repairs $before -> $after)" \
		$? "repairs '$before' -> '$after'"
	chunk read --inode 300 --index 2 --member $k --out "$WORK/read-c2" \
		2>>"$WORK/chunk.err" && cmp -s "$WORK/data2" "$WORK/read-c2" &&
		[ "$(repairs "$i")" = "$after" ]
	t_result "read again it needs no repair" $? "repairs now $(repairs "$i")"
	out=$(chunk verify 2>&1)
	t_result "verify after the repair: identical" $? "$out"
}

test_cut_remove() {
	local out rc=0
	chunk stream --inode 400 --chunks 10 --chunk-size $CS >/dev/null 2>&1
	out=$(chunk cut --inode 400 --size 100000 --chunk-size $CS 2>&1) || rc=1
	out+=$(chunk last --inode 400 2>&1) || rc=1
	[[ $out == *"last index 1 length 34464"* ]] || rc=1
	t_result "CUT to 100000 bytes keeps chunks 0-1 and cuts chunk 1 to 34464" \
		$rc "$out"
	out=$(chunk remove --inode 400 2>&1 && chunk last --inode 400 2>&1)
	[[ $out == *"none index 0"* ]]
	t_result "REMOVE leaves no chunk of the inode" $? "$out"
	out=$(chunk sync --inode 100 2>&1)
	t_result "SYNC of an inode answers once every member synced" $? "$out"
	out=$(chunk verify 2>&1)
	t_result "verify after CUT and REMOVE: identical" $? "$out"
}

test_stats() {
	local out
	out=$(timeout -k 5 10 "$CTL" stats --socket "$WORK/s1.sock" 2>&1)
	[[ $out == *STORAGE_WRITE* ]] && [[ $out == *repairs* ]] &&
		[[ $out == *resync_sent* ]]
	t_result "valorctl stats --socket shows per-op counts, repairs and resync counters" \
		$? "$out"
	timeout -k 5 10 "$CTL" stats --json --socket "$WORK/s1.sock" 2>&1 |
		python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(0 if d["program"] == "valor-storaged" and d["ops"] else 1)'
	t_result "valorctl stats --json parses" $? "not JSON"
}

test_bad_input() {
	local out rc i p=$((BASE + 1)) pid
	out=$("$STORD" --bogus 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *bogus* ]]
	t_result "an unknown option exits 2 naming it" $? "exit $rc: $out"
	out=$("$STORD" --listen "tcp://127.0.0.1:$((BASE + 4))" --mgmtd "$URL" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *--target* ]]
	t_result "no --target exits 2 naming it" $? "exit $rc: $out"
	out=$("$STORD" --listen nowhere --mgmtd "$URL" --target "$WORK/x" 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *--listen* ]]
	t_result "a bad --listen URL exits 2 naming it" $? "exit $rc: $out"
	out=$("$CHUNK" --frobnicate 2>&1)
	rc=$?
	[ $rc -eq 2 ] && [[ $out == *frobnicate* ]]
	t_result "valor-chunk: an unknown option exits 2 naming it" $? \
		"exit $rc: $out"

	out=$(timeout -k 5 30 "$STORD" --listen "tcp://127.0.0.1:$((BASE + 4))" \
		--mgmtd "tcp://127.0.0.1:$((BASE + 4))" --secret "$WORK/secret" \
		--target "$WORK/lonely" 2>&1)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"cannot register"* ]]
	t_result "no mgmtd there: start-up fails with the reason" $? \
		"exit $rc: $out"
	head -c 48 /dev/urandom | base64 >"$WORK/other-secret"
	chmod 600 "$WORK/other-secret"
	out=$(timeout -k 5 30 "$STORD" --listen "tcp://127.0.0.1:$((BASE + 4))" \
		--mgmtd "$URL" --secret "$WORK/other-secret" \
		--target "$WORK/lonely" 2>&1)
	rc=$?
	[ $rc -eq 1 ] && [[ $out == *"authentication failed"* ]]
	t_result "a wrong secret: start-up fails saying authentication failed" \
		$? "exit $rc: $out"

	# Garbage instead of a frame, then well-framed malformed bodies.
	head -c 4096 /dev/urandom >"/dev/tcp/127.0.0.1/$p" 2>/dev/null
	printf 'VLRF\x01\x00\x01\x03garbage' >"/dev/tcp/127.0.0.1/$p" 2>/dev/null
	out=$(timeout -k 5 20 "$CHUNK" --secret "$WORK/secret" raw \
		--url "tcp://127.0.0.1:$p" --opcode 0x0301 --body-hex 0102 2>&1)
	[[ $out == *"Bad message"* ]]
	t_result "a truncated WRITE body is answered -EBADMSG" $? "$out"
	out=$(timeout -k 5 20 "$CHUNK" --secret "$WORK/secret" raw \
		--url "tcp://127.0.0.1:$p" --opcode 0x030c \
		--body-hex "$(head -c 57 /dev/urandom | od -An -tx1 | tr -d ' \n')" 2>&1)
	[[ $out == *"status -"* ]]
	t_result "a random RESYNC body is refused" $? "$out"
	out=$(timeout -k 5 20 "$CHUNK" --secret "$WORK/secret" raw \
		--url "tcp://127.0.0.1:$p" --opcode 0x03ff 2>&1)
	[[ $out == *"not implemented"* ]]
	t_result "an unknown storage opcode is answered -ENOSYS" $? "$out"
	alive "${NODE_PID[1]}" && chunk read --inode 100 --index 0 --member 0 \
		--out "$WORK/read-after" 2>>"$WORK/chunk.err" &&
		cmp -s "$WORK/data1" "$WORK/read-after"
	t_result "after all that, storaged 1 still serves reads" $? \
		"$(tail -n 5 "$WORK/s1.log")"
}

test_shutdown() {
	local i pid rc=0
	for i in 1 2 3; do
		pid=${NODE_PID[$i]}
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" 10 || rc=1
		[ -e "$WORK/s$i.pid" ] && rc=1
	done
	t_result "every storaged exits on SIGTERM and removes its pidfile" $rc \
		"$(tail -n 3 "$WORK/s1.log")"
	kill -TERM "$MPID" 2>/dev/null
	wait_gone "$MPID" 10
	t_result "mgmtd exits on SIGTERM" $? "pid $MPID"
}

main() {
	local tool
	for tool in "$MGMTD" "$STORD" "$CTL" "$CHUNK"; do
		if [ ! -x "$tool" ]; then
			t_fail "storaged tests" "$tool is not built"
			return
		fi
	done
	if ! command -v python3 >/dev/null; then
		N=$((N + 1)) SKIPPED=$((SKIPPED + 1))
		echo "ok $N - storaged tests # SKIP python3 is missing"
		return
	fi
	WORK=$(mktemp -d /tmp/valor-storaged-it.XXXXXX) || {
		t_fail "storaged tests" "mktemp failed"
		return
	}
	test_start || return
	test_write_read
	failover 1 middle 201
	failover 2 tail 202
	failover 0 head 203
	test_corruption
	test_cut_remove
	test_stats
	test_bad_input
	test_shutdown
	if [ "$FAILED" -gt 0 ]; then
		for i in 1 2 3; do
			echo "# storaged $i log:"
			show_log "$WORK/s$i.log" 25
		done
		echo "# mgmtd log:"
		show_log "$WORK/mgmtd.log" 20
	fi
}

main
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
