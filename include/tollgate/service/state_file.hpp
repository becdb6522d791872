// SPDX-License-Identifier: MIT
// The credit server's state file (its snapshot): memory_ledger_state and credential marks as JSON, written crash-safely.
#ifndef TOLLGATE_SERVICE_STATE_FILE_HPP
#define TOLLGATE_SERVICE_STATE_FILE_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>

namespace tollgate::detail {

/// A credential's mark kept by the credit service itself (the ledger only maps it to its user).
struct credential_mark {
  std::string credential_id;
  bool is_public = false;
};
/// The credit service's marks, by credential.
using credential_marks = std::map<std::string, credential_mark>;

/// The ledger part of a state file. Amounts are exact JSON numbers (tollgate/json/credits.hpp).
[[nodiscard]] inline nlohmann::json ledger_state_to_json(const memory_ledger_state& state) {
  nlohmann::json users = nlohmann::json::array(), credentials = nlohmann::json::array();
  nlohmann::json locks = nlohmann::json::array(), settled = nlohmann::json::array();
  for (const auto& u : state.users) users.push_back({{"user_id", u.user_id}, {"available", u.available}});
  for (const auto& c : state.credentials) credentials.push_back({{"credential", c.credential}, {"user_id", c.user_id}});
  for (const auto& l : state.locks)
    locks.push_back({{"lock_id", l.lock_id}, {"user_id", l.user_id}, {"amount", l.amount},
                     {"expires_in_ms", l.expires_in.count()}, {"idempotency_key", l.idempotency_key}});
  for (const auto& s : state.settled) {
    nlohmann::json j{{"lock_id", s.lock_id}, {"charged", s.charged}, {"expired", s.expired},
                     {"idempotency_key", s.idempotency_key}, {"locked", s.locked}};
    if (s.retained_for != std::chrono::milliseconds::max()) j["retained_for_ms"] = s.retained_for.count();
    if (!s.user_id.empty()) j["user_id"] = s.user_id;
    settled.push_back(std::move(j));
  }
  return {{"users", users}, {"credentials", credentials}, {"locks", locks}, {"settled", settled}};
}

namespace state_file_detail {
// An integer field. A JSON number with a fraction or exponent is damage: nlohmann would convert it,
// with undefined behaviour when it is out of the type's range.
template <class Int>
[[nodiscard]] Int integer(const nlohmann::json& j, const char* name) {
  const auto& v = j.at(name);
  const bool fits = std::is_unsigned_v<Int> ? v.is_number_unsigned()
                                            : v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX);
  if (!fits) throw std::runtime_error(fmt::format("'{}' is not an integer in range", name));
  return v.get<Int>();
}

// Runs `read` on every element of the array `j[name]`; an error names the array and the element.
template <class Read>
void each(const nlohmann::json& j, const char* name, Read read) {
  const auto it = j.find(name);
  if (it == j.end()) throw std::runtime_error(fmt::format("missing '{}'", name));
  if (!it->is_array()) throw std::runtime_error(fmt::format("'{}' is not an array", name));
  std::size_t i = 0;
  for (const auto& element : *it) {
    try {
      if (!element.is_object()) throw std::runtime_error("not an object");
      read(element);
    } catch (const std::exception& e) {
      std::string which;
      for (const char* id : {"lock_id", "user_id", "key", "credential"})
        if (element.is_object() && element.contains(id) && element[id].is_string()) {
          which = fmt::format(" ({} '{}')", id, element[id].get<std::string>());
          break;
        }
      throw std::runtime_error(fmt::format("{}[{}]{}: {}", name, i, which, e.what()));
    }
    ++i;
  }
}
}  // namespace state_file_detail

/// The inverse of ledger_state_to_json; throws std::runtime_error naming the record (e.g.
/// `locks[3] (lock_id 'lk_…'): …`) on a malformed document, so a damaged file stops the server
/// instead of silently starting empty. Files written before `retained_for_ms` and `user_id` load.
[[nodiscard]] inline memory_ledger_state ledger_state_from_json(const nlohmann::json& j) {
  using state_file_detail::each;
  if (!j.is_object()) throw std::runtime_error("the ledger is not an object");
  memory_ledger_state state;
  each(j, "users", [&](const nlohmann::json& u) { state.users.push_back({u.at("user_id").get<std::string>(), u.at("available").get<credits>()}); });
  each(j, "credentials", [&](const nlohmann::json& c) {
    state.credentials.push_back({c.at("credential").get<std::string>(), c.at("user_id").get<std::string>()});
  });
  each(j, "locks", [&](const nlohmann::json& l) {
    state.locks.push_back({l.at("lock_id").get<std::string>(), l.at("user_id").get<std::string>(), l.at("amount").get<credits>(),
                           std::chrono::milliseconds(state_file_detail::integer<std::int64_t>(l, "expires_in_ms")),
                           l.at("idempotency_key").get<std::string>()});
  });
  each(j, "settled", [&](const nlohmann::json& s) {
    memory_ledger_state::settled_lock lock{s.at("lock_id").get<std::string>(), s.at("charged").get<credits>(), s.at("expired").get<bool>(),
                                           s.at("idempotency_key").get<std::string>(), s.at("locked").get<credits>()};
    if (s.contains("retained_for_ms")) lock.retained_for = std::chrono::milliseconds(state_file_detail::integer<std::int64_t>(s, "retained_for_ms"));
    if (s.contains("user_id")) lock.user_id = s.at("user_id").get<std::string>();
    state.settled.push_back(std::move(lock));
  });
  return state;
}

