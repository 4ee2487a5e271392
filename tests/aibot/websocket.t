#!/bin/sh
# SPDX-License-Identifier: ISC
# Bots on the long connection through the real server and the fake WeCom.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/aibot/websocket.test.mjs
