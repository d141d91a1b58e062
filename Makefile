# Thin wrapper around meson. `make test` and `make demo` install what is
# missing first, so on a fresh Debian 12 machine they are the only commands needed.

BUILD      ?= build
SANBUILD   ?= build-san
FUZZBUILD  ?= build-fuzz
PREFIX     ?= /usr/local
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
MESON_TEST_ARGS ?=

# Debian packages the build, tests, fuzzers and benchmarks need.
DEB_PACKAGES = gcc make pkg-config meson ninja-build python3 \
	libseccomp-dev libsodium-dev libjansson-dev libmicrohttpd-dev libinih-dev \
	libcmocka-dev libcurl4-openssl-dev clang libclang-rt-14-dev \
	systemd python3-prometheus-client scdoc \
	bubblewrap util-linux iproute2

.PHONY: all deps build test unit e2e integration soak demo bench fuzz fuzz-smoke sanitize install clean

all: build

deps:
	@tools/install-deps $(DEB_PACKAGES)

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

unit: build
	meson test -C $(BUILD) --print-errorlogs --no-suite integration $(MESON_TEST_ARGS); rc=$$?; \
		tools/test-summary $(BUILD); exit $$rc

e2e: build
	@if [ -x tests/e2e/run ]; then tests/e2e/run $(BUILD); fi

# The whole system with real processes: airlock run, kill -9, SIGTERM, refused starts.
integration: build
	meson test -C $(BUILD) --print-errorlogs --suite integration $(MESON_TEST_ARGS); rc=$$?; \
		tools/test-summary $(BUILD); exit $$rc

test: deps
	$(MAKE) unit
	$(MAKE) e2e
	$(MAKE) integration

# SOAK_SECONDS of ordinary traffic (generate bursts at 1 to 64 clients, idle
# periods, tools/list, sessions, GET streams): no incident, no restart, every
# call answered. `make e2e` runs the same test for 60 s.
soak: deps build
	tools/soak $(BUILD) $(SOAK_SECONDS)

$(SANBUILD)/build.ninja:
	meson setup $(SANBUILD) -Db_sanitize=address,undefined -Db_lundef=false \
		-Doptimization=1 --prefix=$(PREFIX)

sanitize: deps $(SANBUILD)/build.ninja
	ninja -C $(SANBUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(SANBUILD) --print-errorlogs --suite unit --suite fuzz-corpus \
		--suite attacks $(MESON_TEST_ARGS); rc=$$?; tools/test-summary $(SANBUILD); exit $$rc

$(FUZZBUILD)/build.ninja:
	CC=clang meson setup $(FUZZBUILD) -Dfuzz=true -Db_lundef=false -Doptimization=1

# `make fuzz` runs every libFuzzer target for FUZZ_SECONDS; `make fuzz-smoke` for 20 s each.
fuzz: deps $(FUZZBUILD)/build.ninja
	ninja -C $(FUZZBUILD)
	tools/run-fuzzers $(FUZZBUILD) $(FUZZ_SECONDS)

fuzz-smoke: $(FUZZBUILD)/build.ninja
	ninja -C $(FUZZBUILD)
	tools/run-fuzzers $(FUZZBUILD) 20

bench: deps build
	tools/run-benches $(BUILD)

demo: deps build
	@tools/demo $(BUILD)

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(SANBUILD) $(FUZZBUILD)
