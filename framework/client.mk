# The corporate API client, wecom-send and their tests (issue 3).
# Included by the top-level Makefile.

CORE_SRC += framework/client_core.c framework/client_error.c \
	framework/client_http.c framework/client_token.c \
	framework/client_relay.c \
	framework/client_msg.c framework/client_send.c \
	framework/client_split.c framework/client_media.c \
	framework/client_appchat.c framework/client_directory.c \
	framework/client_webhook.c framework/client_robot_limit.c
TOOLS	+= $(BUILD)/wecom-send
TESTS	+= $(BUILD)/tests/test_client $(BUILD)/tests/test_client_api

$(BUILD)/wecom-send: tools/wecom-send.c $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libwecom.a $(LIBS) $(LDSAN)
