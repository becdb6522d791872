// expect: limited<\.\.\.> got two actions
// Must not compile: a route either acquires (create) or releases (delete), not both.
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/usage.hpp>

using route = tollgate::limited<"deployments", tollgate::from_header<"tenant-id">, tollgate::acquires, tollgate::releases>;

int main() { return route::limit_name.size() > 0 ? 0 : 1; }
