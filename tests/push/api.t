#!/bin/sh
# SPDX-License-Identifier: ISC
# The push API and the relay: a real Kore server with the
# test apps (build/wecom-test.so), driven over HTTP by node:test.

cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/push/*.test.mjs
