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
	bubblewrap util-linux iproute2 haproxy

# 64-bit ARM, cross-built here (docs/arm64.md): Debian's cross compiler, the
# arm64 builds of the same libraries (dpkg multiarch) and qemu to run them.
ARMBUILD   ?= build-arm64
ARM_CROSS   = meson/cross/aarch64-linux-gnu.ini
DEB_PACKAGES_ARM64 = gcc-aarch64-linux-gnu qemu-user-static \
	libseccomp-dev:arm64 libsodium-dev:arm64 libjansson-dev:arm64 libmicrohttpd-dev:arm64 \
	libinih-dev:arm64 libcmocka-dev:arm64 libcurl4-openssl-dev:arm64

.PHONY: all deps build test unit e2e integration soak demo bench fuzz fuzz-smoke sanitize install clean \
	deps-arm64 cross-arm64 test-arm64 deps-arm64-system test-arm64-system

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
	CC=clang meson setup $(FUZZBUILD) -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false -Doptimization=1

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

deps-arm64:
	@tools/install-deps --arch arm64 $(DEB_PACKAGES) $(DEB_PACKAGES_ARM64)

$(ARMBUILD)/build.ninja:
	meson setup $(ARMBUILD) --cross-file $(ARM_CROSS) --prefix=$(PREFIX)

# Every binary for aarch64, in $(ARMBUILD).
cross-arm64: deps-arm64 $(ARMBUILD)/build.ninja
	ninja -C $(ARMBUILD) -j2

# The unit suites that need no namespaces, run under qemu user mode (the
# cross file's exe_wrapper): engine, tokenizer, loaders, channel, JSON-RPC and
# MCP, audit, configuration, and every fuzz corpus. Tests in them that need a
# kernel of their own skip, saying why; the suites listed in ARM64_ELSEWHERE
# run on an arm64 kernel in `make test-arm64-system`. Emulation is about ten
# times slower than the machine, hence the longer timeouts.
ARM64_UNIT = common hw channel mcp audit supervisor control evidence domlog config_keys progress \
	workers_ai workers_ai_kernels workers_ai_serve workers_ai_prompt workers_gate workers_egress
# test_gguf's model runs (every tensor type's greedy text, prefill and batched
# decode) take minutes under emulation: by hand, with
# `meson test -C build-arm64 workers_ai_gguf -t 10`. Its kernel checks (every
# version against the portable one) take seconds: workers_ai_kernels, above.
ARM64_SLOW = workers_ai_gguf
ARM64_ELSEWHERE = sandbox sandbox_net partition freeze integrity detect respond cli gate_egress \
	bench attacks integration; audit_cli_*, man_pages, exec_user, bench_svg and progress_tty \
	(scripts that run the arm64 programs directly)

test-arm64: cross-arm64
	@echo "test-arm64: under qemu-aarch64 user mode; not here (namespaces, seccomp, /proc): $(ARM64_ELSEWHERE); too slow here: $(ARM64_SLOW)"
	meson test -C $(ARMBUILD) --print-errorlogs -t 4 --logbase arm64-unit $(ARM64_UNIT) $(MESON_TEST_ARGS); \
		rc=$$?; meson test -C $(ARMBUILD) --print-errorlogs -t 4 --logbase arm64-fuzz --suite fuzz-corpus \
		$(MESON_TEST_ARGS) || rc=1; tools/test-summary $(ARMBUILD) arm64-unit arm64-fuzz; exit $$rc

# The sandbox, attack and integration suites (and the other tests that need a
# kernel of their own) on Debian's arm64 kernel in qemu-system-aarch64, with a
# root made of the cross-built tree (tools/arm64-system). Too slow for CI:
# docs/arm64.md gives its run time.
ARM64_SYSTEM_TESTS = sandbox sandbox_net partition freeze integrity detect respond cli gate_egress \
	bench suite:attacks suite:integration
ARMSYSTEM ?= build-arm64-system

deps-arm64-system: deps-arm64
	@tools/install-deps --arch arm64 qemu-system-arm cpio

test-arm64-system: deps-arm64-system cross-arm64
	tools/arm64-system $(ARMBUILD) $(ARMSYSTEM) $(ARM64_SYSTEM_TESTS)

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(SANBUILD) $(FUZZBUILD) $(ARMBUILD) $(ARMSYSTEM)
