// Helpers shared by the test suites: temp directories, running the rlvr binary, and
// asserting on rlvr::Error messages.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"

namespace rlvr::testing {

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rlvr-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `text` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0).
inline int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line and captures its output and exit status.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `command` as `world` data-parallel ranks at once (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1,
// MASTER_PORT=`port` in each one's environment), each under `timeout 300`, and waits for all.
// Returns one result per rank.
inline std::vector<CommandResult> run_ranks(const std::string& command, int world, int port,
                                            const std::string& scratch_dir) {
  std::string script;
  for (int r = 0; r < world; ++r) {
    const std::string base = scratch_dir + "/rank-" + std::to_string(r);
    script += "(RANK=" + std::to_string(r) + " WORLD_SIZE=" + std::to_string(world) +
              " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " timeout 300 " + command + " > " +
              base + ".out 2>&1; echo $? > " + base + ".rc) & ";
  }
  run_command(script + "wait");
  std::vector<CommandResult> out(static_cast<size_t>(world));
  for (int r = 0; r < world; ++r) {
    const std::string base = scratch_dir + "/rank-" + std::to_string(r);
    std::ifstream rc(base + ".rc");
    rc >> out[static_cast<size_t>(r)].exit_code;
    std::ifstream text(base + ".out");
    out[static_cast<size_t>(r)].output.assign(std::istreambuf_iterator<char>(text), {});
  }
  return out;
}

// The message of the rlvr::Error thrown by `fn`, or a failure when none is thrown.
template <class Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const rlvr::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected rlvr::Error, nothing was thrown";
  return {};
}

// A directory of expensive test inputs (a trained model, sampled rollouts) built once and shared
// by every test process of this test binary: ctest runs each test case as its own process, so a
// suite-level setup would otherwise repeat for every case. `build(dir)` fills `dir`; concurrent
// processes wait on a lock while one builds. The cache lives under the build tree
// (RLVR_TEST_CACHE_DIR) and is keyed by the test binary's size and modification time, so a
// rebuilt test rebuilds its inputs. Returns the directory.
inline std::string shared_fixture_dir(const std::string& name, const std::function<void(const std::string&)>& build) {
  struct stat st {};
  ::stat("/proc/self/exe", &st);
  const std::string root =
#ifdef RLVR_TEST_CACHE_DIR
      RLVR_TEST_CACHE_DIR;
#else
      (std::filesystem::temp_directory_path() / "rlvr-test-cache").string();
#endif
  const std::string dir = root + "/" + name + "-" + std::to_string(st.st_size) + "-" +
                          std::to_string(static_cast<long long>(st.st_mtim.tv_sec)) + "." +
                          std::to_string(static_cast<long long>(st.st_mtim.tv_nsec));
  std::filesystem::create_directories(root);
  const int fd = ::open((dir + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd >= 0) ::flock(fd, LOCK_EX);
  if (!std::filesystem::exists(dir + "/.done")) {
    std::error_code ec;
    // Inputs of earlier builds of this test binary are not used again: remove them.
    const std::string prefix = name + "-";
    for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
      const std::string other = entry.path().filename().string();
      if (other.rfind(prefix, 0) == 0 && entry.path().string() != dir && entry.path().string() != dir + ".lock" &&
          std::isdigit(static_cast<unsigned char>(other[prefix.size()]))) {
        std::filesystem::remove_all(entry.path(), ec);
      }
    }
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir);
    build(dir);
    std::ofstream(dir + "/.done") << "ok\n";
  }
  if (fd >= 0) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
  }
  return dir;
}

}  // namespace rlvr::testing
