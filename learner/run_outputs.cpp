// The final model, partial-output cleanup and clearing an earlier run (see run_outputs.h).
#include "learner/run_outputs.h"

#include <unistd.h>

#include <filesystem>

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

std::string save_final_model(torch::nn::Module& model, const core::TransformerConfig& config,
                             const std::string& tokenizer_path, const std::string& output_dir) {
  const std::string final_dir = output_dir + "/final";
  const std::string tmp = fmt::format("{}/{}{}", output_dir, kFinalTempPrefix, ::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    core::save_checkpoint(model, config, tmp);
    core::write_file_atomic(tmp + "/tokenizer.json", core::read_file(tokenizer_path));
    fs::path tok_cfg = fs::path(tokenizer_path).parent_path() / "tokenizer_config.json";
    if (fs::exists(tok_cfg)) core::write_file_atomic(tmp + "/tokenizer_config.json", core::read_file(tok_cfg.string()));
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
