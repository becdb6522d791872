// An HTTP server for wrk: the same handler bare (/plain) and metered (/metered) on the memory ledger.
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <httplib.h>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/adapters/httplib_tuning.hpp>
#include <tollgate/tollgate.hpp>

namespace {
httplib::Server* running = nullptr;
void on_signal(int) {
  if (running != nullptr) running->stop();
}
void handler(const httplib::Request&, httplib::Response& res) { res.set_content("{\"ok\":true}", "application/json"); }
}  // namespace

int main() {
  using namespace tollgate::literals;
  tollgate::memory_ledger ledger;
  ledger.add_user("bench-user", tollgate::credits::whole(1'000'000'000));
  ledger.add_credential("bench-user", "bench-user");

  httplib::Server svr;
  tollgate::tune(svr);  // the shipped defaults, exactly as the examples use them: nothing bench-only
  svr.Get("/plain", handler);
  svr.Get("/metered", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<1_cr>, tollgate::fixed_cost<0.001_cr>>{
                          ledger, handler, {tollgate::logger(tollgate::log_level::warn), {}}});
  svr.Get("/balance", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(ledger.balance("bench-user")->to_string(), "text/plain");
  });
  const int port = svr.bind_to_any_port("127.0.0.1");
  running = &svr;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  fmt::print("listening on 127.0.0.1:{}\n", port);
  std::fflush(stdout);
  svr.listen_after_bind();
}
