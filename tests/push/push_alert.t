#!/bin/sh
# SPDX-License-Identifier: ISC
# Alertmanager webhooks as WeCom markdown (cmocka, TAP).
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/tests/push/test_push_alert" >&2 ||
    { echo "Bail out! cannot build test_push_alert"; exit 1; }
CMOCKA_MESSAGE_OUTPUT=TAP exec "$BUILD/tests/push/test_push_alert"
