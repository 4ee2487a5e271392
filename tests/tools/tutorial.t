#!/bin/sh
# SPDX-License-Identifier: ISC
# The README's first-bot tutorial, step by step.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-admin" >&2 ||
    { echo "Bail out! cannot build wecom-admin"; exit 1; }
exec sh tests/server-tap.sh tests/tools/tutorial.test.mjs
