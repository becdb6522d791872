// The credit server's state file: memory_ledger_state as JSON, written crash-safely (tmp, fsync, rename).
#ifndef TOLLGATE_SERVICE_STATE_FILE_HPP
#define TOLLGATE_SERVICE_STATE_FILE_HPP

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <tollgate/credits.hpp>
#include <tollgate/json/credits.hpp>
#include <tollgate/ledgers/memory_ledger.hpp>

namespace tollgate::detail {

/// The ledger part of a state file. Amounts are exact JSON numbers (tollgate/json/credits.hpp).
[[nodiscard]] inline nlohmann::json ledger_state_to_json(const memory_ledger_state& state) {
  nlohmann::json users = nlohmann::json::array(), credentials = nlohmann::json::array();
  nlohmann::json locks = nlohmann::json::array(), settled = nlohmann::json::array();
  for (const auto& u : state.users) users.push_back({{"user_id", u.user_id}, {"available", u.available}});
  for (const auto& c : state.credentials) credentials.push_back({{"credential", c.credential}, {"user_id", c.user_id}});
  for (const auto& l : state.locks)
    locks.push_back({{"lock_id", l.lock_id}, {"user_id", l.user_id}, {"amount", l.amount},
                     {"expires_in_ms", l.expires_in.count()}, {"idempotency_key", l.idempotency_key}});
  for (const auto& s : state.settled)
    settled.push_back({{"lock_id", s.lock_id}, {"charged", s.charged}, {"expired", s.expired},
                       {"idempotency_key", s.idempotency_key}, {"locked", s.locked}});
  return {{"users", users}, {"credentials", credentials}, {"locks", locks}, {"settled", settled}};
}

/// The inverse of ledger_state_to_json; throws (nlohmann::json::exception or std::exception) on a
/// malformed document, so a damaged file stops the server instead of silently starting empty.
[[nodiscard]] inline memory_ledger_state ledger_state_from_json(const nlohmann::json& j) {
  memory_ledger_state state;
  for (const auto& u : j.at("users")) state.users.push_back({u.at("user_id").get<std::string>(), u.at("available").get<credits>()});
  for (const auto& c : j.at("credentials"))
    state.credentials.push_back({c.at("credential").get<std::string>(), c.at("user_id").get<std::string>()});
  for (const auto& l : j.at("locks"))
    state.locks.push_back({l.at("lock_id").get<std::string>(), l.at("user_id").get<std::string>(), l.at("amount").get<credits>(),
                           std::chrono::milliseconds(l.at("expires_in_ms").get<std::int64_t>()),
                           l.at("idempotency_key").get<std::string>()});
  for (const auto& s : j.at("settled"))
    state.settled.push_back({s.at("lock_id").get<std::string>(), s.at("charged").get<credits>(), s.at("expired").get<bool>(),
                             s.at("idempotency_key").get<std::string>(), s.at("locked").get<credits>()});
  return state;
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
