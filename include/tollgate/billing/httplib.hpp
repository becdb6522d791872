// SPDX-License-Identifier: MIT
// Mounts the billing endpoints (limits, plan webhooks) on a cpp-httplib server (opt-in: includes httplib.h).
#ifndef TOLLGATE_BILLING_HTTPLIB_HPP
#define TOLLGATE_BILLING_HTTPLIB_HPP

#include <memory>
#include <string>
#include <utility>

#include <httplib.h>

#include <tollgate/adapters/httplib.hpp>
#include <tollgate/billing/limits_endpoint.hpp>
#include <tollgate/billing/usage_endpoint.hpp>

namespace tollgate::billing {

/// Registers `endpoint` on `server` at `path` (a cpp-httplib route pattern) for GET (and HEAD), POST,
/// PUT, PATCH, DELETE and OPTIONS; the endpoint answers the methods it does not serve with 405. Any
/// endpoint with `reply handle(const request_ref&) const` mounts: `limits_endpoint` (GET), a
/// `plan_webhook` (POST; httplib hands it the body byte for byte). The server keeps the endpoint alive.
///
///     httplib::Server server;
///     tollgate::billing::mount(server, std::make_shared<tollgate::billing::limits_endpoint<>>(
///         tollgate::billing::endpoint_options::with_secret(tollgate::redacted{secret})));
///     tollgate::billing::mount(server, stripe_webhook, "/billing/webhooks/stripe");
template <class Endpoint>
void mount(httplib::Server& server, std::shared_ptr<const Endpoint> endpoint, const std::string& path = "/billing/limits") {
  const httplib::Server::Handler handler = [endpoint = std::move(endpoint)](const httplib::Request& req, httplib::Response& res) {
    endpoint->handle(req).write_to(res);
  };
  server.Get(path, handler);
  server.Post(path, handler);
  server.Put(path, handler);
  server.Patch(path, handler);
  server.Delete(path, handler);
  server.Options(path, handler);
}

/// The same, for an endpoint held by a non-const shared_ptr.
template <class Endpoint>
void mount(httplib::Server& server, std::shared_ptr<Endpoint> endpoint, const std::string& path = "/billing/limits") {
  mount(server, std::shared_ptr<const Endpoint>(std::move(endpoint)), path);
}

/// Registers a usage endpoint (GET /billing/usage) the same way: `mount_usage(server, std::make_shared<
/// tollgate::billing::usage_endpoint<>>(store, options))`.
template <class Table, class Resolver>
void mount_usage(httplib::Server& server, std::shared_ptr<const usage_endpoint<Table, Resolver>> endpoint, const std::string& path = "/billing/usage") {
  mount(server, std::move(endpoint), path);
}
template <class Table, class Resolver>
void mount_usage(httplib::Server& server, std::shared_ptr<usage_endpoint<Table, Resolver>> endpoint, const std::string& path = "/billing/usage") {
  mount(server, std::shared_ptr<const usage_endpoint<Table, Resolver>>(std::move(endpoint)), path);
}

}  // namespace tollgate::billing

#endif  // TOLLGATE_BILLING_HTTPLIB_HPP
