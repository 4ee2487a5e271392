#!/bin/sh
# SPDX-License-Identifier: ISC
# wecom-admin: new-app/new-aibot, check against the fake WeCom, callback
# and status against the real server, the outbox, usage errors.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-admin" "$BUILD/wecom-send" >&2 ||
    { echo "Bail out! cannot build wecom-admin"; exit 1; }
exec sh tests/server-tap.sh tests/tools/wecom_admin.test.mjs
