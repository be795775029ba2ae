// Supervisor: fork+exec of the children, their output pipes, restarts and the stop sequence on one
// Boost.Asio event loop (signal_set for SIGINT/SIGTERM/SIGCHLD, steady_timers for backoff and grace,
// posix::stream_descriptor for each child's pipe). The rules are in supervisor.h.
#include "tools/launch/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/system_error.hpp>

#include "core/error.h"
#include "core/log.h"

extern char** environ;

namespace rlvr::tools {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------------
// Small pure helpers

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", WTERMSIG(status));
  return fmt::format("ended with wait status {:#x}", status);
}

milliseconds restart_delay(milliseconds backoff, int64_t k) {
  milliseconds cap = std::max(backoff, kMaxRestartBackoff);
  milliseconds d = std::max(backoff, milliseconds(0));
  for (int64_t i = 1; i < k && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

void LineSplitter::feed(std::string_view data, const Emit& emit) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    size_t take = nl == std::string_view::npos ? data.size() : nl;
    size_t room = kMaxLineBytes - pending_.size();
    if (take > room) {  // the line grows past the limit: forward a full piece
      pending_.append(data.substr(0, room));
      data.remove_prefix(room);
      emit_cut(emit);
      continue;
    }
    pending_.append(data.substr(0, take));
    if (nl == std::string_view::npos) return;
    emit(pending_);
    pending_.clear();
    data.remove_prefix(nl + 1);
  }
}

void LineSplitter::flush(const Emit& emit) {
  if (pending_.empty()) return;
  emit(pending_);
  pending_.clear();
}

