#!/bin/sh
# SPDX-License-Identifier: ISC
# docs/api.md's curl examples, run as printed.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/kore/docs_api.test.mjs
