// SPDX-License-Identifier: MIT
// metered's optional policies, found by tag so their order does not matter: overage and statuses.
#ifndef TOLLGATE_METERING_OPTIONS_HPP
#define TOLLGATE_METERING_OPTIONS_HPP

#include <type_traits>

#include <tollgate/ledgers/ledger_error.hpp>

namespace tollgate {

struct overage_option_tag {};
struct status_option_tag {};

/// What happens when the actual cost exceeds the estimate that was locked.
namespace overage {
enum class mode { clamp, charge_actual, reject };

/// Charge the estimate at most (the default): the hold is the ceiling the caller agreed to.
struct clamp {
  using metered_option = overage_option_tag;
  static constexpr mode value = mode::clamp;
};
/// Charge the actual cost when the ledger allows it (the balance covers the difference);
/// otherwise charge the estimate and log it.
struct charge_actual {
  using metered_option = overage_option_tag;
  static constexpr mode value = mode::charge_actual;
};
/// Withhold the response: answer 402 and charge nothing.
struct reject {
  using metered_option = overage_option_tag;
  static constexpr mode value = mode::reject;
};
}  // namespace overage

/// The statuses a refused lock answers with. Replace it with your own type of the same shape:
///   `using metered_option = tollgate::status_option_tag;`
///   `static constexpr int status_for(tollgate::ledger_errc);`
///   `static constexpr int retry_after_seconds;` (sent with 503)
struct default_statuses {
  using metered_option = status_option_tag;
  static constexpr int retry_after_seconds = 1;
  [[nodiscard]] static constexpr int status_for(ledger_errc e) noexcept {
    switch (e) {
      case ledger_errc::insufficient_funds: return 402;
      case ledger_errc::unknown_credential: return 404;
      case ledger_errc::unavailable: return 503;
      default: return 500;
    }
  }
};

namespace detail {
template <class Tag, class Default, class... Options>
struct find_option {
  using type = Default;
};
template <class Tag, class Default, class First, class... Rest>
struct find_option<Tag, Default, First, Rest...> {
  using type = std::conditional_t<std::is_same_v<typename First::metered_option, Tag>, First,
                                  typename find_option<Tag, Default, Rest...>::type>;
};

template <class Option>
constexpr bool is_metered_option = requires { typename Option::metered_option; } &&
    (std::is_same_v<typename Option::metered_option, overage_option_tag> ||
     std::is_same_v<typename Option::metered_option, status_option_tag>);

template <class Tag, class... Options>
constexpr int count_option = (0 + ... + int(std::is_same_v<typename Options::metered_option, Tag>));
}  // namespace detail

}  // namespace tollgate

#endif  // TOLLGATE_METERING_OPTIONS_HPP
