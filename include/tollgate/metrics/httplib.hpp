// SPDX-License-Identifier: MIT
// Serves a metrics registry on a cpp-httplib server (opt-in: includes httplib.h).
#ifndef TOLLGATE_METRICS_HTTPLIB_HPP
#define TOLLGATE_METRICS_HTTPLIB_HPP

#include <string>

#include <httplib.h>

#include <tollgate/metrics/exposition.hpp>
#include <tollgate/metrics/registry.hpp>

namespace tollgate::metrics {

/// A cpp-httplib handler answering a scrape of `r` (which must outlive the server).
[[nodiscard]] inline httplib::Server::Handler handler(const registry& r) {
  return [&r](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(render(r), std::string(text_content_type).c_str());
  };
}

/// Registers `GET path` (by default `/metrics`) answering scrapes of `r`.
///
///     tollgate::metrics::registry registry;
///     tollgate::metrics::mount(server, registry);
inline void mount(httplib::Server& server, const registry& r, const std::string& path = "/metrics") {
  server.Get(path, handler(r));
}

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_HTTPLIB_HPP
