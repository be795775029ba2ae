// The final model, partial-output cleanup and clearing an earlier run (see run_outputs.h).
#include "learner/run_outputs.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "learner/run_guard.h"
#include "learner/train_state.h"

namespace rlvr::learner {
namespace fs = std::filesystem;
namespace {

constexpr const char* kFinalTempPrefix = ".final.tmp-";

}  // namespace

namespace {

// The JSON object in `path`, or {} when it does not exist. Throws rlvr::Error naming the file for
// anything but a JSON object.
nlohmann::json read_json_object_or_empty(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !fs::exists(path, ec)) return nlohmann::json::object();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(core::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({}); expected a JSON object", path, e.what()));
  }
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", path));
  return j;
}

nlohmann::json ids_json(const std::vector<int64_t>& ids) {
  if (ids.size() == 1) return ids[0];
  return ids;
}

}  // namespace

std::vector<int64_t> write_hand_off_files(const std::string& dir, const core::Tokenizer& tokenizer,
                                          const core::ChatFormat& format, const std::string& source_dir,
                                          const core::TransformerConfig& config) {
  nlohmann::json tc = read_json_object_or_empty(source_dir.empty() ? "" : source_dir + "/tokenizer_config.json");
  tc["chat_template"] = format.jinja_text();
  if (!format.eos_token().empty()) tc["eos_token"] = format.eos_token();
  if (!format.bos_token().empty()) tc["bos_token"] = format.bos_token();
  if (!tc.contains("tokenizer_class")) tc["tokenizer_class"] = "PreTrainedTokenizerFast";
  if (!tc.contains("model_max_length")) tc["model_max_length"] = config.max_positions();
  if (!tc.contains("clean_up_tokenization_spaces")) tc["clean_up_tokenization_spaces"] = false;
  core::write_file_atomic(dir + "/tokenizer_config.json", tc.dump(2) + "\n");

  std::vector<int64_t> eos = config.eos_token_id;
  auto add = [&](int64_t id) {
    if (id >= 0 && std::find(eos.begin(), eos.end(), id) == eos.end()) eos.push_back(id);
  };
  nlohmann::json gc = read_json_object_or_empty(source_dir.empty() ? "" : source_dir + "/generation_config.json");
  if (auto it = gc.find("eos_token_id"); it != gc.end()) {
    for (const auto& v : it->is_array() ? *it : nlohmann::json::array({*it})) {
      if (v.is_number_integer()) add(v.get<int64_t>());
    }
  }
  if (!format.eos_token().empty()) {
    if (auto id = tokenizer.single_token_id(format.eos_token())) add(*id);
  }
  add(format.end_of_turn_id());
  if (!eos.empty()) gc["eos_token_id"] = ids_json(eos);
  if (!config.bos_token_id.empty()) gc["bos_token_id"] = ids_json(config.bos_token_id);
  core::write_file_atomic(dir + "/generation_config.json", gc.dump(2) + "\n");
  return eos;
}

std::string save_final_model(torch::nn::Module& model, const core::TransformerConfig& config,
                             const std::string& tokenizer_path, const std::string& output_dir,
                             const HandOff& hand_off) {
  const std::string final_dir = output_dir + "/final";
  const std::string tmp = fmt::format("{}/{}{}", output_dir, kFinalTempPrefix, ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    core::TransformerConfig written = config;
    if (hand_off.chat_format) {
      const core::Tokenizer tokenizer = core::Tokenizer::from_file(tokenizer_path);
      const std::string source =
          hand_off.source_dir.empty() ? fs::path(tokenizer_path).parent_path().string() : hand_off.source_dir;
      std::vector<int64_t> eos = write_hand_off_files(tmp, tokenizer, *hand_off.chat_format, source, config);
      if (written.eos_token_id.empty()) written.eos_token_id = eos;
    } else {
      fs::path tok_cfg = fs::path(tokenizer_path).parent_path() / "tokenizer_config.json";
      if (fs::exists(tok_cfg)) core::write_file_atomic(tmp + "/tokenizer_config.json", core::read_file(tok_cfg.string()));
    }
    core::save_checkpoint(model, written, tmp);
    core::write_file_atomic(tmp + "/tokenizer.json", core::read_file(tokenizer_path));
    core::replace_dir_atomic(tmp, final_dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return final_dir;
}

void remove_partial_outputs(const std::string& output_dir) {
  remove_partial_checkpoints(output_dir + "/checkpoints");
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    if (entry.path().filename().string().rfind(kFinalTempPrefix, 0) == 0) stale.push_back(entry.path());
  }
  for (const auto& p : stale) {
    RLVR_LOG_WARN("removing {}: a final/ left unfinished by an earlier process", p.string());
    fs::remove_all(p, ec);
  }
}

void clear_previous_run(const std::string& output_dir, const StartPlan& plan, const std::vector<std::string>& files) {
  const std::string ckpt_dir = output_dir + "/checkpoints";
  auto old = list_training_checkpoints(ckpt_dir);
  std::error_code ec;
  if (plan.discard_existing) {
    RLVR_LOG_WARN("{}: discarding the earlier run ({} checkpoints{}) because {}", output_dir, old.size(),
                  fs::exists(output_dir + "/final", ec) ? ", final/" : "", plan.discard_reason);
    fs::remove_all(output_dir + "/final", ec);
  }
  for (const auto& dir : old) fs::remove_all(dir, ec);
  for (const auto& f : files) fs::remove(output_dir + "/" + f, ec);
}

}  // namespace rlvr::learner
