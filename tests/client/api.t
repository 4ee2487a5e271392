#!/bin/sh
# SPDX-License-Identifier: ISC
# The C client (token cache, C API) against the fake WeCom API
# (tests/fake_wecom).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-send" \
    "$BUILD/tests/client/test_client_api" >&2 ||
    { echo "Bail out! cannot build wecom-send"; exit 1; }
exec sh tests/node-tap.sh tests/client/*.test.mjs
