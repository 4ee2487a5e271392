#!/bin/sh
# SPDX-License-Identifier: ISC
# Integration tests of the callback path: a real Kore server with the
# test apps (build/wecom-test.so), driven over HTTP by node:test.

cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/callback/
