// Logging over spdlog. Library code logs through these macros and never writes to stdout.
// The level test happens before the arguments are evaluated. Thread-safe (spdlog's mt sinks).
#pragma once

#include <string>

#include <spdlog/spdlog.h>

namespace rlvr::core {

// Sets up the process-wide logger: colored stderr, plus `file_path` when non-empty.
// `level` is one of trace, debug, info, warn, error, off. Throws rlvr::Error for an unknown
// level or a log file that cannot be opened. Safe to call again (replaces the sinks).
void init_logging(const std::string& level, const std::string& file_path = {});

// Adds a file sink to the current logger (used once a run directory exists).
// Throws rlvr::Error when the file cannot be opened.
void add_log_file(const std::string& file_path);

}  // namespace rlvr::core

#define RLVR_LOG_AT(lvl, ...)                                                  \
  do {                                                                         \
    auto* rlvr_logger_ = ::spdlog::default_logger_raw();                       \
    if (rlvr_logger_->should_log(lvl)) rlvr_logger_->log(lvl, __VA_ARGS__);    \
  } while (0)
#define RLVR_LOG_DEBUG(...) RLVR_LOG_AT(::spdlog::level::debug, __VA_ARGS__)
#define RLVR_LOG_INFO(...) RLVR_LOG_AT(::spdlog::level::info, __VA_ARGS__)
#define RLVR_LOG_WARN(...) RLVR_LOG_AT(::spdlog::level::warn, __VA_ARGS__)
#define RLVR_LOG_ERROR(...) RLVR_LOG_AT(::spdlog::level::err, __VA_ARGS__)
