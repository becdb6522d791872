#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test: g++ and clang++ with -Werror, the suite
# under AddressSanitizer + UBSan, and the Meson build. Each build directory is built once and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

jobs=$(nproc)
ctest_args=(--output-on-failure --timeout 300 -j "$jobs")

step() { printf '\n==== %s ====\n' "$*"; }

step "g++ 12: build and test (Debug, -Wall -Wextra -Werror, benchmarks built)"
cmake -S . -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=g++ -DTOLLGATE_BUILD_BENCH=ON >/dev/null
cmake --build build/gcc -j "$jobs"
ctest --test-dir build/gcc "${ctest_args[@]}"

step "clang++ 14: build and test (benchmarks built too)"
cmake -S . -B build/clang -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_BUILD_BENCH=ON >/dev/null
cmake --build build/clang -j "$jobs"
ctest --test-dir build/clang "${ctest_args[@]}" -E 'packaging|compile_fail'

step "meson (g++): build and test"
if [ ! -d build/meson ]; then CXX=g++ meson setup build/meson >/dev/null; fi
meson compile -C build/meson -j "$jobs"
meson test -C build/meson --print-errorlogs

step "AddressSanitizer + UBSan (clang++): build and test"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan "${ctest_args[@]}" -E 'packaging|compile_fail|single_header_is_fresh'
