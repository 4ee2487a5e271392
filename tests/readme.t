#!/bin/sh
# SPDX-License-Identifier: ISC
# The handler file the README shows is apps/hello.c, word for word (bar
# its SPDX line): it compiles against the public header only here, and
# tests/callback/hello.test.mjs runs it in the real server.
echo "1..2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ { n++; on = (n == 1); next } /^```$/ { on = 0 } on' README.md \
    > "$tmp/hello.c"
if sed 1d apps/hello.c | diff -u - "$tmp/hello.c" > "$tmp/diff"; then
	echo "ok 1 - the README's complete handler file is apps/hello.c"
else
	sed 's/^/# /' "$tmp/diff"
	echo "not ok 1 - the README's complete handler file is apps/hello.c"
fi
if grep -q WECOM_APP apps/hello.c &&
    cc -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
    -Iinclude/wecom -c apps/hello.c -o "$tmp/hello.o" 2> "$tmp/err"; then
	echo "ok 2 - apps/hello.c compiles against the public header alone"
else
	sed 's/^/# /' "$tmp/err"
	echo "not ok 2 - apps/hello.c compiles against the public header alone"
fi