/// What a state file (the credit server's snapshot) holds.
struct state_snapshot {
  memory_ledger_state ledger;
  credential_marks credentials;
  /// The first journal segment holding changes after this snapshot (1 for a version-1 file).
  std::uint64_t journal_segment = 1;
  /// The wall-clock time of the snapshot (absent in version-1 files).
  std::optional<std::chrono::system_clock::time_point> written_at;
  int version = 2;
};

inline constexpr std::string_view state_file_format = "tollgate-credit-server-state";

/// The state file's document: format, version 2, the snapshot's time and first journal segment,
/// the ledger and the service's credential marks.
[[nodiscard]] inline nlohmann::json state_snapshot_to_json(const state_snapshot& s) {
  nlohmann::json creds = nlohmann::json::array();
  for (const auto& [key, mark] : s.credentials)
    creds.push_back({{"key", key}, {"credential_id", mark.credential_id}, {"is_public", mark.is_public}});
  nlohmann::json doc{{"format", state_file_format}, {"version", 2}, {"journal_segment", s.journal_segment},
                     {"ledger", ledger_state_to_json(s.ledger)}, {"credentials", std::move(creds)}};
  if (s.written_at)
    doc["written_at_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(s.written_at->time_since_epoch()).count();
  return doc;
}

/// Reads a version-1 or version-2 state file's document; throws std::runtime_error naming what
/// is wrong (and the record, when one is).
[[nodiscard]] inline state_snapshot state_snapshot_from_json(const nlohmann::json& doc) {
  if (!doc.is_object() || doc.value("format", "") != state_file_format) throw std::runtime_error("not a tollgate credit server state");
  state_snapshot s;
  const auto version = doc.find("version");
  s.version = version != doc.end() && version->is_number_integer() && (*version == 1 || *version == 2) ? version->get<int>() : 0;
  if (s.version != 1 && s.version != 2) throw std::runtime_error(fmt::format("unknown version {}", doc.value("version", nlohmann::json()).dump()));
  if (s.version == 2) {
    s.journal_segment = state_file_detail::integer<std::uint64_t>(doc, "journal_segment");
    if (s.journal_segment == 0) throw std::runtime_error("journal_segment must be at least 1");
    const auto written_at = std::chrono::milliseconds(state_file_detail::integer<std::int64_t>(doc, "written_at_ms"));
    // Before 1970 or past what the system clock holds (2262 with nanoseconds) is damage, and the
    // downtime computed from it could not overflow.
    if (written_at < std::chrono::milliseconds::zero() ||
        written_at > std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::duration::max()))
      throw std::runtime_error("written_at_ms is out of the clock's range");
    s.written_at = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(written_at));
  }
  if (!doc.contains("ledger")) throw std::runtime_error("missing 'ledger'");
  try {
    s.ledger = ledger_state_from_json(doc.at("ledger"));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("ledger.{}", e.what()));
  }
  state_file_detail::each(doc, "credentials", [&](const nlohmann::json& c) {
    s.credentials[c.at("key").get<std::string>()] = {c.at("credential_id").get<std::string>(), c.at("is_public").get<bool>()};
  });
  return s;
}

/// Moves a snapshot's relative times on by `downtime` (the time the server was down), so a lock's
/// TTL and a closed lock's retention keep running while it is: they may end up due (≤ 0).
inline void subtract_downtime(memory_ledger_state& state, std::chrono::milliseconds downtime) {
  if (downtime <= std::chrono::milliseconds::zero()) return;
  // Saturating: a time that would pass the range is impossible anyway, and import_state refuses it.
  for (auto& l : state.locks)
    l.expires_in = l.expires_in < std::chrono::milliseconds::min() + downtime ? std::chrono::milliseconds::min() : l.expires_in - downtime;
  for (auto& s : state.settled)
    if (s.retained_for != std::chrono::milliseconds::max()) s.retained_for = s.retained_for <= downtime ? std::chrono::milliseconds::zero() : s.retained_for - downtime;
}

/// The whole file, or nullopt when it does not exist; throws std::runtime_error when it cannot be read.
[[nodiscard]] inline std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  return text.str();
}

/// Replaces `path` with `content` so that a crash leaves either the old or the new file, never a
/// torn one: write `path.tmp` (mode 0600: it holds credentials), fsync it, rename it over `path`,
/// fsync the directory. Throws std::runtime_error naming the failing step.
inline void write_file_atomically(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  const auto fail = [&](const char* step) {
    const int saved = errno;
    throw std::runtime_error(std::string(step) + " " + tmp + ": " + std::strerror(saved));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create");
  std::size_t written = 0;
  while (written < content.size()) {
    const auto n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { const int saved = errno; ::close(fd); errno = saved; fail("cannot write"); }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) { const int saved = errno; ::close(fd); errno = saved; fail("cannot fsync"); }
  if (::close(fd) != 0) fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename");
  // The rename itself is durable only once the directory entry is on disk.
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace tollgate::detail

#endif  // TOLLGATE_SERVICE_STATE_FILE_HPP
