// SPDX-License-Identifier: MIT
// bad_request: what a policy throws when the request itself is wrong (answered 400, nothing locked).
#ifndef TOLLGATE_METERING_BAD_REQUEST_HPP
#define TOLLGATE_METERING_BAD_REQUEST_HPP

#include <stdexcept>
#include <string>

namespace tollgate {

/// Thrown by an estimate (or extractor) that cannot read the request, e.g. a missing JSON field.
/// metered answers 400 with the message as `detail`; nothing is locked and the handler never runs.
class bad_request : public std::runtime_error {
 public:
  explicit bad_request(const std::string& detail) : std::runtime_error(detail) {}
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_BAD_REQUEST_HPP
