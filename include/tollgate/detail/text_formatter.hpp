// SPDX-License-Identifier: MIT
// A {fmt} formatter for a type shown as text (credits, redacted), on <fmt/core.h> alone.
#ifndef TOLLGATE_DETAIL_TEXT_FORMATTER_HPP
#define TOLLGATE_DETAIL_TEXT_FORMATTER_HPP

#include <cstddef>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace tollgate::detail {

/// fmt's own `formatter<string_view>::format` is defined in <fmt/format.h>, whose parsing would cost
/// every TU that includes tollgate's core a sixth of a second. So the format spec ({:>8}) is validated
/// by `formatter<string_view>::parse` (compile-time checked, in core.h) and replayed through the
/// compiled `fmt::vformat`. Derive from it and call `write(text, ctx)`.
class text_formatter {
 public:
  template <class ParseContext>
  constexpr auto parse(ParseContext& ctx) -> decltype(ctx.begin()) {
    const auto begin = ctx.begin();
    const auto end = validator_.parse(ctx);
    for (auto it = begin; it != end; ++it) {
      if (*it == '{') {  // a dynamic width or precision names an argument the replay would not have
        ctx.on_error("tollgate: a dynamic width or precision ({:>{}}) is not supported for this type; use a number");
        return end;
      }
      if (spec_size_ == sizeof spec_ - 3) {
        ctx.on_error("tollgate: format spec too long");  // throws (a compile error in a checked format string)
        return end;
      }
      spec_[2 + spec_size_++] = *it;
    }
    return end;
  }

 protected:
  template <class FormatContext>
  auto write(std::string_view text, FormatContext& ctx) const -> decltype(ctx.out()) {
    auto out = ctx.out();
    if (spec_size_ == 0) {
      for (const char c : text) *out++ = c;
      return out;
    }
    char format[sizeof spec_];
    for (std::size_t i = 0; i < sizeof spec_; ++i) format[i] = spec_[i];
    format[2 + spec_size_] = '}';
    // fmt::vformat (compiled in libfmt) rather than vformat_to, whose template clang mangles differently
    // from the g++-built library; a spec is rare, so the string it allocates is too.
    const std::string padded = fmt::vformat(fmt::string_view(format, spec_size_ + 3), fmt::make_format_args(text));
    for (const char c : padded) *out++ = c;
    return out;
  }

 private:
  fmt::formatter<std::string_view> validator_;
  char spec_[40] = {'{', ':'};  // "{:" + the spec + "}"
  std::size_t spec_size_ = 0;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_TEXT_FORMATTER_HPP
