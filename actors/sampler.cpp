// The sampling engine (see sampler.h): refill, prefill sharing, decode loop, compaction.
#include "actors/sampler.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "core/error.h"
#include "core/model/transformer.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::actors {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
  }
  return "length";
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Job {
  int64_t prompt = 0, sample = 0;
};

// A prompt's prefill, kept until every sample of the prompt has started.
struct Prefilled {
  at::Tensor keys, values;  // [layers, kv_heads, P, head_dim]
  at::Tensor logits;        // [vocab] float32 on the CPU: the next-token logits after the prompt
  int64_t remaining = 0;    // samples of the prompt still to start
  int64_t version = 0;      // the weights version that computed them
};

// One batch row.
struct Row {
  int64_t job = -1;      // index into the job list; -1 = idle
  int32_t pending = 0;   // sampled token not yet fed to the model
  int64_t max_new = 0;   // token budget of this sample
  uint64_t stream = 0;   // random stream of this sample
  Sample sample;
};

}  // namespace

// --- Impl ---

struct Sampler::Impl {
  std::shared_ptr<core::CausalLMImpl> model;
  const core::Tokenizer* tokenizer = nullptr;
  SamplerOptions options;
  GenerateStats stats;
  std::vector<std::string> pieces;  // decoded bytes per token id (skip_special), filled lazily
  std::vector<uint8_t> piece_known;

  const std::string& piece(int32_t id) {
    static const std::string kEmpty;
    if (id < 0 || id >= static_cast<int32_t>(pieces.size())) return kEmpty;
    if (!piece_known[id]) {
      try {
        pieces[id] = tokenizer->decode({id}, /*skip_special=*/true);
      } catch (const Error&) {
        pieces[id].clear();  // an id the tokenizer has no token for (padded vocabularies)
      }
      piece_known[id] = 1;
    }
    return pieces[id];
  }

  // The bytes the last of `ids` adds to the decoded completion, so that the text equals
  // tokenizer->decode(ids, skip_special=true) as HF's batch_decode gives it: the cached piece of
  // the id, or, for a decoder chain where a token's text depends on its position (Strip,
  // Metaspace), the decoding of the last two ids beyond that of the one before.
  std::string text_of_new_token(const std::vector<int32_t>& ids) {
    const int32_t id = ids.back();
    if (decode_by_token || ids.size() < 2) return piece(id);
    const std::string& before = piece(ids[ids.size() - 2]);
    if (before.empty()) return piece(id);  // a special token: nothing in front of this one
    std::string both;
    try {
      both = tokenizer->decode({ids[ids.size() - 2], id}, /*skip_special=*/true);
    } catch (const Error&) {
      return piece(id);
    }
    if (both.compare(0, before.size(), before) == 0) return both.substr(before.size());
    return piece(id);
  }
  bool decode_by_token = true;

  std::vector<Sample> generate(const std::vector<std::vector<int32_t>>& prompts, const SamplingParams& params,
                               int64_t policy_version, const GenerateHooks& hooks);
};

Sampler::Sampler(std::shared_ptr<core::CausalLMImpl> model, const core::Tokenizer* tokenizer,
                 SamplerOptions options)
    : impl_(std::make_unique<Impl>()) {
  RLVR_CHECK(model != nullptr, "Sampler: model is null");
  RLVR_CHECK(options.batch_size >= 1, "batch_size must be >= 1, got {}", options.batch_size);
  RLVR_CHECK(options.compact_slack >= 1, "compact_slack must be >= 1, got {}", options.compact_slack);
  impl_->model = std::move(model);
  impl_->tokenizer = tokenizer;
  impl_->options = options;
  if (tokenizer) {
    impl_->decode_by_token = tokenizer->decodes_token_by_token();
    impl_->pieces.resize(static_cast<size_t>(tokenizer->vocab_size()));
    impl_->piece_known.assign(impl_->pieces.size(), 0);
  }
}

Sampler::~Sampler() = default;

const GenerateStats& Sampler::last_stats() const { return impl_->stats; }
const SamplerOptions& Sampler::options() const { return impl_->options; }

std::vector<Sample> Sampler::generate(const std::vector<std::vector<int32_t>>& prompts,
                                      const SamplingParams& params, int64_t policy_version,
                                      const GenerateHooks& hooks) {
  return impl_->generate(prompts, params, policy_version, hooks);
}

