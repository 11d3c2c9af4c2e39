#!/bin/bash
# SPDX-License-Identifier: MIT
#
# cluster.sh BUILD_DIR - valorfs end to end on a local cluster.
#
# tools/valor-up starts mgmtd (heartbeat timeout 3 s), metad on LMDB and
# three storaged with a chain table of three replicas, all on loopback in a
# private temp dir, and mounts it. Then:
#   - the POSIX suite and the random-operation data checker on a mount with
#     engine sync, then again with engine clone (plus cp -a /usr/include,
#     diff -r and a metadata compare);
#   - a second client: a file written and closed on one mount reads back
#     identical on the other, a rename on one shows on the other after the
#     entry timeout, and the other way round;
#   - a tree copied in while a storaged is killed with SIGKILL: the copy
#     finishes without error and diff -r is clean; restarted (valor-up
#     again), its target resyncs and serves, and every chunk is the same
#     on all three replicas (valor-chunk verify);
#   - the same with metad killed and restarted during a copy; valorctl
#     fsck finds nothing wrong;
#   - removed files' chunks are reclaimed by metad's garbage collector;
#   - an fstab line mounted by `mount -a` through mount.valorfs, and umount
#     leaving no daemon; a mount with mgmtd unreachable fails clearly;
#   - valor-down stops everything.
#
# Prints `ok N - name`, `not ok N - name: why`, `ok N - name # SKIP why`,
# then exactly "N passed, N failed, N skipped"; exits 1 if anything failed.
# Environment: COPY_SRC (the tree copied during the kills, default
# /usr/include), DATACHECK_ARGS, TEST_TIMEOUT (seconds per program, default
# 900), KEEP_LOGS=1 (keep the temp dir and the cluster's logs).
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TESTS=$BUILD/tests
TIMEOUT=${TEST_TIMEOUT:-900}
DATACHECK_ARGS=${DATACHECK_ARGS:-}
COPY_SRC=${COPY_SRC:-/usr/include}

N=0 PASSED=0 FAILED=0 SKIPPED=0
PIDS=() MOUNTS=() HELPERS_INSTALLED=()
WORK= C= BASE= URL=

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"

cleanup() {
	local f
	for f in "${HELPERS_INSTALLED[@]}"; do
		rm -f "$f"
	done
	# The mounts first (a stat of a mount whose servers are gone would
	# wait), then the cluster, then anything else recorded.
	stop_recorded
	if [ -n "$C" ] && [ -d "$C" ]; then
		"$ROOT/tools/valor-down" --dir "$C" >/dev/null 2>&1
		for f in "$C"/*.pid; do
			[ -e "$f" ] && PIDS+=("$(daemon_pid "$f")")
		done
	fi
	stop_recorded
	remove_work
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

# up [VALOR-UP ARGS...] MOUNTPOINT: (re)start whatever is not running.
up() {
	VALOR_BIN=$BUILD timeout -k 5 120 "$ROOT/tools/valor-up" --dir "$C" \
		--base-port "$BASE" --heartbeat-timeout 3 "$@" >>"$WORK/up.log" 2>&1
}

ctl() {
	timeout -k 5 30 "$BUILD/valorctl" --mgmtd "$URL" --secret "$C/secret" "$@"
}

status_json() {
	ctl status --json 2>/dev/null
}

# The state of storaged-I's target in routing ("serving", "offline", ...).
target_state() {
	local node
	node=$(status_json | grep -o "\"id\":[0-9]*,\"role\":\"storage\",\"url\":\"tcp://127.0.0.1:$((BASE + 200 + $1 - 1))\"" |
		sed 's/"id":\([0-9]*\).*/\1/')
	[ -n "$node" ] || return 1
	status_json | grep -o "{\"id\":[0-9]*,\"node\":$node,\"state\":\"[a-z]*\"" |
		sed 's/.*"state":"\([a-z]*\)"/\1/'
}

target_is() { [ "$(target_state "$1")" = "$2" ]; }

all_serving() {
	local i
	for i in 1 2 3; do
		target_is "$i" serving || return 1
	done
}

metad_alive() {
	status_json | grep -q '"role":"meta"[^}]*"state":"alive"'
}

# Chunk files of every target (the chunk store's data files).
chunk_files() {
	find "$C"/storaged-*/target -path '*/chunks/*' -type f 2>/dev/null | wc -l
}

pick_base() {
	local b
	for b in 17600 17700 17800 17900 18600 18700 18800 18900; do
		port_busy "$b" || port_busy $((b + 100)) || port_busy $((b + 200)) ||
			port_busy $((b + 201)) || port_busy $((b + 202)) && continue
		BASE=$b
		URL=tcp://127.0.0.1:$b
		return 0
	done
	return 1
}

