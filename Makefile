# Top-level, non-recursive build for every C service.
#   make                 build all binaries into build/bin
#   make WERROR=1        treat warnings as errors (CI)
#   make SANITIZE=address,undefined   build with sanitizers (unit tests use this)
#   make unit            build and run the C unit tests (cmocka) under ASan/UBSan
#   make fuzz            libFuzzer targets in fuzz/, FUZZ_SECONDS (60) each; fuzz-smoke: 15 s each
#   make test            unit + integration tests (needs the local broker; see README)
#   make up / make down  the whole local stack

CC      ?= cc
BUILD   ?= build
PKGS    := rdkafka jansson libcurl libwebsockets uuid libpq libcrypto
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
           -D_GNU_SOURCE -MMD -MP -Ilibshared $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lpthread -lm
ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
override BUILD := $(BUILD)/san
endif

SERVICES := gateway llm-worker mock-llm persister summarizer
# A service's objects: every .c in its folder; main.c only goes into the binary.
svc_srcs  = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
svc_objs  = $(patsubst %.c,$(BUILD)/obj/%.o,$(call svc_srcs,$(1)))
SH_SRCS  := $(wildcard libshared/*.c)
SH_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(SH_SRCS))
SH_LIB   := $(BUILD)/libshared.a
BINS     := $(addprefix $(BUILD)/bin/,$(SERVICES))
TEST_SRCS := $(wildcard libshared/tests/test_*.c) $(foreach s,$(SERVICES),$(wildcard $(s)/tests/test_*.c))
TEST_BINS := $(patsubst %.c,$(BUILD)/%,$(TEST_SRCS))

.PHONY: all deps unit unit-run test integration frontend-build frontend-test bench up down clean compdb
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(SH_LIB): $(SH_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

define svc_rules
$(BUILD)/bin/$(1): $(BUILD)/obj/$(1)/main.o $(call svc_objs,$(1)) $(SH_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ -o $$@ $$(LDLIBS)
$(BUILD)/$(1)/tests/%: $(1)/tests/%.c $(call svc_objs,$(1)) $(SH_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -I$(1) $$(LDFLAGS) $$^ -o $$@ $$(LDLIBS) -lcmocka
endef
$(foreach s,$(SERVICES),$(eval $(call svc_rules,$(s))))

$(BUILD)/libshared/tests/%: libshared/tests/%.c $(SH_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

# Benchmarks (bench/): the load generator build/bin/loadgen and its unit tests; not built by `make`
# (`make integration` builds it: integration-tests/test_loadgen_smoke.py runs it).
BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out bench/loadgen.c,$(wildcard bench/*.c)))
TEST_BINS  += $(patsubst %.c,$(BUILD)/%,$(wildcard bench/tests/test_*.c))
$(BUILD)/bin/loadgen: $(BUILD)/obj/bench/loadgen.o $(BENCH_OBJS) $(SH_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)
$(BUILD)/bench/tests/%: bench/tests/%.c $(BENCH_OBJS) $(SH_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ibench $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

# Unit tests always run under ASan/UBSan.
unit:
	$(MAKE) --no-print-directory SANITIZE=address,undefined unit-run
unit-run: $(TEST_BINS)
	@set -e; for t in $(TEST_BINS); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

# Fuzzing (fuzz/): libFuzzer targets built with clang under ASan/UBSan; objects in $(BUILD)/fuzz.
#   make fuzz FUZZ_SECONDS=60   run every target that long; fails on a crash, leak or UB report
#   make fuzz-smoke             15 s per target (part of `make test`)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := frames envelope sse oai_chunk
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter \
                -D_GNU_SOURCE -MMD -MP -Ilibshared -Igateway \
                $(shell pkg-config --cflags jansson uuid) $(FUZZ_SAN)
ifeq ($(WERROR),1)
FUZZ_CFLAGS  += -Werror
endif
# The code under test; the linker takes only what each target needs.
FUZZ_LIB_SRCS := gateway/frames.c libshared/sh_envelope.c libshared/sh_uuid.c libshared/sh_time.c \
                 libshared/sh_sse.c libshared/sh_oai_chunk.c libshared/sh_oai_fast.c libshared/sh_err.c
FUZZ_LIB     := $(FUZZ_DIR)/libfuzzed.a
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/bin/fuzz_,$(FUZZ_TARGETS))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_LIB): $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_LIB_SRCS))
	$(AR) rcs $@ $^
$(FUZZ_DIR)/bin/fuzz_%: $(FUZZ_DIR)/obj/fuzz/fuzz_%.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) $^ -o $@ $(shell pkg-config --libs jansson uuid)

.PHONY: fuzz fuzz-build fuzz-smoke
.PRECIOUS: $(FUZZ_DIR)/obj/fuzz/%.o
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	    ./fuzz/run.sh $(FUZZ_DIR)/bin/fuzz_$$t $$t $(FUZZ_SECONDS) $(FUZZ_DIR); done
fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

deps:
	./scripts/deps.sh

integration: all $(BUILD)/bin/loadgen
	python3 -m pytest -q -p no:cacheprovider integration-tests

# The web UI: install (from the lockfile), Vitest unit tests, static export
# into frontend/out (served by the gateway), and the browser tests' packages.
frontend-build:
	cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run -s build
	cd integration-tests/e2e && npm ci --no-audit --no-fund --loglevel=error

frontend-test: frontend-build
	cd frontend && npm test
	cd integration-tests/e2e && npm test

# Everything, from a fresh machine: install what is missing, C unit tests
# under sanitizers, the web UI's unit and browser tests, then the
# integration suite against a real broker and PostgreSQL.
test: deps
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory frontend-test
	$(MAKE) --no-print-directory integration

up: all
	./scripts/stack.sh up
down:
	./scripts/stack.sh down

# The standard benchmark (private Kafka + services on free ports; see BENCHMARKS.md).
bench: all $(BUILD)/bin/loadgen
	BENCH_BIN=$(BUILD)/bin ./bench/run.sh

compdb:
	$(MAKE) clean && bear -- $(MAKE) || echo "install bear for compile_commands.json"

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
