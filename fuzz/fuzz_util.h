// Helpers shared by the libFuzzer targets in fuzz/ (docs/FUZZING.md).
//
// A target feeds the fuzzer's bytes to one decoder of outside input and lets only real bugs
// escape: rlvr::Error is the clean rejection every decoder promises for bad input (STYLE 9), so
// expect_clean() swallows it; anything else that escapes (a std::out_of_range, a
// nlohmann::json::exception, ...) terminates the program and libFuzzer records the input as a
// crash, as it does for aborts, sanitizer reports, timeouts and out-of-memory.
//
// Single-threaded use only (libFuzzer calls a target from one thread).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "core/error.h"

namespace rlvr::fuzz {

// Prints `what` and aborts: a property the target checks does not hold (libFuzzer saves the
// input as a crash).
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz property violated: %s\n", what.c_str());
  std::abort();
}

#define RLVR_FUZZ_EXPECT(cond, what)                                              \
  do {                                                                            \
    if (!(cond)) ::rlvr::fuzz::fail(std::string(#cond) + ": " + std::string(what)); \
  } while (0)

// Routes the process-wide logger into a null sink at level trace: warnings about skipped rows
// are still formatted (their formatting is code under test) but nothing is printed.
inline void quiet_logging() {
  auto logger = std::make_shared<spdlog::logger>("rlvr", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

// Runs `f`; returns true when it returned, false when it threw rlvr::Error.
template <class F>
bool expect_clean(F&& f) {
  try {
    f();
    return true;
  } catch (const rlvr::Error& e) {
    // The message must say something: an empty what() helps no user.
    RLVR_FUZZ_EXPECT(e.what()[0] != '\0', "rlvr::Error with an empty message");
    return false;
  }
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A private directory under $TMPDIR (or /tmp) for the files a decoder must read by path;
// removed at exit. Files written there are rewritten for every input.
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/rlvr-fuzz-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      std::fprintf(stderr, "fuzz: mkdtemp %s: %s\n", pattern.c_str(), std::strerror(errno));
      std::abort();
    }
    dir_ = buf.data();
  }
  ~ScratchDir() {
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "fuzz: could not remove %s\n", dir_.c_str());
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return dir_; }

  // Writes `bytes` to <dir>/<name> (truncating) and returns the file's path. Aborts on I/O
  // failure (a broken test machine, not a finding).
  std::string write(const std::string& name, std::string_view bytes) const {
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
      std::fprintf(stderr, "fuzz: open %s: %s\n", path.c_str(), std::strerror(errno));
      std::abort();
    }
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        std::fprintf(stderr, "fuzz: write %s: %s\n", path.c_str(), std::strerror(errno));
        std::abort();
      }
      off += static_cast<size_t>(n);
    }
    ::close(fd);
    return path;
  }

 private:
  std::string dir_;
};

// The process' scratch directory (created on first use, removed by exit()).
inline const ScratchDir& scratch() {
  static ScratchDir dir;
  return dir;
}

// The committed file `relative` (to the source tree, e.g. "tests/fixtures/tokenizer/
// tiny_tokenizer.json"); aborts when it cannot be read.
inline std::string read_source_file(const std::string& relative) {
  std::string path = std::string(RLVR_SOURCE_DIR) + "/" + relative;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "fuzz: cannot read %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

}  // namespace rlvr::fuzz
