// SPDX-License-Identifier: MIT
// An append-only, fsync'd journal of settlements owed, replayed after a crash or restart.
#ifndef TOLLGATE_DETAIL_SETTLEMENT_JOURNAL_HPP
#define TOLLGATE_DETAIL_SETTLEMENT_JOURNAL_HPP

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <tollgate/credits.hpp>

namespace tollgate::detail {

/// One settlement owed to the ledger, and the amount its lock holds when known (0: unknown).
struct owed_settlement {
  std::string lock_id;
  credits real_cost;
  credits hold{};
};

/// Lines `owe <lock_id> <cost µcr> [<hold µcr>]` (the latest per lock wins) and `done <lock_id>`, each appended and fsync'd before
/// the call returns, so an entry survives a crash the moment `owe` returns. The file is locked
/// (flock) so two processes never share one journal. An unreadable line (a torn last write) is
/// skipped: its settlement had not been acknowledged as journaled.
class settlement_journal {
 public:
  explicit settlement_journal(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) throw std::runtime_error("cannot open the settlement journal " + path_ + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error("the settlement journal " + path_ + " is in use by another process");
    }
  }
  settlement_journal(const settlement_journal&) = delete;
  settlement_journal& operator=(const settlement_journal&) = delete;
  ~settlement_journal() { ::close(fd_); }

  /// What the file says is still owed, oldest first. Rewrites the file to just that (compaction).
  std::vector<owed_settlement> recover() {
    std::lock_guard guard(mutex_);
    std::ifstream in(path_);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::map<std::string, std::pair<std::size_t, owed_settlement>> owed;  // lock id → (order, entry)
    std::size_t order = 0;
    std::string kind, id;
    for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      const std::string line = text.substr(start, end - start);  // a last line without '\n' was torn: skipped
      const auto first = line.find(' ');
      if (first == std::string::npos) continue;
      kind = line.substr(0, first);
      const auto second = line.find(' ', first + 1);
      id = line.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
      if (kind == "owe" && second != std::string::npos) {
        const std::string_view numbers = std::string_view(line).substr(second + 1);
        std::int64_t cost = 0, hold = 0;
        const char* const last = numbers.data() + numbers.size();
        auto parsed = std::from_chars(numbers.data(), last, cost);
        if (parsed.ec == std::errc{} && parsed.ptr != last && *parsed.ptr == ' ') parsed = std::from_chars(parsed.ptr + 1, last, hold);
        if (parsed.ec == std::errc{} && parsed.ptr == last && cost >= 0 && hold >= 0 && valid_id(id))
          owed[id] = {order++, owed_settlement{id, credits::from_micros(cost), credits::from_micros(hold)}};
      } else if (kind == "done") {
        owed.erase(id);
      }
    }
    std::vector<std::pair<std::size_t, owed_settlement>> sorted;
    for (auto& [lock_id, entry] : owed) sorted.push_back({entry.first, entry.second});
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<owed_settlement> out;
    for (auto& [_, s] : sorted) out.push_back(std::move(s));
    rewrite_locked(out);
    return out;
  }

  /// Records that `s` is owed; durable when this returns.
  void owe(const owed_settlement& s) {
    if (!valid_id(s.lock_id)) throw std::invalid_argument("a lock id must be printable ASCII without spaces to be journaled");
    append(line_for(s));
  }

  /// Records that the settlement of `lock_id` landed (or will never land); the file empties when nothing is owed.
  void done(std::string_view lock_id, bool nothing_left) {
    if (nothing_left) {
      std::lock_guard guard(mutex_);
      if (::ftruncate(fd_, 0) == 0 && ::fsync(fd_) == 0) return;
    }
    append("done " + std::string(lock_id) + "\n");
  }

  [[nodiscard]] const std::string& path() const noexcept { return path_; }

  [[nodiscard]] static std::string line_for(const owed_settlement& s) {
    return "owe " + s.lock_id + " " + std::to_string(s.real_cost.micros()) + " " + std::to_string(s.hold.micros()) + "\n";
  }

  [[nodiscard]] static bool valid_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 256) return false;
    for (char c : id)
      if (c <= ' ' || c > '~') return false;
    return true;
  }

 private:
  void append(const std::string& line) {
    std::lock_guard guard(mutex_);
    write_all(fd_, line);
    if (::fsync(fd_) != 0) throw std::runtime_error("fsync of the settlement journal failed: " + std::string(std::strerror(errno)));
  }

  static void write_all(int fd, const std::string& text) {
    std::size_t written = 0;
    while (written < text.size()) {
      const auto n = ::write(fd, text.data() + written, text.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("write to the settlement journal failed: " + std::string(std::strerror(errno)));
      }
      written += static_cast<std::size_t>(n);
    }
  }

  // Compaction must never lose an entry: write a new file, fsync it, rename it over the old one.
  void rewrite_locked(const std::vector<owed_settlement>& owed) {
    std::string text;
    for (const auto& s : owed) text += line_for(s);
    const std::string tmp = path_ + ".tmp";
    const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) throw std::runtime_error("cannot compact the settlement journal: " + std::string(std::strerror(errno)));
    try {
      write_all(out, text);
    } catch (...) {
      ::close(out);
      throw;
    }
    if (::fsync(out) != 0 || ::rename(tmp.c_str(), path_.c_str()) != 0) {
      ::close(out);
      throw std::runtime_error("cannot compact the settlement journal: " + std::string(std::strerror(errno)));
    }
    ::close(out);
    const int reopened = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC, 0600);
    if (reopened < 0) throw std::runtime_error("cannot reopen the settlement journal: " + std::string(std::strerror(errno)));
    ::flock(reopened, LOCK_EX | LOCK_NB);
    ::close(fd_);
    fd_ = reopened;
  }

  std::string path_;
  int fd_ = -1;
  std::mutex mutex_;
};

}  // namespace tollgate::detail

#endif  // TOLLGATE_DETAIL_SETTLEMENT_JOURNAL_HPP