void LineSplitter::emit_cut(const Emit& emit) {
  // pending_ holds kMaxLineBytes bytes. Cut before a UTF-8 continuation byte when one of the
  // last three bytes starts a sequence (so a character is not split); otherwise at the limit.
  size_t cut = pending_.size();
  for (size_t back = 0; back < 4 && back < pending_.size(); ++back) {
    auto byte = static_cast<unsigned char>(pending_[pending_.size() - 1 - back]);
    if ((byte & 0xC0) != 0x80) {
      // `byte` starts a character (or is ASCII): keep it whole if it needs more bytes than follow.
      size_t need = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
      if (need > back + 1) cut = pending_.size() - 1 - back;
      break;
    }
  }
  if (cut == 0) cut = pending_.size();
  emit(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
}

namespace {

// Writes all of `text` to `fd`; gives up silently on an error other than EINTR (a closed stderr
// must not stop the supervision).
void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Moves a close-on-exec descriptor above 2, so the child's dup2 onto 0/1/2 never finds its source
// already there (dup2(fd, fd) would keep close-on-exec) or clobbers another source.
int above_stdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

std::string errno_text(int e) { return fmt::format("{} (errno {})", std::strerror(e), e); }

// ---------------------------------------------------------------------------------------------
// fork + exec

struct Spawned {
  pid_t pid = -1;
  int out_fd = -1;    // read end of the child's stdout/stderr pipe (close-on-exec)
  std::string error;  // non-empty when the program was not started
};

Spawned spawn_process(const ChildSpec& spec) {
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls are made.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (spec.env.count(std::string(kv.substr(0, kv.find('=')))) != 0) continue;
    env_strings.emplace_back(kv);
  }
  for (const auto& [key, value] : spec.env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  Spawned result;
  int out[2] = {-1, -1};
  int status[2] = {-1, -1};
  int devnull = -1;
  auto fail = [&](const char* what) {
    result.error = fmt::format("{} failed: {}", what, errno_text(errno));
    for (int* fd : {&out[0], &out[1], &status[0], &status[1], &devnull}) close_fd(*fd);
    return result;
  };
  if (::pipe2(out, O_CLOEXEC) != 0) return fail("pipe2");
  if (::pipe2(status, O_CLOEXEC) != 0) return fail("pipe2");
  devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return fail("open /dev/null");
  for (int* fd : {&out[0], &out[1], &status[0], &status[1], &devnull}) {
    *fd = above_stdio(*fd);
    if (*fd < 0) return fail("fcntl");
  }

  // Signals stay blocked across fork so that no handler of the launcher (Asio's writes to its
  // signal pipe, shared with the child) runs in the child before its dispositions are reset.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    int e = 0;
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) e = errno;
    if (e == 0 && ::getppid() != parent) ::_exit(128 + SIGTERM);  // the launcher already died
    if (e == 0 && (::dup2(devnull, STDIN_FILENO) < 0 || ::dup2(out[1], STDOUT_FILENO) < 0 ||
                   ::dup2(out[1], STDERR_FILENO) < 0)) {
      e = errno;
    }
    if (e == 0) {
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execvpe(argv[0], argv.data(), envp.data());
      e = errno;
    }
    ssize_t ignored = ::write(status[1], &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close_fd(out[1]);
  close_fd(status[1]);
  close_fd(devnull);
  if (pid < 0) {
    errno = fork_errno;
    return fail("fork");
  }

  // The status pipe closes on a successful exec (close-on-exec) or carries the errno.
  int child_errno = 0;
  size_t got = 0;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + kExecTimeout;
  while (got < sizeof child_errno) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{status[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    ssize_t n = ::read(status[0], reinterpret_cast<char*>(&child_errno) + got, sizeof child_errno - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the exec happened
    got += static_cast<size_t>(n);
  }
  close_fd(status[0]);
  if (got == sizeof child_errno || timed_out) {
    if (timed_out) ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    close_fd(out[0]);
    result.error = timed_out ? fmt::format("'{}' did not start within {} ms", spec.argv[0], kExecTimeout.count())
                             : fmt::format("cannot execute '{}': {}", spec.argv[0], errno_text(child_errno));
    return result;
  }
  result.pid = pid;
  result.out_fd = out[0];
  return result;
}

// ---------------------------------------------------------------------------------------------
// The event loop of one run()

const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string children_count(size_t n) { return fmt::format("{} {}", n, n == 1 ? "child" : "children"); }

// The read end of one started process's stdout/stderr pipe. Shared by the Child (until the
// process ends) and the outstanding read's handler. An async read may already hold bytes in
// `buf` whose handler has not run yet, so the pipe is only drained and closed when no read is
// outstanding: at once, or by that handler (after forwarding its bytes) when `ending` is set.
struct Pipe {
  Pipe(asio::io_context& io, int fd) : descriptor(io, fd) {}
  asio::posix::stream_descriptor descriptor;
  std::vector<char> buf = std::vector<char>(65536);
  LineSplitter lines;
  bool reading = false;  // an async_read_some is outstanding
  bool ending = false;   // the process ended: forward what is left, then close
};

struct Child {
  ChildSpec spec;
  ChildReport report;
  bool primary = false;
  pid_t pid = -1;  // > 0 while started and not yet reaped
  std::shared_ptr<Pipe> pipe;  // the current process's output; null once it ended
  std::unique_ptr<asio::steady_timer> restart_timer;
  bool restart_pending = false;
  bool exited_ok = false;  // its last end was exit status 0
};

// All state of one Supervisor::run(). Single-threaded: every handler runs on the caller's thread
// inside io_.run().
class Run {
 public:
  Run(const SupervisorOptions& options, std::vector<ChildSpec> specs, size_t primary)
      : options_(options), primary_(primary) {
    for (size_t i = 0; i < specs.size(); ++i) {
      auto c = std::make_unique<Child>();
      c->report.name = specs[i].name;
      c->spec = std::move(specs[i]);
      c->primary = i == primary;
      c->restart_timer = std::make_unique<asio::steady_timer>(io_);
      children_.push_back(std::move(c));
    }
  }

  int execute() {
    try {
      signals_.add(SIGINT);
      signals_.add(SIGTERM);
      signals_.add(SIGCHLD);
    } catch (const boost::system::system_error& e) {
      throw Error(fmt::format("launch: cannot install the signal handlers: {}", e.what()));
    }
    wait_signal();
    starting_ = true;
    if (primary_ != kNoPrimary) start(*children_[primary_]);
    for (auto& c : children_) {
      if (phase_ != Phase::kRunning) break;
      if (!c->primary) start(*c);
    }
    starting_ = false;
    end_if_all_done();  // rule 3b: every child may have failed to start without a restart
    reap();  // children that ended before the loop started
    // Runs until finish() has cancelled the signal wait and the timers and every pipe's last
    // handler has forwarded its bytes (even when the run ended before the loop started).
    io_.run();
    RLVR_ASSERT(phase_ == Phase::kDone);
    signals_.clear();
    return result_;
  }

  std::vector<ChildReport> reports() const {
    std::vector<ChildReport> out;
    for (const auto& c : children_) out.push_back(c->report);
    return out;
  }
  const std::string& outcome() const { return outcome_; }

 private:
  enum class Phase { kRunning, kStopping, kKilling, kDone };

  // --- starting and output

  void start(Child& c) {
    Spawned s = spawn_process(c.spec);
    if (!s.error.empty()) {
      c.report.failed_starts++;
      c.report.last_exit = "could not start: " + s.error;
      on_ended(c, /*status=*/-1);  // logs it
      return;
    }
    c.pid = s.pid;
    c.report.starts++;
    c.report.pids.push_back(s.pid);
    c.report.last_exit = "running";
    c.pipe = std::make_shared<Pipe>(io_, s.out_fd);
    RLVR_LOG_DEBUG("{}: started '{}' (pid {})", options_.log_name, c.spec.name, s.pid);
    read_more(c, c.pipe);
  }

  void read_more(const Child& c, const std::shared_ptr<Pipe>& pipe) {
    pipe->reading = true;
    pipe->descriptor.async_read_some(
        asio::buffer(pipe->buf), [this, &c, pipe](boost::system::error_code ec, size_t n) {
          pipe->reading = false;
          if (n > 0) forward(c, *pipe, n);
          // EOF (every writer closed it), an error, or the process ended (the read was cancelled,
          // or completed after the end): forward what is left and close.
          if (ec || pipe->ending) {
            drain_and_close(c, *pipe);
            return;
          }
          read_more(c, pipe);
        });
  }

  void forward(const Child& c, Pipe& pipe, size_t n) {
    pipe.lines.feed(std::string_view(pipe.buf.data(), n), [&](std::string_view line) { write_line(c, line); });
  }

  void write_line(const Child& c, std::string_view line) {
    std::string out;
    out.reserve(c.spec.name.size() + line.size() + 4);
    out.append("[").append(c.spec.name).append("] ").append(line).append("\n");
    write_all(options_.output_fd, out);
  }

  // Reads what the pipe still holds (bounded: a grandchild may keep writing), forwards the
  // unterminated rest, and closes the pipe. REQUIRES: no read outstanding.
  void drain_and_close(const Child& c, Pipe& pipe) {
    if (!pipe.descriptor.is_open()) return;
    boost::system::error_code ec;
    pipe.descriptor.non_blocking(true, ec);
    for (int i = 0; i < 64 && !ec; ++i) {
      size_t n = pipe.descriptor.read_some(asio::buffer(pipe.buf), ec);
      if (n > 0) forward(c, pipe, n);
    }
    pipe.lines.flush([&](std::string_view line) { write_line(c, line); });
    pipe.descriptor.close(ec);
  }

  // The process of `c` ended (or is abandoned): its output is finished now, or by the outstanding
  // read's handler, which cancel() makes run soon.
  void end_output(Child& c) {
    std::shared_ptr<Pipe> pipe = std::move(c.pipe);
    if (!pipe) return;
    if (pipe->reading) {
      pipe->ending = true;
      boost::system::error_code ignored;
      pipe->descriptor.cancel(ignored);
    } else {
      drain_and_close(c, *pipe);
    }
  }

  // --- ends, restarts, stopping

  void wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
      if (ec) return;
      on_signal(sig);
      if (phase_ != Phase::kDone) wait_signal();
    });
  }

  void on_signal(int sig) {
    if (sig == SIGCHLD) {
      reap();
      return;
    }
    if (phase_ == Phase::kRunning) {
      result_ = 128 + sig;
      outcome_ = fmt::format("interrupted by {}", signal_name(sig));
      RLVR_LOG_WARN("{}: {} received: stopping every child (send it again to kill them at once)", options_.log_name, signal_name(sig));
      begin_stop();
    } else if (phase_ == Phase::kStopping) {
      RLVR_LOG_WARN("{}: {} received while stopping: killing every child now", options_.log_name, signal_name(sig));
      escalate();
    } else {
      RLVR_LOG_WARN("{}: {} received; already killing every child", options_.log_name, signal_name(sig));
    }
  }

  // Reaps every child of ours that has ended (never waits, never reaps anyone else's child).
  void reap() {
    for (auto& cp : children_) {
      Child& c = *cp;
      while (c.pid > 0) {
        int status = 0;
        pid_t r = ::waitpid(c.pid, &status, WNOHANG);
        if (r == 0) break;
        if (r < 0 && errno == EINTR) continue;
        c.pid = -1;
        end_output(c);
        if (r < 0) {
          // ECHILD: someone else reaped it (SIGCHLD ignored, or a waitpid(-1) elsewhere).
          c.report.last_exit = "ended; its exit status was lost (reaped elsewhere)";
          on_ended(c, /*status=*/-1);
        } else {
          c.report.last_exit = describe_wait_status(status);
          on_ended(c, status);
        }
      }
    }
    if (phase_ != Phase::kRunning && phase_ != Phase::kDone && running() == 0) finish();
  }

  // `c` ended (status >= 0: its wait status) or could not be started (status -1, last_exit set).
  void on_ended(Child& c, int status) {
    const std::string& how = c.report.last_exit;
    c.exited_ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (phase_ != Phase::kRunning) {
      RLVR_LOG_INFO("{}: '{}' {}", options_.log_name, c.spec.name, how);
      return;
    }
    if (c.primary) {
      // The primary is never restarted: without a start it could not be started (127);
      // otherwise its status was lost to someone else's waitpid (1).
      result_ = status >= 0 ? exit_code(status) : c.report.starts == 0 ? 127 : 1;
      outcome_ = fmt::format("'{}' {}", c.spec.name, how);
      const char* rest = children_.size() > 1 ? "; stopping the other children" : "";
      if (result_ == 0 && children_.size() > 1) {
        RLVR_LOG_INFO("{}: {}{}", options_.log_name, outcome_, rest);
      } else if (result_ == 0) {
        RLVR_LOG_DEBUG("{}: {}", options_.log_name, outcome_);
      } else {
        RLVR_LOG_ERROR("{}: {}{}", options_.log_name, outcome_, rest);
      }
      begin_stop();
      return;
    }
    if (c.spec.finished_on_success && c.exited_ok) {
      RLVR_LOG_INFO("{}: '{}' {}: its work is done", options_.log_name, c.spec.name, how);
      end_if_all_done();
      return;
    }
    if (!c.spec.restart) {
      RLVR_LOG_WARN("{}: '{}' {}; it is not restarted", options_.log_name, c.spec.name, how);
      end_if_all_done();
      return;
    }
    if (c.report.restarts >= c.spec.max_restarts) {
      result_ = 1;
      outcome_ = fmt::format("'{}' {} and has no restart left ({} of {} used); stopping every child",
                             c.spec.name, how, c.report.restarts, c.spec.max_restarts);
      RLVR_LOG_ERROR("{}: {}", options_.log_name, outcome_);
      begin_stop();
      return;
    }
    milliseconds delay = restart_delay(c.spec.backoff, c.report.restarts + 1);
    c.report.restart_delays.push_back(delay);
    RLVR_LOG_WARN("{}: '{}' {}; restart {} of {} in {} ms", options_.log_name, c.spec.name, how, c.report.restarts + 1,
                  c.spec.max_restarts, delay.count());
    c.restart_pending = true;
    c.restart_timer->expires_after(delay);
    c.restart_timer->async_wait([this, &c](boost::system::error_code ec) {
      if (ec || !c.restart_pending || phase_ != Phase::kRunning) return;
      c.restart_pending = false;
      c.report.restarts++;
      start(c);
    });
  }

  // Rule 3b: without a primary, the run ends once no child runs or waits for a restart.
  void end_if_all_done() {
    if (primary_ != kNoPrimary || starting_ || phase_ != Phase::kRunning) return;
    const Child* failed = nullptr;
    for (const auto& c : children_) {
      if (c->pid > 0 || c->restart_pending) return;
      if (!c->exited_ok && failed == nullptr) failed = c.get();
    }
    result_ = failed == nullptr ? 0 : 1;
    outcome_ = failed == nullptr
                   ? fmt::format("every child exited with status 0 ({})", children_count(children_.size()))
                   : fmt::format("every child has ended; '{}' {}", failed->spec.name, failed->report.last_exit);
    if (failed == nullptr) {
      RLVR_LOG_INFO("{}: {}", options_.log_name, outcome_);
    } else {
      RLVR_LOG_ERROR("{}: {}", options_.log_name, outcome_);
    }
    begin_stop();
  }

  size_t running() const {
    return static_cast<size_t>(std::count_if(children_.begin(), children_.end(), [](const auto& c) { return c->pid > 0; }));
  }

  // SIGTERM to every running child, then SIGKILL after the grace period (escalate()).
  void begin_stop() {
    if (phase_ != Phase::kRunning) return;
    phase_ = Phase::kStopping;
    for (auto& c : children_) {
      c->restart_pending = false;
      c->restart_timer->cancel();
    }
    size_t n = running();
    if (n == 0) {
      finish();
      return;
    }
    RLVR_LOG_INFO("{}: sending SIGTERM to {}; SIGKILL after {} ms", options_.log_name, children_count(n), options_.grace.count());
    for (auto& c : children_) {
      if (c->pid > 0) ::kill(c->pid, SIGTERM);  // not reaped yet, so the pid is still ours
    }
    arm_grace();
  }

  void escalate() {
    phase_ = Phase::kKilling;
    for (auto& c : children_) {
      if (c->pid <= 0) continue;
      RLVR_LOG_WARN("{}: '{}' (pid {}) is still running; sending SIGKILL", options_.log_name, c->spec.name, c->pid);
      ::kill(c->pid, options_.kill_signal);
    }
    arm_grace();
  }

  void arm_grace() {
    grace_timer_.expires_after(options_.grace);  // cancels an earlier wait (its handler sees ec)
    grace_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      if (phase_ == Phase::kStopping) {
        escalate();
      } else if (phase_ == Phase::kKilling) {
        abandon();
      }
    });
  }

  void abandon() {
    for (auto& c : children_) {
      if (c->pid <= 0) continue;
      RLVR_LOG_ERROR("{}: '{}' (pid {}) is still running {} ms after SIGKILL; abandoning it", options_.log_name, c->spec.name, c->pid, options_.grace.count());
      c->report.last_exit = "abandoned: still running after SIGKILL";
      c->pid = -1;
      end_output(*c);
    }
    finish();
  }

  // Ends the run: nothing is left to wait for, so io_.run() returns once the handlers already
  // queued (a pipe's last bytes) have run.
  void finish() {
    phase_ = Phase::kDone;
    boost::system::error_code ignored;
    signals_.cancel(ignored);
    grace_timer_.cancel();
    for (auto& c : children_) {
      c->restart_timer->cancel();
      end_output(*c);  // every child has ended or been abandoned already; this is a no-op then
    }
  }

  SupervisorOptions options_;
  size_t primary_;
  asio::io_context io_;  // declared first: destroyed after every I/O object below
  asio::signal_set signals_{io_};
  asio::steady_timer grace_timer_{io_};
  std::vector<std::unique_ptr<Child>> children_;
  Phase phase_ = Phase::kRunning;
  bool starting_ = false;  // execute() is starting the children
  int result_ = 1;
  std::string outcome_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Supervisor

