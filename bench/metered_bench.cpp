// Microbenchmarks: a metered call vs the bare handler, and memory_ledger lock+settle per operation.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include <fmt/format.h>

#include <tollgate/metrics.hpp>
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

// What the metered benchmarks share: one user with a large balance on the in-process ledger, and
// the handler behind metered (extract, lock, run, price by size, settle).
using bench_metered =
    tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::by_response_size<0.5_cr, 0.1_cr>>;

void add_bench_user(tollgate::memory_ledger& ledger) {
  ledger.add_user("bench-user", tollgate::credits::whole(1'000'000'000));
  ledger.add_credential("bench-user", "bench-user");
}

bench_metered metered_route(tollgate::memory_ledger& ledger, tollgate::metered_config config = {tollgate::logger(tollgate::log_level::info), {}}) {
  add_bench_user(ledger);
  return bench_metered{ledger, handler, std::move(config)};
}

// One request a loop iteration, on the blocking path.
void serve_blocking(benchmark::State& state, const bench_metered& m) {
  const auto req = make_request();
  for (auto _ : state) {
    tollgate::basic_response res;
    m(req, res);
    benchmark::DoNotOptimize(res);
  }
}

// The same on the non-blocking path, as an event loop runs it: the ledger answers inline, so
// `resume` runs the rest at once.
void serve_async(benchmark::State& state, const bench_metered& m) {
  const auto req = make_request();
  for (auto _ : state) {
    tollgate::basic_response res;
    bool done = false;
    m.async_call(req, res, [](tollgate::unique_task task) { std::move(task)(); }, [&done] { done = true; });
    benchmark::DoNotOptimize(done);
  }
}

void BM_metered_memory_ledger(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  serve_blocking(state, metered_route(ledger));
}
BENCHMARK(BM_metered_memory_ledger);

void BM_metered_async_memory_ledger(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  serve_async(state, metered_route(ledger));
}
BENCHMARK(BM_metered_async_memory_ledger);

// The two above with metrics on (README "Metrics"), as shipped: outcome and credit counters for
// every request, ledger latency timed for one request in 16. The difference is what metrics cost.
tollgate::metered_config with_metrics(tollgate::metrics::registry& registry, std::uint32_t time_one_request_in = 16) {
  return {tollgate::logger(tollgate::log_level::info), {}, &registry, "/api/simple", time_one_request_in};
}

void BM_metered_memory_ledger_metrics(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  tollgate::metrics::registry registry;
  serve_blocking(state, metered_route(ledger, with_metrics(registry)));
}
BENCHMARK(BM_metered_memory_ledger_metrics);

// The same timing every request's ledger calls (time_one_request_in = 1): four clock reads a request.
void BM_metered_memory_ledger_metrics_timed(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  tollgate::metrics::registry registry;
  serve_blocking(state, metered_route(ledger, with_metrics(registry, 1)));
}
BENCHMARK(BM_metered_memory_ledger_metrics_timed);

void BM_metered_async_memory_ledger_metrics(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  tollgate::metrics::registry registry;
  serve_async(state, metered_route(ledger, with_metrics(registry)));
}
BENCHMARK(BM_metered_async_memory_ledger_metrics);

// What metered does, written by hand: the baseline metered's own overhead is measured against.
// The same steps: find the user, lock (without an idempotency key, as metered locks an in-process
// ledger), run the handler, price the response by its size (no clock: the price does not read
// it), settle; a refused lock answers 402.
void BM_hand_written_lock_settle(benchmark::State& state) {
  tollgate::memory_ledger ledger;
  add_bench_user(ledger);
  const auto req = make_request();
  for (auto _ : state) {
    tollgate::basic_response res;
    const auto user = req.header("X-User-ID");
    if (!user) {
      res.set_status(401);
      continue;
    }
    auto grant = ledger.lock(*user, 1_cr, {});
    if (!grant) {
      res.set_status(402);
      continue;
    }
    handler(req, res);
    const auto cost = 0.5_cr + (0.1_cr).scaled(static_cast<std::int64_t>(res.body().size()), 1024);
    auto done = ledger.settle(grant->lock_id, std::min(cost, grant->amount));
    benchmark::DoNotOptimize(done);
    benchmark::DoNotOptimize(res);
  }
}
BENCHMARK(BM_hand_written_lock_settle);

// One lock + settle on memory_ledger, the ledger's share of the above. Each thread spends its own
// user's balance on one shared ledger: items/s of 2 threads over 1 is how well users scale.
void BM_memory_ledger_lock_settle(benchmark::State& state) {
  static tollgate::memory_ledger ledger;  // shared by the threads of the threaded runs
  const std::string user = fmt::format("user-{}", state.thread_index());
  ledger.add_user(user, tollgate::credits::whole(1'000'000'000));
  ledger.add_credential(user, user);
  std::uint64_t n = 0;
  char key[16];
  for (auto _ : state) {
    const auto length = fmt::format_to_n(key, sizeof key, "k{}", ++n).size;
    auto grant = ledger.lock(user, 1_cr, std::string_view(key, length));
    auto done = ledger.settle(grant->lock_id, 0.5_cr);
    benchmark::DoNotOptimize(done);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_memory_ledger_lock_settle)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
