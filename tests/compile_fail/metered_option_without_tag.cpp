// expect: is neither an overage policy nor a status policy
// A type with no `metered_option` at all among metered's options: the same one message.
#include <tollgate/tollgate.hpp>

struct forgot_the_tag {
  static constexpr int retry_after_seconds = 5;
};

void use(tollgate::memory_ledger& ledger) {
  tollgate::metered<tollgate::from_header<"X">, tollgate::estimate<tollgate::credits{1}>, tollgate::charge_estimate, forgot_the_tag> m{
      ledger, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
}
