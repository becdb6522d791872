// token_usage: what a handler reports it consumed (LLM tokens, searches), for usage-based calculators.
#ifndef TOLLGATE_METERING_USAGE_HPP
#define TOLLGATE_METERING_USAGE_HPP

#include <cstdint>

namespace tollgate {

/// Units of work a handler reports through the metering context; reports add up.
struct token_usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t searches = 0;  ///< e.g. web searches, priced per unit

  constexpr token_usage& operator+=(const token_usage& other) noexcept {
    prompt_tokens += other.prompt_tokens;
    completion_tokens += other.completion_tokens;
    searches += other.searches;
    return *this;
  }
  friend constexpr bool operator==(const token_usage&, const token_usage&) = default;
};

}  // namespace tollgate

#endif  // TOLLGATE_METERING_USAGE_HPP
