// The run fingerprint of `rlvr train` (see train_fingerprint.h).
#include "sft_dpo/train_fingerprint.h"

#include <set>

#include "core/error.h"
#include "sft_dpo/data.h"
#include "core/tokenizer/chat_template.h"

namespace rlvr::sft_dpo {

learner::RunFingerprint fingerprint_run(const core::Config& config) {
  const auto& tc = config.train;
  const bool dpo = tc.mode == "dpo";
  std::map<std::string, std::string> all = learner::flatten_config(config);
  learner::RunFingerprint fp;

  // Path keys compared as absolute paths (the same file from another working directory).
  for (const char* key : {"model.path", "model.tokenizer", "train.train_file", "train.eval_file",
                          "dpo.reference_path", "dpo.reference_cache_dir"}) {
    all[key] = learner::absolute_path(all[key]);
  }
  const std::string tokenizer =
      config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;

  std::set<std::string> identity_keys = {"model.path",          "model.chat_template", "train.mode",
                                         "train.max_seq_len",   "train.on_bad_row",    "train.batch_size",
                                         "train.grad_accum_steps", "train.max_steps",  "run.seed"};
  if (!dpo) identity_keys.insert("train.packing");
  if (tc.max_steps == 0) identity_keys.insert("train.num_epochs");
  if (dpo) identity_keys.insert("dpo.loss");
  for (const auto& key : identity_keys) fp.identity[key] = all.at(key);
  // The template actually used: `auto` that finds no checkpoint template is the same run as `tulu`.
  fp.identity["model.chat_template"] = core::ChatFormat::resolved_identity(config.model.chat_template, config.model.path);
  fp.identity["model.path (config.json contents)"] = learner::hash_file_for("model.path", config.model.path + "/config.json");
  fp.identity["model.tokenizer (contents)"] = learner::hash_file_for("model.tokenizer", tokenizer);
  if (tc.train_files.empty()) {
    fp.identity["train.train_file (contents)"] = learner::hash_file_for("train.train_file", tc.train_file);
  } else {
    // A mix: every file's contents, weight and rows, and the seed that draws it (sft_dpo/data.h).
    fp.identity["train.train_files (contents)"] =
        mix_identity(train_sources(tc), static_cast<uint64_t>(config.run.seed));
  }
  if (dpo) {
    // An empty reference_path means model.path: compare what is actually used.
    fp.identity["dpo.reference_path"] =
        config.dpo.reference_path.empty() ? all.at("model.path") : all.at("dpo.reference_path");
  }

  // Settings: the rest of what `rlvr train` reads. The switches that only steer this decision
  // (resume, overwrite_output_dir), the run directory itself and the log level are not part of the run.
  const std::set<std::string> ignored = {"train.resume", "train.overwrite_output_dir", "run.output_dir",
                                         "run.log_level", "dpo.reference_path"};
  std::vector<std::string> sections = {"run.", "model.", "train.", "optim."};
  if (dpo) sections.push_back("dpo.");
  for (const auto& [key, value] : all) {
    bool in_section = false;
    for (const auto& s : sections) in_section = in_section || key.rfind(s, 0) == 0;
    if (!in_section || identity_keys.count(key) || ignored.count(key)) continue;
    if (key == "train.packing" || key == "train.num_epochs") continue;  // not used by this run
    fp.settings[key] = value;
  }
  if (!tc.eval_file.empty()) fp.settings["train.eval_file (contents)"] = learner::hash_file_for("train.eval_file", tc.eval_file);
  return fp;
}

learner::StartPlan plan_start(const core::Config& config, const learner::RunFingerprint& fingerprint) {
  learner::StartOptions options;
  options.output_dir = config.run.output_dir;
  options.resume = config.train.resume;
  options.overwrite_output_dir = config.train.overwrite_output_dir;
  options.key_prefix = "train";
  return learner::plan_start(options, fingerprint);
}

}  // namespace rlvr::sft_dpo
