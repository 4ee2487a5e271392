#!/bin/sh
# wecom-send and the C client against the fake WeCom API (tests/fake_wecom).
cd "$(dirname "$0")/.." && exec node --test --test-reporter=tap tests/client/*.test.mjs
