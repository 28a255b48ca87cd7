# The README's entry points. `make demo` and `make test` bootstrap and build first.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all bootstrap build test demo test-asan fuzz bench clean
all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

demo: build
	@scripts/demo $(BUILD)

# The suite again under AddressSanitizer + UndefinedBehaviorSanitizer, built with clang (which
# also builds the libFuzzer targets). Without Python: an instrumented extension module cannot be
# loaded by Debian's uninstrumented python3.
test-asan: bootstrap
	@CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DSHOAL_SANITIZE=address,undefined -DSHOAL_FUZZ=ON -DSHOAL_PYTHON=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# Runs each fuzz target for FUZZ_SECONDS (built by test-asan).
FUZZ_SECONDS ?= 30
fuzz: test-asan
	@scripts/fuzz $(ASAN_BUILD) $(FUZZ_SECONDS)

bench: build
	@bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
