// SPDX-License-Identifier: MIT
// per_token<Prompt, Completion[, PerSearch]>: LLM-style pricing per million tokens, from reported usage.
#ifndef TOLLGATE_CALCULATORS_PER_TOKEN_HPP
#define TOLLGATE_CALCULATORS_PER_TOKEN_HPP

#include <tollgate/credits.hpp>
#include <tollgate/http/request.hpp>
#include <tollgate/http/response.hpp>
#include <tollgate/metering/context.hpp>

namespace tollgate {

/// `prompt × PromptPerMillion / 10^6 + completion × CompletionPerMillion / 10^6 + searches × PerSearch`,
/// from the usage the handler reported with `ctx.report_usage(...)`. Each term is rounded to the
/// nearest micro-credit. No usage reported → only what was reported: zero.
template <credits PromptPerMillion, credits CompletionPerMillion, credits PerSearch = credits{}>
struct per_token {
  static constexpr bool reads_elapsed = false;
  [[nodiscard]] credits operator()(const request_ref&, const response_ref&, const metering_context& ctx) const {
    const token_usage u = ctx.usage();
    return PromptPerMillion.scaled(u.prompt_tokens, 1'000'000) +
           CompletionPerMillion.scaled(u.completion_tokens, 1'000'000) + PerSearch * u.searches;
  }
};

}  // namespace tollgate

#endif  // TOLLGATE_CALCULATORS_PER_TOKEN_HPP
