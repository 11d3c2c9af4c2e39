# SPDX-License-Identifier: MIT
#
# lib.sh - what the integration scripts share; sourced, not run.
#
# Results: t_ok NAME, t_fail NAME WHY, t_skip NAME WHY and t_result NAME
# STATUS WHY print TAP-like lines and count into N, PASSED, FAILED and
# SKIPPED, which the sourcing script initializes and sums up with a final
# "N passed, N failed, N skipped" line. run_posix and run_prog use TESTS
# (the test programs' directory) and TIMEOUT (seconds per program).

t_ok() {
	N=$((N + 1)) PASSED=$((PASSED + 1))
	echo "ok $N - $1"
}

t_fail() {
	N=$((N + 1)) FAILED=$((FAILED + 1))
	echo "not ok $N - $1: $2"
}

t_skip() {
	N=$((N + 1)) SKIPPED=$((SKIPPED + 1))
	echo "ok $N - $1 # SKIP $2"
}

# t_result NAME STATUS WHY: ok when STATUS is 0; returns STATUS.
t_result() {
	if [ "$2" -eq 0 ]; then t_ok "$1"; else t_fail "$1" "$3"; fi
	return "$2"
}

# Print the last lines of a log file as comments.
show_log() {
	[ -s "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/#   /'
	return 0
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_gone PID SECONDS: 0 once the process has exited.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		alive "$1" || return 0
		sleep 0.1
	done
	! alive "$1"
}

# wait_until SECONDS CMD...: 0 as soon as CMD succeeds, 1 after SECONDS.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

# mounted DIR: DIR is a mount point (also when its daemon died).
mounted() {
	findmnt -rn -M "$1" >/dev/null 2>&1
}

# daemon_pid PIDFILE: the pid it holds, or nothing.
daemon_pid() {
	[ -s "$1" ] && tr -dc '0-9' <"$1"
}

# port_busy PORT: something listens on 127.0.0.1:PORT.
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# run_posix LABEL MNT OTHER_DIR [VAR=VALUE...]: run the POSIX suite and fold
# its lines into ours.
run_posix() {
	local label=$1 mnt=$2 other=$3 line rc='' summary='' name
	shift 3
	if [ ! -x "$TESTS/posix" ]; then
		t_fail "$label: posix" "$TESTS/posix not built"
		return
	fi
	while IFS= read -r line; do
		if [[ $line =~ ^__rc=([0-9]+)$ ]]; then
			rc=${BASH_REMATCH[1]}
		elif [[ $line =~ ^not\ ok\ [0-9]+\ -\ (.*)$ ]]; then
			N=$((N + 1)) FAILED=$((FAILED + 1))
			echo "not ok $N - $label: posix ${BASH_REMATCH[1]}"
		elif [[ $line =~ ^ok\ [0-9]+\ -\ (.*)\ \#\ SKIP\ (.*)$ ]]; then
			N=$((N + 1)) SKIPPED=$((SKIPPED + 1))
			echo "ok $N - $label: posix ${BASH_REMATCH[1]} # SKIP ${BASH_REMATCH[2]}"
		elif [[ $line =~ ^ok\ [0-9]+\ -\ (.*)$ ]]; then
			N=$((N + 1)) PASSED=$((PASSED + 1))
			echo "ok $N - $label: posix ${BASH_REMATCH[1]}"
		elif [[ $line =~ ^[0-9]+\ passed,\ [0-9]+\ failed,\ [0-9]+\ skipped$ ]]; then
			summary=$line
		else
			echo "# $line"
		fi
	done < <(timeout -k 10 "$TIMEOUT" env "$@" "$TESTS/posix" "$mnt" "$other" 2>&1
		echo "__rc=$?")
	name="$label: posix suite ran to completion"
	if [ -z "$summary" ]; then
		t_fail "$name" "no summary line, exit status ${rc:-?}$( [ "${rc:-}" = 124 ] && echo " (timed out after $TIMEOUT s)")"
	elif [ "${rc:-}" != 0 ] && [ "${rc:-}" != 1 ]; then
		t_fail "$name" "exit status ${rc:-?}"
	fi
}

# run_prog LABEL LOG CMD...: one check for a program that must exit 0.
run_prog() {
	local label=$1 log=$2 rc
	shift 2
	timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		t_ok "$label"
	else
		t_fail "$label" "exit status $rc$( [ $rc = 124 ] && echo " (timed out after $TIMEOUT s)")"
		show_log "$log" 40
	fi
	return $rc
}

# Metadata of a tree, one sorted line per entry. Left out: atime (reads move
# it) and the size of directories (each file system counts its own way).
tree_meta() {
	(cd "$1" && find . \( -type d -printf '%p %M %U %G - %T@\n' \) -o \
		-printf '%p %M %U %G %s %T@ %l\n' | sort)
}

# stop_recorded [SECONDS]: unmount every entry of MOUNTS still mounted
# (lazily when busy), then SIGTERM every live pid of PIDS and SIGKILL it
# after SECONDS (default 3). For the scripts' EXIT traps.
stop_recorded() {
	local m p
	for m in "${MOUNTS[@]}"; do
		if mounted "$m"; then
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${PIDS[@]}"; do
		alive "$p" || continue
		kill -TERM "$p" 2>/dev/null
		wait_gone "$p" "${1:-3}" || kill -KILL "$p" 2>/dev/null
	done
}

# remove_work: delete WORK, unless KEEP_LOGS=1 or something is still
# mounted below it (then say so and leave it).
remove_work() {
	[ -n "$WORK" ] && [ -d "$WORK" ] || return 0
	if findmnt -rn -o TARGET | grep -qF "$WORK"; then
		echo "# leaving $WORK: something is still mounted there" >&2
	elif [ "${KEEP_LOGS:-0}" = 1 ]; then
		echo "# logs kept in $WORK" >&2
	else
		rm -rf --one-file-system "$WORK"
	fi
}
