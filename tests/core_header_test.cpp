// The metering umbrella stays light: it pulls in none of the opt-in parts' libraries, nor the heavy
// headers it once did (plans and Boost.Hana, <fmt/format.h>, <fmt/chrono.h>, <random>). Timing is
// bench/compile_time.py's business; this file checks what is included, which does not vary by machine.
// The forward header comes first, so every declaration in it must agree with the real definition.
#include <tollgate/fwd.hpp>

namespace {
// Code that only names tollgate types compiles with the forward header alone.
struct routes {
  tollgate::memory_ledger* ledger = nullptr;
  tollgate::result<tollgate::lock_grant>* last = nullptr;
  void charge(const tollgate::credits& amount, tollgate::log_level level);
};
}  // namespace

#include <tollgate/tollgate.hpp>

#if defined(INCLUDE_NLOHMANN_JSON_HPP_) || defined(NLOHMANN_JSON_VERSION_MAJOR)
#error "tollgate/tollgate.hpp must not include nlohmann/json.hpp"
#endif
#if defined(CPPHTTPLIB_HTTPLIB_H)
#error "tollgate/tollgate.hpp must not include httplib.h"
#endif
#if defined(__HIREDIS_H) || defined(HIREDIS_MAJOR)
#error "tollgate/tollgate.hpp must not include hiredis"
#endif
#if defined(TOLLGATE_PLANS_HPP) || defined(BOOST_HANA_CONFIG_HPP)
#error "tollgate/tollgate.hpp is metering only: plan tables (and Boost.Hana) are in tollgate/plans.hpp"
#endif
#if defined(FMT_FORMAT_H_) || defined(FMT_CHRONO_H_)
#error "tollgate/tollgate.hpp uses <fmt/core.h> only (fmt/format.h and fmt/chrono.h double its parse time)"
#endif
#if defined(_GLIBCXX_RANDOM)
#error "tollgate/tollgate.hpp must not include <random> (ids come from OpenSSL's RAND_bytes)"
#endif

#include <doctest/doctest.h>

using namespace tollgate::literals;

TEST_CASE("core header: metering works from tollgate.hpp alone, and fwd.hpp agrees with it") {
  tollgate::memory_ledger ledger;
  ledger.add_user("u", 2_cr);
  ledger.add_credential("k", "u");
  routes r{&ledger, nullptr};
  auto grant = r.ledger->lock("k", 1_cr, "key");
  r.last = &grant;
  REQUIRE(*r.last);
  CHECK(ledger.settle(grant->lock_id, 0.5_cr));
  CHECK(ledger.balance("u") == 1.5_cr);
  CHECK(fmt::format("{:>5}|{}", 1.5_cr, 2_cr) == "  1.5|2");  // the formatter on <fmt/core.h> keeps format specs
}
