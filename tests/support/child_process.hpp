// Test support: start a real program (an example server), read its first stdout line, stop it.
#ifndef TOLLGATE_TESTS_SUPPORT_CHILD_PROCESS_HPP
#define TOLLGATE_TESTS_SUPPORT_CHILD_PROCESS_HPP

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace tollgate::testing {

/// A child process with its stdout piped to us. The destructor sends SIGTERM and reaps it.
class child_process {
 public:
  /// Whether the child starts from this process's environment or from nothing but `env`.
  enum class environment { inherit, only_given };

  /// Runs argv[0] with `env` ("NAME=value") added to (or, with only_given, instead of) the
  /// environment; its stderr goes to `stderr_path` (default: discarded, so test output stays readable).
  explicit child_process(std::vector<std::string> argv, std::vector<std::string> env = {},
                         std::string stderr_path = "/dev/null", environment mode = environment::inherit) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      if (mode == environment::only_given) ::clearenv();
      for (auto& kv : env) ::putenv(kv.data());
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    stop(SIGTERM);
    if (out_ >= 0) ::close(out_);
  }

  /// One line of stdout (without the newline), waiting at most `timeout`.
  std::string read_line(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    for (;;) {
      auto newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("timed out waiting for the child's output");
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[512];
      const auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("the child closed its output before a full line: '" + buffer_ + "'");
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Reads `listening on 127.0.0.1:PORT` and returns PORT.
  int read_port() {
    const std::string line = read_line();
    const std::string prefix = "listening on 127.0.0.1:";
    if (line.rfind(prefix, 0) != 0) throw std::runtime_error("unexpected first line: '" + line + "'");
    return std::stoi(line.substr(prefix.size()));
  }

  /// Sends `signal` and waits for the exit; returns the exit status as waitpid reports it.
  int stop(int signal = SIGTERM) {
    if (pid_ <= 0) return status_;
    if (signal != 0) ::kill(pid_, signal);
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status_;
  }

  /// Waits for the child to end by itself: its exit code, or -1 when a signal ended it.
  int wait_exit() {
    const int status = stop(0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = 0;
  std::string buffer_;
};

}  // namespace tollgate::testing

#endif  // TOLLGATE_TESTS_SUPPORT_CHILD_PROCESS_HPP
