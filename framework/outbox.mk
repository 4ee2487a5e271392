# The durable outbox for proactive messages (issue 4, item 4).
# Included by the top-level Makefile, after client.mk.

CORE_SRC += framework/outbox.c framework/outbox_record.c \
	framework/outbox_fs.c framework/outbox_send.c
TESTS	+= $(BUILD)/tests/test_outbox

# The acceptance test queues through the C API, as handlers do.
$(BUILD)/tests/outbox_put: tests/outbox/put.c $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libwecom.a $(LIBS) $(LDSAN)
