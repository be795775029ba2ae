// Helpers for tests that run the live actor-learner system as real processes
// (tests/learner/rl_faults_itest.cpp): a child process under a deadline, polling for a condition,
// reading run-directory files, free loopback ports and /proc memory figures.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace rlvr::testing {

using LiveClock = std::chrono::steady_clock;

// A child process running `command` through sh, stdout and stderr to `log`, in its own process
// group. The destructor kills (SIGKILL) the group and reaps it when it is still running.
// Not copyable; one thread.
class LiveProcess {
 public:
  LiveProcess(const std::string& command, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1").c_str(), nullptr);
      ::_exit(127);
    }
    if (pid_ > 0) ::setpgid(pid_, pid_);
  }
  ~LiveProcess() {
    if (pid_ > 0 && !done_) {
      ::kill(-pid_, SIGCONT);  // a stopped process group must be able to die
      ::kill(-pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
  }
  LiveProcess(const LiveProcess&) = delete;
  LiveProcess& operator=(const LiveProcess&) = delete;

  // The exit status (128 + signal when a signal ended it), or -1 when it did not end within
  // `timeout` (it is then killed).
  int wait(std::chrono::seconds timeout) {
    if (done_) return status_;
    const auto deadline = LiveClock::now() + timeout;
    while (LiveClock::now() < deadline) {
      if (auto st = poll()) return *st;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(-pid_, SIGCONT);
    ::kill(-pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    done_ = true;
    status_ = -1;
    return -1;
  }
  // The exit status when it has ended, without waiting.
  std::optional<int> poll() {
    if (done_) return status_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) != pid_) return std::nullopt;
    done_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  void kill(int sig) { ::kill(pid_, sig); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  int status_ = -1;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Complete JSON lines of a file (a torn last line of a killed writer is left out).
inline std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

// The largest step in metrics.jsonl (0 before the first).
inline int64_t steps_done(const std::string& run_dir) {
  int64_t step = 0;
  for (const auto& row : read_json_lines(run_dir + "/metrics.jsonl")) {
    step = std::max<int64_t>(step, row.value("step", int64_t{0}));
  }
  return step;
}

// Waits until `pred` holds, polling every `every`, at most `timeout`. Returns whether it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  const auto deadline = LiveClock::now() + timeout;
  while (LiveClock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(every);
  }
  return pred();
}

// How often `needle` occurs in `text`.
inline int64_t count_of(const std::string& text, const std::string& needle) {
  int64_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// A field of /proc/PID/status in kB (VmRSS, VmHWM, ...), or -1 when the process is gone.
inline int64_t proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

}  // namespace rlvr::testing
