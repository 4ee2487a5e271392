#!/bin/sh
# Run every test under prove: tests/*.t are TAP producers (C unit tests
# via cmocka, integration tests via node's test runner).
set -e
cd "$(dirname "$0")/.."
if [ ! -d tests/node_modules/@wecom/crypto ]; then
	(cd tests && npm install --no-audit --no-fund --loglevel=error)
fi
exec prove -f ${TESTS:-tests/*.t}
