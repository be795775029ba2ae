// File helpers: whole-file reads and the one atomic-write path every writer goes through.
//
// write_file_atomic writes `path.tmp.<pid>`, fsyncs it, renames it over `path` and fsyncs
// the directory, so a reader sees either the old file or the new one, never a torn write.
#pragma once

#include <string>
#include <string_view>

namespace rlvr::core {

// Returns the whole file. Throws rlvr::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

// Atomically replaces `path` with `data` (temp file + fsync + rename + directory fsync).
// Creates missing parent directories. Throws rlvr::Error naming the path on any failure;
// on failure the previous contents of `path` are untouched and the temp file is removed.
void write_file_atomic(const std::string& path, std::string_view data);

// Creates `dir` and its parents if missing. Throws rlvr::Error on failure.
void make_dirs(const std::string& dir);

}  // namespace rlvr::core
