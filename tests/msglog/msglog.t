#!/bin/sh
# SPDX-License-Identifier: ISC
# The message log on a real SQLite file: filters, pages, retention,
# drops (cmocka, TAP).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/msglog/test_msglog" >&2 ||
    { echo "Bail out! cannot build test_msglog"; exit 1; }
CMOCKA_MESSAGE_OUTPUT=TAP exec "$BUILD/tests/msglog/test_msglog"
