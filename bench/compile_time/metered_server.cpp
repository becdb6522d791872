// The smallest metered httplib server: plain_server.cpp plus what tollgate adds (the adapter, not the
// whole httplib part with its credit client and JSON).
#include <tollgate/tollgate.hpp>
#include <tollgate/adapters/httplib.hpp>         // metered routes on httplib::Server
#include <tollgate/adapters/httplib_tuning.hpp>  // tollgate::tune

int main() {
  using namespace tollgate::literals;
  tollgate::memory_ledger ledger;
  ledger.add_user("alice", 100_cr);
  ledger.add_credential("sk-alice", "alice");
  httplib::Server server;
  tollgate::tune(server);
  server.Get("/report", tollgate::metered<tollgate::from_bearer, tollgate::estimate<2_cr>, tollgate::fixed_cost<1_cr>>{
                            ledger, [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); }});
  server.listen("127.0.0.1", 8080);
}
