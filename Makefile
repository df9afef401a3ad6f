# Tollgate build. `make` builds build/tollgate-cp and build/tollgate-dp; `make test` installs
# what is missing, builds, and runs unit and integration tests. SAN=1 builds everything with
# ASan+UBSan into build/san/.
SAN      ?=
ifeq ($(SAN),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD    ?= build
SANFLAGS :=
endif

CC       ?= cc
# Debian's interpreter: pytest and requests come as Debian packages
PYTHON   ?= /usr/bin/python3
PKGS     := jansson yaml-0.1 libpcre2-8 openssl zlib
PKGS_DP  := $(PKGS)
PKGS_CP  := $(PKGS) libpq libmicrohttpd gnutls
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Wshadow -Wmissing-prototypes -Werror $(SANFLAGS)
CPPFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -MMD -MP
LDFLAGS  += $(SANFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SHARED_SRC := $(wildcard shared/*.c shared/plugins/*.c)
DP_SRC     := $(wildcard dp/*.c dp/plugins/*.c)
CP_SRC     := $(wildcard cp/*.c)
UNIT_SRC   := $(wildcard tests/unit/shared/*_test.c)
UNIT_DP_SRC := $(wildcard tests/unit/dp/*_test.c tests/unit/dp/plugins/*_test.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)

SHARED_OBJ := $(SHARED_SRC:%.c=$(BUILD)/obj/%.o)
DP_OBJ     := $(DP_SRC:%.c=$(BUILD)/obj/%.o)
CP_OBJ     := $(CP_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%_test.c=$(BUILD)/tests/%_test) \
              $(UNIT_DP_SRC:tests/unit/%_test.c=$(BUILD)/tests/%_test)
DP_LIB_OBJ := $(filter-out $(BUILD)/obj/dp/main.o,$(DP_OBJ))
LIBDP      := $(BUILD)/libtollgate-dp.a
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
LIBSHARED  := $(BUILD)/libtollgate-shared.a

.PHONY: all deps test unit integration replay run bench fuzz clean format
all: $(BUILD)/tollgate-dp $(BUILD)/tollgate-cp $(BUILD)/libtollgate-proto.a

# keep intermediate objects (fuzz builds) between runs
.SECONDARY:

# ---- the cluster protocol: generated C lives in build/, never in git ----
PROTO_SRC := $(wildcard proto/*.proto)
PROTO_C   := $(PROTO_SRC:proto/%.proto=$(BUILD)/proto/%.pb-c.c)
PROTO_OBJ := $(PROTO_C:%.c=%.o)

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(CC) $(CPPFLAGS) $(shell pkg-config --cflags libprotobuf-c) -I$(BUILD)/proto $(CFLAGS) -c $< -o $@

$(BUILD)/libtollgate-proto.a: $(PROTO_OBJ)
	$(AR) rcs $@ $^

deps:
	@deploy/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Ishared -Idp $(CFLAGS) -c $< -o $@

$(LIBSHARED): $(SHARED_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBDP): $(DP_LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

# plugin handlers are found through weak references, which do not pull archive members:
# the data plane's archive is linked whole
WHOLE_LIBDP = -Wl,--whole-archive $(LIBDP) -Wl,--no-whole-archive

$(BUILD)/tollgate-dp: $(BUILD)/obj/dp/main.o $(LIBDP) $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/obj/dp/main.o $(WHOLE_LIBDP) $(LIBSHARED) $(PKG_LIBS) \
	    -lev -lcares -lpthread -lm

# the control plane's objects also see libpq, libmicrohttpd and GnuTLS
$(CP_OBJ): PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS_CP) 2>/dev/null)

# migrations/*.sql are embedded in the control plane (migrations/embed.sh writes the C)
MIG_SQL := $(sort $(wildcard migrations/*.sql))
$(BUILD)/gen/migrations.c: $(MIG_SQL) migrations/embed.sh
	@mkdir -p $(dir $@)
	sh migrations/embed.sh $(MIG_SQL) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CPPFLAGS) $(shell pkg-config --cflags libpq) -Icp $(CFLAGS) -c $< -o $@

$(BUILD)/tollgate-cp: $(CP_OBJ) $(BUILD)/gen/migrations.o $(LIBSHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(PKGS_CP)) -lpthread -lm

# ---- tests ----
$(BUILD)/tests/%_test: tests/unit/%_test.c $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Ishared -Itests/unit $(CFLAGS) -o $@ $< $(LIBSHARED) \
	    $(LDFLAGS) $(PKG_LIBS) $(shell pkg-config --libs cmocka) -lm

$(BUILD)/tests/dp/%_test: tests/unit/dp/%_test.c $(LIBDP) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Ishared -Idp -Itests/unit $(CFLAGS) -o $@ $< $(WHOLE_LIBDP) \
	    $(LIBSHARED) $(LDFLAGS) $(PKG_LIBS) $(shell pkg-config --libs cmocka) -lev -lcares -lpthread -lm

# each fuzz target is also built as a plain program that replays its corpus (make test)
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIBDP) $(LIBSHARED)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Ishared -Idp $(CFLAGS) -o $@ $< tests/fuzz/replay_main.c \
	    $(WHOLE_LIBDP) $(LIBSHARED) $(LDFLAGS) $(PKG_LIBS) -lev -lcares -lpthread -lm

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

replay: $(REPLAY_BIN)
	@set -e; for t in $(REPLAY_BIN); do \
	    name=$${t##*/replay_fuzz_}; echo "== replay $$name"; \
	    $$t tests/fuzz/corpus/$$name; done

integration: all
	TOLLGATE_BUILD=$(BUILD) $(PYTHON) -m pytest -q tests/integration

test: deps
	$(MAKE) all unit replay
	$(MAKE) integration

# ---- running ----
run: deps all
	@tests/run-local.sh $(BUILD)

# ---- benchmarks and fuzzing ----
bench: deps
	$(MAKE) all $(BUILD)/tollgate-bench-load $(BUILD)/tollgate-bench-snapshot
	@tests/bench/run.sh $(BUILD)
	@tests/bench/proxy.sh $(BUILD)
	@tests/bench/plugins.sh $(BUILD)
	@tests/bench/admin.sh $(BUILD)

$(BUILD)/tollgate-bench-snapshot: tests/bench/bench_snapshot.c $(LIBDP) $(LIBSHARED)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Ishared -Idp $(CFLAGS) -o $@ $< $(WHOLE_LIBDP) $(LIBSHARED) \
	    $(LDFLAGS) $(PKG_LIBS) -lev -lcares -lpthread -lm

$(BUILD)/tollgate-bench-load: tests/bench/bench_load.c $(LIBSHARED)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) -Ishared $(CFLAGS) -o $@ $< $(LIBSHARED) $(LDFLAGS) $(PKG_LIBS) -lm

FUZZ_BUILD := build/fuzz
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
FUZZ_SHARED_OBJ := $(SHARED_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) \
                   $(filter-out $(FUZZ_BUILD)/obj/dp/main.o,$(DP_SRC:%.c=$(FUZZ_BUILD)/obj/%.o))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(PKG_CFLAGS) -Ishared -Idp $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SHARED_OBJ)
	clang -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(PKG_CFLAGS) -Ishared -Idp $(FUZZ_CFLAGS) \
	    -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -lev -lcares -lpthread -lm

fuzz: deps $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do \
	    name=$${t##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
	    echo "== fuzz $$name for $(FUZZ_SECONDS)s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
	        -artifact_prefix=$(FUZZ_BUILD)/crash-$$name- \
	        $(FUZZ_BUILD)/corpus/$$name tests/fuzz/corpus/$$name; done

format:
	clang-format -i $(SHARED_SRC) $(DP_SRC) $(CP_SRC) shared/*.h dp/*.h cp/*.h 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/gen -name '*.d' 2>/dev/null)