std::vector<Sample> Sampler::Impl::generate(const std::vector<std::vector<int32_t>>& prompts,
                                            const SamplingParams& params, int64_t policy_version,
                                            const GenerateHooks& hooks) {
  const auto t_start = Clock::now();
  params.validate();
  RLVR_CHECK(params.stop.empty() || tokenizer != nullptr, "stop strings need a tokenizer");
  const auto& cfg = model->config();
  const int64_t vocab = cfg.vocab_size, max_pos = cfg.max_positions();
  int64_t max_prompt = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t P = static_cast<int64_t>(prompts[i].size());
    RLVR_CHECK(P >= 1, "prompt {} is empty", i);
    RLVR_CHECK(P < max_pos,
               "prompt {} has {} tokens; the model's context ({} positions) leaves no room to generate",
               i, P, max_pos);
    for (int32_t t : prompts[i]) {
      RLVR_CHECK(t >= 0 && t < vocab, "prompt {}: token id {} outside the model vocabulary [0, {})", i, t, vocab);
    }
    max_prompt = std::max(max_prompt, P);
  }
  stats = GenerateStats{};
  stats.prompts = static_cast<int64_t>(prompts.size());
  std::vector<Job> jobs;
  jobs.reserve(prompts.size() * static_cast<size_t>(params.n));
  for (size_t p = 0; p < prompts.size(); ++p) {
    for (int64_t s = 0; s < params.n; ++s) jobs.push_back({static_cast<int64_t>(p), s});
  }
  const int64_t num_jobs = static_cast<int64_t>(jobs.size());
  stats.samples = num_jobs;
  std::vector<Sample> results(hooks.keep_results ? jobs.size() : 0);
  if (jobs.empty()) return results;

  torch::NoGradGuard no_grad;
  model->eval();
  const bool continuous = options.continuous_batching;
  const int64_t slack = options.compact_slack;
  const int64_t max_live = std::min(max_pos, max_prompt + params.max_new_tokens);
  const int64_t max_len = std::min(max_pos, max_live + slack);
  core::KVCache cache = model->make_cache(std::min<int64_t>(options.batch_size, num_jobs), max_len);
  const double lowest = cache.slot_bias[0][0].item<double>();  // the model's mask value
  const auto device = cache.keys.device();
  const auto cpu_long = at::TensorOptions().dtype(at::kLong);

  std::vector<Row> rows(static_cast<size_t>(cache.batch_size()));
  std::vector<int64_t> pos(rows.size(), 0);  // mirror of cache.next_positions()
  std::unordered_map<int64_t, Prefilled> prefilled;
  int64_t next_job = 0, done = 0;
  ChooseScratch scratch;
  int64_t version = policy_version;  // the version of the weights the model holds now
  auto refresh_version = [&] {
    if (hooks.before_model_call) version = hooks.before_model_call();
  };

  auto sync_layout = [&](int64_t length) {
    cache.set_layout(length, at::tensor(pos, cpu_long));
  };
  auto is_stop_id = [&](int32_t t) {
    return std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), t) != params.stop_token_ids.end();
  };
  // Appends a sampled token (drawn from logits of weights version `from_version`) to a row's
  // sample; returns true when the sample is finished.
  auto accept = [&](Row& row, const TokenChoice& c, int64_t from_version) {
    Sample& s = row.sample;
    s.token_ids.push_back(c.token);
    s.logprobs.push_back(c.logprob);
    s.token_versions.push_back(from_version);
    ++stats.generated_tokens;
    if (is_stop_id(c.token)) {
      s.finish_reason = FinishReason::kEos;
      return true;
    }
    if (tokenizer) {
      const size_t old = s.text.size();
      s.text += text_of_new_token(s.token_ids);
      size_t best = std::string::npos;
      for (const auto& stop : params.stop) {
        // A match must end in the new bytes; it may start in earlier tokens.
        const size_t from = old >= stop.size() - 1 ? old - (stop.size() - 1) : 0;
        const size_t at = s.text.find(stop, from);
        if (at != std::string::npos && at < best) {
          best = at;
          s.stop_string = stop;
        }
      }
      if (best != std::string::npos) {
        s.text.resize(best);
        s.finish_reason = FinishReason::kStop;
        return true;
      }
    }
    if (static_cast<int64_t>(s.token_ids.size()) >= row.max_new) {
      s.finish_reason = FinishReason::kLength;
      return true;
    }
    row.pending = c.token;
    return false;
  };
  auto finish_row = [&](size_t r) {
    Row& row = rows[r];
    row.sample.end_s = seconds_since(t_start);
    if (hooks.on_sample) hooks.on_sample(row.sample);
    if (hooks.keep_results) results[static_cast<size_t>(row.job)] = std::move(row.sample);
    row.sample = Sample{};
    row.job = -1;
    row.pending = 0;
    pos[r] = 0;
    ++done;
  };
  // Moves every row's most recent slots so that they end at `new_length` (growing or cutting
  // the front of the cache); the slots added in front are masked.
  auto shift_to = [&](int64_t new_length) {
    const int64_t L = cache.length();
    const int64_t keep = std::min(L, new_length);
    if (keep > 0 && new_length != L) {
      for (at::Tensor* t : {&cache.keys, &cache.values}) {
        t->narrow(3, new_length - keep, keep).copy_(t->narrow(3, L - keep, keep).clone());
      }
      cache.slot_bias.narrow(1, new_length - keep, keep).copy_(cache.slot_bias.narrow(1, L - keep, keep).clone());
    }
    if (new_length > keep) cache.slot_bias.narrow(1, 0, new_length - keep).fill_(lowest);
    sync_layout(new_length);
  };

  // Starts the next jobs in idle rows (all rows idle first, when batching is static).
  auto refill = [&]() {
    std::vector<std::pair<size_t, int64_t>> assign;  // (row, job)
    size_t idle = 0;
    for (const Row& row : rows) idle += row.job < 0;
    if (!continuous && idle != rows.size()) return false;
    for (size_t r = 0; r < rows.size() && next_job < num_jobs; ++r) {
      if (rows[r].job < 0) assign.emplace_back(r, next_job++);
    }
    if (assign.empty()) return false;
    const auto t_refill = Clock::now();
    const double prefill_before = stats.prefill_s;
    // Prefill the prompts that are not cached yet, together, left-padded.
    std::vector<int64_t> need;
    for (const auto& a : assign) {
      const Job& job = jobs[static_cast<size_t>(a.second)];
      if (!prefilled.count(job.prompt) && std::find(need.begin(), need.end(), job.prompt) == need.end()) {
        need.push_back(job.prompt);
        prefilled[job.prompt].remaining = params.n - job.sample;
      }
    }
    if (!need.empty()) {
      refresh_version();
      const auto t0 = Clock::now();
      int64_t pq = 0;
      for (int64_t p : need) pq = std::max<int64_t>(pq, static_cast<int64_t>(prompts[p].size()));
      const int64_t U = static_cast<int64_t>(need.size());
      at::Tensor tokens = at::zeros({U, pq}, cpu_long), mask = at::zeros({U, pq}, cpu_long);
      auto tok_a = tokens.accessor<int64_t, 2>();
      auto mask_a = mask.accessor<int64_t, 2>();
      for (int64_t u = 0; u < U; ++u) {
        const auto& ids = prompts[need[u]];
        const int64_t P = static_cast<int64_t>(ids.size());
        for (int64_t j = 0; j < P; ++j) {
          tok_a[u][pq - P + j] = ids[j];
          mask_a[u][pq - P + j] = 1;
        }
        stats.prefill_tokens += P;
      }
      core::KVCache side = model->make_cache(U, pq);
      at::Tensor logits = model->forward_cached(tokens.to(device), side, mask.to(device), /*last_only=*/true);
      logits = logits.to(at::kCPU, at::kFloat).contiguous();
      for (int64_t u = 0; u < U; ++u) {
        const int64_t P = static_cast<int64_t>(prompts[need[u]].size());
        Prefilled& e = prefilled[need[u]];
        e.keys = side.keys.select(1, u).narrow(2, pq - P, P);
        e.values = side.values.select(1, u).narrow(2, pq - P, P);
        e.logits = logits[u];
        e.version = version;
      }
      stats.prefill_s += seconds_since(t0);
    }
    int64_t longest = 0;
    for (const auto& a : assign) {
      longest = std::max<int64_t>(longest, static_cast<int64_t>(prompts[jobs[a.second].prompt].size()));
    }
    if (cache.length() < longest) shift_to(longest);
    const int64_t L = cache.length();
    for (const auto& [r, j] : assign) {
      const Job& job = jobs[static_cast<size_t>(j)];
      const int64_t P = static_cast<int64_t>(prompts[job.prompt].size());
      Prefilled& e = prefilled.at(job.prompt);
      cache.keys.select(1, static_cast<int64_t>(r)).narrow(2, L - P, P).copy_(e.keys);
      cache.values.select(1, static_cast<int64_t>(r)).narrow(2, L - P, P).copy_(e.values);
      at::Tensor bias = cache.slot_bias.select(0, static_cast<int64_t>(r));
      bias.fill_(lowest);
      bias.narrow(0, L - P, P).zero_();
      pos[r] = P;
      Row& row = rows[r];
      row.job = j;
      row.max_new = std::min(params.max_new_tokens, max_pos - P);
      row.stream = sample_stream(params.seed, job.prompt, job.sample);
      row.sample = Sample{};
      row.sample.prompt_index = job.prompt;
      row.sample.sample_index = job.sample;
      row.sample.policy_version = e.version;
      row.sample.prompt_tokens = P;
      row.sample.start_s = seconds_since(t_start);
      const TokenChoice c = choose_token(e.logits.data_ptr<float>(), vocab, params,
                                         stream_uniform(row.stream, 0), &scratch);
      const int64_t from_version = e.version;
      if (--e.remaining == 0) prefilled.erase(job.prompt);
      if (accept(row, c, from_version)) finish_row(r);
    }
    sync_layout(L);
    stats.refill_s += seconds_since(t_refill) - (stats.prefill_s - prefill_before);
    return true;
  };

  while (true) {
    while (refill()) {
    }
    std::vector<size_t> active;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (rows[r].job >= 0) active.push_back(r);
    }
    if (active.empty()) break;
    const auto t_compact = Clock::now();
    // Nothing left to start: drop finished rows so that the batch shrinks.
    if (continuous && next_job == num_jobs && active.size() < rows.size()) {
      std::vector<int64_t> keep(active.begin(), active.end());
      cache.select_rows(at::tensor(keep, cpu_long));
      std::vector<Row> kept_rows;
      std::vector<int64_t> kept_pos;
      for (size_t r : active) {
        kept_rows.push_back(std::move(rows[r]));
        kept_pos.push_back(pos[r]);
      }
      rows = std::move(kept_rows);
      pos = std::move(kept_pos);
      for (size_t i = 0; i < active.size(); ++i) active[i] = i;
    }
    // Keep the cache short: cut slots that no live row needs.
    int64_t live = 0;
    for (size_t r : active) live = std::max(live, pos[r]);
    if (cache.length() + 1 > max_len || cache.length() - live >= slack) {
      RLVR_ASSERT(live < max_len);
      shift_to(live);
      ++stats.compactions;
    }
    stats.compact_s += seconds_since(t_compact);
    // One decode step for every row (idle rows of a static batch feed a dummy token).
    refresh_version();
    const auto t0 = Clock::now();
    std::vector<int64_t> feed(rows.size(), 0);
    for (size_t r : active) feed[r] = rows[r].pending;
    at::Tensor logits = model->decode_step(at::tensor(feed, cpu_long).to(device), cache);
    logits = logits.to(at::kCPU, at::kFloat).contiguous();
    for (auto& p : pos) ++p;
    ++stats.decode_steps;
    stats.row_steps += static_cast<int64_t>(rows.size());
    std::vector<TokenChoice> choices(active.size());
    const float* base = logits.data_ptr<float>();
    at::parallel_for(0, static_cast<int64_t>(active.size()), 1, [&](int64_t b, int64_t e) {
      thread_local ChooseScratch local;
      for (int64_t i = b; i < e; ++i) {
        const Row& row = rows[active[i]];
        const int64_t step = static_cast<int64_t>(row.sample.token_ids.size());
        choices[i] = choose_token(base + active[i] * vocab, vocab, params, stream_uniform(row.stream, step), &local);
      }
    });
    bool finished_any = false;
    for (size_t i = 0; i < active.size(); ++i) {
      if (accept(rows[active[i]], choices[i], version)) {
        finish_row(active[i]);
        finished_any = true;
      }
    }
    if (finished_any) sync_layout(cache.length());
    const double step_s = seconds_since(t0);
    stats.decode_s += step_s;
    if (next_job == num_jobs) {
      stats.tail_s += step_s;
      ++stats.tail_steps;
      stats.tail_row_steps += static_cast<int64_t>(rows.size());
    }
    if (hooks.on_progress) {
      hooks.on_progress({done, num_jobs, stats.generated_tokens, seconds_since(t_start)});
    }
  }
  RLVR_ASSERT(done == num_jobs);
  stats.total_s = seconds_since(t_start);
  return results;
}

}  // namespace rlvr::actors
