// expect: must be a non-negative integer \(at most INT64_MAX\)
// A maximum that does not fit int64 would wrap to a negative, the most restrictive limit: refused.
#include <tollgate/plans.hpp>

using too_big = tollgate::limit<"seats", 18446744073709551615ull>;
static_assert(too_big::max.is_unlimited());
