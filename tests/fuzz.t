#!/bin/sh
# SPDX-License-Identifier: ISC
# Every fuzz target replays its seeds and every input that once crashed
# (fuzz/crashes/TARGET-*): built with the project's compiler, so no
# clang is needed here; `make fuzz` does the fuzzing.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
targets="decrypt xml config api envelope json"
echo "1..6"
n=0
for t in $targets; do
	n=$((n + 1))
	if ! make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" \
	    "$BUILD/fuzz/replay_$t" >&2; then
		echo "not ok $n - fuzz target $t builds"
		continue
	fi
	crashes=$(ls fuzz/crashes/$t-* 2>/dev/null)
	if out=$("$BUILD/fuzz/replay_$t" "fuzz/seeds/$t" $crashes 2>&1); then
		echo "ok $n - fuzz target $t replays its seeds and past crashes ($out)"
	else
		echo "$out" | sed 's/^/# /' | tail -20
		echo "not ok $n - fuzz target $t replays its seeds and past crashes"
	fi
done
