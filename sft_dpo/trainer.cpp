// The SFT / DPO training loop behind `rlvr train`.
//
// Data units (SFT rows or packed rows, DPO pairs) are visited in a per-epoch order that depends
// only on (run.seed, epoch). An optimizer step takes the next batch_size x grad_accum_steps units
// of the current epoch (fewer at its end), split into micro-batches of batch_size. Losses are
// normalized by the step's totals (target tokens for SFT, pairs for DPO), so the accumulated
// gradient does not depend on how the step is split. The position (epoch, offset) is part of
// every checkpoint, which makes a resumed run identical to an uninterrupted one.
//
// Before anything is written, sft_dpo/train_fingerprint.h + learner/run_guard.h decide whether run.output_dir holds this run
// (resume), nothing or a run that may be discarded (fresh start), or a run that must not be
// touched (refused). A non-finite loss or gradient stops the run before the optimizer step.
//
// With learner.world_size > 1 (learner/distributed.h) every rank loads the data and the model,
// takes a contiguous slice of each step's micro-batches, and the ranks sum gradients and step
// statistics before the optimizer step; the losses keep the step's global normalizers, so the
// update equals the single-rank one. Rank 0 alone writes the run directory (checkpoints, final/,
// metrics); the others log to logs/rank-<r>.log. A checkpoint resumes with any world size.
#include "sft_dpo/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>

#include <torch/torch.h>

#include "core/config/loader.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/run_dir.h"
#include "learner/distributed.h"
#include "learner/optimizer.h"
#include "learner/precision.h"
#include "learner/progress.h"
#include "learner/run_outputs.h"
#include "learner/train_state.h"
#include "sft_dpo/data.h"
#include "sft_dpo/losses.h"
#include "sft_dpo/reference_cache.h"
#include "sft_dpo/train_fingerprint.h"

