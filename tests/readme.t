#!/bin/sh
# The handler file the README tells users to copy must compile as is,
# against the public header only.
echo "1..1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/ { n++; on = (n == 1); next } /^```$/ { on = 0 } on' README.md \
    > "$tmp/hello.c"
if grep -q WECOM_APP "$tmp/hello.c" &&
    cc -std=c99 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
    -Iinclude/wecom -c "$tmp/hello.c" -o "$tmp/hello.o" 2> "$tmp/err"; then
	echo "ok 1 - the README's complete handler file compiles"
else
	sed 's/^/# /' "$tmp/err"
	echo "not ok 1 - the README's complete handler file compiles"
fi
