#!/bin/sh
# SPDX-License-Identifier: ISC
# The outbox as the operator sees it: list, retry, drop (cmocka, TAP).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/outbox/test_outbox_admin" >&2 ||
    { echo "Bail out! cannot build test_outbox_admin"; exit 1; }
CMOCKA_MESSAGE_OUTPUT=TAP exec "$BUILD/tests/outbox/test_outbox_admin"
