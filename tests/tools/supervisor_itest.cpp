// The Supervisor with real child processes (shell scripts): prefixed output, the primary ending
// the run, restarts with backoff and their limit, start failures, SIGINT/SIGTERM/SIGKILL to the
// launcher, and no zombie or stray process afterwards. Also `rlvr launch` itself, end to end.
#include "tools/launch/supervisor.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace rlvr::tools {
namespace {

using rlvr::testing::run_command;
using rlvr::testing::TempDir;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// A child running `script` with /bin/sh; the script sees the test's temp dir as $d.
ChildSpec sh_child(const std::string& name, const std::string& script, const std::string& dir) {
  ChildSpec c;
  c.name = name;
  c.argv = {"/bin/sh", "-c", "d=\"$1\"\n" + script, name, dir};
  return c;
}

// Shell snippets: publish this process's pid as $d/<name>.pid; wait (at most 10 s) for a file.
// Only builtins: a helper process (mv) would be orphaned when the script is killed right after.
// echo writes "PID\n" in one write; read_pid() waits for the newline.
std::string write_pid(const std::string& name) { return "echo $$ > \"$d/" + name + ".pid\"\n"; }
std::string wait_file(const std::string& file, const char* test = "-e") {
  return std::string("i=0; while [ ! ") + test + " \"$d/" + file +
         "\" ]; do i=$((i+1)); [ $i -gt 1000 ] && exit 99; sleep 0.01; done\n";
}
// Waits until the pid file of `name` is written (non-empty).
std::string wait_pid(const std::string& name) { return wait_file(name + ".pid", "-s"); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

// The lines of `all` that start with "[<name>] ", in order, without the prefix.
std::vector<std::string> lines_from(const std::vector<std::string>& all, const std::string& name) {
  std::vector<std::string> out;
  std::string prefix = "[" + name + "] ";
  for (const auto& l : all) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l.substr(prefix.size()));
  }
  return out;
}

// The pid a script wrote with write_pid() (waits at most 10 s); -1 when none appeared.
pid_t read_pid(const std::string& path) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    std::string text = read_text(path);
    if (!text.empty() && text.back() == '\n') return static_cast<pid_t>(std::atoi(text.c_str()));
    std::this_thread::sleep_for(milliseconds(5));
  }
  return -1;
}

// True when no process has this pid any more (reaped, not a zombie).
bool pid_gone(pid_t pid) {
  errno = 0;
  return ::kill(pid, 0) == -1 && errno == ESRCH;
}

// Every child this test process ever started (or adopted) has been reaped.
void expect_no_children() {
  siginfo_t info{};
  errno = 0;
  int r = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT);
  if (r == 0) {
    // Name the leftover: a zombie's /proc/PID/stat still has its command name.
    std::string who = info.si_pid > 0 ? read_text("/proc/" + std::to_string(info.si_pid) + "/stat")
                                      : std::string("a running child");
    ADD_FAILURE() << "a child of the test process is still running or unreaped: " << who;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    return;
  }
  EXPECT_EQ(errno, ECHILD);
}

// Waits (at most 10 s) for child `pid` of the test process; its wait status, or -1 on timeout.
int wait_child(pid_t pid) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return -1;
}

// A Supervisor writing the children's lines into a file of `dir`.
struct Captured {
  explicit Captured(const TempDir& dir) : path(dir.path() + "/out.log") {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  }
  ~Captured() { ::close(fd); }
  SupervisorOptions options(milliseconds grace = milliseconds(300)) const {
    SupervisorOptions o;
    o.grace = grace;
    o.output_fd = fd;
    return o;
  }
  std::vector<std::string> lines() const { return lines_of(read_text(path)); }
  std::string path;
  int fd = -1;
};

const ChildReport& report_of(const Supervisor& s, const std::string& name) {
  for (const auto& r : s.reports()) {
    if (r.name == name) return r;
  }
  static ChildReport none;
  ADD_FAILURE() << "no report for " << name;
  return none;
}

// ---------------------------------------------------------------------------------------------
// In-process runs

