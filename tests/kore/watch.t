#!/bin/sh
# SPDX-License-Identifier: ISC
# The credential watch through the real server and the fake WeCom: one
# alert when a credential starts failing, one recovery message after.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/kore/watch.test.mjs
