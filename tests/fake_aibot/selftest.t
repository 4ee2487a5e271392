#!/bin/sh
# SPDX-License-Identifier: ISC
# The fake aibot long-connection server (tests/fake_aibot) and its CONNECT
# proxy check themselves with a plain ws client: no Kore module needed.
cd "$(dirname "$0")/../.." || exit 1
[ -d tests/node_modules/ws ] || (cd tests && npm install --no-audit --no-fund --loglevel=error) >&2 ||
    { echo "Bail out! npm install failed in tests/"; exit 1; }
exec sh tests/node-tap.sh tests/fake_aibot/selftest.test.mjs
