// The core plans header stands alone and pulls in neither nlohmann/json nor httplib.
#include <tollgate/plans.hpp>

#if defined(INCLUDE_NLOHMANN_JSON_HPP_) || defined(NLOHMANN_JSON_VERSION_MAJOR)
#error "tollgate/plans.hpp must not include nlohmann/json.hpp"
#endif
#if defined(CPPHTTPLIB_HTTPLIB_H)
#error "tollgate/plans.hpp must not include httplib.h"
#endif

#include <doctest/doctest.h>

TEST_CASE("plans header: usable on its own, without JSON or HTTP") {
  // This file includes <tollgate/plans.hpp> first; the #error guards above prove what it does not pull in.
  const auto free = tollgate::default_plans::default_limits();
  CHECK(free.plan() == "free");
  CHECK(free.find("deployments") == tollgate::limit_value(1));
}
