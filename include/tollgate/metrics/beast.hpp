// SPDX-License-Identifier: MIT
// Serves a metrics registry on tollgate's Beast router (opt-in: includes Boost.Beast).
#ifndef TOLLGATE_METRICS_BEAST_HPP
#define TOLLGATE_METRICS_BEAST_HPP

#include <string>
#include <utility>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/metrics/exposition.hpp>
#include <tollgate/metrics/registry.hpp>

namespace tollgate::metrics {

/// Registers `GET path` (and HEAD; by default `/metrics`) answering scrapes of `r`, which must
/// outlive the router. Rendering takes only the registry's lock, never a wait: it runs on the loop.
///
///     tollgate::beast::router routes;
///     tollgate::metrics::mount(routes, registry);
inline void mount(beast::router& routes, const registry& r, std::string path = "/metrics") {
  routes.get(std::move(path), [&r](const beast::request&, beast::response& res) {
    res.result(boost::beast::http::status::ok);
    res.set(boost::beast::http::field::content_type, boost::beast::string_view(text_content_type.data(), text_content_type.size()));
    res.body() = render(r);
    res.prepare_payload();
  });
}

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_BEAST_HPP
