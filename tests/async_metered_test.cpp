// metered's non-blocking path (async_call): the blocking path's guarantees, with the ledger's answer
// arriving later, on another thread, and the rest of the request resumed on the caller's executor.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <tollgate/tollgate.hpp>
#include <tollgate/ledgers/offloading_ledger.hpp>

using namespace tollgate::literals;
using tollgate::credits;

// A response that can stream, as an event-loop adapter's does: the handler leaves chunks on it,
// and the "connection" reports each chunk the client took and the end to the observer.
struct streamed_response : tollgate::basic_response {
  std::vector<std::string> chunks;
  std::shared_ptr<tollgate::stream_observer> observer;
};
template <>
struct tollgate::response_traits<streamed_response> : tollgate::response_traits<tollgate::basic_response> {
  static int status(const streamed_response& r) { return r.status(); }
  static void set_status(streamed_response& r, int s) { r.set_status(s); }
  static void set_header(streamed_response& r, std::string_view n, std::string_view v) { r.set_header(n, v); }
  static void set_content(streamed_response& r, std::string b, std::string_view t) { r.set_content(std::move(b), t); }
  static std::size_t body_size(const streamed_response& r) { return r.body_size(); }
  static std::optional<std::string_view> header(const streamed_response& r, std::string_view n) { return r.header(n); }
  static bool observe_stream(streamed_response& r, std::shared_ptr<tollgate::stream_observer> o) {
    if (r.chunks.empty()) return false;
    r.observer = std::move(o);
    return true;
  }
  static void abandon_stream(streamed_response& r) { r.chunks.clear(); }
};

namespace {

using user_header = tollgate::from_header<"X-User-ID">;

tollgate::basic_request request_from(std::string user) {
  tollgate::basic_request r;
  r.with_header("X-User-ID", std::move(user));
  return r;
}

// A memory ledger whose async calls are counted, so "settled exactly once" can be checked.
struct counting_ledger {
  using ledger_concept = tollgate::ledger_t;
  using async_ledger_concept = tollgate::async_ledger_t;
  tollgate::memory_ledger& inner;
  std::atomic<int> locks{0}, settles{0}, releases{0};

  tollgate::result<tollgate::lock_grant> lock(std::string_view c, credits a, std::string_view k) { return inner.lock(c, a, k); }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) { return inner.settle(id, cost); }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return inner.release(id); }
  bool health() { return true; }
  template <class H> void async_lock(std::string_view c, credits a, std::string_view k, H&& h) { ++locks; inner.async_lock(c, a, k, std::forward<H>(h)); }
  template <class H> void async_settle(std::string_view id, credits c, H&& h) { ++settles; inner.async_settle(id, c, std::forward<H>(h)); }
  template <class H> void async_release(std::string_view id, H&& h) { ++releases; inner.async_release(id, std::forward<H>(h)); }
  [[nodiscard]] int endings() const { return settles + releases; }
};

struct funded {
  tollgate::memory_ledger ledger;
  counting_ledger counted{ledger};
  funded() {
    ledger.add_user("alice", 10_cr);
    ledger.add_credential("alice", "alice");
  }
  [[nodiscard]] bool nothing_held() { return ledger.summary().locks.empty(); }
};

// Resumes at once, on the thread that got the ledger's answer.
const auto inline_resume = [](tollgate::unique_task task) { std::move(task)(); };

