// SPDX-License-Identifier: MIT
// metrics::render: a registry as one Prometheus text-format 0.0.4 scrape, for any HTTP framework.
#ifndef TOLLGATE_METRICS_EXPOSITION_HPP
#define TOLLGATE_METRICS_EXPOSITION_HPP

#include <string>

#include <tollgate/metrics/registry.hpp>
#include <tollgate/metrics/text_format.hpp>

namespace tollgate::metrics {

/// The body of a scrape: for each family `# HELP`, `# TYPE`, then its samples. Serve it with
/// `text_content_type` (`metrics/httplib.hpp` and `metrics/beast.hpp` do).
[[nodiscard]] inline std::string render(const registry& r) {
  std::string out;
  r.for_each([&](const family_base& f) {
    out += "# HELP ";
    out += f.name();
    out += ' ';
    append_help(out, f.help());
    out += "\n# TYPE ";
    out += f.name();
    out += ' ';
    out += f.type();
    out += '\n';
    f.write_samples(out);
  });
  return out;
}

}  // namespace tollgate::metrics

#endif  // TOLLGATE_METRICS_EXPOSITION_HPP
