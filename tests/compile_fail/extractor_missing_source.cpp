// expect: this extractor has no `source\(\)` member
// An extractor must say where it looks, for the 401 detail.
#include <tollgate/tollgate.hpp>

struct silent_extractor {
  std::optional<std::string> extract(const tollgate::request_ref&) const { return "x"; }
};

using m = tollgate::metered<silent_extractor, tollgate::estimate<tollgate::credits{1}>>;
m* instance = nullptr;
static_assert(sizeof(m) > 0);
