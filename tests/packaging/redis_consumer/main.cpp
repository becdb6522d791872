// A downstream program on the Redis ledger; nothing listens on the port, so health() is false.
#include <chrono>

#include <tollgate/ledgers/redis_ledger.hpp>

int main() {
  tollgate::redis_ledger_options options;
  options.url = "redis://127.0.0.1:1";  // nothing there
  options.sweep_every = std::chrono::milliseconds(0);
  options.log = tollgate::logger::silent();
  tollgate::redis_ledger ledger(options);
  return !ledger.health() && ledger.lock("u", tollgate::credits::whole(1), "k").error().code == tollgate::ledger_errc::unavailable ? 0 : 1;
}
