#!/bin/sh
# SPDX-License-Identifier: ISC
# The throw-away PostgreSQL of tests/pg/pg.mjs (Debian's postgresql: a
# fresh cluster in a temporary directory) proves itself: no Kore module
# and no npm package needed.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/node-tap.sh tests/pg/pg_selftest.test.mjs
