#!/bin/sh
CMOCKA_MESSAGE_OUTPUT=TAP exec "${BUILD:-build}/tests/test_metrics"
