#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: g++ and clang++ with -Werror, each in
# Debug and Release (clang's Debug tree runs under AddressSanitizer + UBSan); the Meson build; the
# suite under ThreadSanitizer; the fuzz targets. Each build directory is built once and reused; every stage
# prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
# One compile job more than cores: a compiler waiting on the disk leaves a core idle otherwise.
build_jobs=$((jobs + 1))
ctest_args=(--output-on-failure --timeout 300 -j "$jobs")
# Checked once each, where it is worth most: the README's and docs/' C++ blocks (about two minutes
# of compiling) in the g++ Debug tree, g++ being what Debian users build with; the self-contained
# header check in clang's ASan+UBSan tree. Every tree builds and runs the whole suite.

stage_started=$SECONDS
step() {
  printf '\n==== (previous stage: %ss) %s ====\n' "$((SECONDS - stage_started))" "$*"
  stage_started=$SECONDS
}
trap 'printf "\n==== last stage: %ss; all stages: %ss ====\n" "$((SECONDS - stage_started))" "$SECONDS"' EXIT

# Debug without debug info (CMAKE_CXX_FLAGS_DEBUG empty: -O0, assertions on): nothing reads this
# tree's symbols, and -g was a fifth of its compile time. The sanitizer trees keep -g for their reports.
step "g++ 12: build and test (Debug -O0, -Wall -Wextra -Werror, benchmarks and doc programs built)"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG= -DCMAKE_CXX_COMPILER=g++ -DTOLLGATE_BUILD_BENCH=ON \
  -DTOLLGATE_CHECK_HEADERS=OFF >/dev/null
cmake --build build/gcc -j "$build_jobs"
ctest --test-dir build/gcc "${ctest_args[@]}"

step "g++ 12: build and test (Release: -O3 brings warnings a Debug build never sees)"
cmake -S . -B build/gcc-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=g++ -DTOLLGATE_BUILD_DOC_SNIPPETS=OFF -DTOLLGATE_CHECK_HEADERS=OFF >/dev/null
cmake --build build/gcc-release -j "$build_jobs"
ctest --test-dir build/gcc-release "${ctest_args[@]}" -E 'packaging|compile_fail'

step "clang++ 14: build and test (Release)"
cmake -S . -B build/clang-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_BUILD_DOC_SNIPPETS=OFF -DTOLLGATE_CHECK_HEADERS=OFF >/dev/null
cmake --build build/clang-release -j "$build_jobs"
ctest --test-dir build/clang-release "${ctest_args[@]}" -E 'packaging|compile_fail'

step "meson (g++): build and test (the examples and a representative subset of the test programs)"
# This stage proves the Meson build, not the code again: every dependency object meson.build
# declares (core, json, jwt, httplib, beast, redis through the quickstart), every example, and test
# programs built on each of them, run: the core alone (hot path), json + jwt + httplib (billing),
# the single headers, the credit server's. The other test programs (the core unit suite,
# integration, crash, hostile clients, Redis, conformance, the Beast variants) use the same sources
# and dependency objects and run in the five CMake trees; here they cost half of the stage.
if [ ! -d build/meson ]; then CXX=g++ meson setup build/meson >/dev/null; fi
meson compile -C build/meson -j "$build_jobs" tollgate_quickstart tollgate_quickstart_beast tollgate_billing_limits \
  tollgate_credit_server tollgate_billing_tests tollgate_single_header_tests tollgate_hot_path_tests \
  tollgate_credit_server_tests
mapfile -t meson_tests < <(meson test -C build/meson --no-rebuild --list |
  grep -E '^(billing|single_header|hot_path_allocations|credit_server|single_header_is_fresh|license_headers)$')
[ "${#meson_tests[@]}" -eq 6 ] || { echo "meson: expected tests not found: ${meson_tests[*]}"; exit 1; }
meson test -C build/meson --no-rebuild --print-errorlogs "${meson_tests[@]}"

# clang's Debug tree is the AddressSanitizer + UBSan one: a clang 14 Debug build with -Wall -Wextra
# -Werror like the others, which also builds the benchmarks, the self-contained header check and the
# must-not-compile cases, and runs the whole suite instrumented.
# A separate uninstrumented clang Debug tree found nothing this one does not, and cost ~250 s.
step "clang++ 14 Debug under AddressSanitizer + UBSan: build and test (benchmarks, header check, compile_fail)"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_SANITIZE=ON -DTOLLGATE_BUILD_BENCH=ON \
  -DTOLLGATE_BUILD_DOC_SNIPPETS=OFF >/dev/null
cmake --build build/asan -j "$build_jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan "${ctest_args[@]}" -E 'packaging'

step "ThreadSanitizer (clang++): build and test"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_SANITIZE_THREAD=ON -DTOLLGATE_BUILD_DOC_SNIPPETS=OFF -DTOLLGATE_CHECK_HEADERS=OFF >/dev/null
cmake --build build/tsan -j "$build_jobs"
# detect_deadlocks=0: TSan's lock-order detector can track at most 64 mutexes held by one thread
# and aborts (a CHECK, not a report) beyond; memory_ledger::export_state holds its 64 shard
# mutexes plus one to take a consistent cut. Data-race detection is unaffected. The suppressions
# (tests/tsan.supp) cover only the uninstrumented system cpp-httplib library, and say why.
# TOLLGATE_FLAT_INDEX_ROUNDS: the flat_index model check is single-threaded (nothing for TSan to
# find) and was this tree's longest test by far (131 s); it runs a third of its rounds here.
TSAN_OPTIONS="detect_deadlocks=0:halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" TOLLGATE_FLAT_INDEX_ROUNDS=60000 \
  ctest --test-dir build/tsan "${ctest_args[@]}" -E 'packaging|compile_fail|single_header_is_fresh'

step "libFuzzer (clang++): every crash input ever found, then 15 s of fuzzing per target, one target per core"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_BUILD_FUZZERS=ON >/dev/null
cmake --build build/fuzz -j "$build_jobs" --target tollgate_fuzzers
ctest --test-dir build/fuzz "${ctest_args[@]}" -R '^fuzz_regression[.]'
FUZZ_JOBS=$jobs scripts/fuzz.sh 15
