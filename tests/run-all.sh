#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-all.sh BUILD_DIR - what `make test` runs once everything is built:
#   1. unit tests: tests/run-unit.sh BUILD_DIR/tests
#   2. fuzz smoke: each BUILD_DIR/fuzz/fuzz_* for FUZZ_SECONDS (default 20)
#   3. integration: tests/integration/run.sh BUILD_DIR
#   4. cluster manager: tests/integration/mgmtd.sh BUILD_DIR
#   5. storage servers: tests/integration/storaged.sh BUILD_DIR
#   6. metadata servers: tests/integration/metad.sh BUILD_DIR
#   7. the cluster end to end: tests/integration/cluster.sh BUILD_DIR
# and prints the combined "N passed, N failed, N skipped" (each unit binary,
# each fuzz target and each integration check counts once). Exits 1 if
# anything failed.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
PASSED=0 FAILED=0 SKIPPED=0
WORK=

cleanup() {
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "# interrupted" >&2; exit 130' INT TERM HUP

# part NAME CMD...: run a sub-runner, echo its output, add its final counts.
part() {
	local name=$1 line summary='' rc='' part_failed=0
	shift
	echo "# ---- $name"
	while IFS= read -r line; do
		if [[ $line =~ ^__rc=([0-9]+)$ ]]; then
			rc=${BASH_REMATCH[1]}
			continue
		fi
		echo "$line"
		if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
			summary=1
			PASSED=$((PASSED + BASH_REMATCH[1]))
			FAILED=$((FAILED + BASH_REMATCH[2]))
			part_failed=${BASH_REMATCH[2]}
			SKIPPED=$((SKIPPED + BASH_REMATCH[3]))
		fi
	done < <("$@" 2>&1; echo "__rc=$?")
	if [ -z "$summary" ]; then
		FAILED=$((FAILED + 1))
		echo "not ok - $name: no summary line (exit status ${rc:-?})"
	elif [ "${rc:-1}" -ne 0 ] && [ "$part_failed" -eq 0 ]; then
		# A runner that failed without counting a failure still fails.
		FAILED=$((FAILED + 1))
		echo "not ok - $name: exit status $rc"
	fi
}

# The fuzz smoke test, as a sub-runner with its own summary line.
fuzz_smoke() {
	local f name n=0 p=0 fl=0 s=0 rc dir
	local targets=()
	for f in "$BUILD"/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] && targets+=("$f")
	done
	if [ ${#targets[@]} -eq 0 ]; then
		echo "ok 1 - fuzz # SKIP no fuzz targets in $BUILD/fuzz (they need clang: make fuzz)"
		echo "0 passed, 0 failed, 1 skipped"
		return 0
	fi
	for f in "${targets[@]}"; do
		name=$(basename "$f")
		n=$((n + 1))
		dir=$WORK/$name
		mkdir -p "$dir/corpus"
		# A checked-in seed corpus, if any, is read but never written.
		local seeds=()
		[ -d "$HERE/fuzz/corpus/$name" ] && seeds=("$HERE/fuzz/corpus/$name")
		timeout -k 10 $((FUZZ_SECONDS + 60)) "$f" \
			-max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
			-artifact_prefix="$dir/" "$dir/corpus" "${seeds[@]}" \
			>"$dir/log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			p=$((p + 1))
			echo "ok $n - fuzz $name ($(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$dir/log" |
				grep -oE '[0-9]+$' || echo '?') runs in ${FUZZ_SECONDS} s)"
		else
			fl=$((fl + 1))
			echo "not ok $n - fuzz $name: exit status $rc"
			tail -n 30 "$dir/log" | sed 's/^/#   /'
			# Keep what reproduces it next to the build.
			mkdir -p "$BUILD/fuzz/artifacts"
			cp "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* \
				"$BUILD/fuzz/artifacts/" 2>/dev/null &&
				echo "#   artifacts saved in $BUILD/fuzz/artifacts"
		fi
	done
	echo "$p passed, $fl failed, $s skipped"
	[ $fl -eq 0 ]
}

WORK=$(mktemp -d /tmp/valorfs-test.XXXXXX) || exit 2
part "unit tests" "$HERE/run-unit.sh" "$BUILD/tests"
part "fuzz smoke" fuzz_smoke
part "integration tests" "$HERE/integration/run.sh" "$BUILD"
part "mgmtd integration tests" "$HERE/integration/mgmtd.sh" "$BUILD"
part "storaged integration tests" "$HERE/integration/storaged.sh" "$BUILD"
part "metad integration tests" "$HERE/integration/metad.sh" "$BUILD"
part "cluster integration tests" "$HERE/integration/cluster.sh" "$BUILD"
echo "# ----"
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
