// SPDX-License-Identifier: MIT
// The replaceable logger: levels, a sink, stderr by default. Secrets go through tollgate::redacted.
#ifndef TOLLGATE_LOGGING_LOGGER_HPP
#define TOLLGATE_LOGGING_LOGGER_HPP

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/core.h>

#include <tollgate/logging/redacted.hpp>

namespace tollgate {

enum class log_level { debug, info, warn, error, off };

[[nodiscard]] constexpr std::string_view to_string(log_level l) noexcept {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    case log_level::off: return "off";
  }
  return "?";
}

/// Where tollgate's log lines go. Copies share the sink. Pass credentials to it only wrapped in
/// `redacted`: every message tollgate itself writes does.
///
///     tollgate::logger quiet{tollgate::log_level::warn};
///     tollgate::logger mine{tollgate::log_level::info, [](tollgate::log_level, std::string_view line) { ... }};
class logger {
 public:
  using sink = std::function<void(log_level, std::string_view)>;

  /// stderr, one line per message, serialised so lines from several threads never interleave.
  explicit logger(log_level minimum = log_level::info) : minimum_(minimum), sink_(std::make_shared<sink>(stderr_sink())) {}
  logger(log_level minimum, sink s) : minimum_(minimum), sink_(std::make_shared<sink>(std::move(s))) {}

  [[nodiscard]] log_level minimum() const noexcept { return minimum_; }
  [[nodiscard]] bool enabled(log_level l) const noexcept { return l != log_level::off && l >= minimum_; }

  template <class... Args>
  void log(log_level l, fmt::format_string<Args...> format, Args&&... args) const {
    if (!enabled(l)) return;
    const std::string line = fmt::format(format, std::forward<Args>(args)...);
    try { (*sink_)(l, line); } catch (...) {}  // a failing sink must not fail a request
  }
  template <class... Args> void debug(fmt::format_string<Args...> f, Args&&... a) const { log(log_level::debug, f, std::forward<Args>(a)...); }
  template <class... Args> void info(fmt::format_string<Args...> f, Args&&... a) const { log(log_level::info, f, std::forward<Args>(a)...); }
  template <class... Args> void warn(fmt::format_string<Args...> f, Args&&... a) const { log(log_level::warn, f, std::forward<Args>(a)...); }
  template <class... Args> void error(fmt::format_string<Args...> f, Args&&... a) const { log(log_level::error, f, std::forward<Args>(a)...); }

  /// A logger that writes nothing.
  [[nodiscard]] static logger silent() { return logger(log_level::off, [](log_level, std::string_view) {}); }

 private:
  static sink stderr_sink() {
    return [](log_level l, std::string_view line) {
      static std::mutex mutex;
      // strftime rather than fmt/chrono.h: the timestamp is all the logger needs of it, and that
      // header costs every including TU a tenth of a second of parsing.
      const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count();
      const std::time_t seconds = static_cast<std::time_t>(since_epoch / 1000);
      std::tm utc{};
      gmtime_r(&seconds, &utc);
      char stamp[32];
      const std::size_t length = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
      std::snprintf(stamp + length, sizeof stamp - length, ".%03dZ", static_cast<int>(since_epoch % 1000));
      std::lock_guard lock(mutex);
      fmt::print(stderr, "{} tollgate [{}] {}\n", stamp, to_string(l), line);
    };
  }

  log_level minimum_;
  std::shared_ptr<sink> sink_;
};

}  // namespace tollgate

#endif  // TOLLGATE_LOGGING_LOGGER_HPP
