#!/bin/sh
# SPDX-License-Identifier: ISC
# The wecom-send CLI against the fake WeCom API (tests/fake_wecom).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-send" >&2 ||
    { echo "Bail out! cannot build wecom-send"; exit 1; }
exec sh tests/node-tap.sh tests/tools/wecom_send.test.mjs
