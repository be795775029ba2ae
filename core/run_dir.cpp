#include "core/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"

namespace rlvr::core {
namespace {

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& path, int64_t resume_after_step) : path_(path) {
  // Keep only complete rows (and, on resume, rows up to resume_after_step).
  std::string kept;
  if (::access(path.c_str(), F_OK) == 0) {
    std::string old = read_file(path);
    std::istringstream in(old);
    std::string line;
    size_t consumed = 0;
    while (std::getline(in, line)) {
      consumed += line.size() + 1;
      if (consumed > old.size()) break;  // last line had no newline: a torn write
      auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!row.is_object() || !row.contains("step") || !row["step"].is_number_integer()) continue;
      if (resume_after_step >= 0 && row["step"].get<int64_t>() > resume_after_step) continue;
      if (row.contains("time") && row["time"].is_number()) time_offset_ = row["time"].get<double>();
      kept += line;
      kept += '\n';
    }
    if (kept.size() != old.size()) write_file_atomic(path, kept);
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(fmt::format("{}: cannot open metrics file: {}", path, std::strerror(errno)));
  start_ = now_seconds();
}

MetricsWriter::~MetricsWriter() {
  if (fd_ >= 0) {
    ::fsync(fd_);
    ::close(fd_);
  }
}

void MetricsWriter::write(int64_t step, const std::map<std::string, double>& scalars) {
  nlohmann::ordered_json row;
  row["step"] = step;
  row["time"] = time_offset_ + (now_seconds() - start_);
  for (const auto& [name, value] : scalars) {
    if (std::isfinite(value)) {
      row[name] = value;
    } else {
      row[name] = nullptr;
    }
  }
  std::string line = row.dump() + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("{}: write failed: {}", path_, std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
}

void prepare_run_dir(const std::string& dir, const std::string& resolved_config_yaml) {
  make_dirs(dir + "/logs");
  make_dirs(dir + "/checkpoints");
  write_file_atomic(dir + "/config.yaml", resolved_config_yaml);
  add_log_file(dir + "/logs/rlvr.log");
}

}  // namespace rlvr::core
