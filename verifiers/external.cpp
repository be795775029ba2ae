// The external-process verifier: spawning, the JSON-lines exchange with deadlines, and
// kill/reap/restart on failure. See external.h.
#include "verifiers/external.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "verifiers/text.h"

extern char** environ;

namespace rlvr::verifiers {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

enum class Io { kOk, kTimeout, kClosed };

// Writes all of `data` before `deadline`. MSG_NOSIGNAL: a dead peer is EPIPE, not SIGPIPE.
Io write_all(int fd, std::string_view data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int r = ::poll(&p, 1, remaining_ms(deadline));
      if (r == 0) return Io::kTimeout;
      if (r < 0 && errno != EINTR) return Io::kClosed;
      if (r > 0 && (p.revents & (POLLERR | POLLHUP)) && !(p.revents & POLLOUT)) return Io::kClosed;
      continue;
    }
    return Io::kClosed;
  }
  return Io::kOk;
}

// Reads one '\n'-terminated line into `line`, keeping extra bytes in `buf`.
Io read_line(int fd, std::string& buf, std::string& line, size_t max_bytes,
             Clock::time_point deadline, bool& too_long) {
  too_long = false;
  size_t scanned = 0;
  while (true) {
    size_t nl = buf.find('\n', scanned);
    if (nl != std::string::npos) {
      line.assign(buf, 0, nl);
      buf.erase(0, nl + 1);
      return Io::kOk;
    }
    scanned = buf.size();
    if (buf.size() > max_bytes) {
      too_long = true;
      return Io::kOk;
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r == 0) return Io::kTimeout;
    if (r < 0) {
      if (errno == EINTR) continue;
      return Io::kClosed;
    }
    char tmp[65536];
    ssize_t n = ::recv(fd, tmp, sizeof(tmp), 0);
    if (n > 0) {
      buf.append(tmp, static_cast<size_t>(n));
    } else if (n == 0) {
      return Io::kClosed;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Io::kClosed;
    }
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return "ended";
}

// Every failure of the external verifier is an error: the response could not be scored.
VerifyResult failure(std::string reason) {
  VerifyResult r;
  r.reason = std::move(reason);
  r.error = true;
  return r;
}

}  // namespace

ExternalVerifier::ExternalVerifier(ExternalVerifierOptions options) : options_(std::move(options)) {
  RLVR_CHECK(!options_.command.empty() && !options_.command[0].empty(),
             "external verifier '{}': command is empty (expected the program and its arguments)",
             options_.name);
  RLVR_CHECK(options_.timeout_ms >= 1 && options_.timeout_ms <= 3600000,
             "external verifier '{}': timeout_ms {} is out of range [1, 3600000]", options_.name,
             options_.timeout_ms);
  RLVR_CHECK(options_.num_processes >= 1 && options_.num_processes <= 256,
             "external verifier '{}': num_processes {} is out of range [1, 256]", options_.name,
             options_.num_processes);
  num_children_ = static_cast<size_t>(options_.num_processes);
  children_ = std::make_unique<Child[]>(num_children_);
  for (size_t i = num_children_; i-- > 0;) free_.push_back(i);
}

