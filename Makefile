# SPDX-License-Identifier: ISC
# WeCom callback framework on Kore 4.1 (Debian 12).
#
#   make run        install missing packages, build, start the echo demo
#   make test       build and run every test (unit + integration)
#   make SANITIZE=1 test   the same under ASan + UBSan

PREFIX	?= /usr/local
VERSION	= $(shell cat VERSION)
CC	?= cc
CFLAGS	?= -O2 -g
ifeq ($(SANITIZE),1)
BUILD	?= build/asan
else
BUILD	?= build
endif

DEBIAN_PKGS = kore libssl-dev libxml2-dev libcurl4-openssl-dev libjansson-dev \
	pkg-config libcmocka-dev perl valgrind curl libwebsockets-dev \
	libsqlite3-dev libpq-dev
# Only for `make test`: the relay is checked against a real Alertmanager,
# the shipped nginx files against the real nginx, the README's Python
# forward receiver with python3, the shared store against a PostgreSQL
# each test starts in a temporary directory.
TEST_PKGS = prometheus-alertmanager nginx openssl python3 chromium sqlite3 \
	postgresql postgresql-client

# The layers, bottom-up (docs/architecture.md; tools/layers.conf is what
# `make lint` enforces): each folder may use only those before it.
UTIL_SRC     = $(wildcard framework/util/*.c)
CRYPTO_SRC   = $(wildcard crypto/*.c)
CONF_SRC     = $(wildcard framework/conf/*.c)
STORE_SRC    = $(wildcard framework/store/*.c)
COMMAND_SRC  = $(wildcard framework/command/*.c)
CLIENT_SRC   = $(wildcard framework/client/*.c)
OUTBOX_SRC   = $(wildcard framework/outbox/*.c)
CALLBACK_SRC = $(wildcard framework/callback/*.c)
PUSH_SRC     = $(wildcard framework/push/*.c)
MSGLOG_SRC   = $(wildcard framework/msglog/*.c)
AIBOT_SRC    = $(wildcard framework/aibot/*.c)
KORE_SRC     = $(wildcard framework/kore/*.c)
APPS_SRC     = $(wildcard apps/*.c)
LAYER_DIRS   = framework/util crypto framework/conf framework/store \
	       framework/command \
	       framework/client \
	       framework/outbox framework/callback framework/push \
	       framework/msglog framework/aibot framework/kore

WARN	= -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes \
	  -Wpointer-arith -Wshadow -Wsign-compare -Wno-unused-parameter
# The packaged kore was built with these: struct http_request depends on them.
KORE_DEFS = -DKORE_USE_PGSQL -DKORE_USE_TASKS -I/usr/include/postgresql
# Kept apart from CFLAGS so that `make CFLAGS=...` cannot drop them.
REQ_CFLAGS = -std=c99 -D_GNU_SOURCE -fPIC -Iinclude/wecom \
	  $(LAYER_DIRS:%=-I%) -I$(BUILD)/gen -DWECOM_VERSION='"$(VERSION)"' \
	  $(shell pkg-config --cflags libxml-2.0 libcurl jansson libwebsockets \
	  sqlite3 libpq 2>/dev/null) $(WARN)
LIBS	= $(shell pkg-config --libs libxml-2.0 libcurl jansson openssl \
	  libwebsockets sqlite3 libpq 2>/dev/null)

ifeq ($(SANITIZE),1)
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
	   -fno-omit-frame-pointer
LDSAN	= -fsanitize=address,undefined
endif

ALL_CFLAGS = $(REQ_CFLAGS) $(CFLAGS)

# libwecom.a: everything below the Kore glue.
CORE_SRC   = $(UTIL_SRC) $(CONF_SRC) $(STORE_SRC) $(COMMAND_SRC) $(CLIENT_SRC) $(OUTBOX_SRC) \
	     $(CALLBACK_SRC) $(PUSH_SRC) $(MSGLOG_SRC) $(AIBOT_SRC)
TOOLS      = $(BUILD)/wecom-send $(BUILD)/wecom-admin
TESTS      = $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/*/test_*.c))

