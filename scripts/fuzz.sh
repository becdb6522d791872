#!/usr/bin/env bash
# Fuzzes tollgate's parsers for a bounded time: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]
# (default 30 s, every target; FUZZ_JOBS=N fuzzes N targets at once, each for the full time).
# Builds the libFuzzer targets in build/fuzz (clang++ 14) if needed.
# An input that crashes or times out is copied to tests/fuzz/regressions/<target>/, where ctest's
# fuzz_regression.<target> replays it from then on; the script then exits non-zero. New coverage
# goes to build/fuzz/corpus/<target>/ (not committed). Run it for hours: scripts/fuzz.sh 36000
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift $(( $# > 0 ? 1 : 0 ))
all_targets=(jwt_verifier base64url credits extractors credit_service state_file journal settlement_journal plan_webhook redis_ids)
targets=("${@:-${all_targets[@]}}")
build=build/fuzz

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ -DTOLLGATE_BUILD_FUZZERS=ON >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# FUZZ_JOBS targets fuzz at once (default 1; CI sets one per core): each still gets its full time.
jobs=${FUZZ_JOBS:-1}

# Fuzzes one target; its report goes to $work/report and its verdict to $work/failed (if any).
fuzz_one() {
  local target=$1 work="$build/fuzz-runs/$1" corpus="$build/corpus/$1" status=0 found=0
  {
    printf '\n==== fuzzing %s for %ss ====\n' "$target" "$seconds"
    # New inputs go to the first corpus directory (the scratch one); the committed seeds are read only.
    "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$work/" "$corpus" "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target" \
      >"$work/log" 2>&1 || status=$?
    grep -aE '^#[0-9]+[[:space:]]' "$work/log" | tail -n 1 || true
    grep -aE '^stat::(number_of_executed_units|peak_rss_mb)' "$work/log" || true
    for artifact in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-*; do
      [ -e "$artifact" ] || continue
      cp "$artifact" "tests/fuzz/regressions/$target/"
      printf 'FOUND: %s, kept as tests/fuzz/regressions/%s/%s\n' "$target" "$target" "$(basename "$artifact")"
      found=1
    done
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
      grep -aE 'ERROR|runtime error|fuzz check failed|SUMMARY' "$work/log" | head -5 || true
      printf 'see %s/log\n' "$work"
      touch "$work/failed"
    fi
  } >"$work/report"
}

for target in "${targets[@]}"; do
  work="$build/fuzz-runs/$target"
  rm -rf "$work"
  mkdir -p "$work" "$build/corpus/$target" "tests/fuzz/regressions/$target"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  fuzz_one "$target" &
done
wait

failed=()
for target in "${targets[@]}"; do
  cat "$build/fuzz-runs/$target/report"
  [ ! -e "$build/fuzz-runs/$target/failed" ] || failed+=("$target")
done

if [ ${#failed[@]} -ne 0 ]; then
  printf '\nfuzzing found problems in: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nfuzzing: no findings in %s (%ss each)\n' "${targets[*]}" "$seconds"
