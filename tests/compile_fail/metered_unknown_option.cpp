// expect: is neither an overage policy nor a status policy
// A stray type among metered's options is named as such, not ignored.
#include <tollgate/tollgate.hpp>

struct not_an_option {
  using metered_option = int;
};

static_assert(sizeof(tollgate::metered<tollgate::from_header<"X">, tollgate::estimate<tollgate::credits{1}>,
                                       tollgate::charge_estimate, not_an_option>) > 0);
