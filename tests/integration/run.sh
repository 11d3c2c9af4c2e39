#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run.sh BUILD_DIR - valorfs integration tests: mount, check, unmount.
#
# For each engine in ${ENGINES:-"sync clone uring fuse-uring"}: mount a `mem` file system in a
# private temp dir, run BUILD_DIR/tests/posix, copy /usr/include in with
# `cp -a` and compare it, run BUILD_DIR/tests/datacheck, unmount, and check
# that the daemon exited and nothing is left mounted. Then, once: the
# single-thread engine under strace (plain read/writev on /dev/fuse, no
# io_uring), SIGTERM unmounts, -o ro, an ASan/LSan leak check when an ASan
# daemon is built, and bad command lines.
#
# Prints `ok N - name`, `not ok N - name: why`, `ok N - name # SKIP why`,
# then exactly "N passed, N failed, N skipped"; exits 1 if anything failed.
# The posix suite's own checks are counted one by one.
#
# Mounts use -o allow_other: the posix suite's EACCES and sticky checks run
# as nobody, whom FUSE would otherwise refuse outright.
#
# Environment: ENGINES ("none": only the once-only tests), TEST_TIMEOUT
# (seconds per test program, default 600), DATACHECK_ARGS (extra datacheck
# options, e.g. "-s 42"), ASAN_VALORFS, KEEP_LOGS=1 (keep the temp dir).
#
# Every daemon and mount this script starts is recorded; the EXIT trap
# unmounts (umount -l as the last resort) and kills the recorded PIDs.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
VALORFS=$BUILD/valorfs
TESTS=$BUILD/tests
ENGINES=${ENGINES:-"sync clone uring fuse-uring"}
[ "$ENGINES" = none ] && ENGINES=	# only the once-only tests
TIMEOUT=${TEST_TIMEOUT:-600}
DATACHECK_ARGS=${DATACHECK_ARGS:-}

N=0 PASSED=0 FAILED=0 SKIPPED=0 FAILED_AT_START=0
MOUNTS=() PIDS=()
WORK=

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

# Anything still mounted under the work dir?
leftover_mounts() {
	findmnt -rn -o TARGET | grep -F "$WORK" || true
}

# FUSE-over-io_uring is a global kernel switch: turned on only around the
# fuse-uring tests and put back as it was, also on interruption.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_SAVED=
uring_on() {
	[ -w "$URING_PARAM" ] || return 1
	URING_SAVED=$(cat "$URING_PARAM")
	echo Y >"$URING_PARAM" 2>/dev/null || return 1
}
uring_restore() {
	if [ -n "$URING_SAVED" ]; then
		echo "$URING_SAVED" >"$URING_PARAM" 2>/dev/null
		URING_SAVED=
	fi
}

# Debian's /dev/fuse is 0666; some sandboxes make it 0600. The non-root test
# opens it up for its duration and puts the mode back.
FUSE_MODE_SAVED=
fuse_mode_restore() {
	if [ -n "$FUSE_MODE_SAVED" ]; then
		chmod "$FUSE_MODE_SAVED" /dev/fuse 2>/dev/null
		FUSE_MODE_SAVED=
	fi
}

# The mount helper test installs /sbin/mount.valorfs (and the fuse.valorfs
# name) only if absent, and removes exactly what it installed.
HELPERS_INSTALLED=()
helpers_remove() {
	local f
	for f in "${HELPERS_INSTALLED[@]}"; do
		rm -f "$f"
	done
	HELPERS_INSTALLED=()
}

