// expect: unknown limit name: limited<Limit, \.\.\.> names a limit
// Must not compile: "seats" is not a limit of default_plans, which the tenant_limits reads.
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/usage.hpp>

int main() {
  tollgate::memory_usage_store store;
  tollgate::tenant_limits<> plans;
  tollgate::limited<"seats", tollgate::from_header<"tenant-id">> route{
      store, plans, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  (void)route;
}
