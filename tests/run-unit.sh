#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-unit.sh TESTS_DIR - run every unit test binary TESTS_DIR/test_*.
#
# A binary passes when it exits 0 and is skipped when it exits 77 (a missing
# kernel or hardware feature); anything else, a timeout included, fails.
# cmocka prints its own lines; this script adds one `ok`/`not ok` line per
# binary and ends with exactly "N passed, N failed, N skipped".
# UNIT_TIMEOUT (seconds per binary, default 300).
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 TESTS_DIR" >&2
	exit 2
fi
dir=$1
timeout_s=${UNIT_TIMEOUT:-300}
n=0 passed=0 failed=0 skipped=0

found=0
for t in "$dir"/test_*; do
	case $t in *.o | *.d) continue ;; esac
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	found=1
	name=$(basename "$t")
	echo "# $name"
	timeout -k 10 "$timeout_s" "$t"
	rc=$?
	n=$((n + 1))
	case $rc in
	0)
		passed=$((passed + 1))
		echo "ok $n - unit $name"
		;;
	77)
		skipped=$((skipped + 1))
		echo "ok $n - unit $name # SKIP it exited 77 (feature missing here)"
		;;
	124)
		failed=$((failed + 1))
		echo "not ok $n - unit $name: timed out after $timeout_s s"
		;;
	*)
		failed=$((failed + 1))
		if [ $rc -gt 128 ]; then
			why="killed by signal $((rc - 128))"
		else
			why="exit status $rc"
		fi
		echo "not ok $n - unit $name: $why"
		;;
	esac
done
if [ $found -eq 0 ]; then
	n=$((n + 1)) skipped=$((skipped + 1))
	echo "ok $n - unit tests # SKIP no test_* binaries in $dir"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
