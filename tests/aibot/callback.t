#!/bin/sh
# SPDX-License-Identifier: ISC
# Intelligent bots through the real server: JSON callbacks and streams.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/aibot/callback.test.mjs
