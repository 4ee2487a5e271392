#!/bin/sh
# SPDX-License-Identifier: ISC
# node:test files that start the real Kore server with the test apps
# ($BUILD/wecom-test.so): build it, fetch @wecom/crypto, then run them
# through node-tap.sh. From the top of the tree.
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-test.so" >/dev/null ||
    { echo "Bail out! cannot build $BUILD/wecom-test.so"; exit 1; }
if [ ! -d tests/node_modules/@wecom/crypto ] || [ ! -d tests/node_modules/ws ]; then
	(cd tests && npm install --no-audit --no-fund --loglevel=error) >&2 || exit 1
fi
exec sh tests/node-tap.sh "$@"
