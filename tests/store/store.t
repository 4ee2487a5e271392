#!/bin/sh
# SPDX-License-Identifier: ISC
# The shared store ([global] store, docs/ha.md) against a real
# PostgreSQL started in a temporary directory (tests/pg/pg.mjs): wecom-send
# on two hosts, and two real servers with wecom-send.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-send" >&2 ||
    { echo "Bail out! cannot build wecom-send"; exit 1; }
exec sh tests/server-tap.sh tests/store/
