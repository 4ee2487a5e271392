#!/bin/sh
# SPDX-License-Identifier: ISC
# The push API's rules: keys, defaults, scopes, refusals (cmocka, TAP).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/push/test_push" >&2 ||
    { echo "Bail out! cannot build test_push"; exit 1; }
CMOCKA_MESSAGE_OUTPUT=TAP exec "$BUILD/tests/push/test_push"
