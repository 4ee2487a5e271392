#!/bin/sh
# SPDX-License-Identifier: ISC
# The llm app through the real server, against a fake OpenAI endpoint.
cd "$(dirname "$0")/../.." || exit 1
exec sh tests/server-tap.sh tests/apps/llm.test.mjs
