// expect: the handler must take \(const tollgate::beast::request&, tollgate::beast::response&\) or
// Beast's parameters swapped: refused in Beast's terms, naming both the adapter's and Beast's own types.
#include <tollgate/adapters/beast.hpp>
#include <tollgate/tollgate.hpp>

void routes(tollgate::beast::router& routes, tollgate::memory_ledger& ledger) {
  namespace http = boost::beast::http;
  routes.get("/api", tollgate::metered<tollgate::from_header<"X-User-ID">, tollgate::estimate<tollgate::credits{1}>>{
                         ledger, [](http::response<http::string_body>&, const http::request<http::string_body>&) {}});
}
