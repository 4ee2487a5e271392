#!/bin/sh
# SPDX-License-Identifier: ISC
# The status page (/status, /status.json) through the real server, and
# in headless chromium when it can start.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/kore/status.test.mjs
