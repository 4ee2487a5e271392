# Shared memory for the worker processes: the retry table and the
# metrics counters. Included by the top-level Makefile.

CORE_SRC += framework/shm.c framework/dedupe.c framework/metrics.c
TESTS	+= $(BUILD)/tests/test_dedupe $(BUILD)/tests/test_metrics
