#!/bin/sh
# Integration tests of the callback path: a real Kore server with the
# test apps (build/wecom-test.so), driven over HTTP by node:test.
#
# Node's TAP carries YAML diagnostics that prove's YAMLish reader cannot
# always parse (multi-line assertion messages): they are turned into
# plain "# " comments, kept for failures only.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-test.so" >/dev/null ||
    { echo "Bail out! cannot build $BUILD/wecom-test.so"; exit 1; }
if [ ! -d tests/node_modules/@wecom/crypto ]; then
	(cd tests && npm install --no-audit --no-fund --loglevel=error) >&2 || exit 1
fi
node --test --test-reporter=tap --test-concurrency=1 tests/callback/ 2>&1 | awk '
	/^ *(not )?ok [0-9]+/	{ failed = ($0 ~ /^ *not ok/) }
	/^ *---$/		{ yaml = 1; next }
	yaml && /^ *\.\.\.$/	{ yaml = 0; next }
	yaml			{ if (failed) print "#   " $0; next }
	/^ *# Subtest:/		{ next }
				{ print }
'
