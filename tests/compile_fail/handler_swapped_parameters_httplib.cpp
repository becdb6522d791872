// expect: the handler must take \(const httplib::Request&, httplib::Response&\) or \(const httplib::Request&, httplib::Response&, tollgate::metering_context&\)
// httplib's parameters swapped: refused in httplib's own terms, not deep inside std::function.
#include <tollgate/adapters/httplib.hpp>
#include <tollgate/tollgate.hpp>

void routes(httplib::Server& server, tollgate::memory_ledger& ledger) {
  server.Get("/api", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<tollgate::credits{1}>>{
                         ledger, [](httplib::Response&, const httplib::Request&) {}});
}
