#!/bin/sh
# SPDX-License-Identifier: ISC
# Live events (GET /api/v1/events, a WebSocket) through the real server
# with two workers: keys, scopes, filters, either worker's callbacks,
# pings, timeouts and a slow client.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/kore/events.test.mjs
