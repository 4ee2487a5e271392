#!/bin/sh
# SPDX-License-Identifier: ISC
# The long connection of intelligent bots (framework/aibot/ws*.c) against
# the fake WeCom long-connection server and its CONNECT proxy
# (tests/fake_aibot), through the driver tests/aibot/test_ws.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/aibot/test_ws" >&2 ||
    { echo "Bail out! cannot build tests/aibot/test_ws"; exit 1; }
[ -d tests/node_modules/ws ] || (cd tests && npm install --no-audit --no-fund --loglevel=error) >&2 ||
    { echo "Bail out! npm install failed in tests/"; exit 1; }
exec sh tests/node-tap.sh tests/aibot/ws.test.mjs