CRYPTO_OBJ = $(CRYPTO_SRC:%.c=$(BUILD)/%.o)
CORE_OBJ   = $(CORE_SRC:%.c=$(BUILD)/%.o)
KORE_OBJ   = $(KORE_SRC:%.c=$(BUILD)/%.o) $(APPS_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ    = $(CRYPTO_OBJ) $(CORE_OBJ)

MODULE	= $(BUILD)/wecom.so
# The test module: the same, plus the test apps under tests/apps/.
TEST_MODULE = $(BUILD)/wecom-test.so
TEST_APPS_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/apps/*.c))

.PHONY: all deps run test clean bench fuzz install lint cross-arm64

all: $(MODULE) $(TEST_MODULE) $(TOOLS) $(TESTS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(KORE_DEFS) -MMD -MP -c $< -o $@

# The sandbox names a forbidden syscall from this table: generated from
# the C library's headers of the target, so it knows every call there is.
$(BUILD)/gen/syscalls.h:
	@mkdir -p $(dir $@)
	echo '#include <sys/syscall.h>' | $(CC) -dM -E - | \
	    sed -n 's/^#define __NR_\([a-z0-9_]*\) .*/	{ __NR_\1, "\1" },/p' > $@

$(BUILD)/framework/kore/sandbox.o: $(BUILD)/gen/syscalls.h

$(BUILD)/libwecom.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(MODULE): $(KORE_OBJ) $(BUILD)/libwecom.a
	$(CC) -shared $(LDSAN) -o $@ $(KORE_OBJ) $(BUILD)/libwecom.a $(LIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libwecom.a $(LIBS) -lcmocka $(LDSAN)

$(TEST_MODULE): $(KORE_OBJ) $(TEST_APPS_OBJ) $(BUILD)/libwecom.a
	$(CC) -shared $(LDSAN) -o $@ $(KORE_OBJ) $(TEST_APPS_OBJ) \
	    $(BUILD)/libwecom.a $(LIBS)

WECOM_SEND_SRC = $(wildcard tools/wecom-send*.c)

$(BUILD)/wecom-send: $(WECOM_SEND_SRC) $(wildcard tools/wecom-send*.h) \
	    $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itools -o $@ $(WECOM_SEND_SRC) $(BUILD)/libwecom.a \
	    $(LIBS) $(LDSAN)

WECOM_ADMIN_SRC = $(wildcard tools/wecom-admin*.c)

$(BUILD)/wecom-admin: $(WECOM_ADMIN_SRC) $(wildcard tools/wecom-admin*.h) \
	    $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itools -o $@ $(WECOM_ADMIN_SRC) $(BUILD)/libwecom.a \
	    $(LIBS) $(LDSAN)

# The acceptance test queues through the C API, as handlers do.
$(BUILD)/tests/outbox_put: tests/outbox/put.c $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libwecom.a $(LIBS) $(LDSAN)

# The architecture rules of tools/layers.conf, on the objects just built.
lint: all
	perl tools/lint.pl --build $(BUILD)

$(BUILD)/bench/ceiling.so: bench/ceiling.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(KORE_DEFS) -shared -o $@ $<

$(BUILD)/bench/pipeline: bench/pipeline.c $(BUILD)/apps/echo.o $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/apps/echo.o $(BUILD)/libwecom.a \
	    $(LIBS) $(LDSAN)

$(BUILD)/bench/msglog: bench/msglog.c $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libwecom.a $(LIBS) $(LDSAN)

bench: deps $(MODULE) $(BUILD)/bench/ceiling.so $(BUILD)/bench/pipeline \
	    $(BUILD)/bench/msglog $(BUILD)/wecom-send
	@if [ ! -d tests/node_modules/@wecom/crypto ]; then \
	    (cd tests && npm install --no-audit --no-fund --loglevel=error); fi
	@command -v wrk >/dev/null || sh tools/deps.sh wrk
	@sh bench/run.sh
	@sh bench/slow.sh

# libFuzzer targets: built by clang with ASan+UBSan, each run FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = decrypt xml config api envelope json
FUZZ_SRC = $(CRYPTO_SRC) $(CORE_SRC)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_SRC)
	@mkdir -p $(dir $@)
	@command -v clang >/dev/null || sh tools/deps.sh clang
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(REQ_CFLAGS) \
	    -o $@ $< $(FUZZ_SRC) $(LIBS)

# The same targets with gcc and a plain main: the tests replay the seeds
# and every input that once crashed.
$(BUILD)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c $(BUILD)/libwecom.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< fuzz/replay.c $(BUILD)/libwecom.a $(LIBS) \
	    $(LDSAN)

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$t && \
	    echo "fuzz_$$t: $(FUZZ_SECONDS)s" && \
	    $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=fuzz/crashes/$$t- -print_final_stats=1 \
	        $(BUILD)/fuzz/corpus-$$t fuzz/seeds/$$t 2>&1 | \
	        grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || exit 1; \
	done

# The Kore glue alone, for handler modules built out of tree.
$(BUILD)/libwecom-kore.a: $(KORE_SRC:%.c=$(BUILD)/%.o)
	rm -f $@
	ar rcs $@ $^

HEADERS = $(wildcard include/wecom/*.h)

install: $(MODULE) $(BUILD)/wecom-send $(BUILD)/wecom-admin \
	    $(BUILD)/libwecom.a $(BUILD)/libwecom-kore.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/wecom \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include/wecom \
	    $(DESTDIR)$(PREFIX)/share/wecom \
	    $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/wecom-send $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BUILD)/wecom-admin $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(MODULE) $(DESTDIR)$(PREFIX)/lib/wecom/wecom.so
	install -m 0644 $(BUILD)/libwecom.a $(BUILD)/libwecom-kore.a \
	    $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(HEADERS) $(DESTDIR)$(PREFIX)/include/wecom/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    tools/wecom.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/wecom.pc
	sed 's|^load.*|load		$(PREFIX)/lib/wecom/wecom.so|' kore.conf > \
	    $(DESTDIR)$(PREFIX)/share/wecom/kore.conf
	install -m 0600 conf/wecom.conf.example $(DESTDIR)$(PREFIX)/share/wecom/
	sed 's|^load.*|load		$(PREFIX)/lib/wecom/wecom.so|' \
	    conf/kore-production.conf > \
	    $(DESTDIR)$(PREFIX)/share/wecom/kore-production.conf
	install -d $(DESTDIR)$(PREFIX)/share/wecom/nginx \
	    $(DESTDIR)$(PREFIX)/share/wecom/systemd
	install -m 0644 conf/nginx/*.conf $(DESTDIR)$(PREFIX)/share/wecom/nginx/
	install -m 0644 conf/systemd/wecom.service conf/systemd/wecom.tmpfiles \
	    conf/systemd/camera.conf $(DESTDIR)$(PREFIX)/share/wecom/systemd/
	install -m 0644 tools/wecom-send.1 tools/wecom-admin.1 \
	    $(DESTDIR)$(PREFIX)/share/man/man1/

deps:
	@sh tools/deps.sh $(DEBIAN_PKGS)

run: deps all
	stdbuf -oL kore -f -n -r -c kore.conf

test: deps all
	@sh tools/deps.sh $(TEST_PKGS)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/run.sh

# The tree cross-built for arm64 into build/arm64, its unit tests under
# qemu-user (as root: installs what is missing; TAP out).
cross-arm64:
	@sh tools/cross-arm64.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
