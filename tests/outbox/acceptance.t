#!/bin/sh
# SPDX-License-Identifier: ISC
# The outbox through wecom-send --spool / --flush against the fake WeCom
# (tests/fake_wecom): retries, failures, crashes, concurrent drainers.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-send" \
    "$BUILD/tests/outbox_put" >&2 ||
    { echo "Bail out! cannot build wecom-send"; exit 1; }
exec sh tests/node-tap.sh tests/outbox/*.test.mjs
