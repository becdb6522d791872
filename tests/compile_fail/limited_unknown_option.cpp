// expect: an option given to limited<\.\.\.> is not one of
// Must not compile: a metered option is not a limited option (each wrapper has its own policies).
#include <tollgate/extractors/from_header.hpp>
#include <tollgate/tollgate.hpp>
#include <tollgate/usage.hpp>

using route = tollgate::limited<"deployments", tollgate::from_header<"tenant-id">, tollgate::overage::reject>;

int main() { return route::limit_name.size() > 0 ? 0 : 1; }
