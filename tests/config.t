#!/bin/sh
CMOCKA_MESSAGE_OUTPUT=TAP exec build/tests/test_config
