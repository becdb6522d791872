// expect: units<N> must be above zero
// Must not compile: a create that acquires nothing would never count against the limit.
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/usage.hpp>
using route = tollgate::limited<"deployments", tollgate::from_header<"tenant-id">, tollgate::units<0>>;
int main() { return route::limit_name.size() > 0 ? 0 : 1; }
