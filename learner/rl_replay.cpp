// The replay run: batches from a rollouts file, the learner loop, checkpoints, logs (see rl_replay.h).
#include "learner/rl_replay.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/config/loader.h"
#include "core/data/jsonl.h"
#include "core/data/rollout.h"
#include "core/model/model_config.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "learner/distributed.h"
#include "learner/precision.h"
#include "learner/progress.h"
#include "learner/rl_learner.h"
#include "learner/rollout_log.h"
#include "learner/run_guard.h"
#include "learner/run_outputs.h"
#include "learner/train_state.h"

namespace rlvr::learner {
namespace fs = std::filesystem;

std::vector<std::pair<int64_t, int64_t>> replay_batches(const std::vector<int64_t>& prompt_indices,
                                                        int64_t batch_size) {
  std::vector<std::pair<int64_t, int64_t>> out;
  const int64_t n = static_cast<int64_t>(prompt_indices.size());
  int64_t begin = 0, i = 0;
  while (i < n) {
    // Take the whole group that starts at i.
    int64_t j = i + 1;
    while (j < n && prompt_indices[static_cast<size_t>(j)] == prompt_indices[static_cast<size_t>(i)]) ++j;
    i = j;
    if (i - begin >= batch_size) {
      out.emplace_back(begin, i);
      begin = i;
    }
  }
  if (begin < n && out.empty()) out.emplace_back(begin, n);
  return out;
}

RlRunStart start_rl_run_dir(const core::Config& config, const RunFingerprint& fingerprint) {
  const std::string& out_dir = config.run.output_dir;
  StartOptions so;
  so.output_dir = out_dir;
  so.resume = config.rl.resume;
  so.overwrite_output_dir = config.rl.overwrite_output_dir;
  so.key_prefix = "rl";
  RlRunStart start{plan_start(so, fingerprint), "", core::config_to_yaml(config)};
  if (start.plan.resume_from && fs::exists(out_dir + "/config.yaml")) {
    start.previous_config = core::read_file(out_dir + "/config.yaml");
  }
  core::prepare_run_dir(out_dir, start.config_yaml);
  remove_partial_outputs(out_dir);
  return start;
}

RlRunStart start_rl_run_dir(const core::Config& config, const RunFingerprint& fingerprint, DataParallel* dp) {
  if (dp == nullptr) return start_rl_run_dir(config, fingerprint);
  RlRunStart start;
  if (dp->is_main()) start = start_rl_run_dir(config, fingerprint);
  const std::string from = dp->broadcast_bytes(start.plan.resume_from.value_or(""), "the checkpoint to resume from");
  if (!dp->is_main()) {
    if (!from.empty()) start.plan.resume_from = from;
    core::add_log_file(fmt::format("{}/logs/rank-{}.log", config.run.output_dir, dp->rank()));
  }
  return start;
}

RunFingerprint fingerprint_rl_run(const core::Config& config, const std::string& data_key, const std::string& data_path) {
  std::map<std::string, std::string> all = flatten_config(config);
  for (const char* key : {"model.path", "model.tokenizer", "rl.reference_path", "rl.critic_path"}) {
    all[key] = absolute_path(all[key]);
  }
  RunFingerprint fp;
  const std::set<std::string> identity_keys = {
      "model.path",      "rl.advantage",           "rl.rollout_batch_size", "rl.total_steps",
      "rl.ppo_epochs",   "rl.num_minibatches",     "rl.critic_path",        "run.seed",
      "generation.temperature", "generation.max_new_tokens", "generation.num_samples_per_prompt"};
  for (const auto& key : identity_keys) fp.identity[key] = all.at(key);
  fp.identity["rl.reference_path"] = config.rl.reference_path.empty() ? all.at("model.path") : all.at("rl.reference_path");
  fp.identity[data_key + " (contents)"] = hash_file_for(data_key, data_path);
  fp.identity["model.path (config.json contents)"] = hash_file_for("model.path", config.model.path + "/config.json");
  const std::string tokenizer =
      config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;
  fp.identity["model.tokenizer (contents)"] = hash_file_for("model.tokenizer", tokenizer);
  const std::set<std::string> ignored = {"rl.resume", "rl.overwrite_output_dir", "run.output_dir", "run.log_level",
                                         "rl.reference_path"};
  for (const auto& [key, value] : all) {
    const bool used = key.rfind("rl.", 0) == 0 || key.rfind("optim.", 0) == 0 || key.rfind("run.", 0) == 0 ||
                      key == "verifiers.verification_reward" || key == "model.tokenizer";
    if (!used || identity_keys.count(key) || ignored.count(key)) continue;
    fp.settings[key] = value;
  }
  return fp;
}

namespace {

void write_summary(const core::Config& config, const RlRunResult& r, const std::string& rollouts_path) {
  nlohmann::ordered_json j;
  j["name"] = config.run.name;
  j["mode"] = "rl-replay";
  j["replay"] = rollouts_path;
  j["steps"] = r.steps;
  j["batches_available"] = r.batches_available;
  j["resumed_from_step"] = r.resumed_from_step;
  j["last_reward"] = std::isfinite(r.last_reward) ? nlohmann::ordered_json(r.last_reward) : nlohmann::ordered_json();
  j["final_dir"] = r.final_dir;
  core::write_file_atomic(config.run.output_dir + "/summary.json", j.dump(2) + "\n");
}

}  // namespace

RlRunResult run_replay(const core::Config& config, const std::string& rollouts_path) {
  const auto& rl = config.rl;
  const std::string& out_dir = config.run.output_dir;
  RLVR_CHECK(!config.model.path.empty(), "model.path is empty; expected the policy checkpoint to train");

  // Read, check and cut the file first: a bad record stops the run before anything is written.
  std::vector<core::RolloutSample> records;
  std::vector<int64_t> lines;
  core::read_jsonl(
      rollouts_path, core::BadRowPolicy::kStop,
      [&](int64_t line, const nlohmann::json& row) {
        records.push_back(core::rollout_from_json(row));
        lines.push_back(line);
      },
      "fix or remove the line: replay never trains on a partial record");
  RLVR_CHECK(!records.empty(), "{}: no rollout records", rollouts_path);
  {
    const core::TransformerConfig mc = core::load_transformer_config(config.model.path + "/config.json");
    core::RolloutLimits lim;
    lim.vocab_size = mc.vocab_size;
    lim.max_positions = mc.max_positions();
    lim.max_completion_tokens = config.generation.max_new_tokens;
    for (size_t i = 0; i < records.size(); ++i) {
      if (auto problem = core::rollout_problem(records[i], lim)) {
        throw Error(fmt::format("{}:{}: {}: {}", rollouts_path, lines[i], records[i].describe(), *problem));
      }
    }
  }
  std::vector<int64_t> prompt_indices;
  prompt_indices.reserve(records.size());
  for (const auto& r : records) prompt_indices.push_back(r.prompt_index);
  const auto batches = replay_batches(prompt_indices, rl.rollout_batch_size);
  RlRunResult result;
  result.batches_available = static_cast<int64_t>(batches.size());
  const int64_t total_steps = std::min<int64_t>(rl.total_steps, result.batches_available);

  // Data-parallel ranks (learner.world_size > 1) replay the same batches; rank 0 writes.
  std::unique_ptr<DataParallel> dp = join_data_parallel(config);
  const bool main_rank = dp == nullptr || dp->is_main();

  // Decide what to do with the run directory before writing anything into it.
  const RunFingerprint fingerprint = fingerprint_rl_run(config, "replay file", rollouts_path);
  const RlRunStart start = start_rl_run_dir(config, fingerprint, dp.get());
  const StartPlan& plan = start.plan;
  const std::string& previous_config = start.previous_config;
  const std::string& config_yaml = start.config_yaml;
  seed_and_threads(config.run.seed, config.run.threads);
  RLVR_LOG_INFO("rlvr learner: run '{}', replay of {} ({} records, {} learner steps of >= {} samples; running {}), "
                "advantage {}, output {}",
                config.run.name, rollouts_path, records.size(), batches.size(), rl.rollout_batch_size, total_steps,
                rl.advantage, out_dir);
  if (total_steps < rl.total_steps) {
    RLVR_LOG_WARN("{} holds {} learner steps; rl.total_steps is {}: the run stops when the file ends", rollouts_path,
                  batches.size(), rl.total_steps);
  }

  RlLearner learner(config, total_steps, dp.get());
  int64_t cursor = 0;  // the next batch
  if (plan.resume_from) {
    nlohmann::json c = learner.load_checkpoint(*plan.resume_from);
    RLVR_CHECK(c.is_object() && c.contains("batch") && c["batch"].is_number_integer(),
               "{}: no replay cursor in state.json; expected a checkpoint of `rlvr learner --replay`", *plan.resume_from);
    cursor = c["batch"].get<int64_t>();
    result.resumed_from_step = learner.version();
    if (!plan.changes.empty()) {
      RLVR_LOG_WARN("resuming with changed settings: {}", describe_changes(plan.changes));
    }
    if (main_rank) record_resume(out_dir, plan, learner.version(), previous_config, config_yaml);
    RLVR_LOG_INFO("resumed from {} (step {}/{})", *plan.resume_from, learner.version(), total_steps);
  } else if (main_rank) {
    clear_previous_run(out_dir, plan, {"metrics.jsonl", "resumes.jsonl", "summary.json", "rollouts.jsonl"});
  }
  const int64_t start_step = learner.version();
  std::optional<core::MetricsWriter> metrics;
  std::optional<RolloutLog> rollout_log;
  if (main_rank) {
    metrics.emplace(out_dir + "/metrics.jsonl", start_step);
    rollout_log.emplace(out_dir + "/rollouts.jsonl", plan.resume_from ? start_step : -1,
                        rl.rollouts_log_max_mb * 1024 * 1024);
  }
  const nlohmann::json run_json = fingerprint.to_json();

  ProgressMeter meter(total_steps, start_step);
  result.last_reward = std::numeric_limits<double>::quiet_NaN();
  int64_t last_checkpoint = start_step;
  while (learner.version() < total_steps) {
    const auto [begin, end] = batches[static_cast<size_t>(cursor)];
    std::vector<core::RolloutSample> batch(records.begin() + begin, records.begin() + end);
    RlStepResult step;
    try {
      step = learner.step(batch);
    } catch (const Error& e) {
      throw Error(fmt::format("{} (lines {}-{}): {}", rollouts_path, lines[static_cast<size_t>(begin)],
                              lines[static_cast<size_t>(end - 1)], e.what()));
    }
    ++cursor;
    const int64_t v = learner.version();
    if (metrics) metrics->write(v, step.metrics);
    if (rollout_log && rl.rollouts_log == "all") rollout_log->append(v, batch, step.samples);
    meter.step_done(v, step.trained_tokens);
    result.last_reward = step.metrics["reward/mean"];
    if (v % rl.log_every == 0 || v == total_steps) {
      RLVR_LOG_INFO("{} | reward {:.3f} | acc {:.3f} | kl {:.4f} | ent {:.3f}", meter.line(step.loss, step.metrics["lr"]),
                    step.metrics["reward/mean"], step.metrics["accuracy"],
                    step.metrics.count("kl/k3") ? step.metrics["kl/k3"] : 0.0, step.metrics["entropy"]);
    }
    if (rl.checkpoint_every > 0 && v % rl.checkpoint_every == 0) {
      if (main_rank) learner.save_checkpoint({{"batch", cursor}}, run_json);
      last_checkpoint = v;
    }
  }
  result.steps = learner.version();
  result.final_dir = out_dir + "/final";
  if (!main_rank) {
    dp->barrier("the end of the run (rank 0 writes final/)");
    RLVR_LOG_INFO("learner rank {}: done after {} steps; rank 0 wrote {}", dp->rank(), result.steps, result.final_dir);
    return result;
  }
  if (last_checkpoint != learner.version() || !latest_training_checkpoint(out_dir + "/checkpoints")) {
    learner.save_checkpoint({{"batch", cursor}}, run_json);
  }
  result.final_dir = learner.save_final();
  write_summary(config, result, rollouts_path);
  if (dp != nullptr) dp->barrier("the end of the run (rank 0 writes final/)");
  RLVR_LOG_INFO("run '{}' done: {} learner steps; final model in {}; summary in {}/summary.json", config.run.name,
                result.steps, result.final_dir, out_dir);
  return result;
}

}  // namespace rlvr::learner
