# The push API and the relay for monitoring systems (issue 5).
# Included by the top-level Makefile, after outbox.mk.

CORE_SRC += framework/push_request.c framework/push_keys.c \
	framework/push_alert.c framework/netlist.c
TESTS	+= $(BUILD)/tests/test_push_alert $(BUILD)/tests/test_push
KORE_SRC += framework/push.c framework/relay.c
