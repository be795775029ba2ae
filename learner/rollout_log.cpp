// The learner's rollouts.jsonl (see rollout_log.h).
#include "learner/rollout_log.h"

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "learner/rl_learner.h"

namespace rlvr::learner {
namespace fs = std::filesystem;

RolloutLog::RolloutLog(std::string path, int64_t resume_after_step, int64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {
  std::error_code ec;
  if (resume_after_step < 0) {
    fs::remove(path_, ec);
    fs::remove(path_ + ".1", ec);
    return;
  }
  if (!fs::exists(path_, ec)) return;
  // Keep complete rows of steps <= resume_after_step.
  const std::string old = core::read_file(path_);
  std::string kept;
  size_t start = 0;
  while (start < old.size()) {
    const size_t nl = old.find('\n', start);
    if (nl == std::string::npos) break;  // a torn last line
    std::string_view line(old.data() + start, nl - start);
    start = nl + 1;
    auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_object() || !row.contains("step") || !row["step"].is_number_integer()) continue;
    if (row["step"].get<int64_t>() > resume_after_step) continue;
    kept.append(line.data(), line.size());
    kept += '\n';
  }
  if (kept.size() != old.size()) core::write_file_atomic(path_, kept);
}

void RolloutLog::append(int64_t step, const std::vector<core::RolloutSample>& samples,
                        const std::vector<RlSampleOutcome>& outcomes) {
  RLVR_ASSERT(samples.size() == outcomes.size());
  std::error_code ec;
  if (max_bytes_ > 0 && fs::exists(path_, ec) && static_cast<int64_t>(fs::file_size(path_, ec)) > max_bytes_) {
    fs::rename(path_, path_ + ".1", ec);
    if (ec) throw Error(fmt::format("{}: cannot rotate to {}.1: {}", path_, path_, ec.message()));
  }
  std::string text;
  for (size_t i = 0; i < samples.size(); ++i) {
    nlohmann::json j = core::rollout_to_json(samples[i]);
    j["step"] = step;
    j["reward"] = outcomes[i].reward;
    j["advantage"] = outcomes[i].advantage;
    j["trained"] = outcomes[i].trained;
    if (i > 0) text += '\n';
    text += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  core::append_line(path_, text);
}

}  // namespace rlvr::learner
