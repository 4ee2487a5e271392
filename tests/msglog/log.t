#!/bin/sh
# SPDX-License-Identifier: ISC
# The message log through the real server (build/wecom-test.so):
# traffic in, GET /api/v1/messages out, node:test.

cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/msglog/*.test.mjs