# valorfs of a mount point, from its pid file.
pid_of_mount() {
	daemon_pid "$1"
}

# remount ENGINE: unmount ./m1 (valorfs exits) and mount it again.
remount() {
	local pid
	pid=$(daemon_pid "$C/valorfs.pid")
	umount "$WORK/m1" 2>/dev/null
	[ -n "$pid" ] && wait_gone "$pid" 10
	up -o "allow_other,engine=$1" "$WORK/m1"
}

# ---- the tests ---------------------------------------------------------------

test_up() {
	local out
	if ! pick_base; then
		t_fail "valor-up" "no free loopback ports"
		return 1
	fi
	mkdir -p "$WORK/m1" "$WORK/other"
	MOUNTS+=("$WORK/m1")
	if ! up -o allow_other,engine=sync "$WORK/m1"; then
		t_fail "valor-up starts the cluster and mounts it" "exit status $?"
		show_log "$WORK/up.log" 30
		return 1
	fi
	t_ok "valor-up starts the cluster and mounts it"
	for f in "$C"/*.pid; do
		PIDS+=("$(daemon_pid "$f")")
	done
	wait_until 20 all_serving
	t_result "status: three storage targets serving" $? \
		"states: $(target_state 1) $(target_state 2) $(target_state 3)"
	metad_alive
	t_result "status: metad registered and alive" $? "$(ctl status 2>&1 | head -n 12)"
	out=$(up "$WORK/m1"; echo "rc=$?"; tail -n 12 "$WORK/up.log")
	t_result "valor-up again: nothing restarted, exit 0" \
		"$(case $out in rc=0*already\ running*"already mounted"*) echo 0;; *) echo 1;; esac)" \
		"$(echo "$out" | head -n 5)"
	return 0
}

# posix + datacheck on ./m1 with ENGINE (already mounted).
test_engine() {
	local e=$1 dir=$WORK/$1 rc out
	mkdir -p "$dir"
	if grep -q "engine $e:" "$C/valorfs.log"; then
		t_ok "$e: the mount runs engine $e"
	else
		t_fail "$e: the mount runs engine $e" "$(grep 'engine' "$C/valorfs.log" | tail -n 1)"
	fi
	run_posix "$e" "$WORK/m1" "$WORK/other" POSIX_SIZE_BLOCKS=1
	# shellcheck disable=SC2086
	run_prog "$e: datacheck" "$dir/datacheck.log" \
		"$TESTS/datacheck" $DATACHECK_ARGS "$WORK/m1"
	rc=$?
	[ $rc -eq 0 ] && tail -n 1 "$dir/datacheck.log" | sed 's/^/# /'
	if [ "$e" = clone ]; then
		if run_prog "$e: cp -a /usr/include" "$dir/cp.log" \
			cp -a /usr/include "$WORK/m1/include"; then
			run_prog "$e: diff -r /usr/include" "$dir/diff.log" \
				diff -r --no-dereference /usr/include "$WORK/m1/include"
			tree_meta /usr/include >"$dir/meta.want"
			tree_meta "$WORK/m1/include" >"$dir/meta.got" 2>&1
			out=$(diff "$dir/meta.want" "$dir/meta.got" | head -n 10)
			t_result "$e: cp -a kept modes, owners, sizes, mtimes, links" \
				"$([ -z "$out" ]; echo $?)" "differences:"$'\n'"${out//$'\n'/$'\n'#   }"
			run_prog "$e: rm -rf the copy" "$dir/rm.log" rm -rf "$WORK/m1/include"
		fi
	fi
	out=$(ls -A "$WORK/m1" 2>&1)
	t_result "$e: file system empty after the tests" \
		"$([ -z "$out" ]; echo $?)" "left: $(echo "$out" | tr '\n' ' ' | head -c 300)"
}

test_two_clients() {
	local m2=$WORK/m2 rc
	mkdir -p "$m2"
	MOUNTS+=("$m2")
	timeout -k 5 60 "$BUILD/valorfs" \
		-o "engine=clone,secret=$C/secret,pidfile=$WORK/m2.pid" "$URL" "$m2" \
		</dev/null >"$WORK/m2.log" 2>&1
	rc=$?
	PIDS+=("$(daemon_pid "$WORK/m2.pid")")
	if [ $rc -ne 0 ] || ! mounted "$m2"; then
		t_fail "second client: mount" "exit $rc"
		show_log "$WORK/m2.log"
		return
	fi
	t_ok "second client: mount"
	head -c $((5 << 20)) /dev/urandom >"$WORK/blob"
	cp "$WORK/blob" "$WORK/m1/blob"
	cmp -s "$WORK/blob" "$m2/blob"
	t_result "second client: a file written and closed on one mount reads identical on the other" $? \
		"$(cmp "$WORK/blob" "$m2/blob" 2>&1)"
	ls -l "$m2/blob" >/dev/null 2>&1
	mv "$WORK/m1/blob" "$WORK/m1/blob2"
	sleep 1.5 # the entry timeout (1 s)
	[ -e "$m2/blob2" ] && [ ! -e "$m2/blob" ] && cmp -s "$WORK/blob" "$m2/blob2"
	t_result "second client: a rename on one is seen on the other after the entry timeout" $? \
		"$(ls -l "$m2" 2>&1 | tr '\n' ' ')"
	echo "appended by the second client" >>"$m2/blob2"
	cat "$WORK/blob" >"$WORK/blob.want"
	echo "appended by the second client" >>"$WORK/blob.want"
	cmp -s "$WORK/blob.want" "$WORK/m1/blob2"
	t_result "second client: an append on the other shows here after close" $? \
		"$(cmp "$WORK/blob.want" "$WORK/m1/blob2" 2>&1)"
	rm -f "$WORK/m1/blob2"
}

# copy_while LABEL DEST ACTION...: cp -a COPY_SRC into DEST in the
# background, run ACTION meanwhile, then check the copy finished cleanly.
copy_while() {
	local label=$1 dest=$2 cpid rc
	shift 2
	cp -a "$COPY_SRC" "$dest" >"$WORK/$label.cp.log" 2>&1 &
	cpid=$!
	"$@"
	timeout -k 5 "$TIMEOUT" tail --pid="$cpid" -f /dev/null
	wait "$cpid"
	rc=$?
	t_result "$label: the copy finished without error" $rc \
		"cp exit $rc: $(head -n 3 "$WORK/$label.cp.log")"
	run_prog "$label: diff -r is clean" "$WORK/$label.diff.log" \
		diff -r --no-dereference "$COPY_SRC" "$dest"
}

kill_storaged_2() {
	local pid
	sleep 2
	pid=$(daemon_pid "$C/storaged-2.pid")
	kill -KILL "$pid" 2>/dev/null
	echo "# killed storaged-2 (pid $pid) during the copy"
	wait_gone "$pid" 10
}

test_storaged_kill() {
	local seen_sync=0 i st out
	copy_while "storaged killed" "$WORK/m1/copy1" kill_storaged_2
	wait_until 10 target_is 2 offline
	t_result "storaged killed: mgmtd shows its target offline" $? \
		"state: $(target_state 2)"
	up "$WORK/m1"
	t_result "storaged killed: valor-up restarts it" $? "$(tail -n 5 "$WORK/up.log")"
	PIDS+=("$(daemon_pid "$C/storaged-2.pid")")
	for ((i = 0; i < 600; i++)); do
		st=$(target_state 2)
		[ "$st" = syncing ] && seen_sync=1
		[ "$st" = serving ] && break
		sleep 0.1
	done
	if [ "$seen_sync" = 0 ] && grep -qi 'resync' "$C"/storaged-*.log; then
		seen_sync=1 # too quick to catch in status; the logs show it
	fi
	t_result "storaged killed: its target syncs, then serves" \
		"$([ "$st" = serving ] && [ "$seen_sync" = 1 ]; echo $?)" \
		"state $st, syncing seen: $seen_sync"
	out=$(timeout -k 5 300 "$BUILD/valor-chunk" --mgmtd "$URL" \
		--secret "$C/secret" verify 2>&1)
	t_result "storaged killed: every chunk is the same on all three replicas" $? \
		"$(echo "$out" | tail -n 5)"
	echo "$out" | tail -n 1 | sed 's/^/# /'
}

kill_metad() {
	local pid
	sleep 2
	pid=$(daemon_pid "$C/metad.pid")
	kill -KILL "$pid" 2>/dev/null
	echo "# killed metad (pid $pid) during the copy"
	wait_gone "$pid" 10
	sleep 2
	up "$WORK/m1" || echo "# valor-up could not restart metad"
	PIDS+=("$(daemon_pid "$C/metad.pid")")
}

test_metad_kill() {
	local out
	copy_while "metad killed" "$WORK/m1/copy2" kill_metad
	out=$(ctl fsck 2>&1)
	t_result "metad killed: valorctl fsck finds no violation" $? \
		"$(echo "$out" | head -n 5)"
}

test_gc() {
	local before after
	before=$(chunk_files)
	rm -rf "$WORK/m1/copy1" "$WORK/m1/copy2"
	t_result "gc: rm -rf of the copies" $? ""
	wait_until 60 eval '[ "$(chunk_files)" -lt $((before / 10 + 1)) ]'
	after=$(chunk_files)
	t_result "gc: the removed files' chunks are reclaimed" $? \
		"chunk files: $before before, $after after 60 s"
}

test_fstab() {
	local src=$ROOT/tools/mount.valorfs m3=$WORK/m3 m4=$WORK/m4 pid out
	if [ -e /sbin/mount.valorfs ] || [ -e /sbin/mount.fuse.valorfs ]; then
		t_skip "fstab" "/sbin/mount.valorfs already installed; not replacing it"
		return
	fi
	install -m 755 "$src" /sbin/mount.valorfs || {
		t_fail "fstab: install mount.valorfs" "cannot write /sbin"
		return
	}
	HELPERS_INSTALLED+=(/sbin/mount.valorfs)
	mkdir -p "$m3" "$m4"
	MOUNTS+=("$m3" "$m4")
	printf '%s %s valorfs _netdev,nofail,engine=clone,secret=%s,pidfile=%s 0 0\n%s %s valorfs noauto,secret=%s 0 0\n' \
		"$URL" "$m3" "$C/secret" "$WORK/m3.pid" "$URL" "$m4" "$C/secret" \
		>"$WORK/fstab"
	VALORFS=$BUILD/valorfs mount -T "$WORK/fstab" -a >"$WORK/m3.log" 2>&1
	mounted "$m3" && [ "$(findmnt -n -o FSTYPE "$m3")" = fuse.valorfs ]
	t_result "fstab: mount -a mounts the cluster" $? "$(tail -n 3 "$WORK/m3.log")"
	t_result "fstab: mount -a honours noauto" "$(mounted "$m4" && echo 1 || echo 0)" \
		"$m4 got mounted"
	pid=$(daemon_pid "$WORK/m3.pid")
	PIDS+=("$pid")
	echo data >"$m3/via-fstab" && cmp -s "$m3/via-fstab" "$WORK/m1/via-fstab"
	t_result "fstab: the fstab mount sees the same file system" $? ""
	rm -f "$m3/via-fstab"
	umount "$m3"
	wait_gone "$pid" 10
	t_result "fstab: umount leaves no daemon" $? "pid $pid still running"
	out=$(timeout -k 5 60 "$BUILD/valorfs" tcp://127.0.0.1:1 "$m4" 2>&1)
	t_result "a mount with mgmtd unreachable fails, saying so" \
		"$([ $? -ne 0 ] && ! mounted "$m4" && echo "$out" | grep -q 'cannot reach mgmtd'; echo $?)" \
		"$(echo "$out" | tail -n 2)"
}

test_down() {
	local pids=() f p out=
	for f in "$C"/*.pid "$WORK/m2.pid"; do
		[ -e "$f" ] && pids+=("$(daemon_pid "$f")")
	done
	umount "$WORK/m2" 2>/dev/null
	"$ROOT/tools/valor-down" --dir "$C" >"$WORK/down.log" 2>&1
	t_result "valor-down: exit 0" $? "$(tail -n 5 "$WORK/down.log")"
	for p in "${pids[@]}"; do
		[ -n "$p" ] && { wait_gone "$p" 5 || out="$out $p"; }
	done
	t_result "valor-down: no process of the cluster left (${#pids[@]} stopped)" \
		"$([ -z "$out" ]; echo $?)" "alive:$out"
	t_result "valor-down: the mount is gone" "$(mounted "$WORK/m1" && echo 1 || echo 0)" ""
}

main() {
	local e
	for p in valorfs valor-mgmtd valor-metad valor-storaged valorctl valor-chunk tests/posix tests/datacheck; do
		if [ ! -x "$BUILD/$p" ]; then
			t_fail "cluster" "$BUILD/$p is not built"
			echo "$N passed, $FAILED failed, $SKIPPED skipped"
			exit 1
		fi
	done
	WORK=$(mktemp -d /tmp/valorfs-cluster.XXXXXX) || exit 2
	C=$WORK/cluster
	if test_up; then
		test_engine sync
		if remount clone; then
			t_ok "remount with engine clone"
			test_engine clone
		else
			t_fail "remount with engine clone" "$(tail -n 5 "$WORK/up.log")"
		fi
		test_two_clients
		test_storaged_kill
		test_metad_kill
		test_gc
		test_fstab
		test_down
	fi
	if [ "$FAILED" -gt 0 ] && [ -n "$C" ]; then
		for e in valorfs metad storaged-2 mgmtd; do
			echo "# $e.log:"
			show_log "$C/$e.log" 15
		done
	fi
	echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
}

main
