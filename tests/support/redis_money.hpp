// Test support: the credits a Redis ledger user owns in all, read straight from Redis, so a test
// can check that no credit was created or lost (conservation).
#ifndef TOLLGATE_TESTS_SUPPORT_REDIS_MONEY_HPP
#define TOLLGATE_TESTS_SUPPORT_REDIS_MONEY_HPP

#include <string>

#include <fmt/format.h>

#include <tollgate/credits.hpp>

#include "redis_server.hpp"

namespace tollgate::testing {

// Available + held + everything charged by settled locks: what a user started with, if no credit
// was created or lost. Read straight from Redis, not through the ledger.
inline credits money_of(const redis_server& redis, const std::string& prefix, const std::string& user) {
  const auto field = [&](const char* name) {
    return credits::from_micros(std::stoll(redis.command({"HGET", fmt::format("{}:{{{}}}:account", prefix, user), name})));
  };
  credits total = field("available") + field("held");
  const std::string entries = redis.command({"HVALS", fmt::format("{}:{{{}}}:locks", prefix, user)});
  std::size_t start = 0;
  while (start < entries.size()) {
    auto end = entries.find(' ', start);
    if (end == std::string::npos) end = entries.size();
    const std::string entry = entries.substr(start, end - start);  // state:amount:expires:charged:key (keys here have no spaces)
    if (entry.rfind("s:", 0) == 0) {
      std::size_t p = 0;
      for (int colon = 0; colon < 3; ++colon) p = entry.find(':', p) + 1;
      total += credits::from_micros(std::stoll(entry.substr(p, entry.find(':', p) - p)));
    }
    start = end + 1;
  }
  return total;
}

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_SUPPORT_REDIS_MONEY_HPP
