// Microbenchmarks: a metered call vs the bare handler, and memory_ledger lock+settle per operation.
#include <benchmark/benchmark.h>

#include <string>

#include <tollgate/tollgate.hpp>

using namespace tollgate::literals;

namespace {

void handler(const tollgate::basic_request&, tollgate::basic_response& res) { res.set_content("{\"ok\":true}", "application/json"); }

tollgate::basic_request make_request() {
  tollgate::basic_request r;
  r.with_method("GET").with_path("/api/simple").with_header("Accept", "*/*").with_header("X-User-ID", "bench-user");
  return r;
}

// Baseline: the handler called directly.
void BM_handler_direct(benchmark::State& state) {
  const auto req = make_request();
  for (auto _ : state) {
    tollgate::basic_response res;
    handler(req, res);
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_handler_direct);

// The same handler behind metered: extract, lock, run, price, settle on the in-process ledger.
void BM_metered_memory_ledger(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  ledger.add_user("bench-user", tollgate::credits::whole(1'000'000'000));
  ledger.add_credential("bench-user", "bench-user");
  tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::by_response_size<0.5_cr, 0.1_cr>> m{
      ledger, handler, {tollgate::logger(tollgate::log_level::info), {}}};
  const auto req = make_request();
  for (auto _ : state) {
    tollgate::basic_response res;
    m(req, res);
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_metered_memory_ledger);

// One lock + settle on memory_ledger, the ledger's share of the above.
void BM_memory_ledger_lock_settle(benchmark::State& state) {
  static tollgate::memory_ledger ledger;  // shared by the threads of the threaded runs
  if (state.thread_index() == 0) {
    ledger.add_user("u", tollgate::credits::whole(1'000'000'000));
    ledger.add_credential("u", "u");
  }
  std::uint64_t n = 0;
  const std::string prefix = "t" + std::to_string(state.thread_index()) + "-";
  for (auto _ : state) {
    auto grant = ledger.lock("u", 1_cr, prefix + std::to_string(++n));
    auto done = ledger.settle(grant->lock_id, 0.5_cr);
    benchmark::DoNotOptimize(done);
  }
}
BENCHMARK(BM_memory_ledger_lock_settle)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
