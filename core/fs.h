// File helpers: whole-file reads, content hashes, and the one atomic-write path every writer
// goes through.
//
// Files: AtomicFileWriter streams to `path.tmp.<pid>`; commit() fsyncs it, renames it over
// `path` and fsyncs the directory, so a reader sees either the old file or the new one, never a
// torn write. write_file_atomic is the one-shot form. The safetensors writer, checkpoints,
// config.yaml, summaries and caches all use these.
//
// Directories: a multi-file artifact (a checkpoint, final/) is written complete into a temp
// directory beside its target and moved in with replace_dir_atomic, which swaps the two
// directories in one step (renameat2 RENAME_EXCHANGE) when the target exists, so the target
// path always names a complete directory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rlvr::core {

// Returns the whole file. Throws rlvr::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

// Streams a new version of one file and publishes it atomically.
// Bytes go to `<path>.tmp.<pid>`; commit() fsyncs, renames it over `path` and fsyncs the
// directory. A writer destroyed without commit() (e.g. by an exception midway) removes its temp
// file and leaves `path` untouched. Not thread-safe; one writer per path at a time.
class AtomicFileWriter {
 public:
  // Where the bytes go before commit() and what happens to them when the writer is abandoned.
  struct Options {
    // The temp file; empty means `<path>.tmp.<pid>`.
    std::string temp_path;
    // Keep the temp file when the writer is destroyed without commit(), so that a long
    // streamed output (rlvr generate's `<out>.partial`) keeps what was written before an error.
    bool keep_partial = false;
  };
  // Creates missing parent directories and the temp file. Throws rlvr::Error naming the path.
  explicit AtomicFileWriter(const std::string& path) : AtomicFileWriter(path, Options{}) {}
  AtomicFileWriter(const std::string& path, Options options);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  // Appends bytes. REQUIRES: commit() not called yet. Throws rlvr::Error on a write failure.
  void write(const void* data, size_t size);
  void write(std::string_view data) { write(data.data(), data.size()); }

  // fsync + rename over path() + directory fsync. Throws rlvr::Error on failure (the temp file
  // is removed and path() keeps its previous contents). REQUIRES: called at most once.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(const char* what);
  std::string path_, tmp_;
  bool keep_partial_ = false;
  int fd_ = -1;
};

// Atomically replaces `path` with `data` (AtomicFileWriter in one call).
// Creates missing parent directories. Throws rlvr::Error naming the path on any failure;
// on failure the previous contents of `path` are untouched and the temp file is removed.
void write_file_atomic(const std::string& path, std::string_view data);

// Appends `line` plus a newline to `path` (created if missing) with one write(2) on an O_APPEND
// descriptor, then fsyncs: a crash leaves at most a torn last line. For small JSON-lines records.
// Throws rlvr::Error naming the path on failure.
void append_line(const std::string& path, std::string_view line);

// Creates `dir` and its parents if missing. Throws rlvr::Error on failure.
void make_dirs(const std::string& dir);

// Flushes `dir`'s entries (creations, renames) to disk. Best effort: file systems that cannot
// open or fsync a directory are ignored.
void fsync_dir(const std::string& dir);

// Moves the complete directory `tmp_dir` to `final_dir` so that `final_dir` always names either
// the old complete directory or the new one:
//   - `final_dir` absent: rename(2).
//   - `final_dir` present: renameat2(RENAME_EXCHANGE) swaps the two in one step, then the old
//     directory (now at `tmp_dir`) is deleted.
//   - a file system that refuses the exchange (EINVAL/ENOSYS/ENOTSUP): `final_dir` is first
//     renamed to `<final_dir>.old-<pid>`, then `tmp_dir` into place, then the old one deleted;
//     a warning is logged, and a crash between the two renames leaves the old directory intact
//     under the .old name.
// `tmp_dir` is fsynced first and the parent directory after. REQUIRES: both paths in the same
// directory (same file system). Throws rlvr::Error naming both paths on failure; `final_dir` is
// then unchanged.
void replace_dir_atomic(const std::string& tmp_dir, const std::string& final_dir);

// A 64-bit content hash (XXH64, seed 0) of the file as 16 lowercase hex digits, read in 1 MiB
// pieces so files of any size hash in constant memory. Throws rlvr::Error naming the path when
// it cannot be read.
std::string file_content_hash(const std::string& path);

// The same hash of an in-memory string.
std::string content_hash(std::string_view data);

namespace detail {
// replace_dir_atomic's fallback for file systems without RENAME_EXCHANGE (exposed for tests).
void replace_dir_with_two_renames(const std::string& tmp_dir, const std::string& final_dir);
}  // namespace detail

}  // namespace rlvr::core
