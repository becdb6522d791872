// expect: a Beast route takes a tollgate::metered<...>, a handler \(const tollgate::beast::request&, tollgate::beast::response&\), or an asynchronous one
// A plain route handler of another framework's shape: one message, naming what a route takes.
#include <tollgate/adapters/beast.hpp>

void routes(tollgate::beast::router& routes) {
  routes.get("/health", [](int status) { return status; });
}
