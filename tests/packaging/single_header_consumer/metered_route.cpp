// Two files copied from single_include/ (tollgate.hpp, httplib.hpp) meter an httplib route: a real
// server on a loopback port, a real client, the charge checked in the ledger.
#include <tollgate/tollgate.hpp>
#include <tollgate/httplib.hpp>

#include <cstdio>
#include <chrono>
#include <thread>

#ifndef TOLLGATE_SINGLE_HEADER
#error "the split headers were found, not the single headers"
#endif

int main() {
  using namespace tollgate::literals;
  tollgate::memory_ledger ledger;
  ledger.add_user("alice", 10_cr);
  ledger.add_credential("sk-alice", "alice");

  httplib::Server server;
  tollgate::tune(server);
  server.Get("/report", tollgate::metered<tollgate::from_bearer, tollgate::estimate<2_cr>, tollgate::fixed_cost<1.5_cr>>{
                            ledger, [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); }});
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  for (int i = 0; i < 5000 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  httplib::Client client("127.0.0.1", port);
  const auto paid = client.Get("/report", {{"Authorization", "Bearer sk-alice"}});
  const auto anonymous = client.Get("/report");
  server.stop();
  serving.join();

  const bool ok = paid && paid->status == 200 && paid->body == "ok" && anonymous && anonymous->status == 401 &&
                  ledger.balance("alice") == 8.5_cr;
  std::printf("paid %d, anonymous %d, balance %s\n", paid ? paid->status : -1, anonymous ? anonymous->status : -1,
              ledger.balance("alice") ? ledger.balance("alice")->to_string().c_str() : "?");
  return ok ? 0 : 1;
}
