// Lock+settle pairs per second through redis_ledger from N threads: what bench/run.sh sets
// against redis-benchmark running the same lock script with EVALSHA on the same server.
//
//   tollgate_redis_bench --url redis://127.0.0.1:PORT [--threads N] [--seconds S]
//   tollgate_redis_bench --url … --print-lock-command   (the EVALSHA arguments, one per line)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <tollgate/ledgers/redis_ledger.hpp>
#include <tollgate/redis/ledger_scripts.hpp>
#include <tollgate/redis/lock_id.hpp>

int main(int argc, char** argv) {
  std::string url;
  int threads = 8;
  double seconds = 5;
  bool print_lock_command = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--url" && i + 1 < argc) url = argv[++i];
    else if (arg == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (arg == "--seconds" && i + 1 < argc) seconds = std::atof(argv[++i]);
    else if (arg == "--print-lock-command") print_lock_command = true;
    else {
      fmt::print(stderr, "usage: {} --url redis://host:port [--threads N] [--seconds S] [--print-lock-command]\n", argv[0]);
      return 2;
    }
  }
  tollgate::redis_ledger_options options;  // the defaults, but for the key prefix and no sweep thread
  options.url = url;
  options.key_prefix = "tgbench";
  options.sweep_every = std::chrono::milliseconds(0);
  tollgate::redis_ledger ledger(options);
  const std::string user = "bench-user";
  if (!ledger.add_user(user, tollgate::redis_ledger::max_amount) || !ledger.add_credential(user, user)) {
    fmt::print(stderr, "cannot set up the bench user on {}\n", url);
    return 1;
  }
  // One pair first: Redis learns the scripts (NOSCRIPT, then EVAL) before anything is timed.
  const auto first = ledger.lock(user, tollgate::credits::from_micros(1), "warm-up");
  if (!first || !ledger.settle(first->lock_id, tollgate::credits::from_micros(1))) {
    fmt::print(stderr, "the warm-up lock+settle failed\n");
    return 1;
  }

  if (print_lock_command) {  // the lock script exactly as redis_ledger calls it, for redis-benchmark
    const auto& lock = tollgate::redis::ledger_scripts::lock();
    fmt::print("EVALSHA\n{}\n5\n", lock.sha1);
    for (const char* key : {"account", "locks", "open", "closed", "keys"}) fmt::print("{}:{{{}}}:{}\n", options.key_prefix, user, key);
    // amount (1 micro-credit), an idempotency key (redis-benchmark makes it random), TTL, grace, reap limit, nonce.
    fmt::print("1\nrb-__rand_int__\n{}\n{}\n{}\n{}\n", options.lock_ttl.count(), options.retention_grace.count(), options.reap_limit,
               tollgate::redis::new_lock_nonce());
    return 0;
  }

  std::atomic<bool> stop{false};
  std::atomic<long> pairs{0}, failures{0};
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      long n = 0;
      for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const auto grant = ledger.lock(user, tollgate::credits::from_micros(1), fmt::format("t{}-{}", t, i));
        if (grant && ledger.settle(grant->lock_id, tollgate::credits::from_micros(1))) ++n;
        else failures.fetch_add(1, std::memory_order_relaxed);
      }
      pairs.fetch_add(n, std::memory_order_relaxed);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("pairs_per_second {:.0f}\nscript_calls_per_second {:.0f}\nfailures {}\n", static_cast<double>(pairs) / elapsed,
             2.0 * static_cast<double>(pairs) / elapsed, failures.load());
  return failures == 0 ? 0 : 1;
}
