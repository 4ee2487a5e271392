#!/bin/sh
# SPDX-License-Identifier: ISC
# Contacts through the real server: the cache, its API, wecom-send --to NAME.
cd "$(dirname "$0")/../.." || exit 1
make -s BUILD="${BUILD:-build}" SANITIZE="${SANITIZE:-0}" "${BUILD:-build}/wecom-send" >/dev/null ||
    { echo "Bail out! cannot build ${BUILD:-build}/wecom-send"; exit 1; }
exec sh tests/server-tap.sh tests/kore/contacts.test.mjs
