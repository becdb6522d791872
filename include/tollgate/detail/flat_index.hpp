// SPDX-License-Identifier: MIT
// flat_index: an open-addressing multimap from 64-bit hashes to 64-bit values, with no allocation per insert.
#ifndef TOLLGATE_DETAIL_FLAT_INDEX_HPP
#define TOLLGATE_DETAIL_FLAT_INDEX_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace tollgate::detail {

/// Maps a hash to the values stored under it; the caller resolves collisions by checking each
/// candidate against its own key (`find_if`). Linear probing at a load of at most 1/2, deletion by
/// backward shift (no tombstones), so the table stays as fast after a billion churns as at the start.
/// It grows and never shrinks: its size follows the peak number of entries, not the traffic served.
class flat_index {
 public:
  /// The first value stored under `hash` for which `match(value)` is true.
  template <class Match>
  [[nodiscard]] std::optional<std::uint64_t> find_if(std::uint64_t hash, Match&& match) const {
    if (size_ == 0) return std::nullopt;
    hash = normalized(hash);
    for (std::size_t i = home(hash);; i = (i + 1) & mask_) {
      const entry& e = entries_[i];
      if (e.hash == 0) return std::nullopt;
      if (e.hash == hash && match(e.value)) return e.value;
    }
  }

  void insert(std::uint64_t hash, std::uint64_t value) {
    if ((size_ + 1) * 2 > entries_.size()) grow();
    place(normalized(hash), value);
    ++size_;
  }

  /// Removes the pair (hash, value); false when it is not there.
  bool erase(std::uint64_t hash, std::uint64_t value) {
    if (size_ == 0) return false;
    hash = normalized(hash);
    std::size_t i = home(hash);
    for (;; i = (i + 1) & mask_) {
      if (entries_[i].hash == 0) return false;
      if (entries_[i].hash == hash && entries_[i].value == value) break;
    }
    // Backward shift: pull later members of the probe run into the hole where they may live.
    for (std::size_t j = (i + 1) & mask_; entries_[j].hash != 0; j = (j + 1) & mask_) {
      const std::size_t k = home(entries_[j].hash);
      const bool movable = (i <= j) ? (k <= i || k > j) : (k <= i && k > j);
      if (movable) {
        entries_[i] = entries_[j];
        i = j;
      }
    }
    entries_[i] = entry{};
    --size_;
    return true;
  }

  void clear() noexcept {
    entries_.assign(entries_.size(), entry{});
    size_ = 0;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct entry {
    std::uint64_t hash = 0;  // 0 marks an empty bucket
    std::uint64_t value = 0;
  };

  static constexpr std::uint64_t normalized(std::uint64_t h) noexcept { return h == 0 ? 1 : h; }
  // Fibonacci hashing spreads hashes whose low bits repeat.
  [[nodiscard]] std::size_t home(std::uint64_t h) const noexcept {
    return static_cast<std::size_t>((h * 0x9E3779B97F4A7C15ULL) >> shift_);
  }

  void place(std::uint64_t hash, std::uint64_t value) {
    std::size_t i = home(hash);
    while (entries_[i].hash != 0) i = (i + 1) & mask_;
    entries_[i] = entry{hash, value};
  }

  void grow() {
    std::vector<entry> old = std::move(entries_);
    const std::size_t capacity = old.empty() ? 16 : old.size() * 2;
    entries_.assign(capacity, entry{});
    mask_ = capacity - 1;
    shift_ = 64;
    for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
    for (const entry& e : old)
      if (e.hash != 0) place(e.hash, e.value);
  }

  std::vector<entry> entries_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
  unsigned shift_ = 64;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_FLAT_INDEX_HPP
