// SPDX-License-Identifier: MIT
// Mounts the billing endpoints (limits, plan webhooks) on tollgate's Beast router (opt-in: includes Boost.Beast).
#ifndef TOLLGATE_BILLING_BEAST_HPP
#define TOLLGATE_BILLING_BEAST_HPP

#include <memory>
#include <string>
#include <utility>

#include <tollgate/adapters/beast.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/usage_endpoint.hpp>

namespace tollgate::billing {

/// Serves `endpoint` at `path` for every method; the endpoint answers those it does not serve with
/// 405 (`limits_endpoint`: GET and HEAD; a `plan_webhook`: POST, with the body byte for byte). Beast keeps an empty header value, so an empty `tenant-id` is echoed as `""`,
/// as the contract has it. The router keeps the endpoint alive.
///
///     tollgate::beast::router routes;
///     tollgate::billing::mount(routes, std::make_shared<tollgate::billing::limits_endpoint<>>(
///         tollgate::billing::endpoint_options::with_secret(tollgate::redacted{secret})));
template <class Endpoint>
void mount(beast::router& routes, std::shared_ptr<const Endpoint> endpoint, std::string path = "/billing/limits") {
  routes.any(std::move(path), [endpoint = std::move(endpoint)](const beast::request& req, beast::response& res) {
    endpoint->handle(req).write_to(res);
  });
}

/// The same, for an endpoint held by a non-const shared_ptr.
template <class Endpoint>
void mount(beast::router& routes, std::shared_ptr<Endpoint> endpoint, std::string path = "/billing/limits") {
  mount(routes, std::shared_ptr<const Endpoint>(std::move(endpoint)), std::move(path));
}

/// Registers a usage endpoint (GET /billing/usage) the same way: `mount_usage(routes, std::make_shared<
/// tollgate::billing::usage_endpoint<>>(store, options))`.
template <class Table, class Resolver>
void mount_usage(beast::router& routes, std::shared_ptr<const usage_endpoint<Table, Resolver>> endpoint, std::string path = "/billing/usage") {
  mount(routes, std::move(endpoint), std::move(path));
}
template <class Table, class Resolver>
void mount_usage(beast::router& routes, std::shared_ptr<usage_endpoint<Table, Resolver>> endpoint, std::string path = "/billing/usage") {
  mount(routes, std::shared_ptr<const usage_endpoint<Table, Resolver>>(std::move(endpoint)), std::move(path));
}

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_BEAST_HPP