TEST(Supervisor, PrefixesEveryLineOfEveryChildFromStdoutAndStderr) {
  TempDir dir;
  Captured out(dir);
  ChildSpec a = sh_child("a",
                         "printf 'a-out-1\\na-out-2\\n'; printf 'a-err-1\\n' >&2; printf 'a-partial'\n"
                         ": > \"$d/a.done\"\n",
                         dir.path());
  ChildSpec b = sh_child("b",
                         "printf 'b-err\\n' >&2\n"
                         "head -c 70000 /dev/zero | tr '\\0' x; printf '\\n'\n"
                         "printf 'b-tail-no-newline' >&2\n"
                         ": > \"$d/b.done\"\n",
                         dir.path());
  ChildSpec primary = sh_child("primary", wait_file("a.done") + wait_file("b.done") +
                                              "printf 'p-line\\n'; printf 'p-last' >&2; exit 5\n",
                               dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, a, b}, 0), 5);
  EXPECT_EQ(sup.outcome(), "'primary' exited with status 5");
  auto all = out.lines();
  EXPECT_EQ(lines_from(all, "a"), (std::vector<std::string>{"a-out-1", "a-out-2", "a-err-1", "a-partial"}));
  EXPECT_EQ(lines_from(all, "b"), (std::vector<std::string>{"b-err", std::string(kMaxLineBytes, 'x'),
                                                            std::string(70000 - kMaxLineBytes, 'x'),
                                                            "b-tail-no-newline"}));
  EXPECT_EQ(lines_from(all, "primary"), (std::vector<std::string>{"p-line", "p-last"}));
  EXPECT_EQ(all.size(), 10u) << "every line carries a child's prefix";
  expect_no_children();
}

TEST(Supervisor, PrimaryEndEndsTheOthersWithSigtermThenSigkill) {
  TempDir dir;
  Captured out(dir);
  ChildSpec polite = sh_child("polite", write_pid("polite") + "exec sleep 1000\n", dir.path());
  // Ignores SIGTERM (exec keeps an ignored disposition), so only SIGKILL ends it.
  ChildSpec stubborn = sh_child("stubborn", "trap '' TERM\n" + write_pid("stubborn") + "exec sleep 1000\n",
                                dir.path());
  ChildSpec primary = sh_child("primary", wait_pid("polite") + wait_pid("stubborn") + "exit 7\n",
                               dir.path());
  Supervisor sup(out.options(milliseconds(200)));
  EXPECT_EQ(sup.run({polite, primary, stubborn}, 1), 7);
  EXPECT_EQ(sup.outcome(), "'primary' exited with status 7");
  EXPECT_EQ(report_of(sup, "primary").last_exit, "exited with status 7");
  EXPECT_EQ(report_of(sup, "polite").last_exit, "killed by signal 15");
  EXPECT_EQ(report_of(sup, "stubborn").last_exit, "killed by signal 9");
  // The pids the scripts wrote are the ones supervised, and they are gone.
  for (const char* name : {"polite", "stubborn"}) {
    const ChildReport& r = report_of(sup, name);
    ASSERT_EQ(r.pids.size(), 1u) << name;
    EXPECT_EQ(r.pids[0], read_pid(dir.path() + "/" + name + ".pid")) << name;
    EXPECT_TRUE(pid_gone(r.pids[0])) << name;
    EXPECT_EQ(r.starts, 1) << name;
  }
  expect_no_children();
}

