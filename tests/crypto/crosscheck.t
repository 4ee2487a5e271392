#!/bin/sh
# SPDX-License-Identifier: ISC
# crypto/ against Tencent's @wecom/crypto (tests/crypto/crosscheck.test.mjs).
# The C driver is not in the Makefile's TESTS: build it here. BUILD=dir
# picks another build, e.g. BUILD=build/asan with make SANITIZE=1.
BUILD=${BUILD:-build}
if ! make -s BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" \
    "$BUILD/tests/crypto/test_crypto_tool" >&2; then
	echo "Bail out! cannot build $BUILD/tests/crypto/test_crypto_tool"
	exit 1
fi
# prove's YAML reader knows "|" but not node's "|-": without the sed a
# failure's diagnostics make prove report a parse error instead.
WECOM_CRYPTO_TOOL=$BUILD/tests/crypto/test_crypto_tool \
    node --test --test-reporter=tap tests/crypto/crosscheck.test.mjs |
    sed -u 's/^\( *[A-Za-z_]*:\) |-$/\1 |/'