// The event loop of a test: tasks posted from any thread, run by the thread that calls run_one.
class manual_executor {
 public:
  void post(tollgate::unique_task task) {
    {
      std::lock_guard guard(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_all();
  }
  auto resumer() {
    return [this](tollgate::unique_task task) { post(std::move(task)); };
  }
  // Runs one task, waiting up to 10 s for it; false when none came.
  bool run_one() {
    tollgate::unique_task task;
    {
      std::unique_lock guard(mutex_);
      if (!ready_.wait_for(guard, std::chrono::seconds(10), [this] { return !tasks_.empty(); })) return false;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::move(task)();
    return true;
  }
  [[nodiscard]] std::size_t queued() {
    std::lock_guard guard(mutex_);
    return tasks_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<tollgate::unique_task> tasks_;
};

// A ledger with only the blocking forms.
struct blocking_only {
  using ledger_concept = tollgate::ledger_t;
  tollgate::memory_ledger& inner;
  tollgate::result<tollgate::lock_grant> lock(std::string_view c, credits a, std::string_view k) { return inner.lock(c, a, k); }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) { return inner.settle(id, cost); }
  tollgate::result<tollgate::settlement> release(std::string_view id) { return inner.release(id); }
  bool health() { return true; }
};

// A blocking ledger that waits at a gate, offloaded: the event loop's thread must never wait on it.
struct gated {
  using ledger_concept = tollgate::ledger_t;
  tollgate::memory_ledger& inner;
  std::mutex mutex{};
  std::condition_variable opened{};
  bool open = false;
  void pass() {
    std::unique_lock guard(mutex);
    opened.wait(guard, [this] { return open; });
  }
  tollgate::result<tollgate::lock_grant> lock(std::string_view c, credits a, std::string_view k) { pass(); return inner.lock(c, a, k); }
  tollgate::result<tollgate::settlement> settle(std::string_view id, credits cost) { pass(); return inner.settle(id, cost); }
  tollgate::result<tollgate::settlement> release(std::string_view id) { pass(); return inner.release(id); }
  bool health() { return true; }
};

}  // namespace

TEST_CASE("async_call: a paid request runs the handler, is charged once and completes once") {
  funded f;
  int ran = 0, done = 0;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::fixed_cost<1.5_cr>> m{
      f.counted, [&](const tollgate::basic_request&, tollgate::basic_response& res) {
        ++ran;
        res.set_content("ok", "text/plain");
      }};
  const auto req = request_from("alice");
  tollgate::basic_response res;
  m.async_call(req, res, inline_resume, [&] { ++done; });
  CHECK(done == 1);
  CHECK(ran == 1);
  CHECK(res.status() == 200);
  CHECK(res.body() == "ok");
  CHECK(f.ledger.balance("alice") == 8.5_cr);
  CHECK(f.counted.locks == 1);
  CHECK(f.counted.endings() == 1);
  CHECK(f.nothing_held());
}

TEST_CASE("async_call: no user id answers 401 before returning, without calling the ledger or resume") {
  funded f;
  int done = 0, resumed = 0;
  tollgate::metered<user_header, tollgate::estimate<5_cr>> m{f.counted, [](const tollgate::request_ref&, const tollgate::response_ref&) {
                                                                FAIL("the handler must not run");
                                                              }};
  tollgate::basic_request req;
  tollgate::basic_response res;
  m.async_call(req, res, [&](tollgate::unique_task task) { ++resumed; std::move(task)(); }, [&] { ++done; });
  CHECK(done == 1);
  CHECK(resumed == 0);
  CHECK(res.status() == 401);
  CHECK(f.counted.locks == 0);
}

TEST_CASE("async_call: a refused lock answers its status; the handler never runs; nothing to settle") {
  funded f;
  int done = 0;
  tollgate::metered<user_header, tollgate::estimate<50_cr>> m{f.counted, [](const tollgate::request_ref&, const tollgate::response_ref&) {
                                                                 FAIL("the handler must not run");
                                                               }};
  const auto req = request_from("alice");
  tollgate::basic_response res;
  m.async_call(req, res, inline_resume, [&] { ++done; });
  CHECK(done == 1);
  CHECK(res.status() == 402);
  CHECK(res.body().find("Insufficient balance") != std::string::npos);
  CHECK(f.counted.endings() == 0);
  CHECK(f.ledger.balance("alice") == 10_cr);

  const auto stranger = request_from("mallory");
  tollgate::basic_response refused;
  m.async_call(stranger, refused, inline_resume, [&] { ++done; });
  CHECK(done == 2);
  CHECK(refused.status() == 404);
}

TEST_CASE("async_call: a throwing handler is refunded in full and answered 500, once") {
  funded f;
  int done = 0;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::fixed_cost<1_cr>> m{
      f.counted, [](const tollgate::request_ref&, const tollgate::response_ref&) { throw std::runtime_error("boom"); },
      {tollgate::logger::silent(), {}}};
  const auto req = request_from("alice");
  tollgate::basic_response res;
  m.async_call(req, res, inline_resume, [&] { ++done; });
  CHECK(done == 1);
  CHECK(res.status() == 500);
  CHECK(res.body() == R"({"detail":"Internal server error"})");
  CHECK(f.counted.releases == 1);
  CHECK(f.counted.settles == 0);
  CHECK(f.ledger.balance("alice") == 10_cr);
  CHECK(f.nothing_held());
}

TEST_CASE("async_call: overage policies hold on the non-blocking path") {
  funded f;
  int done = 0;
  SUBCASE("reject: 402 before done, nothing charged") {
    tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<2_cr>, tollgate::overage::reject> m{
        f.counted, [](const tollgate::request_ref&, const tollgate::response_ref& res) { res.set_content("secret", "text/plain"); },
        {tollgate::logger::silent(), {}}};
    const auto req = request_from("alice");
    tollgate::basic_response res;
    m.async_call(req, res, inline_resume, [&] {
      ++done;
      CHECK(res.status() == 402);  // decided before the response is handed back
    });
    CHECK(res.body().find("secret") == std::string::npos);
    CHECK(f.ledger.balance("alice") == 10_cr);
  }
  SUBCASE("charge_actual: an overage the ledger refuses is settled for the hold") {
    tollgate::metered<user_header, tollgate::estimate<1_cr>, tollgate::fixed_cost<2_cr>, tollgate::overage::charge_actual> m{
        f.counted, [](const tollgate::request_ref&, const tollgate::response_ref&) {}, {tollgate::logger::silent(), {}}};
    const auto req = request_from("alice");
    tollgate::basic_response res;
    m.async_call(req, res, inline_resume, [&] { ++done; });
    CHECK(res.status() == 200);
    CHECK(f.ledger.balance("alice") == 9_cr);  // memory_ledger allows no overage: the hold is charged
    CHECK(f.counted.settles == 2);             // the probe, then the hold
  }
  CHECK(done == 1);
  CHECK(f.nothing_held());
}

TEST_CASE("async_call: a ledger without async forms is a configuration error, answered once") {
  funded f;
  blocking_only ledger{f.ledger};
  int done = 0;
  tollgate::metered<user_header, tollgate::estimate<1_cr>> m{ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {},
                                                            {tollgate::logger::silent(), {}}};
  const auto req = request_from("alice");
  tollgate::basic_response res;
  m.async_call(req, res, inline_resume, [&] { ++done; });
  CHECK(done == 1);
  CHECK(res.status() == 500);
  CHECK(res.body().find("no non-blocking form") != std::string::npos);
  CHECK(f.nothing_held());
}

TEST_CASE("async_call: while the ledger is slow, the executor's thread is free; the rest resumes on it") {
  funded f;
  gated slow{f.ledger};
  manual_executor loop;
  std::atomic<int> done{0};
  std::thread::id handler_thread;
  {
    tollgate::offloading_ledger offloaded(slow, {.threads = 2, .queue_capacity = 8});
    tollgate::metered<user_header, tollgate::estimate<5_cr>, tollgate::fixed_cost<2_cr>> m{
        offloaded, [&](const tollgate::request_ref&, const tollgate::response_ref& res) {
          handler_thread = std::this_thread::get_id();
          res.set_content("ok", "text/plain");
        }};
    const auto req = request_from("alice");
    tollgate::basic_response res;
    const auto started = std::chrono::steady_clock::now();
    m.async_call(req, res, loop.resumer(), [&] { ++done; });
    // async_call returned with the ledger stuck: the loop's thread is free for other connections.
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    CHECK(done == 0);
    CHECK(loop.queued() == 0);

    {
      std::lock_guard guard(slow.mutex);
      slow.open = true;
    }
    slow.opened.notify_all();
    REQUIRE(loop.run_one());  // the ledger answered on a worker; the rest runs here, on the loop's thread
    CHECK(done == 1);
    CHECK(handler_thread == std::this_thread::get_id());
    CHECK(res.body() == "ok");
  }  // the offloading ledger drains: the settle has landed
  CHECK(f.ledger.balance("alice") == 8_cr);
  CHECK(f.nothing_held());
}

// 0.001 credits per byte delivered.
struct per_byte {
  credits operator()(const tollgate::request_ref&, const tollgate::response_ref&, const tollgate::metering_context& ctx) const {
    return credits::from_micros(static_cast<std::int64_t>(ctx.response_bytes()) * 1000);
  }
};

TEST_CASE("async_call: a stream is settled when it ends, for what the client took") {
  funded f;
  int done = 0;
  tollgate::metered<user_header, tollgate::estimate<5_cr>, per_byte> m{
      f.counted, [](const tollgate::basic_request&, streamed_response& res) { res.chunks = {"aaaa", "bbbb", "cccc"}; },
      {tollgate::logger::silent(), {}}};
  const auto req = request_from("alice");
  streamed_response res;
  m.async_call(req, res, inline_resume, [&] { ++done; });
  CHECK(done == 1);                    // the response may be sent: it is the stream
  REQUIRE(res.observer != nullptr);
  CHECK(f.counted.endings() == 0);     // not settled while it streams
  CHECK(f.ledger.balance("alice") == 5_cr);
  res.observer->delivered(4);
  res.observer->delivered(4);
  res.observer->finished(false);       // the client went away before the last chunk
  res.observer->finished(false);       // reported twice by a sloppy adapter: settled once all the same
  CHECK(f.counted.endings() == 1);
  CHECK(f.ledger.balance("alice") == 10_cr - 0.008_cr);
  res.observer.reset();
  CHECK(f.nothing_held());
}
