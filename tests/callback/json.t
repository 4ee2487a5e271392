#!/bin/sh
# SPDX-License-Identifier: ISC
CMOCKA_MESSAGE_OUTPUT=TAP exec "${BUILD:-build}/tests/callback/test_json"
