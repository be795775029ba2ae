#include "learner/run_guard.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <set>

#include "core/config/schema.h"
#include "core/error.h"
#include "core/fs.h"
#include "learner/train_state.h"

namespace rlvr::learner {
namespace fs = std::filesystem;
namespace {

constexpr const char* kAbsent = "(absent)";


std::string shorten(const std::string& v) { return v.size() <= 80 ? v : v.substr(0, 77) + "..."; }

std::string utc_now_iso8601() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string overwrite_hint(const std::string& prefix) {
  return fmt::format("set {}.overwrite_output_dir: true to discard it (its checkpoints, metrics and final/) and "
                     "start this run fresh, or choose another run.output_dir", prefix);
}

}  // namespace

std::string absolute_path(const std::string& p) {
  if (p.empty()) return p;
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  return (ec ? fs::path(p) : abs).lexically_normal().string();
}

std::string hash_file_for(const std::string& key, const std::string& path) {
  try {
    return core::file_content_hash(path);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", key, e.what()));
  }
}

nlohmann::json RunFingerprint::to_json() const {
  return nlohmann::json{{"identity", identity}, {"settings", settings}};
}

RunFingerprint RunFingerprint::from_json(const nlohmann::json& j, const std::string& source) {
  RunFingerprint fp;
  try {
    fp.identity = j.at("identity").get<std::map<std::string, std::string>>();
    fp.settings = j.at("settings").get<std::map<std::string, std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed run fingerprint (\"run\"): {}; expected {{\"identity\": {{...}}, "
                            "\"settings\": {{...}}}} of strings",
                            source, e.what()));
  }
  return fp;
}


std::vector<ConfigChange> diff_values(const std::map<std::string, std::string>& before,
                                      const std::map<std::string, std::string>& after) {
  std::vector<ConfigChange> out;
  std::set<std::string> keys;
  for (const auto& kv : before) keys.insert(kv.first);
  for (const auto& kv : after) keys.insert(kv.first);
  for (const auto& key : keys) {
    auto b = before.find(key), a = after.find(key);
    std::string bv = b == before.end() ? kAbsent : b->second;
    std::string av = a == after.end() ? kAbsent : a->second;
    if (bv != av) out.push_back({key, bv, av});
  }
  return out;
}

std::string describe_changes(const std::vector<ConfigChange>& changes) {
  std::string out;
  for (const auto& c : changes) {
    if (!out.empty()) out += "; ";
    out += fmt::format("{}: {} -> {}", c.key, shorten(c.before), shorten(c.after));
  }
  return out;
}

StartPlan plan_start(const StartOptions& options, const RunFingerprint& fingerprint) {
  const std::string& dir = options.output_dir;
  const std::string hint = overwrite_hint(options.key_prefix);
  const std::string ckpt_dir = dir + "/checkpoints";
  const std::string final_dir = dir + "/final";
  StartPlan plan;
  std::error_code ec;
  auto latest = latest_training_checkpoint(ckpt_dir);
  if (!latest) {
    if (fs::exists(final_dir, ec)) {
      if (!options.overwrite_output_dir) {
        throw Error(fmt::format("{}: holds the final/ model of an earlier run but no checkpoint to compare this "
                                "config with; refusing to replace it",
                                dir),
                    hint);
      }
      plan.discard_existing = true;
      plan.discard_reason = fmt::format("it holds an earlier run's final/ and {}.overwrite_output_dir is true", options.key_prefix);
    }
    return plan;
  }

  const TrainProgress prev = read_training_progress(*latest);
  const bool finished = prev.step >= prev.total_steps;
  const std::string what = fmt::format("{} run (checkpoint {} at step {}/{})", finished ? "a finished" : "an unfinished",
                                       *latest, prev.step, prev.total_steps);
  if (!options.resume) {
    if (!options.overwrite_output_dir) {
      throw Error(fmt::format("{}: holds {}; {}.resume is false, and starting over would delete it", dir, what,
                              options.key_prefix),
                  hint);
    }
    plan.discard_existing = true;
    plan.discard_reason = fmt::format("{0}.resume is false and {0}.overwrite_output_dir is true", options.key_prefix);
    return plan;
  }
  if (prev.run.empty()) {
    plan.resume_from = *latest;
    plan.unverified = true;
    return plan;
  }
  const RunFingerprint old = RunFingerprint::from_json(prev.run, *latest + "/state.json");
  const auto identity_changes = diff_values(old.identity, fingerprint.identity);
  if (!identity_changes.empty()) {
    const std::string changes = describe_changes(identity_changes);
    if (!options.overwrite_output_dir) {
      throw Error(fmt::format("{}: holds {} that differs from this config in what defines a run ({}); resuming "
                              "it would mix the two runs",
                              dir, what, changes),
                  hint);
    }
    plan.discard_existing = true;
    plan.discard_reason = fmt::format("it holds a different run ({}) and {}.overwrite_output_dir is true", changes, options.key_prefix);
    return plan;
  }
  plan.resume_from = *latest;
  plan.changes = diff_values(old.settings, fingerprint.settings);
  return plan;
}

void record_resume(const std::string& output_dir, const StartPlan& plan, int64_t step,
                   const std::string& previous_config_yaml, const std::string& config_yaml) {
  RLVR_ASSERT(plan.resume_from.has_value());
  nlohmann::ordered_json rec;
  rec["time"] = utc_now_iso8601();
  rec["step"] = step;
  rec["checkpoint"] = *plan.resume_from;
  rec["verified"] = !plan.unverified;
  rec["changes"] = nlohmann::json::array();
  for (const auto& c : plan.changes) rec["changes"].push_back({{"key", c.key}, {"old", c.before}, {"new", c.after}});
  if (!previous_config_yaml.empty() && previous_config_yaml != config_yaml) {
    rec["previous_config"] = previous_config_yaml;
  }
  core::append_line(output_dir + "/resumes.jsonl", rec.dump());
}

}  // namespace rlvr::learner
