#!/bin/sh
# SPDX-License-Identifier: ISC
# Run node:test files with TAP that prove can read: node's YAML
# diagnostics ("|-" blocks, multi-line messages) trip prove's YAMLish
# reader, so they are turned into "# " comments, kept for failures only
# and copied to stderr, which prove shows even when it is not verbose.
node --test --test-reporter=tap --test-concurrency=1 --test-timeout=300000 "$@" 2>&1 | awk '
	/^ *(not )?ok [0-9]+/	{ failed = ($0 ~ /^ *not ok/) }
	/^ *---$/		{ yaml = 1; next }
	yaml && /^ *\.\.\.$/	{ yaml = 0; next }
	yaml && failed		{ print "#   " $0; print "#   " $0 > "/dev/stderr"; next }
	yaml			{ next }
	/^ *# Subtest:/		{ next }
				{ print }
'
