#!/bin/sh
# SPDX-License-Identifier: ISC
# Integration tests of the callback path: a real Kore server with the
# test apps (build/wecom-test.so), driven over HTTP by node:test.

cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-test.so" >/dev/null ||
    { echo "Bail out! cannot build $BUILD/wecom-test.so"; exit 1; }
if [ ! -d tests/node_modules/@wecom/crypto ]; then
	(cd tests && npm install --no-audit --no-fund --loglevel=error) >&2 || exit 1
fi
exec sh tests/node-tap.sh tests/callback/
