// expect: this extractor has no `extract
// Must not compile: limited finds the tenant with an extractor; an int is none.
#include <tollgate/usage.hpp>
int main() {
  tollgate::memory_usage_store store; tollgate::tenant_limits<> plans;
  tollgate::limited<"deployments", int> route{store, plans, [](const tollgate::request_ref&, const tollgate::response_ref&) {}};
  (void)route;
}
