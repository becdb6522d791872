// expect: unknown limit name
// Must not compile: check_limit names a limit the default table does not declare.
#include <tollgate/plans.hpp>

int main() {
  const auto limits = tollgate::default_plans::default_limits();
  return tollgate::check_limit<tollgate::default_plans, "seats">(limits, /*usage=*/0).allowed ? 0 : 1;
}