ExternalVerifier::~ExternalVerifier() {
  std::lock_guard<std::mutex> lock(mu_);
  // Closing our end is EOF on the child's stdin: a well-behaved child exits by itself.
  for (size_t i = 0; i < num_children_; ++i) {
    Child& c = children_[i];
    if (c.fd >= 0) {
      ::close(c.fd);
      c.fd = -1;
    }
  }
  // A child that exited is still killed as a group (what it left behind goes too) and reaped.
  auto deadline = Clock::now() + std::chrono::seconds(1);
  while (true) {
    bool any = false;
    for (size_t i = 0; i < num_children_; ++i) {
      Child& c = children_[i];
      if (c.pid.load() <= 0) continue;
      if (exited(c)) {
        kill_child(c);  // no-op when exited() found it gone
      } else {
        any = true;
      }
    }
    if (!any || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (size_t i = 0; i < num_children_; ++i) {
    if (children_[i].pid.load() > 0) kill_child(children_[i]);
  }
}

bool ExternalVerifier::exited(Child& c) {
  pid_t pid = c.pid.load();
  if (pid <= 0) return true;
  siginfo_t info{};
  int r;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    // Not our child any more (reaped elsewhere, e.g. SIGCHLD ignored): its pid may already be
    // reused, so it must never be signalled.
    c.pid.store(-1);
    return true;
  }
  return info.si_pid == pid;  // 0 while it is still running
}

std::string ExternalVerifier::spawn(Child& c) const {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return fmt::format("socketpair failed: {}", std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sv[1], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, sv[1], STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);  // children never inherit an ignored SIGPIPE
  posix_spawnattr_setsigmask(&attr, &none);
  // A new process group led by the child: kill_child signals the group, so whatever the child
  // starts (a shell wrapper's command, worker processes) dies with it.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> argv;
  for (const auto& a : options_.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    return fmt::format("cannot start '{}': {}", options_.command[0], std::strerror(rc));
  }
  int flags = ::fcntl(sv[0], F_GETFL, 0);
  ::fcntl(sv[0], F_SETFL, flags | O_NONBLOCK);
  if (c.started_once) restarts_.fetch_add(1);
  c.started_once = true;
  c.pid.store(pid);
  c.fd = sv[0];
  c.buf.clear();
  return {};
}

std::string ExternalVerifier::kill_child(Child& c) const {
  if (c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
  std::string how = "ended";
  pid_t pid = c.pid.load();
  if (pid > 0) {
    // The child is not reaped yet, so `pid` still names its group (no reuse is possible).
    if (::kill(-pid, SIGKILL) != 0) ::kill(pid, SIGKILL);
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r == pid) how = describe_status(status);
    c.pid.store(-1);
  }
  c.buf.clear();
  return how;
}

void ExternalVerifier::start() {
  // Own every idle slot while spawning (slots in use belong to verify() calls, which start
  // their child on demand).
  std::vector<size_t> slots;
  {
    std::lock_guard<std::mutex> lock(mu_);
    slots.swap(free_);
  }
  std::string err;
  for (size_t slot : slots) {
    Child& c = children_[slot];
    if (c.pid.load() > 0 || !err.empty()) continue;
    err = spawn(c);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.insert(free_.end(), slots.begin(), slots.end());
  }
  cv_.notify_all();
  if (!err.empty()) {
    throw Error(fmt::format("external verifier '{}': {}", options_.name, err),
                "check verifiers.external[].command: the program must exist on PATH or be a path");
  }
}

size_t ExternalVerifier::acquire() const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !free_.empty(); });
  size_t slot = free_.back();
  free_.pop_back();
  return slot;
}

void ExternalVerifier::release(size_t slot) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

VerifyResult ExternalVerifier::verify(const VerifyInput& input) const {
  requests_.fetch_add(1);
  // Fields are sent whole or not at all: a verifier scoring a cut text would give a wrong reward.
  for (const auto& [field, text] : {std::pair<const char*, const std::string*>{"prompt", &input.prompt},
                                    {"response", &input.response},
                                    {"ground_truth", &input.ground_truth}}) {
    if (text->size() > options_.max_input_bytes) {
      inputs_too_long_.fetch_add(1);
      return failure(fmt::format("external verifier: {} is {} bytes, over verifiers.max_input_bytes ({}); "
                                 "not sent",
                                 field, text->size(), options_.max_input_bytes));
    }
  }
  int64_t id = next_id_.fetch_add(1);
  nlohmann::json req = {{"id", id},
                        {"prompt", input.prompt},
                        {"response", input.response},
                        {"ground_truth", input.ground_truth}};
  std::string line = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';

  size_t slot = acquire();
  struct Releaser {
    const ExternalVerifier* self;
    size_t slot;
    ~Releaser() { self->release(slot); }
  } releaser{this, slot};
  Child& c = children_[slot];

  // A child that died while idle is replaced before the request, so the request is not lost.
  pid_t old = c.pid.load();
  if (old > 0 && exited(c)) {
    crashes_.fetch_add(1);
    std::string how = kill_child(c);
    RLVR_LOG_WARN("external verifier '{}': idle child {} {}; restarting", options_.name, old, how);
  }
  if (c.pid.load() <= 0) {
    std::string err = spawn(c);
    if (!err.empty()) {
      spawn_failures_.fetch_add(1);
      return failure(err);
    }
  }

  auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  Io io = write_all(c.fd, line, deadline);
  std::string reply;
  bool too_long = false;
  if (io == Io::kOk) io = read_line(c.fd, c.buf, reply, options_.max_reply_bytes, deadline, too_long);
  if (io == Io::kTimeout) {
    timeouts_.fetch_add(1);
    std::string how = kill_child(c);
    RLVR_LOG_WARN("external verifier '{}': no reply in {} ms; child killed ({}), restarting",
                  options_.name, options_.timeout_ms, how);
    return failure(fmt::format("external verifier timed out after {} ms", options_.timeout_ms));
  }
  if (io == Io::kClosed) {
    crashes_.fetch_add(1);
    std::string how = kill_child(c);
    RLVR_LOG_WARN("external verifier '{}': child {}; restarting", options_.name, how);
    return failure("external verifier process " + how);
  }
  auto protocol_error = [&](const std::string& what) {
    protocol_errors_.fetch_add(1);
    kill_child(c);
    RLVR_LOG_WARN("external verifier '{}': {}; child killed, restarting", options_.name, what);
    return failure("external verifier protocol error: " + what);
  };
  if (too_long) {
    return protocol_error(fmt::format("reply longer than {} bytes", options_.max_reply_bytes));
  }
  detail::ExternalReply parsed = detail::parse_external_reply(reply, id);
  if (!parsed.ok) return protocol_error(parsed.problem);
  return parsed.result;
}

