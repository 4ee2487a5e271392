#!/bin/sh
# SPDX-License-Identifier: ISC
# The arm64 cross build, the seccomp lists against arm64's syscall
# table and the unit tests under qemu-user (tools/cross-arm64.sh). It
# installs the cross toolchain and arm64 packages the first time, so it
# runs only when WECOM_CROSS=1 asks for it, and once: not again in the
# SANITIZE=1 run.
cd "$(dirname "$0")/.." || exit 1
if [ "${WECOM_CROSS:-0}" != 1 ]; then
	echo "1..0 # SKIP the arm64 cross build runs with WECOM_CROSS=1 (or: make cross-arm64)"
	exit 0
fi
if [ "${SANITIZE:-0}" = 1 ]; then
	echo "1..0 # SKIP the arm64 cross build runs in the plain (not SANITIZE=1) run"
	exit 0
fi
exec sh tools/cross-arm64.sh
