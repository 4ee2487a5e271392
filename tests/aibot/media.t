#!/bin/sh
# SPDX-License-Identifier: ISC
# A bot's inbound files through the real server: download, decrypt, bounds.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/aibot/media.test.mjs