namespace detail {

ExternalReply parse_external_reply(std::string_view line, int64_t id) {
  ExternalReply out;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    out.problem = "reply is not a JSON object";
    return out;
  }
  auto id_it = j.find("id");
  if (id_it == j.end() || !id_it->is_number_integer() || id_it->get<int64_t>() != id) {
    out.problem = fmt::format("reply field 'id' is not {}", id);
    return out;
  }
  auto score_it = j.find("score");
  if (score_it == j.end() || !score_it->is_number()) {
    out.problem = "reply field 'score' is missing or not a number";
    return out;
  }
  double score = score_it->get<double>();
  if (!std::isfinite(score) || score < 0.0 || score > 1.0) {
    out.problem = "reply field 'score' is outside [0, 1]";
    return out;
  }
  out.ok = true;
  out.result.score = score;
  out.result.answer_found = true;
  auto reason_it = j.find("reason");
  if (reason_it != j.end() && reason_it->is_string()) {
    out.result.reason = std::string(cap_input(reason_it->get_ref<const std::string&>(), 1024));
  } else {
    out.result.reason = score > 0 ? "accepted" : "rejected";
  }
  return out;
}

}  // namespace detail

ExternalVerifierStats ExternalVerifier::stats() const {
  ExternalVerifierStats s;
  s.requests = requests_.load();
  s.timeouts = timeouts_.load();
  s.crashes = crashes_.load();
  s.protocol_errors = protocol_errors_.load();
  s.spawn_failures = spawn_failures_.load();
  s.inputs_too_long = inputs_too_long_.load();
  s.restarts = restarts_.load();
  return s;
}

std::vector<pid_t> ExternalVerifier::child_pids() const {
  std::vector<pid_t> pids;
  for (size_t i = 0; i < num_children_; ++i) {
    pid_t pid = children_[i].pid.load();
    if (pid > 0) pids.push_back(pid);
  }
  return pids;
}

void register_external_verifiers(const core::VerifiersConfig& config) {
  std::vector<std::string> builtins;
  for (const auto& [name, f] : detail::builtin_verifiers()) builtins.push_back(name);
  for (size_t i = 0; i < config.external.size(); ++i) {
    const auto& e = config.external[i];
    RLVR_CHECK(!e.name.empty(), "verifiers.external[{}].name: empty (expected the name data rows "
               "use in their `dataset` field)", i);
    RLVR_CHECK(!e.command.empty() && !e.command[0].empty(),
               "verifiers.external[{}].command: empty (expected [program, args...])", i);
    for (const auto& b : builtins) {
      RLVR_CHECK(b != e.name, "verifiers.external[{}].name: '{}' is a built-in verifier; pick "
                 "another name", i, e.name);
    }
    for (size_t k = 0; k < i; ++k) {
      RLVR_CHECK(config.external[k].name != e.name,
                 "verifiers.external[{}].name: '{}' is also verifiers.external[{}].name", i, e.name, k);
    }
    ExternalVerifierOptions o;
    o.name = e.name;
    o.command = e.command;
    o.timeout_ms = e.timeout_ms;
    o.num_processes = e.num_processes;
    o.max_input_bytes = static_cast<size_t>(config.max_input_bytes);
    register_verifier(e.name, [o](const VerifierOptions& vo) {
      ExternalVerifierOptions opts = o;
      opts.max_input_bytes = vo.max_input_bytes;
      return std::unique_ptr<Verifier>(new ExternalVerifier(opts));
    });
  }
}

}  // namespace rlvr::verifiers
