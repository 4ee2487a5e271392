#!/bin/sh
# SPDX-License-Identifier: ISC
# The outbox's record, keys, backoff and atomic files (cmocka, TAP).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/outbox/test_outbox" >&2 ||
    { echo "Bail out! cannot build test_outbox"; exit 1; }
CMOCKA_MESSAGE_OUTPUT=TAP exec "$BUILD/tests/outbox/test_outbox"