Supervisor::Supervisor(SupervisorOptions options) : options_(options) {}

Supervisor::~Supervisor() = default;

int Supervisor::run(std::vector<ChildSpec> children, size_t primary) {
  RLVR_CHECK(!children.empty(), "launch: no children to run");
  RLVR_CHECK(primary < children.size() || primary == kNoPrimary,
             "launch: primary child index {} is out of range (there are {} children)", primary, children.size());
  std::set<std::string> names;
  for (size_t i = 0; i < children.size(); ++i) {
    const ChildSpec& c = children[i];
    RLVR_CHECK(!c.name.empty(), "launch: child {} has an empty name", i);
    RLVR_CHECK(names.insert(c.name).second, "launch: two children are named '{}'; names must be unique", c.name);
    RLVR_CHECK(!c.argv.empty() && !c.argv[0].empty(), "launch: child '{}' has no program (empty argv)", c.name);
    RLVR_CHECK(c.max_restarts >= 0, "launch: child '{}': max_restarts is {}; expected 0 or more", c.name,
               c.max_restarts);
    RLVR_CHECK(c.backoff.count() >= 0, "launch: child '{}': backoff is {} ms; expected 0 or more", c.name,
               c.backoff.count());
    for (const auto& [key, value] : c.env) {
      RLVR_CHECK(!key.empty() && key.find('=') == std::string::npos,
                 "launch: child '{}': environment name '{}' is empty or contains '='", c.name, key);
    }
  }
  RLVR_CHECK(options_.grace.count() >= 0, "launch: grace is {} ms; expected 0 or more", options_.grace.count());
  Run run(options_, std::move(children), primary);
  int rc = run.execute();
  reports_ = run.reports();
  outcome_ = run.outcome();
  return rc;
}

}  // namespace rlvr::tools
