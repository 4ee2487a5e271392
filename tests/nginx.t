#!/bin/sh
# SPDX-License-Identifier: ISC
# The shipped nginx configuration (conf/nginx/) run by the real nginx in
# front of the real Kore server (build/wecom-test.so): every documented
# endpoint reaches Kore, /metrics and /healthz do not, and no secret in a
# URL lands in nginx's logs. Skipped without nginx (make test installs it).

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" "$BUILD/wecom-test.so" >/dev/null ||
    { echo "Bail out! cannot build $BUILD/wecom-test.so"; exit 1; }
if [ ! -d tests/node_modules/@wecom/crypto ]; then
	(cd tests && npm install --no-audit --no-fund --loglevel=error) >&2 || exit 1
fi
exec sh tests/node-tap.sh tests/nginx/
