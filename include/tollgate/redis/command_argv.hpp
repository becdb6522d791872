// SPDX-License-Identifier: MIT
// A command's words as hiredis takes them (argc, argv, argvlen), for the blocking and async clients.
#ifndef TOLLGATE_REDIS_COMMAND_ARGV_HPP
#define TOLLGATE_REDIS_COMMAND_ARGV_HPP

#include <array>
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace tollgate::redis {

/// Views `args` as hiredis's arrays, with no allocation up to 16 words (every ledger call). The
/// words must outlive it; hiredis copies them into its own buffer when the command is sent.
class command_argv {
 public:
  explicit command_argv(std::span<const std::string_view> args) : size_(args.size()) {
    if (size_ > inline_words) {
      argv_heap_.resize(size_);
      len_heap_.resize(size_);
      argv_ = argv_heap_.data();
      lens_ = len_heap_.data();
    }
    for (std::size_t i = 0; i < size_; ++i) {
      argv_[i] = args[i].data();
      lens_[i] = args[i].size();
    }
  }
  command_argv(const command_argv&) = delete;  // points into itself
  command_argv& operator=(const command_argv&) = delete;

  [[nodiscard]] int argc() const noexcept { return static_cast<int>(size_); }
  [[nodiscard]] const char** argv() noexcept { return argv_; }
  [[nodiscard]] const std::size_t* lengths() const noexcept { return lens_; }

 private:
  static constexpr std::size_t inline_words = 16;
  std::size_t size_;
  std::array<const char*, inline_words> argv_inline_{};
  std::array<std::size_t, inline_words> len_inline_{};
  std::vector<const char*> argv_heap_;
  std::vector<std::size_t> len_heap_;
  const char** argv_ = argv_inline_.data();
  std::size_t* lens_ = len_inline_.data();
};

}  // namespace tollgate::redis

#endif  // TOLLGATE_REDIS_COMMAND_ARGV_HPP
