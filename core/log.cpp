#include "core/log.h"

#include <memory>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/error.h"

namespace rlvr::core {

void init_logging(const std::string& level, const std::string& file_path) {
  auto lvl = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  RLVR_CHECK(lvl != spdlog::level::off || level == "off",
             "log level '{}' is not one of trace, debug, info, warn, error, off", level);
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("rlvr", sinks.begin(), sinks.end());
  logger->set_pattern("%^[%H:%M:%S.%e %L]%$ %v");
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  if (!file_path.empty()) add_log_file(file_path);
}

void add_log_file(const std::string& file_path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file_path, /*truncate=*/false);
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e %L] %v");
    spdlog::default_logger_raw()->sinks().push_back(sink);
    spdlog::default_logger_raw()->flush_on(spdlog::level::info);
  } catch (const spdlog::spdlog_ex& e) {
    throw Error(fmt::format("cannot open log file '{}': {}", file_path, e.what()));
  }
}

}  // namespace rlvr::core