namespace rlvr::sft_dpo {
namespace fs = std::filesystem;
namespace {

using Scalars = std::map<std::string, double>;

// ---------------------------------------------------------------------------------------------
// Data of one run: SFT rows or DPO pairs (+ reference log-probs), train and eval.
struct RunData {
  bool dpo = false;
  std::vector<TrainRow> rows, eval_rows;
  std::vector<PreferencePair> pairs, eval_pairs;
  ReferenceLogps ref, eval_ref;
  int64_t units() const { return dpo ? static_cast<int64_t>(pairs.size()) : static_cast<int64_t>(rows.size()); }
};

std::vector<std::vector<size_t>> chunks(const std::vector<size_t>& idx, int64_t size) {
  std::vector<std::vector<size_t>> out;
  for (size_t i = 0; i < idx.size(); i += static_cast<size_t>(size)) {
    out.emplace_back(idx.begin() + static_cast<std::ptrdiff_t>(i),
                     idx.begin() + static_cast<std::ptrdiff_t>(std::min(idx.size(), i + static_cast<size_t>(size))));
  }
  return out;
}

at::Tensor gather_ref(const std::vector<double>& values, const std::vector<size_t>& idx, c10::Device device) {
  std::vector<double> v;
  for (size_t i : idx) v.push_back(values[i]);
  return torch::tensor(v, torch::kDouble).to(device, torch::kFloat);
}

struct StepOutput {
  double loss = 0;
  int64_t tokens = 0;   // real tokens processed
  int64_t targets = 0;  // loss-bearing tokens
  Scalars metrics;
};

// The micro-batches of `idx` (chunks of batch_size) this rank takes: a contiguous share, so the
// ranks together form the same micro-batches as one rank would.
std::vector<std::vector<size_t>> my_chunks(const std::vector<size_t>& idx, int64_t batch_size,
                                           const learner::DataParallel* dp) {
  std::vector<std::vector<size_t>> all = chunks(idx, batch_size);
  if (dp == nullptr) return all;
  const auto [b, e] = learner::rank_slice(static_cast<int64_t>(all.size()), dp->rank(), dp->world_size());
  return {all.begin() + b, all.begin() + e};
}

// Sums every field of `out` over the ranks (each rank's values are its shares of the step's).
void sum_over_ranks(StepOutput& out, learner::DataParallel* dp, const std::string& what) {
  if (dp == nullptr) return;
  std::vector<double> v = {out.loss, static_cast<double>(out.tokens), static_cast<double>(out.targets)};
  for (const auto& [k, x] : out.metrics) v.push_back(x);  // same keys, same order on every rank
  at::Tensor t = torch::tensor(v, torch::kDouble);
  dp->sum_({t}, what);
  auto a = t.accessor<double, 1>();
  out.loss = a[0];
  out.tokens = static_cast<int64_t>(std::llround(a[1]));
  out.targets = static_cast<int64_t>(std::llround(a[2]));
  int64_t i = 3;
  for (auto& [k, x] : out.metrics) x = a[i++];
}

// One SFT step (or eval pass when !train) over rows `idx`: sum-then-normalize.
StepOutput sft_pass(core::CausalLMImpl& model, const std::vector<TrainRow>& rows, const std::vector<size_t>& idx,
                    int64_t batch_size, const learner::Precision& precision, bool train, learner::DataParallel* dp) {
  StepOutput out;
  int64_t step_targets = 0;  // the step's normalizer: all ranks' loss-bearing tokens
  for (size_t i : idx) step_targets += rows[i].num_targets;
  const double denom = static_cast<double>(std::max<int64_t>(1, step_targets));
  for (const auto& chunk : my_chunks(idx, batch_size, dp)) {
    for (size_t i : chunk) out.targets += rows[i].num_targets;
    std::vector<const TrainRow*> ptrs;
    for (size_t i : chunk) ptrs.push_back(&rows[i]);
    Batch batch = collate_rows(ptrs, precision.device);
    out.tokens += batch.num_tokens;
    at::Tensor loss;
    {
      learner::AutocastGuard autocast(precision);
      loss = sft_loss_sum(model, batch) / denom;
    }
    if (train) loss.backward();
    out.loss += loss.item<double>();
  }
  sum_over_ranks(out, dp, "the SFT step's statistics");
  return out;
}

// One DPO step (or eval pass) over pairs `idx`: mean of per-pair losses (+ rpo_alpha x chosen NLL).
StepOutput dpo_pass(core::CausalLMImpl& model, const core::DpoConfig& cfg, const std::vector<PreferencePair>& pairs,
                    const ReferenceLogps& ref, const std::vector<size_t>& idx, int64_t batch_size,
                    const learner::Precision& precision, bool train, learner::DataParallel* dp) {
  StepOutput out;
  int64_t chosen_tokens = 0;
  for (size_t i : idx) chosen_tokens += pairs[i].chosen.num_targets();
  const double n_pairs = static_cast<double>(idx.size());
  const bool use_ref = dpo_uses_reference(cfg);
  double rc = 0, rr = 0, acc = 0, lc = 0, lr = 0, nll = 0;
  for (const auto& chunk : my_chunks(idx, batch_size, dp)) {
    std::vector<const PreferencePair*> ptrs;
    for (size_t i : chunk) ptrs.push_back(&pairs[i]);
    Batch batch = collate_pairs(ptrs, precision.device);
    out.tokens += batch.num_tokens;
    out.targets += batch.num_targets;
    const auto B = static_cast<int64_t>(chunk.size());
    at::Tensor loss, pc;
    DpoTerms terms;
    {
      learner::AutocastGuard autocast(precision);
      SequenceLogps lp = sequence_logps(model, batch);
      pc = lp.sums.narrow(0, 0, B);
      at::Tensor pr = lp.sums.narrow(0, B, B);
      at::Tensor cc = lp.counts.narrow(0, 0, B), rcnt = lp.counts.narrow(0, B, B);
      at::Tensor ref_c, ref_r;
      if (use_ref) {
        ref_c = gather_ref(ref.chosen, chunk, precision.device);
        ref_r = gather_ref(ref.rejected, chunk, precision.device);
      }
      terms = dpo_loss(cfg, pc, pr, cc, rcnt, ref_c, ref_r);
      loss = dpo_step_loss_share(cfg, terms, pc, static_cast<int64_t>(idx.size()), std::max<int64_t>(1, chosen_tokens));
    }
    if (train) loss.backward();
    out.loss += loss.item<double>();
    rc += terms.chosen_rewards.sum().item<double>();
    rr += terms.rejected_rewards.sum().item<double>();
    acc += terms.chosen_rewards.gt(terms.rejected_rewards).to(torch::kFloat).sum().item<double>();
    lc += terms.chosen_logps.sum().item<double>();
    lr += terms.rejected_logps.sum().item<double>();
    nll -= pc.sum().item<double>();
  }
  out.metrics = {{"rewards/chosen", rc / n_pairs},
                 {"rewards/rejected", rr / n_pairs},
                 {"rewards/accuracies", acc / n_pairs},
                 {"rewards/margins", (rc - rr) / n_pairs},
                 {"logps/chosen", lc / n_pairs},
                 {"logps/rejected", lr / n_pairs},
                 {"nll", nll / static_cast<double>(std::max<int64_t>(1, chosen_tokens))}};
  sum_over_ranks(out, dp, "the DPO step's statistics");
  return out;
}

StepOutput evaluate(core::CausalLMImpl& model, const core::Config& config, const RunData& data,
                    const learner::Precision& precision, learner::DataParallel* dp) {
  torch::NoGradGuard no_grad;
  model.eval();
  StepOutput out;
  if (data.dpo) {
    std::vector<size_t> idx(data.eval_pairs.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    out = dpo_pass(model, config.dpo, data.eval_pairs, data.eval_ref, idx, config.train.batch_size, precision, false,
                   dp);
  } else {
    std::vector<size_t> idx(data.eval_rows.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    out = sft_pass(model, data.eval_rows, idx, config.train.batch_size, precision, false, dp);
  }
  model.train();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reference log-probs: from the cache, or computed once with the frozen reference model.
// With several ranks each computes what the cache lacks (the same values) and rank 0 writes it.
void prepare_reference(const core::Config& config, const std::string& tokenizer_path, const TokenizeSettings& settings,
                       const learner::Precision& precision, RunData& data, TrainResult& result, bool writer) {
  const std::string ref_dir = config.dpo.reference_path.empty() ? config.model.path : config.dpo.reference_path;
  const std::string cache_dir =
      config.dpo.reference_cache_dir.empty() ? config.run.output_dir + "/cache" : config.dpo.reference_cache_dir;
  struct Job {
    std::string name;  // for logs
    std::string data;  // identity of the data (mix_identity / hash_file)
    const std::vector<PreferencePair>* pairs;
    ReferenceLogps* out;
  };
  const std::vector<DataSource> sources = train_sources(config.train);
  std::vector<Job> jobs = {{sources.size() == 1 ? sources[0].path : "train.train_files",
                            mix_identity(sources, static_cast<uint64_t>(config.run.seed)), &data.pairs, &data.ref}};
  if (!data.eval_pairs.empty()) {
    jobs.push_back({config.train.eval_file, hash_file(config.train.eval_file), &data.eval_pairs, &data.eval_ref});
  }
  core::CausalLM reference{nullptr};
  result.reference_cache_hit = true;
  for (const Job& job : jobs) {
    const std::string key = reference_cache_key_for_data(job.data, ref_dir, tokenizer_path, settings);
    const std::string path = reference_cache_path(cache_dir, key);
    if (auto cached = read_reference_cache(path, key, *job.pairs)) {
      RLVR_LOG_INFO("reference log-probs for {} from cache {}", job.name, path);
      *job.out = std::move(*cached);
      continue;
    }
    result.reference_cache_hit = false;
    if (!reference) {
      RLVR_LOG_INFO("loading frozen reference model {}", ref_dir);
      reference = core::load_causal_lm(ref_dir, precision.device, c10::kFloat);
      for (auto& p : reference->parameters()) p.set_requires_grad(false);
    }
    RLVR_LOG_INFO("computing reference log-probs for {} ({} pairs)", job.name, job.pairs->size());
    *job.out = compute_reference_logps(*reference, *job.pairs, config.train.batch_size, precision);
    if (!writer) continue;
    write_reference_cache(path, key, *job.pairs, *job.out);
    RLVR_LOG_INFO("cached reference log-probs in {}", path);
  }
}

void write_summary(const core::Config& config, const TrainResult& r, int64_t total_steps) {
  nlohmann::ordered_json j;
  j["name"] = config.run.name;
  j["mode"] = config.train.mode;
  j["steps"] = r.steps;
  j["total_steps"] = total_steps;
  j["resumed_from_step"] = r.resumed_from_step;
  j["stopped_by_time"] = r.stopped_by_time;
  j["last_loss"] = std::isfinite(r.last_loss) ? nlohmann::ordered_json(r.last_loss) : nlohmann::ordered_json();
  j["eval_loss"] = std::isfinite(r.eval_loss) ? nlohmann::ordered_json(r.eval_loss) : nlohmann::ordered_json();
  j["train_rows"] = r.train_rows;
  j["skipped_rows"] = r.skipped_rows;
  j["truncated_rows"] = r.truncated_rows;
  j["final_dir"] = r.final_dir;
  core::write_file_atomic(config.run.output_dir + "/summary.json", j.dump(2) + "\n");
}

Scalars prefixed(const std::string& prefix, const StepOutput& s) {
  Scalars out = {{prefix + "loss", s.loss}};
  for (const auto& [k, v] : s.metrics) out[prefix + k] = v;
  return out;
}

TrainResult run(const core::Config& config) {
  const auto started = std::chrono::steady_clock::now();
  const auto& tc = config.train;
  RLVR_CHECK(!config.model.path.empty(), "model.path is empty; expected the checkpoint directory to train");
  const std::vector<DataSource> sources = train_sources(tc);  // train_file or train_files
  const std::string& out_dir = config.run.output_dir;
  const std::string tokenizer_path =
      config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;

  // Data-parallel ranks (learner.world_size > 1): rank 0 decides about the run directory and
  // tells the others which checkpoint to resume from.
  std::unique_ptr<learner::DataParallel> dp_owner = learner::join_data_parallel(config);
  learner::DataParallel* dp = dp_owner.get();
  const bool main_rank = dp == nullptr || dp->is_main();

  // Decide what to do with the run directory before writing anything into it.
  const learner::RunFingerprint fingerprint = fingerprint_run(config);
  learner::StartPlan plan;
  std::string previous_config;
  const std::string config_yaml = core::config_to_yaml(config);
  if (main_rank) {
    plan = plan_start(config, fingerprint);
    if (plan.resume_from && fs::exists(out_dir + "/config.yaml")) previous_config = core::read_file(out_dir + "/config.yaml");
    core::prepare_run_dir(out_dir, config_yaml);
  }
  if (dp != nullptr) {
    const std::string from = dp->broadcast_bytes(plan.resume_from.value_or(""), "the checkpoint to resume from");
    if (!main_rank) {
      if (!from.empty()) plan.resume_from = from;
      core::add_log_file(fmt::format("{}/logs/rank-{}.log", out_dir, dp->rank()));
    }
  }
  learner::seed_and_threads(config.run.seed, config.run.threads);
  learner::Precision precision = learner::resolve_precision(config.run);
  learner::use_rank0_precision(precision, dp);
  RLVR_LOG_INFO("rlvr train: run '{}', mode {} on {}{}, output {}", config.run.name, tc.mode, precision.describe(),
                dp ? fmt::format(", learner rank {} of {}", dp->rank(), dp->world_size()) : "", out_dir);
  if (plan.unverified) {
    RLVR_LOG_WARN("{}: written before run fingerprints existed; cannot check that it belongs to this run (only the "
                  "total step count is compared)",
                  *plan.resume_from);
  } else if (!plan.changes.empty()) {
    RLVR_LOG_WARN("resuming {} with changed settings: {} (recorded in {}/resumes.jsonl)", *plan.resume_from,
                  learner::describe_changes(plan.changes), out_dir);
  }
  core::Tokenizer tokenizer = core::Tokenizer::from_file(tokenizer_path);
  core::CausalLM model = core::load_causal_lm(config.model.path, precision.device, c10::kFloat);
  RLVR_CHECK(tokenizer.vocab_size() <= model->config().vocab_size,
             "{}: tokenizer has {} ids but model {} has vocab_size {}; expected a matching tokenizer",
             tokenizer_path, tokenizer.vocab_size(), config.model.path, model->config().vocab_size);
  model->train();

  TokenizeSettings settings;
  settings.chat_format = std::make_shared<const core::ChatFormat>(
      core::ChatFormat::resolve(tokenizer, config.model.chat_template, config.model.path));
  RLVR_LOG_INFO("chat template: {} (model.chat_template: {}; end of turn {})", settings.chat_format->source(),
                config.model.chat_template, settings.chat_format->end_of_turn());
  settings.max_seq_len = std::min<int64_t>(tc.max_seq_len, model->config().max_positions());
  if (settings.max_seq_len < tc.max_seq_len) {
    RLVR_LOG_WARN("train.max_seq_len {} exceeds the model's context; using {}", tc.max_seq_len,
                  settings.max_seq_len);
  }
  settings.on_bad_row = core::parse_bad_row_policy(tc.on_bad_row);

  TrainResult result;
  RunData data;
  data.dpo = tc.mode == "dpo";
  DatasetStats stats;
  if (data.dpo) {
    auto ds = load_preference_mix(sources, static_cast<uint64_t>(config.run.seed), tokenizer, settings);
    data.pairs = std::move(ds.pairs);
    stats = ds.stats;
    if (!tc.eval_file.empty()) data.eval_pairs = load_preference_dataset(tc.eval_file, tokenizer, settings).pairs;
    if (dpo_uses_reference(config.dpo)) {
      prepare_reference(config, tokenizer_path, settings, precision, data, result, main_rank);
    }
  } else {
    auto ds = load_sft_mix(sources, static_cast<uint64_t>(config.run.seed), tokenizer, settings);
    stats = ds.stats;
    data.rows = tc.packing ? pack_rows(ds.rows, settings.max_seq_len) : std::move(ds.rows);
    if (tc.packing) RLVR_LOG_INFO("packed {} rows into {} sequences of <= {} tokens", stats.rows, data.rows.size(),
                                  settings.max_seq_len);
    if (!tc.eval_file.empty()) data.eval_rows = load_sft_dataset(tc.eval_file, tokenizer, settings).rows;
  }
  result.train_rows = stats.rows;
  result.skipped_rows = stats.skipped;
  result.truncated_rows = stats.truncated;

  const int64_t units = data.units();
  const int64_t per_step = tc.batch_size * tc.grad_accum_steps;
  const int64_t steps_per_epoch = (units + per_step - 1) / per_step;
  const int64_t total_steps = tc.max_steps > 0 ? tc.max_steps : tc.num_epochs * steps_per_epoch;

  std::vector<std::pair<std::string, at::Tensor>> named;
  for (const auto& item : model->named_parameters()) named.emplace_back(item.key(), item.value());
  learner::Optimizer optimizer(named, config.optim, total_steps);

  const std::string ckpt_dir = out_dir + "/checkpoints";
  learner::TrainProgress progress;
  progress.total_steps = total_steps;
  if (main_rank) learner::remove_partial_outputs(out_dir);
  if (plan.resume_from) {
    progress = learner::load_training_checkpoint(*plan.resume_from, *model, optimizer);
    if (progress.total_steps != total_steps) {
      throw Error(fmt::format("{}: checkpoint was written for {} total steps, this config gives {}; expected the "
                              "same data and train settings when resuming",
                              *plan.resume_from, progress.total_steps, total_steps),
                  "set train.overwrite_output_dir: true to start fresh, or choose another run.output_dir");
    }
    result.resumed_from_step = progress.step;
    if (main_rank) learner::record_resume(out_dir, plan, progress.step, previous_config, config_yaml);
    RLVR_LOG_INFO("resumed from {} (step {}/{})", *plan.resume_from, progress.step, total_steps);
  } else if (main_rank) {
    learner::clear_previous_run(out_dir, plan, {"metrics.jsonl", "resumes.jsonl", "summary.json"});
  }
  if (dp != nullptr) {
    // Every rank starts from rank 0's weights (they loaded the same files; this makes it certain).
    std::vector<at::Tensor> params;
    for (const auto& item : named) params.push_back(item.second);
    dp->broadcast_(params, "the initial weights");
  }
  progress.run = fingerprint.to_json();
  const std::string metrics_path = out_dir + "/metrics.jsonl";
  std::optional<core::MetricsWriter> metrics;
  if (main_rank) metrics.emplace(metrics_path, progress.step);
  if (metrics && progress.step == 0) {
    metrics->write(0, {{"data/train_rows", static_cast<double>(stats.rows)},
                      {"data/skipped_rows", static_cast<double>(stats.skipped)},
                      {"data/truncated_rows", static_cast<double>(stats.truncated)},
                      {"data/units", static_cast<double>(units)},
                      {"total_steps", static_cast<double>(total_steps)}});
  }
  RLVR_LOG_INFO("{} {} per epoch, {} per step, {} steps", units, data.dpo ? "pairs" : "sequences", per_step,
                total_steps);

  learner::ProgressMeter meter(total_steps, progress.step);
  std::vector<int64_t> order;
  int64_t order_epoch = -1;
  int64_t last_checkpoint = progress.step;
  result.eval_loss = std::numeric_limits<double>::quiet_NaN();
  result.last_loss = std::numeric_limits<double>::quiet_NaN();  // until this process runs a step
  const bool has_eval = !data.eval_rows.empty() || !data.eval_pairs.empty();
  // train.max_time_s counts from this process's start plus the time of the processes before it.
  const double elapsed_before = progress.extra.value("elapsed_s", 0.0);
  auto elapsed = [&] {
    return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  // Time decisions follow rank 0's clock, so every rank stops at the same step.
  auto shared_elapsed = [&] {
    double e = elapsed();
    if (dp != nullptr && tc.max_time_s > 0) {
      at::Tensor t = torch::tensor({e}, torch::kDouble);
      dp->broadcast_({t}, "rank 0's clock");
      e = t.item<double>();
    }
    return e;
  };
  auto out_of_time = [&] { return tc.max_time_s > 0 && shared_elapsed() >= tc.max_time_s; };
  std::vector<at::Tensor> params;
  for (const auto& item : named) params.push_back(item.second);
  if (progress.step > 0 && progress.step < total_steps && out_of_time()) {
    result.stopped_by_time = true;
    RLVR_LOG_INFO("train.max_time_s {} s already spent at step {} ({:.1f} s); not training further", tc.max_time_s,
                  progress.step, elapsed());
  }
  while (progress.step < total_steps && !result.stopped_by_time) {
    if (progress.epoch_offset >= units) {
      ++progress.epoch;
      progress.epoch_offset = 0;
    }
    if (order_epoch != progress.epoch) {
      order = epoch_order(units, static_cast<uint64_t>(config.run.seed), progress.epoch);
      order_epoch = progress.epoch;
    }
    const int64_t end = std::min(units, progress.epoch_offset + per_step);
    std::vector<size_t> idx;
    for (int64_t i = progress.epoch_offset; i < end; ++i) idx.push_back(static_cast<size_t>(order[static_cast<size_t>(i)]));

    StepOutput out = data.dpo
                         ? dpo_pass(*model, config.dpo, data.pairs, data.ref, idx, tc.batch_size, precision, true, dp)
                         : sft_pass(*model, data.rows, idx, tc.batch_size, precision, true, dp);
    if (dp != nullptr) dp->sum_gradients(params, fmt::format("the gradients of step {}", progress.step + 1));
    const double now_s = tc.max_time_s > 0 ? shared_elapsed() : elapsed();
    // Checked before the optimizer step, so a NaN never reaches the weights or a checkpoint.
    auto stop = [&](const std::string& what) {
      const auto latest = learner::latest_training_checkpoint(ckpt_dir);
      return Error(fmt::format("step {}: {}; stopped before the optimizer step, so no NaN/inf reached the weights; "
                               "last checkpoint: {}",
                               progress.step + 1, what, latest ? *latest : std::string("none")),
                   "lower optim.learning_rate, keep optim.max_grad_norm > 0 or check the data; rerunning resumes "
                   "from the last checkpoint");
    };
    if (!std::isfinite(out.loss)) {
      throw stop(fmt::format("the training loss is {}", std::isnan(out.loss) ? "nan" : fmt::format("{}", out.loss)));
    }
    learner::OptimizerStepStats st;
    try {
      // On a time budget the schedule follows whichever is further along, the steps or the clock,
      // so the learning rate has decayed when the time is up even on a machine slower than planned.
      int64_t schedule_step = -1;
      if (tc.max_time_s > 0) {
        schedule_step = std::max<int64_t>(
            progress.step,
            static_cast<int64_t>(std::min(1.0, now_s / tc.max_time_s) * static_cast<double>(total_steps)));
      }
      st = optimizer.step(schedule_step);  // refuses a non-finite gradient norm without changing anything
    } catch (const Error& e) {
      throw stop(e.what());
    }
    ++progress.step;
    progress.epoch_offset = end;
    progress.tokens += out.targets;
    meter.step_done(progress.step, out.tokens);
    result.last_loss = out.loss;
    progress.extra["elapsed_s"] = now_s;
    result.stopped_by_time = progress.step < total_steps && tc.max_time_s > 0 && now_s >= tc.max_time_s;
    const bool last = progress.step == total_steps || result.stopped_by_time;

    if (progress.step % tc.log_every == 0 || last) {
      Scalars row = prefixed("", out);
      row["lr"] = st.lr;
      row["grad_norm"] = st.grad_norm;
      row["epoch"] = static_cast<double>(progress.epoch) +
                     static_cast<double>(progress.epoch_offset) / static_cast<double>(units);
      row["tokens"] = static_cast<double>(progress.tokens);
      row["tokens_per_second"] = meter.window_tokens_per_second();
      if (metrics) metrics->write(progress.step, row);
      RLVR_LOG_INFO("{}", meter.line(out.loss, st.lr));
    }
    if (has_eval && tc.eval_every > 0 && progress.step % tc.eval_every == 0 && !last) {
      StepOutput ev = evaluate(*model, config, data, precision, dp);
      if (metrics) metrics->write(progress.step, prefixed("eval/", ev));
      RLVR_LOG_INFO("eval at step {}: loss {:.4f}", progress.step, ev.loss);
    }
    if (tc.checkpoint_every > 0 && progress.step % tc.checkpoint_every == 0) {
      if (main_rank) {
        learner::save_training_checkpoint(ckpt_dir, *model, model->config(), optimizer, progress, tc.keep_checkpoints);
      }
      last_checkpoint = progress.step;
    }
    if (result.stopped_by_time) {
      RLVR_LOG_INFO("train.max_time_s {} s reached after step {} of {} ({:.1f} s)", tc.max_time_s, progress.step,
                    total_steps, elapsed());
    }
  }
  if (main_rank && (last_checkpoint != progress.step || !learner::latest_training_checkpoint(ckpt_dir))) {
    learner::save_training_checkpoint(ckpt_dir, *model, model->config(), optimizer, progress, tc.keep_checkpoints);
  }
  if (has_eval) {
    StepOutput ev = evaluate(*model, config, data, precision, dp);
    result.eval_loss = ev.loss;
    // A run resumed at its last step already logged this evaluation.
    if (metrics && result.resumed_from_step != progress.step) metrics->write(progress.step, prefixed("eval/", ev));
    RLVR_LOG_INFO("final eval: loss {:.4f}", ev.loss);
  }
  result.steps = progress.step;
  result.final_dir = out_dir + "/final";
  if (!main_rank) {
    dp->barrier("the end of the run (rank 0 writes final/)");
    RLVR_LOG_INFO("learner rank {}: done after {} steps; rank 0 wrote {}", dp->rank(), result.steps, result.final_dir);
    return result;
  }
  learner::HandOff hand_off;
  hand_off.chat_format = settings.chat_format.get();
  hand_off.source_dir = config.model.path;
  learner::save_final_model(*model, model->config(), tokenizer_path, out_dir, hand_off);
  RLVR_LOG_INFO("wrote {} (HF layout: config.json, model.safetensors, tokenizer.json, tokenizer_config.json, "
                "generation_config.json)",
                result.final_dir);
  write_summary(config, result, total_steps);
  if (dp != nullptr) dp->barrier("the end of the run (rank 0 writes final/)");
  RLVR_LOG_INFO("run '{}' done: {} steps{}{}{}; summary in {}/summary.json", config.run.name, result.steps,
                result.resumed_from_step >= 0 ? fmt::format(" (resumed at step {})", result.resumed_from_step) : "",
                std::isfinite(result.last_loss) ? fmt::format(", last loss {:.4f}", result.last_loss) : "",
                std::isfinite(result.eval_loss) ? fmt::format(", eval loss {:.4f}", result.eval_loss) : "", out_dir);
  return result;
}

}  // namespace

TrainResult run_training(const core::Config& config) {
  try {
    return run(config);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("rlvr train: {}", e.what_without_backtrace()));
  }
}

}  // namespace rlvr::sft_dpo
