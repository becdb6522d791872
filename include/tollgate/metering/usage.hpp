// SPDX-License-Identifier: MIT
// token_usage: what a handler reports it consumed (LLM tokens, searches), for usage-based calculators.
#ifndef TOLLGATE_METERING_USAGE_HPP
#define TOLLGATE_METERING_USAGE_HPP

#include <cstdint>
#include <limits>

namespace tollgate {

/// Units of work a handler reports through the metering context; reports add up.
struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t searches = 0;  ///< e.g. web searches, priced per unit

  /// Adds up, saturating at the int64 limits instead of overflowing (a usage-based calculator
  /// then refuses the absurd total with tollgate::amount_overflow).
  constexpr token_usage& operator+=(const token_usage& other) noexcept {
    add(prompt_tokens, other.prompt_tokens);
    add(completion_tokens, other.completion_tokens);
    add(searches, other.searches);
    return *this;
  }
  friend constexpr bool operator==(const token_usage&, const token_usage&) = default;

 private:
  static constexpr void add(std::int64_t& total, std::int64_t more) noexcept {
    if (__builtin_add_overflow(total, more, &total))
      total = more < 0 ? std::numeric_limits<std::int64_t>::min() : std::numeric_limits<std::int64_t>::max();
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_USAGE_HPP
