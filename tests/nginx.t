#!/bin/sh
# SPDX-License-Identifier: ISC
# The shipped nginx configuration (conf/nginx/) run by the real nginx in
# front of the real Kore server (build/wecom-test.so): every documented
# endpoint reaches Kore, /metrics and /healthz do not, and no secret in a
# URL lands in nginx's logs. Skipped without nginx (make test installs it).

cd "$(dirname "$0")/.." || exit 1
exec sh tests/server-tap.sh tests/nginx/
