#include "core/fs.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <xxhash.h>

#include "core/error.h"
#include "core/log.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)  // linux/fs.h; glibc < 2.28 does not define it
#endif

namespace rlvr::core {
namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, expected a file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open for reading: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read error", path));
  return ss.str();
}

void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create directory: {}", dir, ec.message()));
}

void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // best effort: some file systems do not allow opening directories
  ::fsync(fd);
  ::close(fd);
}

// --- Atomic files ---

AtomicFileWriter::AtomicFileWriter(const std::string& path, Options options)
    : path_(path), keep_partial_(options.keep_partial) {
  make_dirs(fs::path(path).parent_path().string());
  tmp_ = options.temp_path.empty() ? path + ".tmp." + std::to_string(::getpid()) : options.temp_path;
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(fmt::format("{}: cannot create temp file: {}", tmp_, std::strerror(errno)));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (!keep_partial_) ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::fail(const char* what) {
  int err = errno;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  ::unlink(tmp_.c_str());
  throw Error(fmt::format("{}: {} failed while writing atomically: {}", path_, what, std::strerror(err)));
}

void AtomicFileWriter::write(const void* data, size_t size) {
  RLVR_ASSERT(fd_ >= 0);
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  RLVR_ASSERT(fd_ >= 0);
  if (::fsync(fd_) != 0) fail("fsync");
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp_.c_str());
    throw Error(fmt::format("{}: close failed: {}", path_, std::strerror(err)));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_.c_str());
    throw Error(fmt::format("{}: rename from temp file failed: {}", path_, std::strerror(err)));
  }
  fsync_dir(fs::path(path_).parent_path().string());
}

void write_file_atomic(const std::string& path, std::string_view data) {
  AtomicFileWriter out(path);
  out.write(data);
  out.commit();
}

void append_line(const std::string& path, std::string_view line) {
  make_dirs(fs::path(path).parent_path().string());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("{}: cannot open for appending: {}", path, std::strerror(errno)));
  std::string text(line);
  text.push_back('\n');
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error(fmt::format("{}: append failed: {}", path, std::strerror(err)));
    }
    off += static_cast<size_t>(n);
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw Error(fmt::format("{}: fsync failed: {}", path, std::strerror(err)));
}

// --- Atomic directories ---

namespace {

void require_dir(const std::string& tmp_dir, const std::string& final_dir) {
  std::error_code ec;
  RLVR_CHECK(fs::is_directory(tmp_dir, ec), "{}: cannot move into place: {} is not a directory", final_dir,
             tmp_dir);
}

void remove_old(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) RLVR_LOG_WARN("{}: could not delete the replaced directory: {}", dir, ec.message());
}

}  // namespace

void detail::replace_dir_with_two_renames(const std::string& tmp_dir, const std::string& final_dir) {
  require_dir(tmp_dir, final_dir);
  const std::string old = final_dir + ".old-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(old, ec);
  if (::rename(final_dir.c_str(), old.c_str()) != 0) {
    throw Error(fmt::format("{}: cannot move the previous directory aside to {}: {}", final_dir, old,
                            std::strerror(errno)));
  }
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    int err = errno;
    ::rename(old.c_str(), final_dir.c_str());  // put the previous one back
    throw Error(fmt::format("{}: cannot move {} into place: {}", final_dir, tmp_dir, std::strerror(err)));
  }
  fsync_dir(fs::path(final_dir).parent_path().string());
  remove_old(old);
}

void replace_dir_atomic(const std::string& tmp_dir, const std::string& final_dir) {
  require_dir(tmp_dir, final_dir);
  fsync_dir(tmp_dir);
  const std::string parent = fs::path(final_dir).parent_path().string();
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) == 0) {  // no target, or an empty one
    fsync_dir(parent);
    return;
  }
  if (errno != EEXIST && errno != ENOTEMPTY) {
    throw Error(fmt::format("{}: cannot move {} into place: {}", final_dir, tmp_dir, std::strerror(errno)));
  }
  if (::syscall(SYS_renameat2, AT_FDCWD, tmp_dir.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) == 0) {
    fsync_dir(parent);
    remove_old(tmp_dir);  // now holds the previous directory
    return;
  }
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) {
    throw Error(fmt::format("{}: cannot swap in {}: {}", final_dir, tmp_dir, std::strerror(errno)));
  }
  RLVR_LOG_WARN("{}: the file system does not support an atomic directory exchange ({}); replacing it with "
                "two renames (the previous directory stays at {}.old-{} until the new one is in place)",
                final_dir, std::strerror(errno), final_dir, ::getpid());
  detail::replace_dir_with_two_renames(tmp_dir, final_dir);
}

// --- Content hash: XXH64 from Debian's libxxhash (xxhash.h) ---

namespace {

// The streaming state of libxxhash, freed on every path.
struct Xxh64 {
  Xxh64() : state(XXH64_createState()) {
    if (state == nullptr) throw Error("content hash: out of memory");
    XXH64_reset(state, 0);
  }
  ~Xxh64() { XXH64_freeState(state); }
  Xxh64(const Xxh64&) = delete;
  Xxh64& operator=(const Xxh64&) = delete;
  void update(const void* data, size_t size) { XXH64_update(state, data, size); }
  uint64_t digest() const { return XXH64_digest(state); }
  XXH64_state_t* state;
};

}  // namespace

std::string content_hash(std::string_view data) {
  Xxh64 h;
  h.update(data.data(), data.size());
  return fmt::format("{:016x}", h.digest());
}

std::string file_content_hash(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, expected a file", path));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: cannot open for reading: {}", path, std::strerror(errno)));
  Xxh64 h;
  std::vector<char> buf(1 << 20);
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw Error(fmt::format("{}: read error: {}", path, std::strerror(err)));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return fmt::format("{:016x}", h.digest());
}

}  // namespace rlvr::core
