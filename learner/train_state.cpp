#include "learner/train_state.h"

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <filesystem>
#include <sstream>

#include <torch/torch.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "learner/optimizer.h"

namespace rlvr::learner {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMagic = "rlvr-train-state";
constexpr int kVersion = 1;
constexpr const char* kTempPrefix = ".tmp-";

std::string step_dir_name(int64_t step) { return fmt::format("step-{:08d}", step); }

// Generator states: the CPU generator, plus CUDA device 0's when CUDA is present.
std::string save_rng() {
  torch::serialize::OutputArchive archive;
  archive.write("cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (torch::cuda::is_available()) {
    archive.write("cuda0", at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, 0)).get_state());
  }
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void load_rng(const std::string& path) {
  try {
    std::istringstream in(core::read_file(path));
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    at::Tensor cpu;
    archive.read("cpu", cpu);
    at::Generator gen = at::detail::getDefaultCPUGenerator();  // a handle sharing the generator
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(cpu);
    }
    at::Tensor cuda;
    if (torch::cuda::is_available() && archive.try_read("cuda0", cuda)) {
      at::Generator cuda_gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, 0));
      std::lock_guard<std::mutex> lock(cuda_gen.mutex());
      cuda_gen.set_state(cuda);
    }
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: corrupt RNG state: {}", path, e.what_without_backtrace()));
  }
}

}  // namespace

std::vector<std::string> list_training_checkpoints(const std::string& checkpoints_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("step-", 0) == 0 && name.size() == 13 &&
        fs::exists(entry.path() / "state.json")) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());  // fixed-width step numbers sort by step
  return out;
}

int64_t remove_partial_checkpoints(const std::string& checkpoints_dir) {
  std::error_code ec;
  if (!fs::is_directory(checkpoints_dir, ec)) return 0;
  std::vector<fs::path> partial;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir, ec)) {
    if (entry.path().filename().string().rfind(kTempPrefix, 0) == 0) partial.push_back(entry.path());
  }
  for (const auto& p : partial) {
    RLVR_LOG_WARN("removing {}: a checkpoint left unfinished by an earlier process", p.string());
    fs::remove_all(p, ec);
  }
  return static_cast<int64_t>(partial.size());
}

std::optional<std::string> latest_training_checkpoint(const std::string& checkpoints_dir) {
  auto all = list_training_checkpoints(checkpoints_dir);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::string save_training_checkpoint(const std::string& checkpoints_dir, torch::nn::Module& model,
                                     const core::TransformerConfig& config, const Optimizer& optimizer,
                                     const TrainProgress& progress, int64_t keep,
                                     const std::function<void(const std::string& dir)>& write_extra) {
  RLVR_ASSERT(keep >= 1);
  core::make_dirs(checkpoints_dir);
  const std::string final_dir = checkpoints_dir + "/" + step_dir_name(progress.step);
  const std::string tmp_dir =
      fmt::format("{}/{}{}-{}", checkpoints_dir, kTempPrefix, step_dir_name(progress.step), ::getpid());
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  core::make_dirs(tmp_dir);
  // On any failure below the temp directory goes away and the existing checkpoints stay as they are.
  struct RemoveOnUnwind {
    const std::string& dir;
    bool armed = true;
    ~RemoveOnUnwind() {
      std::error_code ignored;
      if (armed) fs::remove_all(dir, ignored);
    }
  } cleanup{tmp_dir};

  core::SaveOptions save;
  save.dtype = c10::kFloat;  // master weights: bit-exact round trip
  save.metadata["rlvr_step"] = std::to_string(progress.step);
  core::save_checkpoint(model, config, tmp_dir, save);
  core::write_file_atomic(tmp_dir + "/optimizer.bin", optimizer.save());
  core::write_file_atomic(tmp_dir + "/rng.bin", save_rng());
  if (write_extra) write_extra(tmp_dir);
  nlohmann::ordered_json state;
  state["magic"] = kMagic;
  state["version"] = kVersion;
  state["step"] = progress.step;
  state["total_steps"] = progress.total_steps;
  state["epoch"] = progress.epoch;
  state["epoch_offset"] = progress.epoch_offset;
  state["tokens"] = progress.tokens;
  state["std_rng"] = progress.std_rng;
  state["extra"] = progress.extra;
  state["run"] = progress.run;
  core::write_file_atomic(tmp_dir + "/state.json", state.dump(2) + "\n");  // written last

  core::replace_dir_atomic(tmp_dir, final_dir);
  cleanup.armed = false;

  auto all = list_training_checkpoints(checkpoints_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
    fs::remove_all(all[i], ec);
    RLVR_LOG_DEBUG("removed old checkpoint {}", all[i]);
  }
  return final_dir;
}

TrainProgress read_training_progress(const std::string& dir) {
  const std::string state_path = dir + "/state.json";
  auto state = nlohmann::json::parse(core::read_file(state_path), nullptr, /*allow_exceptions=*/false);
  RLVR_CHECK(state.is_object(), "{}: not a JSON object; expected a training state written by rlvr", state_path);
  RLVR_CHECK(state.value("magic", std::string()) == kMagic, "{}: magic is not \"{}\"; not an rlvr training state",
             state_path, kMagic);
  RLVR_CHECK(state.value("version", -1) == kVersion, "{}: version {} is not supported; expected {}", state_path,
             state.value("version", -1), kVersion);
  TrainProgress p;
  try {
    p.step = state.at("step").get<int64_t>();
    p.total_steps = state.at("total_steps").get<int64_t>();
    p.epoch = state.at("epoch").get<int64_t>();
    p.epoch_offset = state.at("epoch_offset").get<int64_t>();
    p.tokens = state.at("tokens").get<int64_t>();
    p.std_rng = state.at("std_rng").get<std::string>();
    p.extra = state.at("extra");
    p.run = state.value("run", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed training state: {}", state_path, e.what()));
  }
  RLVR_CHECK(p.run.is_object(), "{}: \"run\" is not a JSON object; expected the run fingerprint", state_path);
  return p;
}

TrainProgress load_training_checkpoint(const std::string& dir, torch::nn::Module& model, Optimizer& optimizer) {
  TrainProgress p = read_training_progress(dir);
  core::load_weights(model, dir);
  optimizer.load(core::read_file(dir + "/optimizer.bin"), dir + "/optimizer.bin");
  int64_t expected_steps = p.step;
  if (p.extra.is_object() && p.extra.contains("optimizer_steps") && p.extra["optimizer_steps"].is_number_integer()) {
    expected_steps = p.extra["optimizer_steps"].get<int64_t>();
  }
  RLVR_CHECK(optimizer.steps_taken() == expected_steps,
             "{}: optimizer state is at step {}, state.json says {}", dir, optimizer.steps_taken(), expected_steps);
  load_rng(dir + "/rng.bin");
  return p;
}

}  // namespace rlvr::learner