cleanup() {
	helpers_remove
	uring_restore
	fuse_mode_restore
	stop_recorded
	remove_work
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

# start_daemon MNT PIDFILE ERRFILE OPTS [VAR=VALUE...]: mount `mem` on MNT
# with -o OPTS,pidfile=PIDFILE; sets DPID. Returns 0 when the mount is live.
start_daemon() {
	local mnt=$1 pidfile=$2 err=$3 opts=$4 rc
	shift 4
	DPID=
	FAILED_AT_START=$FAILED
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	timeout -k 5 60 env "$@" "$VALORFS" -o "$opts,pidfile=$pidfile" mem "$mnt" \
		</dev/null >"$err" 2>&1
	rc=$?
	DPID=$(daemon_pid "$pidfile")
	[ -n "$DPID" ] && PIDS+=("$DPID")
	if [ $rc -ne 0 ]; then
		echo "# valorfs -o $opts exited with $rc"
		show_log "$err"
		return 1
	fi
	if ! mounted "$mnt"; then
		echo "# valorfs exited 0 but $mnt is not mounted"
		show_log "$err"
		return 1
	fi
	if [ -z "$DPID" ] || ! alive "$DPID"; then
		echo "# pidfile $pidfile holds no live pid (${DPID:-empty})"
		return 1
	fi
	return 0
}

# stop_daemon LABEL MNT PID: umount, the daemon exits by itself within 10 s,
# and the mount is gone. If a check failed since start_daemon, the daemon's
# log (next to MNT) is shown.
stop_daemon() {
	local label=$1 mnt=$2 pid=$3 out
	if [ "$FAILED" -gt "$FAILED_AT_START" ]; then
		echo "# $label: daemon log:"
		show_log "$(dirname "$mnt")/daemon.log" 30
	fi
	out=$(timeout -k 5 30 umount "$mnt" 2>&1)
	t_result "$label: umount" $? "umount failed: $out"
	if [ -n "$pid" ]; then
		wait_gone "$pid" 10
		t_result "$label: daemon exits after umount" $? \
			"pid $pid still running 10 s after umount"
	fi
	if mounted "$mnt"; then
		t_fail "$label: nothing left mounted" "$mnt is still mounted"
		umount -l "$mnt" 2>/dev/null
	else
		t_ok "$label: nothing left mounted"
	fi
}

# ---- one engine -----------------------------------------------------------

test_engine() {
	local e=$1 dir mnt pid out rc
	dir=$WORK/engine-$e
	mnt=$dir/mnt
	mkdir -p "$dir/other"
	echo "# engine $e"
	if [ "$e" = fuse-uring ] && ! uring_on; then
		t_skip "$e: engine" "cannot turn on $URING_PARAM (kernel without FUSE-over-io_uring, needs Linux >= 6.14)"
		return
	fi
	if ! start_daemon "$mnt" "$dir/pid" "$dir/daemon.log" \
		"engine=$e,allow_other,ctl_socket=$dir/ctl.sock"; then
		t_fail "$e: mount" "valorfs -o engine=$e did not mount"
		uring_restore
		return
	fi
	t_ok "$e: mount"
	pid=$DPID
	# The engine asked for is the one that runs (no silent fallback).
	if grep -q "engine $e:" "$dir/daemon.log"; then
		t_ok "$e: daemon runs engine $e"
	else
		t_fail "$e: daemon runs engine $e" "log: $(grep -m1 'engine' "$dir/daemon.log")"
	fi

	run_posix "$e" "$mnt" "$dir/other"

	if run_prog "$e: cp -a /usr/include" "$dir/cp.log" \
		cp -a /usr/include "$mnt/include"; then
		run_prog "$e: diff -r /usr/include" "$dir/diff.log" \
			diff -r --no-dereference /usr/include "$mnt/include"
		tree_meta /usr/include >"$dir/meta.want"
		tree_meta "$mnt/include" >"$dir/meta.got" 2>&1
		out=$(diff "$dir/meta.want" "$dir/meta.got" | head -n 10)
		t_result "$e: cp -a kept modes, owners, sizes, mtimes, links" \
			"$([ -z "$out" ]; echo $?)" "differences:"$'\n'"${out//$'\n'/$'\n'#   }"
		run_prog "$e: rm -rf the copy" "$dir/rm.log" rm -rf "$mnt/include"
	fi

	# shellcheck disable=SC2086
	run_prog "$e: datacheck" "$dir/datacheck.log" \
		"$TESTS/datacheck" $DATACHECK_ARGS "$mnt"
	rc=$?
	[ $rc -eq 0 ] && sed -n 's/^/# /p' "$dir/datacheck.log" | tail -n 1

	out=$("$BUILD/valorctl" stats --socket "$dir/ctl.sock" 2>&1)
	t_result "$e: valorctl stats shows the engine and op counts" \
		"$(case $out in *"engine $e"*WRITE*) echo 0;; *) echo 1;; esac)" \
		"got: $(echo "$out" | head -n 3)"
	out=$(ls -A "$mnt" 2>&1)
	t_result "$e: file system empty after the tests" \
		"$([ -z "$out" ]; echo $?)" "left: $(echo "$out" | tr '\n' ' ' | head -c 300)"
	if alive "$pid"; then
		t_ok "$e: daemon alive after the tests"
	else
		t_fail "$e: daemon alive after the tests" "pid $pid is gone"
		show_log "$dir/daemon.log"
	fi
	stop_daemon "$e" "$mnt" "$pid"
	out=$(leftover_mounts)
	t_result "$e: no mounts left" "$([ -z "$out" ]; echo $?)" "still mounted: $out"
	if [ "$e" = fuse-uring ]; then
		# Requests went through the ring queues, not only /dev/fuse.
		out=$(sed -n 's/.*worker [0-9]* (fuse-uring, cpu [0-9-]*): \([0-9]*\) requests.*/\1/p' \
			"$dir/daemon.log" | awk '{ s += $1 } END { print s + 0 }')
		t_result "$e: ring queues served requests" \
			"$([ "${out:-0}" -gt 0 ]; echo $?)" "ring requests: $out"
		uring_restore
	fi
}

# splice=both: requests come through a pipe, large replies leave through
# one; the data must come out the same as with read/writev.
test_splice() {
	local dir=$WORK/splice mnt pid n
	mnt=$dir/mnt
	mkdir -p "$dir"
	if ! start_daemon "$mnt" "$dir/pid" "$dir/daemon.log" \
		"engine=clone,splice=both"; then
		t_fail "splice: mount" "did not mount"
		return
	fi
	pid=$DPID
	run_prog "splice: cp -a /usr/include" "$dir/cp.log" \
		cp -a /usr/include "$mnt/include" &&
		run_prog "splice: diff -r /usr/include" "$dir/diff.log" \
			diff -r --no-dereference /usr/include "$mnt/include"
	# shellcheck disable=SC2086
	run_prog "splice: datacheck" "$dir/datacheck.log" \
		"$TESTS/datacheck" -n 5000 "$mnt"
	stop_daemon "splice" "$mnt" "$pid"
	n=$(sed -n 's/.*splice: \([0-9]*\) requests in, \([0-9]*\) replies out.*/\1 \2/p' \
		"$dir/daemon.log" | awk '{ i += $1; o += $2 } END { print i + 0, o + 0 }')
	t_result "splice: requests and replies went through the pipe" \
		"$([ "${n% *}" -gt 0 ] && [ "${n#* }" -gt 0 ]; echo $?)" \
		"requests in, replies out: $n"
}

# A user mounts with fusermount3 (fd passing), owns the root of the mount,
# and `fusermount3 -u` ends the daemon.
test_nonroot() {
	local dir=$WORK/nonroot mnt pid out i
	mnt=$dir/mnt
	if ! command -v fusermount3 >/dev/null || ! command -v setpriv >/dev/null; then
		t_skip "non-root mount" "fusermount3 or setpriv missing"
		return
	fi
	mkdir -p "$mnt" "$dir/run"
	chown 65534:65534 "$mnt" "$dir/run"
	if [ "$(stat -c %a /dev/fuse)" != 666 ]; then
		FUSE_MODE_SAVED=$(stat -c %a /dev/fuse)
		chmod 666 /dev/fuse
	fi
	MOUNTS+=("$mnt")
	(cd /tmp && timeout -k 5 60 setpriv --reuid=65534 --regid=65534 \
		--clear-groups env HOME=/tmp "$VALORFS" \
		-o "engine=clone,pidfile=$dir/run/pid" mem "$mnt" \
		</dev/null >"$dir/daemon.log" 2>&1)
	i=$?
	fuse_mode_restore
	pid=$(daemon_pid "$dir/run/pid")
	[ -n "$pid" ] && PIDS+=("$pid")
	if [ $i -ne 0 ] || ! mounted "$mnt"; then
		t_fail "non-root: mount through fusermount3" "exit $i"
		show_log "$dir/daemon.log"
		return
	fi
	t_ok "non-root: mount through fusermount3"
	out=$(findmnt -rn -o OPTIONS "$mnt")
	t_result "non-root: mounted with the user's ids" \
		"$(case $out in *user_id=65534*) echo 0;; *) echo 1;; esac)" "options: $out"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		sh -c "echo mine >'$mnt/f' && cat '$mnt/f'" 2>&1)
	t_result "non-root: the user writes in its own mount" \
		"$([ "$out" = mine ]; echo $?)" "got: $out"
	setpriv --reuid=65534 --regid=65534 --clear-groups fusermount3 -u "$mnt"
	if wait_gone "$pid" 10; then
		t_ok "non-root: fusermount3 -u ends the daemon"
	else
		t_fail "non-root: fusermount3 -u ends the daemon" "pid $pid alive"
	fi
	out=$(leftover_mounts)
	t_result "non-root: nothing left mounted" "$([ -z "$out" ]; echo $?)" "$out"
}

# mount(8) and fstab through the mount.valorfs helper.
test_mount_helper() {
	local dir=$WORK/helper out i pids=() m
	local src=$BUILD/../tools/mount.valorfs
	[ -f "$src" ] || src=$(dirname "$0")/../../tools/mount.valorfs
	if [ -e /sbin/mount.valorfs ] || [ -e /sbin/mount.fuse.valorfs ]; then
		t_skip "mount helper" "/sbin/mount.valorfs already installed; not replacing it"
		return
	fi
	install -m 755 "$src" /sbin/mount.valorfs || {
		t_fail "mount helper: install" "cannot write /sbin"
		return
	}
	HELPERS_INSTALLED+=(/sbin/mount.valorfs)
	ln -s mount.valorfs /sbin/mount.fuse.valorfs &&
		HELPERS_INSTALLED+=(/sbin/mount.fuse.valorfs)
	mkdir -p "$dir/a" "$dir/b" "$dir/c" "$dir/d"
	MOUNTS+=("$dir/a" "$dir/b" "$dir/c" "$dir/d")
	export VALORFS
	mount -t valorfs mem "$dir/a" -o engine=clone,_netdev,nofail,pidfile="$dir/a.pid" \
		>"$dir/a.log" 2>&1
	t_result "mount helper: mount -t valorfs" \
		"$(mounted "$dir/a"; echo $?)" "$(tail -n 2 "$dir/a.log")"
	mount -t fuse.valorfs mem "$dir/b" -o pidfile="$dir/b.pid" >"$dir/b.log" 2>&1
	out=$(findmnt -n -o FSTYPE "$dir/b")
	t_result "mount helper: mount -t fuse.valorfs" \
		"$([ "$out" = fuse.valorfs ]; echo $?)" "fstype: ${out:-none}"
	printf 'mem %s valorfs engine=sync,_netdev,nofail,pidfile=%s 0 0\nmem %s valorfs noauto 0 0\n' \
		"$dir/c" "$dir/c.pid" "$dir/d" >"$dir/fstab"
	mount -T "$dir/fstab" -a >"$dir/c.log" 2>&1
	t_result "mount helper: mount -a mounts the fstab line" \
		"$(mounted "$dir/c"; echo $?)" "$(tail -n 2 "$dir/c.log")"
	t_result "mount helper: mount -a honours noauto" \
		"$(mounted "$dir/d" && echo 1 || echo 0)" "$dir/d got mounted"
	mount -t valorfs mem "$dir/d" -o bogus >"$dir/d.log" 2>&1
	i=$?
	t_result "mount helper: a bad option fails the mount, naming it" \
		"$([ $i -ne 0 ] && grep -q bogus "$dir/d.log"; echo $?)" "exit $i"
	for m in a b c; do
		i=$(daemon_pid "$dir/$m.pid")
		[ -n "$i" ] && pids+=("$i") && PIDS+=("$i")
		umount "$dir/$m" 2>/dev/null
	done
	out=
	for i in "${pids[@]}"; do
		wait_gone "$i" 10 || out="$out $i"
	done
	t_result "mount helper: umount leaves no daemon (${#pids[@]} mounts)" \
		"$([ -z "$out" ] && [ ${#pids[@]} -eq 3 ]; echo $?)" "alive:$out"
	helpers_remove
}

# -d logs every request and its reply, decoded.
test_debug_log() {
	local dir=$WORK/debug mnt pid
	mnt=$dir/mnt
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	"$VALORFS" -d -o engine=sync mem "$mnt" >"$dir/daemon.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 50); do mounted "$mnt" && break; sleep 0.1; done
	echo x >"$mnt/file" 2>/dev/null
	ls "$mnt" >/dev/null 2>&1
	umount "$mnt" 2>/dev/null
	wait_gone "$pid" 10 || kill -TERM "$pid" 2>/dev/null
	if grep -q 'CREATE .*name="file"' "$dir/daemon.log" &&
		grep -q 'reply unique=[0-9]* CREATE error=0' "$dir/daemon.log"; then
		t_ok "-d: requests and replies are logged decoded"
	else
		t_fail "-d: requests and replies are logged decoded" \
			"$(grep -m3 -E 'CREATE|LOOKUP' "$dir/daemon.log")"
	fi
}

# A REGISTER the kernel refuses puts the connection back on /dev/fuse; the
# daemon must notice and carry on with the uring engine.
test_fuse_uring_fallback() {
	local dir=$WORK/fallback mnt pid
	mnt=$dir/mnt
	mkdir -p "$dir"
	if ! uring_on; then
		t_skip "fuse-uring fallback" "cannot turn on $URING_PARAM"
		return
	fi
	if ! start_daemon "$mnt" "$dir/pid" "$dir/daemon.log" \
		"engine=fuse-uring" VALORFS_TEST_FAIL_REGISTER=1; then
		t_fail "fuse-uring fallback: mount" "did not mount"
		uring_restore
		return
	fi
	pid=$DPID
	if grep -q "switching to engine uring" "$dir/daemon.log"; then
		t_ok "fuse-uring fallback: refused REGISTER detected"
	else
		t_fail "fuse-uring fallback: refused REGISTER detected" \
			"no fallback line in the log"
	fi
	if timeout 20 sh -c "echo data >'$mnt/f' && [ \"\$(cat '$mnt/f')\" = data ]"; then
		t_ok "fuse-uring fallback: file system serves after the fallback"
	else
		t_fail "fuse-uring fallback: file system serves after the fallback" \
			"I/O failed or hung"
		show_log "$dir/daemon.log"
	fi
	stop_daemon "fallback" "$mnt" "$pid"
	uring_restore
}

# ---- once -----------------------------------------------------------------

# -s under strace: requests read(2) from the fuse fd and replies writev(2)
# to it, and no io_uring anywhere in the process.
test_strace() {
	local dir=$WORK/strace mnt spid pid i fd trace
	mnt=$dir/mnt
	trace=$dir/trace
	if ! command -v strace >/dev/null; then
		t_skip "strace: -s uses read/writev only" "strace not installed"
		return
	fi
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	FAILED_AT_START=$FAILED
	strace -f -qq -o "$trace" -e trace=openat,read,writev,io_uring_setup,io_uring_enter \
		"$VALORFS" -f -s -o "pidfile=$dir/pid" mem "$mnt" \
		</dev/null >"$dir/daemon.log" 2>&1 &
	spid=$!
	PIDS+=("$spid")
	for ((i = 0; i < 300; i++)); do
		mounted "$mnt" && break
		alive "$spid" || break
		sleep 0.1
	done
	if ! mounted "$mnt"; then
		t_fail "strace: mount with -s under strace" "not mounted within 30 s"
		show_log "$dir/daemon.log"
		return
	fi
	pid=$(daemon_pid "$dir/pid")
	[ -n "$pid" ] && PIDS+=("$pid")
	t_ok "strace: mount with -s under strace"
	(
		set -e
		echo hello >"$mnt/f"
		cat "$mnt/f" >/dev/null
		mkdir "$mnt/d"
		mv "$mnt/f" "$mnt/d/g"
		ls -la "$mnt" "$mnt/d" >/dev/null
		rm -r "$mnt/d"
	) >"$dir/ops.log" 2>&1
	t_result "strace: file operations" $? "$(head -c 300 "$dir/ops.log")"
	stop_daemon "strace" "$mnt" "$pid"
	wait_gone "$spid" 10 || kill -TERM "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null

	# The fuse fd: what openat("/dev/fuse") returned; else any fd.
	fd=$(grep -E 'openat\(.*"/dev/fuse"' "$trace" | grep -oE '= [0-9]+$' |
		head -n 1 | tr -dc '0-9')
	if [ -n "$fd" ]; then
		grep -qE "^[0-9]+ +read\($fd, " "$trace"
		t_result "strace: requests read(2) from /dev/fuse (fd $fd)" $? \
			"no read($fd, ...) in $trace"
		grep -qE "^[0-9]+ +writev\($fd, " "$trace"
		t_result "strace: replies writev(2) to /dev/fuse (fd $fd)" $? \
			"no writev($fd, ...) in $trace"
	else
		grep -qE '^[0-9]+ +read\(' "$trace"
		t_result "strace: requests read(2) (fuse fd not seen opened)" $? \
			"no read( in $trace"
		grep -qE '^[0-9]+ +writev\(' "$trace"
		t_result "strace: replies writev(2) (fuse fd not seen opened)" $? \
			"no writev( in $trace"
	fi
	if grep -qE 'io_uring_(setup|enter)\(' "$trace"; then
		t_fail "strace: no io_uring with -s" \
			"$(grep -cE 'io_uring_(setup|enter)\(' "$trace") io_uring calls in $trace"
	else
		t_ok "strace: no io_uring with -s"
	fi
}

# SIGTERM unmounts and exits.
test_sigterm() {
	local dir=$WORK/sigterm mnt pid
	mnt=$dir/mnt
	if ! start_daemon "$mnt" "$dir/pid" "$dir/daemon.log" engine=sync; then
		t_fail "sigterm: mount" "did not mount"
		return
	fi
	pid=$DPID
	echo x >"$mnt/f"
	kill -TERM "$pid"
	wait_gone "$pid" 10
	t_result "sigterm: daemon exits on SIGTERM" $? "pid $pid still running after 10 s"
	if mounted "$mnt"; then
		t_fail "sigterm: SIGTERM unmounts" "$mnt still mounted"
		umount -l "$mnt" 2>/dev/null
	else
		t_ok "sigterm: SIGTERM unmounts"
	fi
}

# -o ro: reads work, writes fail with EROFS.
test_ro() {
	local dir=$WORK/ro mnt out
	mnt=$dir/mnt
	if ! start_daemon "$mnt" "$dir/pid" "$dir/daemon.log" ro; then
		t_fail "ro: mount -o ro" "did not mount"
		return
	fi
	t_ok "ro: mount -o ro"
	findmnt -rn -o OPTIONS -M "$mnt" | tr ',' '\n' | grep -qx ro
	t_result "ro: the mount is read-only" $? "no ro in $(findmnt -rn -o OPTIONS -M "$mnt")"
	if out=$(touch "$mnt/f" 2>&1); then
		t_fail "ro: create fails with EROFS" "touch succeeded"
	elif [[ $out == *"Read-only file system"* ]]; then
		t_ok "ro: create fails with EROFS"
	else
		t_fail "ro: create fails with EROFS" "touch said: ${out:-success}"
	fi
	ls "$mnt" >/dev/null
	t_result "ro: readdir works" $? "ls failed"
	stop_daemon "ro" "$mnt" "$DPID"
}

# An ASan daemon under the posix suite: no ASan/LSan/UBSan report.
test_asan() {
	local dir=$WORK/asan mnt asan='' c pid reports
	for c in "${ASAN_VALORFS:-}" "$BUILD/../build/asan/valorfs" "$BUILD/asan/valorfs"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			asan=$c
			break
		fi
	done
	if [ -z "$asan" ]; then
		t_skip "asan: no leaks or errors under the posix suite" \
			"no ASan daemon (ASAN_VALORFS or $BUILD/../build/asan/valorfs; make asan builds it)"
		return
	fi
	mnt=$dir/mnt
	mkdir -p "$dir/other" "$dir/reports"
	echo "# asan daemon: $asan"
	if ! VALORFS=$asan start_daemon "$mnt" "$dir/pid" "$dir/daemon.log" \
		"engine=clone,allow_other" \
		"ASAN_OPTIONS=detect_leaks=1:log_path=$dir/reports/asan" \
		"UBSAN_OPTIONS=print_stacktrace=1:log_path=$dir/reports/ubsan" \
		"LSAN_OPTIONS=log_path=$dir/reports/lsan"; then
		t_fail "asan: mount" "the ASan daemon did not mount"
		return
	fi
	t_ok "asan: mount"
	pid=$DPID
	run_posix "asan" "$mnt" "$dir/other"
	stop_daemon "asan" "$mnt" "$pid"
	reports=$(find "$dir/reports" -type f -size +0 | sort)
	if [ -z "$reports" ]; then
		t_ok "asan: no ASan/LSan/UBSan reports"
	else
		t_fail "asan: no ASan/LSan/UBSan reports" "${reports//$'\n'/ }"
		for c in $reports; do show_log "$c" 30; done
	fi
}

# Bad command lines fail at once, with a message that names the problem.
test_bad_options() {
	local dir=$WORK/bad mnt out rc
	mnt=$dir/mnt
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	out=$(timeout -k 5 30 "$VALORFS" -o bogus mem "$mnt" 2>&1 </dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [[ $out == *bogus* ]]; then
		t_ok "bad options: -o bogus fails naming it"
	else
		t_fail "bad options: -o bogus fails naming it" \
			"exit $rc, output: $(echo "$out" | head -c 300)"
	fi
	if mounted "$mnt"; then
		t_fail "bad options: -o bogus mounts nothing" "$mnt is mounted"
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
	else
		t_ok "bad options: -o bogus mounts nothing"
	fi

	out=$(timeout -k 5 30 "$VALORFS" mem "$dir/missing" 2>&1 </dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] &&
		{ [[ $out == *"$dir/missing"* ]] || [[ $out == *"No such file"* ]]; }; then
		t_ok "bad options: missing mountpoint gives a clear error"
	else
		t_fail "bad options: missing mountpoint gives a clear error" \
			"exit $rc, output: $(echo "$out" | head -c 300)"
	fi

	out=$(timeout -k 5 30 "$VALORFS" 2>&1 </dev/null)
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ -n "$out" ]; then
		t_ok "bad options: no arguments prints usage and fails"
	else
		t_fail "bad options: no arguments prints usage and fails" "exit $rc, output: ${out:-none}"
	fi
}

# ---- main -----------------------------------------------------------------

main() {
	local e why=
	if [ "$(id -u)" -ne 0 ]; then
		why="needs root to mount"
	elif [ ! -c /dev/fuse ]; then
		why="no /dev/fuse"
	fi
	if [ -n "$why" ]; then
		t_skip "integration tests" "$why"
		return
	fi
	if [ ! -x "$VALORFS" ]; then
		t_fail "integration tests" "$VALORFS not built"
		return
	fi
	WORK=$(mktemp -d /tmp/valorfs-it.XXXXXX) || {
		t_fail "integration tests" "mktemp failed"
		return
	}
	chmod 755 "$WORK"
	for e in $ENGINES; do
		test_engine "$e"
	done
	test_fuse_uring_fallback
	test_splice
	test_nonroot
	test_mount_helper
	test_debug_log
	test_strace
	test_sigterm
	test_ro
	test_asan
	test_bad_options
}

main
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