TEST(Supervisor, PrimaryKilledBySignalReturns128PlusTheSignal) {
  TempDir dir;
  Captured out(dir);
  ChildSpec primary = sh_child("primary", "kill -KILL $$\n", dir.path());
  ChildSpec other = sh_child("other", "exec sleep 1000\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, other}, 0), 137);
  EXPECT_EQ(sup.outcome(), "'primary' killed by signal 9");
  EXPECT_EQ(report_of(sup, "other").last_exit, "killed by signal 15");
  expect_no_children();
}

TEST(Supervisor, RestartsWithDoublingBackoffUntilTheChildStaysUp) {
  TempDir dir;
  Captured out(dir);
  // Exits with status 3 on its first three starts, then stays up.
  ChildSpec flaky = sh_child("flaky",
                             "n=$(cat \"$d/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$d/count\"\n"
                             "echo \"start $n\"\n"
                             "if [ $n -le 3 ]; then exit 3; fi\n"
                             ": > \"$d/up\"; exec sleep 1000\n",
                             dir.path());
  flaky.restart = true;
  flaky.max_restarts = 5;
  flaky.backoff = milliseconds(10);
  ChildSpec primary = sh_child("primary", wait_file("up") + "exit 0\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, flaky}, 0), 0);
  const ChildReport& r = report_of(sup, "flaky");
  EXPECT_EQ(r.starts, 4);
  EXPECT_EQ(r.restarts, 3);
  EXPECT_EQ(r.failed_starts, 0);
  EXPECT_EQ(r.restart_delays, (std::vector<milliseconds>{milliseconds(10), milliseconds(20), milliseconds(40)}));
  EXPECT_EQ(r.last_exit, "killed by signal 15");  // stopped when the primary ended
  EXPECT_EQ(lines_from(out.lines(), "flaky"),
            (std::vector<std::string>{"start 1", "start 2", "start 3", "start 4"}));
  std::vector<pid_t> pids = r.pids;
  ASSERT_EQ(pids.size(), 4u);
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(std::unique(pids.begin(), pids.end()), pids.end()) << "every restart is a new process";
  for (pid_t pid : r.pids) EXPECT_TRUE(pid_gone(pid));
  expect_no_children();
}

TEST(Supervisor, RestartLimitStopsEverythingReturns1AndNamesTheChild) {
  TempDir dir;
  Captured out(dir);
  ChildSpec flaky = sh_child("flaky", "echo try; exit 3\n", dir.path());
  flaky.restart = true;
  flaky.max_restarts = 2;
  flaky.backoff = milliseconds(1);
  ChildSpec primary = sh_child("primary", "exec sleep 1000\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, flaky}, 0), 1);
  EXPECT_EQ(sup.outcome(),
            "'flaky' exited with status 3 and has no restart left (2 of 2 used); stopping every child");
  const ChildReport& r = report_of(sup, "flaky");
  EXPECT_EQ(r.starts, 3);
  EXPECT_EQ(r.restarts, 2);
  EXPECT_EQ(r.last_exit, "exited with status 3");
  EXPECT_EQ(report_of(sup, "primary").last_exit, "killed by signal 15");
  EXPECT_EQ(lines_from(out.lines(), "flaky"), (std::vector<std::string>{"try", "try", "try"}));
  expect_no_children();
}

TEST(Supervisor, ChildWithoutRestartEndsAloneAndTheRunGoesOn) {
  TempDir dir;
  Captured out(dir);
  ChildSpec once = sh_child("once", ": > \"$d/once.done\"; exit 4\n", dir.path());
  ChildSpec primary = sh_child("primary", wait_file("once.done") + "sleep 0.05; exit 0\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, once}, 0), 0);
  EXPECT_EQ(sup.outcome(), "'primary' exited with status 0");
  EXPECT_EQ(report_of(sup, "once").starts, 1);
  EXPECT_EQ(report_of(sup, "once").restarts, 0);
  EXPECT_EQ(report_of(sup, "once").last_exit, "exited with status 4");
  expect_no_children();
}

TEST(Supervisor, AFinishedSecondaryEndsAloneAFailedOneStopsTheRun) {
  // Learner ranks other than 0: exit status 0 is the end of their work; anything else stops the run.
  TempDir dir;
  Captured out(dir);
  ChildSpec rank1 = sh_child("rank1", "echo done; : > \"$d/rank1.done\"; exit 0\n", dir.path());
  rank1.restart = true;
  rank1.max_restarts = 0;
  rank1.finished_on_success = true;
  ChildSpec primary = sh_child("primary", wait_file("rank1.done") + "sleep 0.2; exit 0\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, rank1}, 0), 0);
  EXPECT_EQ(sup.outcome(), "'primary' exited with status 0");
  EXPECT_EQ(report_of(sup, "rank1").starts, 1);
  EXPECT_EQ(report_of(sup, "rank1").restarts, 0);
  EXPECT_EQ(report_of(sup, "rank1").last_exit, "exited with status 0");

  ChildSpec failing = sh_child("rank1", "exit 5\n", dir.path());
  failing.restart = true;
  failing.max_restarts = 0;
  failing.finished_on_success = true;
  ChildSpec waiting = sh_child("primary", "exec sleep 1000\n", dir.path());
  Supervisor sup2(out.options());
  EXPECT_EQ(sup2.run({waiting, failing}, 0), 1);
  EXPECT_EQ(sup2.outcome(), "'rank1' exited with status 5 and has no restart left (0 of 0 used); stopping every child");
  EXPECT_EQ(report_of(sup2, "primary").last_exit, "killed by signal 15");
  expect_no_children();
}

TEST(Supervisor, WithoutAPrimaryTheRunEndsWhenEveryChildHasFinished) {
  // An actors-only host: each actor ends with status 0 at the learner's SHUTDOWN; a failure is
  // restarted as usual, and the run ends once nothing runs or waits for a restart.
  TempDir dir;
  Captured out(dir);
  ChildSpec steady = sh_child("steady", "sleep 0.3; echo bye; exit 0\n", dir.path());
  steady.restart = true;
  steady.max_restarts = 3;
  steady.finished_on_success = true;
  ChildSpec flaky = sh_child("flaky",
                             "if [ -e \"$d/flaky.once\" ]; then echo second; exit 0; fi\n"
                             ": > \"$d/flaky.once\"; echo first; exit 3\n",
                             dir.path());
  flaky.restart = true;
  flaky.max_restarts = 2;
  flaky.backoff = milliseconds(1);
  flaky.finished_on_success = true;
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({steady, flaky}, kNoPrimary), 0);
  EXPECT_EQ(sup.outcome(), "every child exited with status 0 (2 children)");
  EXPECT_EQ(report_of(sup, "steady").starts, 1);
  EXPECT_EQ(report_of(sup, "flaky").starts, 2);
  EXPECT_EQ(report_of(sup, "flaky").restarts, 1);
  EXPECT_EQ(lines_from(out.lines(), "flaky"), (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(lines_from(out.lines(), "steady"), (std::vector<std::string>{"bye"}));

  // A child without restarts that fails: the others still finish, and the run returns 1.
  ChildSpec once = sh_child("once", "exit 4\n", dir.path());
  ChildSpec fine = steady;
  fine.name = "fine";
  Supervisor sup2(out.options());
  EXPECT_EQ(sup2.run({once, fine}, kNoPrimary), 1);
  EXPECT_EQ(sup2.outcome(), "every child has ended; 'once' exited with status 4");
  EXPECT_EQ(report_of(sup2, "fine").last_exit, "exited with status 0");

  // Nothing can start: the run ends at once with 1, without waiting on anything.
  ChildSpec missing;
  missing.name = "missing";
  missing.argv = {"/nonexistent/rlvr-no-such-program"};
  Supervisor sup3(out.options());
  EXPECT_EQ(sup3.run({missing}, kNoPrimary), 1);
  EXPECT_EQ(sup3.outcome(),
            "every child has ended; 'missing' could not start: cannot execute '/nonexistent/rlvr-no-such-program': "
            "No such file or directory (errno 2)");

  // The restart limit still stops everything (rule 3).
  ChildSpec broken = sh_child("broken", "exit 2\n", dir.path());
  broken.restart = true;
  broken.max_restarts = 1;
  broken.backoff = milliseconds(1);
  broken.finished_on_success = true;
  ChildSpec sleeper = sh_child("sleeper", "exec sleep 1000\n", dir.path());
  Supervisor sup4(out.options());
  EXPECT_EQ(sup4.run({broken, sleeper}, kNoPrimary), 1);
  EXPECT_EQ(sup4.outcome(), "'broken' exited with status 2 and has no restart left (1 of 1 used); stopping every child");
  EXPECT_EQ(report_of(sup4, "sleeper").last_exit, "killed by signal 15");
  expect_no_children();
}

TEST(Supervisor, MissingPrimaryProgramReturns127AndStartsNothingElse) {
  TempDir dir;
  Captured out(dir);
  ChildSpec learner;
  learner.name = "learner";
  learner.argv = {"/nonexistent/rlvr-no-such-program", "--flag"};
  ChildSpec other = sh_child("other", ": > \"$d/other.ran\"; exec sleep 1000\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({learner, other}, 0), 127);
  std::string expected =
      "could not start: cannot execute '/nonexistent/rlvr-no-such-program': No such file or directory (errno 2)";
  EXPECT_EQ(sup.outcome(), "'learner' " + expected);
  EXPECT_EQ(report_of(sup, "learner").last_exit, expected);
  EXPECT_EQ(report_of(sup, "learner").failed_starts, 1);
  EXPECT_EQ(report_of(sup, "learner").starts, 0);
  EXPECT_EQ(report_of(sup, "other").starts, 0);
  EXPECT_EQ(report_of(sup, "other").last_exit, "not started");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/other.ran"));
  expect_no_children();
}

TEST(Supervisor, StartFailuresCountForTheRestartRule) {
  TempDir dir;
  Captured out(dir);
  ChildSpec missing;  // looked up on PATH
  missing.name = "helper";
  missing.argv = {"rlvr-no-such-program-on-path"};
  missing.restart = true;
  missing.max_restarts = 1;
  missing.backoff = milliseconds(1);
  ChildSpec primary = sh_child("primary", "exec sleep 1000\n", dir.path());
  Supervisor sup(out.options());
  EXPECT_EQ(sup.run({primary, missing}, 0), 1);
  EXPECT_EQ(sup.outcome(),
            "'helper' could not start: cannot execute 'rlvr-no-such-program-on-path': No such file or directory "
            "(errno 2) and has no restart left (1 of 1 used); stopping every child");
  EXPECT_EQ(report_of(sup, "helper").failed_starts, 2);
  EXPECT_EQ(report_of(sup, "helper").restarts, 1);
  EXPECT_EQ(report_of(sup, "helper").starts, 0);

  // A file that is not executable: EACCES, even for root.
  std::string script = dir.write("not-executable.sh", "#!/bin/sh\nexit 0\n");
  ::chmod(script.c_str(), 0644);
  ChildSpec denied;
  denied.name = "denied";
  denied.argv = {script};
  Supervisor sup2(out.options());
  EXPECT_EQ(sup2.run({denied}, 0), 127);
  EXPECT_EQ(sup2.outcome(), "'denied' could not start: cannot execute '" + script + "': Permission denied (errno 13)");
  expect_no_children();
}

TEST(Supervisor, ChildEnvironmentSignalsAndStdin) {
  TempDir dir;
  Captured out(dir);
  ::setenv("RLVR_SUPERVISOR_INHERITED", "from-parent", 1);
  ::setenv("RLVR_SUPERVISOR_REPLACED", "old", 1);
  // Dispositions and a mask the children must not inherit.
  struct sigaction ignore {}, old_usr1 {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGUSR1, &ignore, &old_usr1);
  sigset_t usr2, old_mask;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  ::sigprocmask(SIG_BLOCK, &usr2, &old_mask);

  ChildSpec c = sh_child("env",
                         "echo \"$RLVR_SUPERVISOR_INHERITED $RLVR_SUPERVISOR_REPLACED $RLVR_SUPERVISOR_ADDED\"\n"
                         "readlink /proc/self/fd/0\n"
                         "exec grep -E '^Sig(Blk|Ign):' /proc/self/status\n",
                         dir.path());
  c.env = {{"RLVR_SUPERVISOR_REPLACED", "new"}, {"RLVR_SUPERVISOR_ADDED", "added"}};
  Supervisor sup(out.options());
  int rc = sup.run({c}, 0);

  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGUSR1, &old_usr1, nullptr);
  ::unsetenv("RLVR_SUPERVISOR_INHERITED");
  ::unsetenv("RLVR_SUPERVISOR_REPLACED");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(lines_from(out.lines(), "env"),
            (std::vector<std::string>{"from-parent new added", "/dev/null", "SigBlk:\t0000000000000000",
                                      "SigIgn:\t0000000000000000"}));
  expect_no_children();
}

TEST(Supervisor, ChildThatSurvivesTheKillSignalIsAbandonedNotWaitedFor) {
  TempDir dir;
  Captured out(dir);
  ChildSpec stubborn = sh_child("stubborn", "trap '' TERM\n" + write_pid("stubborn") + "exec sleep 1000\n",
                                dir.path());
  ChildSpec primary = sh_child("primary", wait_pid("stubborn") + "exit 0\n", dir.path());
  SupervisorOptions options = out.options(milliseconds(100));
  options.kill_signal = SIGCONT;  // stands in for a SIGKILL that does not take effect
  Supervisor sup(options);
  EXPECT_EQ(sup.run({primary, stubborn}, 0), 0);
  const ChildReport& r = report_of(sup, "stubborn");
  EXPECT_EQ(r.last_exit, "abandoned: still running after SIGKILL");
  ASSERT_EQ(r.pids.size(), 1u);
  // It is still there; the test cleans it up.
  EXPECT_EQ(::kill(r.pids[0], 0), 0);
  ::kill(r.pids[0], SIGKILL);
  int status = wait_child(r.pids[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  expect_no_children();
}

// ---------------------------------------------------------------------------------------------
// A launcher in its own process, signalled from the test

// Runs the Supervisor in a forked process that writes "outcome" then "name|starts|last_exit|pid"
// lines to `report_path` and exits with run()'s status.
pid_t start_launcher(std::vector<ChildSpec> children, size_t primary, SupervisorOptions options,
                     const std::string& report_path) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int rc = 99;
  Supervisor sup(options);
  try {
    rc = sup.run(std::move(children), primary);
  } catch (...) {
  }
  {
    std::ofstream report(report_path);
    report << sup.outcome() << "\n";
    for (const auto& r : sup.reports()) {
      report << r.name << "|" << r.starts << "|" << r.last_exit << "|" << (r.pids.empty() ? -1 : r.pids.back())
             << "\n";
    }
  }
  ::_exit(rc);
}

// The test process adopts orphans, so a child the launcher left behind (running or a zombie)
// becomes the test's child and fails expect_no_children().
void adopt_orphans() { ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }

std::vector<ChildSpec> three_children(const TempDir& dir) {
  return {sh_child("learner", write_pid("learner") + "exec sleep 1000\n", dir.path()),
          sh_child("polite", write_pid("polite") + "exec sleep 1000\n", dir.path()),
          sh_child("stubborn", "trap '' TERM\n" + write_pid("stubborn") + "exec sleep 1000\n", dir.path())};
}

TEST(Supervisor, SigintStopsEveryChildAndReturns130) {
  adopt_orphans();
  TempDir dir;
  Captured out(dir);
  std::string report = dir.path() + "/report.txt";
  pid_t launcher = start_launcher(three_children(dir), 0, out.options(milliseconds(300)), report);
  ASSERT_GT(launcher, 0);
  pid_t pids[3] = {read_pid(dir.path() + "/learner.pid"), read_pid(dir.path() + "/polite.pid"),
                   read_pid(dir.path() + "/stubborn.pid")};
  ::kill(launcher, SIGINT);
  int status = wait_child(launcher);
  ASSERT_TRUE(WIFEXITED(status)) << "launcher did not exit: status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_EQ(lines_of(read_text(report)),
            (std::vector<std::string>{"interrupted by SIGINT",
                                      "learner|1|killed by signal 15|" + std::to_string(pids[0]),
                                      "polite|1|killed by signal 15|" + std::to_string(pids[1]),
                                      "stubborn|1|killed by signal 9|" + std::to_string(pids[2])}));
  for (pid_t pid : pids) EXPECT_TRUE(pid_gone(pid)) << pid;
  expect_no_children();
}

TEST(Supervisor, SecondSigintKillsAtOnceAndSigtermReturns143) {
  adopt_orphans();
  TempDir dir;
  Captured out(dir);
  std::string report = dir.path() + "/report.txt";
  // A grace period far longer than the test's 10 s wait: only the second signal can end it in time.
  pid_t launcher = start_launcher(three_children(dir), 0, out.options(milliseconds(600000)), report);
  ASSERT_GT(launcher, 0);
  pid_t polite = read_pid(dir.path() + "/polite.pid");
  pid_t stubborn = read_pid(dir.path() + "/stubborn.pid");
  ASSERT_GT(stubborn, 0);
  ::kill(launcher, SIGTERM);
  // The first signal has been handled once the polite child is reaped.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!pid_gone(polite) && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  ASSERT_TRUE(pid_gone(polite));
  EXPECT_EQ(::kill(stubborn, 0), 0) << "the stubborn child outlives SIGTERM";
  ::kill(launcher, SIGINT);
  int status = wait_child(launcher);
  ASSERT_TRUE(WIFEXITED(status)) << "launcher did not exit: status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 143);  // the first signal decides the status
  auto lines = lines_of(read_text(report));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "interrupted by SIGTERM");
  EXPECT_EQ(lines[3], "stubborn|1|killed by signal 9|" + std::to_string(stubborn));
  EXPECT_TRUE(pid_gone(stubborn));
  expect_no_children();
}

TEST(Supervisor, KilledLauncherTakesItsChildrenWithIt) {
  adopt_orphans();
  TempDir dir;
  Captured out(dir);
  std::vector<ChildSpec> children = {sh_child("learner", write_pid("learner") + "exec sleep 1000\n", dir.path()),
                                     sh_child("actor", write_pid("actor") + "exec sleep 1000\n", dir.path())};
  pid_t launcher = start_launcher(children, 0, out.options(), dir.path() + "/report.txt");
  ASSERT_GT(launcher, 0);
  pid_t learner = read_pid(dir.path() + "/learner.pid");
  pid_t actor = read_pid(dir.path() + "/actor.pid");
  ASSERT_GT(learner, 0);
  ASSERT_GT(actor, 0);
  ::kill(launcher, SIGKILL);
  int status = wait_child(launcher);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  // The orphans come to this process (subreaper); PR_SET_PDEATHSIG has sent them SIGTERM.
  for (pid_t pid : {learner, actor}) {
    int st = wait_child(pid);
    EXPECT_TRUE(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) << pid << " status " << st;
  }
  expect_no_children();
}

// ---------------------------------------------------------------------------------------------
// `rlvr launch`

TEST(Launch, RefusesABadConfigBeforeStartingAnything) {
  TempDir dir;
  std::string config = dir.write("bad.yaml", "actors:\n  cuont: 2\n");
  auto r = run_command(std::string(RLVR_BINARY) + " launch --config " + config);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unknown key 'cuont' in 'actors'; did you mean 'count'?"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("[learner]"), std::string::npos) << r.output;
}

TEST(Launch, HostPlacementErrorsStopItBeforeStartingAnything) {
  TempDir dir;
  std::string config = dir.write("run.yaml", "learner:\n  endpoint: tcp://0.0.0.0:5599\nrun:\n  output_dir: " +
                                                 dir.path() + "/out\n");
  const std::string launch = std::string(RLVR_BINARY) + " launch --config " + config;
  auto expect_refused = [&](const std::string& args, const std::string& message) {
    auto r = run_command(launch + " " + args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("[learner"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("[actor"), std::string::npos) << r.output;
  };
  expect_refused("--hosts node1,node2 --host-index 2",
                 "--host-index 2 is out of range: --hosts names 2 host(s), so expected 0..1");
  expect_refused("--hosts ''", "--hosts '' names no host");
  expect_refused("--hosts 'node[1-2'", "--hosts 'node[1-2': entry 'node[1-2': a '[' without its ']'");
  expect_refused("--hosts rlvr-no-such-host-1,rlvr-no-such-host-2",
                 "is not in --hosts rlvr-no-such-host-1,rlvr-no-such-host-2; expected one entry naming it, or "
                 "--host-index");
  expect_refused("--host-index 0", "--host-index requires --hosts");
  expect_refused("--hosts a,b --slurm", " excludes --");
  // Slurm's variables cleared, whatever this machine has.
  auto r = run_command("env -u SLURM_NODELIST -u SLURM_STEP_NODELIST " + launch + " --slurm");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--slurm: SLURM_NODELIST is not set"), std::string::npos) << r.output;
  r = run_command("env SLURM_NODELIST='node[1-2]' SLURM_PROCID=1 SLURM_NTASKS=3 " + launch + " --slurm");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--slurm: SLURM_NTASKS is 3 but SLURM_NODELIST names 2 host(s)"), std::string::npos)
      << r.output;
  // An actor host reaching the learner off loopback without CURVE keys: the actor's own refusal,
  // before anything starts (docs/SECURITY.md).
  expect_refused("--hosts node1,node2 --host-index 1",
                 "actor: endpoint tcp://node1:5599 is not loopback; refusing a plain transport");
  expect_refused("--hosts node1,node2 --host-index 0",
                 "learner: endpoint tcp://0.0.0.0:5599 is not loopback; refusing a plain transport");
}

TEST(Launch, LearnerFailureEndsTheRunWithItsStatus) {
  // Whatever `rlvr learner` / `rlvr actor` do with this config (a model that does not exist),
  // they end with status 1; the actor's restart waits 10 minutes, so the learner decides.
  TempDir dir;
  std::string config = dir.write("run.yaml",
                                 "model:\n  path: " + dir.path() + "/no-model\n"
                                 "run:\n  output_dir: " + dir.path() + "/out\n"
                                 "actors:\n  count: 1\n  restart_max: 3\n  restart_backoff_ms: 600000\n");
  auto r = run_command(std::string(RLVR_BINARY) + " launch --config " + config + " --grace-ms 2000");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("\n[learner] "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("launch: 'learner' exited with status 1; learner exited with status 1 (1 start); "
                          "actor-0 "),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace rlvr::tools
