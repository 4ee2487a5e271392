#!/bin/sh
# SPDX-License-Identifier: ISC
# The contacts API's rules: folding, parameters, scopes, pages (cmocka, TAP).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/push/test_contacts" >&2 ||
    { echo "Bail out! cannot build test_contacts"; exit 1; }
CMOCKA_MESSAGE_OUTPUT=TAP exec "$BUILD/tests/push/test_contacts"
