#!/bin/sh
# SPDX-License-Identifier: ISC
# The long connection over TLS and a proxy, in the real server.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/aibot/wss.test.mjs
