// SPDX-License-Identifier: MIT
// flat_index: an open-addressing multimap from 64-bit hashes to 64-bit values, with no allocation per insert.
#ifndef TOLLGATE_DETAIL_FLAT_INDEX_HPP
#define TOLLGATE_DETAIL_FLAT_INDEX_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <utility>

namespace tollgate::detail {

/// Maps a hash to the values stored under it; the caller resolves collisions by checking each
/// candidate against its own key (`find_if`). Linear probing at a load of at most 1/2, deletion by
/// backward shift (no tombstones), so the table stays as fast after a billion churns as at the start.
/// It grows and never shrinks: its size follows the peak number of entries, not the traffic served.
///
/// Growing never pauses: the doubled table comes zeroed from the OS (calloc), and the old one is
/// moved into it a few buckets per insert or erase while both are searched, so no call does more
/// than a bounded amount of work however large the table (a million-entry rehash took 40 ms).
class flat_index {
 public:
  flat_index() = default;
  flat_index(flat_index&&) noexcept = default;
  flat_index& operator=(flat_index&&) noexcept = default;

  /// The first value stored under `hash` for which `match(value)` is true.
  template <class Match>
  [[nodiscard]] std::optional<std::uint64_t> find_if(std::uint64_t hash, Match&& match) const {
    if (size_ == 0) return std::nullopt;
    hash = normalized(hash);
    if (auto found = current_.find_if(hash, match, 0)) return found;
    if (old_.entries) return old_.find_if(hash, match, moved_);  // buckets below moved_ are in current_
    return std::nullopt;
  }

  void insert(std::uint64_t hash, std::uint64_t value) {
    if ((current_.count + 1) * 2 > current_.capacity()) grow();
    current_.place(normalized(hash), value);
    ++current_.count;
    ++size_;
    move_some();
  }

  /// Removes the pair (hash, value); false when it is not there.
  bool erase(std::uint64_t hash, std::uint64_t value) {
    if (size_ == 0) return false;
    hash = normalized(hash);
    bool erased = current_.erase(hash, value);
    if (erased) --current_.count;
    else if (old_.entries) erased = old_.bury(hash, value, moved_);  // a tombstone: old_ is only read from now on
    if (erased) --size_;
    move_some();
    return erased;
  }

  void clear() noexcept {
    current_.wipe();
    old_ = table{};
    moved_ = 0;
    size_ = 0;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::uint64_t tombstone = 1;  // in the old table only: erased while it was being moved
  static constexpr std::size_t buckets_per_step = 8;  // moves old_ out before current_ can fill up

  struct entry {
    std::uint64_t hash = 0;  // 0 marks an empty bucket
    std::uint64_t value = 0;
  };
  struct free_deleter {
    void operator()(entry* p) const noexcept { std::free(p); }
  };

  struct table {
    std::unique_ptr<entry[], free_deleter> entries;
    std::size_t mask = 0;  // capacity - 1
    unsigned shift = 64;
    std::size_t count = 0;  // entries held (current_ only)

    [[nodiscard]] std::size_t capacity() const noexcept { return entries ? mask + 1 : 0; }
    // Fibonacci hashing spreads hashes whose low bits repeat.
    [[nodiscard]] std::size_t home(std::uint64_t h) const noexcept { return static_cast<std::size_t>((h * 0x9E3779B97F4A7C15ULL) >> shift); }

    static table make(std::size_t capacity) {
      table t;
      // calloc: the OS hands out zeroed pages as they are first touched, not all at once.
      t.entries.reset(static_cast<entry*>(std::calloc(capacity, sizeof(entry))));
      if (!t.entries) throw std::bad_alloc();
      t.mask = capacity - 1;
      for (std::size_t c = capacity; c > 1; c >>= 1) --t.shift;
      return t;
    }

    // The first match at or past bucket `from` in probe order (earlier buckets were moved out).
    template <class Match>
    std::optional<std::uint64_t> find_if(std::uint64_t hash, Match& match, std::size_t from) const {
      if (!entries) return std::nullopt;
      for (std::size_t i = home(hash);; i = (i + 1) & mask) {
        const entry& e = entries[i];
        if (e.hash == 0) return std::nullopt;
        if (i >= from && e.hash == hash && match(e.value)) return e.value;
      }
    }

    void place(std::uint64_t hash, std::uint64_t value) noexcept {
      std::size_t i = home(hash);
      while (entries[i].hash != 0) i = (i + 1) & mask;
      entries[i] = entry{hash, value};
    }

    bool erase(std::uint64_t hash, std::uint64_t value) noexcept {
      if (!entries) return false;
      std::size_t i = home(hash);
      for (;; i = (i + 1) & mask) {
        if (entries[i].hash == 0) return false;
        if (entries[i].hash == hash && entries[i].value == value) break;
      }
      // Backward shift: pull later members of the probe run into the hole where they may live.
      for (std::size_t j = (i + 1) & mask; entries[j].hash != 0; j = (j + 1) & mask) {
        const std::size_t k = home(entries[j].hash);
        const bool movable = (i <= j) ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
          entries[i] = entries[j];
          i = j;
        }
      }
      entries[i] = entry{};
      return true;
    }

    // Marks (hash, value) erased without moving anything, at or past bucket `from`.
    bool bury(std::uint64_t hash, std::uint64_t value, std::size_t from) noexcept {
      for (std::size_t i = home(hash);; i = (i + 1) & mask) {
        entry& e = entries[i];
        if (e.hash == 0) return false;
        if (i >= from && e.hash == hash && e.value == value) {
          e.hash = tombstone;
          return true;
        }
      }
    }

    void wipe() noexcept {
      for (std::size_t i = 0; i < capacity(); ++i) entries[i] = entry{};
      count = 0;
    }
  };

  // 0 is the empty bucket and 1 the tombstone: no stored hash is either.
  static constexpr std::uint64_t normalized(std::uint64_t h) noexcept { return h <= tombstone ? h + 2 : h; }

  void grow() {
    move_all();  // a table that fills up while the last one is still being moved: finish that first
    table bigger = table::make(current_.capacity() == 0 ? 16 : current_.capacity() * 2);
    old_ = std::move(current_);
    current_ = std::move(bigger);
    moved_ = 0;
  }

  void move_some() noexcept {
    if (!old_.entries) return;
    const std::size_t end = std::min(old_.capacity(), moved_ + buckets_per_step);
    for (; moved_ < end; ++moved_) {
      const entry& e = old_.entries[moved_];
      if (e.hash > tombstone) {
        current_.place(e.hash, e.value);
        ++current_.count;
      }
    }
    if (moved_ == old_.capacity()) old_ = table{};
  }
  void move_all() noexcept {
    while (old_.entries) move_some();
  }

  table current_;
  table old_;            // being moved into current_: buckets [0, moved_) are there already
  std::size_t moved_ = 0;
  std::size_t size_ = 0;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_FLAT_INDEX_HPP
