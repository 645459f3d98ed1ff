# influx-wal-relay: one Makefile, pkg-config for the libraries, Debian packages installed on demand.
# `make run` and `make test` are the two commands a fresh Debian 12 machine needs.

VERSION := $(shell cat VERSION)
CC ?= cc
BUILD ?= build
SANITIZE ?=
OPT ?= -O2

LLHTTP_SRC_DIR := /usr/share/llhttp
LLHTTP_INC_DIR := /usr/share/include/llhttp
PKGS := lmdb libuv libcurl zlib jansson openssl snappy libisal

# Debian packages: what the build needs, then what the tests and benchmarks need.
DEB_BUILD := build-essential pkg-config liblmdb-dev libuv1-dev libcurl4-openssl-dev zlib1g-dev \
	libjansson-dev libssl-dev libsnappy-dev libisal-dev node-llhttp
DEB_TEST := influxdb influxdb-client haproxy python3 python3-influxdb clang libclang-rt-14-dev \
	lmdb-utils curl wrk prometheus python3-snappy collectd-core netdata-core chromium \
	$(if $(shell command -v npm 2>/dev/null),,npm)
# packaging/packaging.mk adds the packaging tools and the deb, rpm and package-test targets.
DEB_PACKAGING :=
-include packaging/packaging.mk
DEB_ALL = $(DEB_BUILD) $(DEB_TEST) $(DEB_PACKAGING)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all,)
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -I. -I$(BUILD)/gen -I$(LLHTTP_INC_DIR) $(PKG_CFLAGS) \
	-DIWR_VERSION='"$(VERSION)"' $(SAN_FLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)
# llhttp's generated C gets the required warnings, not our house extras (prototypes, shadowing).
LLHTTP_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-I$(LLHTTP_INC_DIR) $(SAN_FLAGS) $(CFLAGS)

LIB_SRC := $(wildcard common/*.c wal/*.c config/*.c relay/*.c replay/*.c scrub/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LLHTTP_OBJ := $(BUILD)/obj/llhttp/api.o $(BUILD)/obj/llhttp/http.o $(BUILD)/obj/llhttp/llhttp.o
LIB := $(BUILD)/libiwr.a

BINS := $(BUILD)/influx-wal-relay $(BUILD)/influx-wal
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
# sink204 is a tool the bench scripts start, not a benchmark: run.sh runs only bench_*.
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%) $(BUILD)/bench/sink204
# LD_PRELOAD shims for the tests; never sanitized (preloaded ahead of the sanitizer runtime).
SHIMS := $(BUILD)/tests/tools/powerloss.so
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/bin/%)

.PHONY: all deps lib test unit asan bench fuzz fuzz-build run clean fmt check-deps node-deps \
	screenshot
.DEFAULT_GOAL := all

all: deps
	@$(MAKE) --no-print-directory binaries

binaries: $(BINS) $(UNIT_BINS) $(BENCH_BINS) $(SHIMS)

# Installs whatever Debian package is missing; silent and quick when all are present.
deps:
	@missing=$$(for p in $(DEB_ALL); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

lib: $(LIB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The status page is served from the binary: relay/status_page.html becomes one C string.
$(BUILD)/gen/relay/status_page_html.h: relay/status_page.html
	@mkdir -p $(dir $@)
	@{ echo '/* Generated from relay/status_page.html by the Makefile: edit that file. */'; \
	  echo 'static const char status_page_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/??/?\\?/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } >$@.tmp && mv $@.tmp $@
$(BUILD)/obj/relay/status_page.o: $(BUILD)/gen/relay/status_page_html.h

# llhttp is compiled from Debian's node-llhttp sources, never copied into this tree.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_SRC_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(LLHTTP_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ) $(LLHTTP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/influx-wal-relay: $(wildcard cmd/influx-wal-relay/*.c) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/influx-wal: $(wildcard cmd/influx-wal/*.c cmd/influx-wal/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.c,$^) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/tests/tools/%.so: tests/tools/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -fPIC -shared $(CFLAGS) -o $@ $< -lpthread

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

# Fuzz targets: libFuzzer from Debian's clang, the library rebuilt with coverage and sanitizers.
fuzz-build: deps
	@$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz \
		SANITIZE=fuzzer-no-link,address,undefined OPT=-O1 lib $(FUZZ_BINS)

build/fuzz/bin/%: tests/fuzz/%.c build/fuzz/libiwr.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< build/fuzz/libiwr.a $(LDFLAGS_ALL) $(PKG_LIBS)

# FUZZ_SECONDS per target; `make test` runs a short smoke of each, `make fuzz` a longer run.
FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run_fuzz.sh build/fuzz/bin

test: deps
	@$(MAKE) --no-print-directory binaries
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory node-deps
	@BUILD=$(BUILD) tests/run.sh

# npm packages of the browser test, as tests/package-lock.json pins them, into tests/node_modules
# (git-ignored). playwright-core drives Debian's /usr/bin/chromium: it never downloads one.
NODE_STAMP := tests/node_modules/.package-lock.json
node-deps: $(NODE_STAMP)
$(NODE_STAMP): tests/package.json tests/package-lock.json
	cd tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Refresh docs/status-page.png (the README shows it) from the browser test's outage shot.
screenshot: deps
	@$(MAKE) --no-print-directory binaries node-deps
	@IWR_SCREENSHOT=docs/status-page.png BUILD=$(BUILD) ONLY=test_status_page tests/run.sh

unit: deps
	@$(MAKE) --no-print-directory binaries
	@BUILD=$(BUILD) TESTS=unit tests/run.sh

# IWR_SANITIZED tells the tests that RSS figures are the sanitizer's (reported, not asserted).
asan: deps
	@IWR_SANITIZED=1 $(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined \
		OPT=-O1 test

bench: deps
	@$(MAKE) --no-print-directory binaries
	@BUILD=$(BUILD) bench/run.sh

run: deps
	@$(MAKE) --no-print-directory binaries
	@BUILD=$(BUILD) scripts/run-local.sh

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d)
