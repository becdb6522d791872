// Fuzzes what the Redis ledger parses from outside: lock ids (credit server clients send them)
// and Redis URLs (configuration). A lock id that parses formats back to itself; a URL either
// parses to a host name or address of plain characters, a port and a database, or throws url_error.
#include <cstddef>
#include <cstdint>
#include <string>

#include <tollgate/redis/endpoint.hpp>
#include <tollgate/redis/lock_id.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = tollgate_fuzz::as_text(data, size);

  if (const auto parts = tollgate::redis::parse_lock_id(input)) {
    TOLLGATE_FUZZ_CHECK(!parts->user.empty());
    TOLLGATE_FUZZ_CHECK(tollgate::redis::format_lock_id(parts->number, parts->nonce, parts->user) == input);
  }

  try {
    const auto e = tollgate::redis::endpoint::parse(input);
    TOLLGATE_FUZZ_CHECK(!e.host.empty());
    TOLLGATE_FUZZ_CHECK(e.port >= 1 && e.port <= 65535);
    TOLLGATE_FUZZ_CHECK(e.database >= 0);
    TOLLGATE_FUZZ_CHECK(e.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") == std::string::npos);
  } catch (const tollgate::redis::url_error&) {
  }
  return 0;
}
