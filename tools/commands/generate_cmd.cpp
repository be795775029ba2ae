// `rlvr generate`: sample completions of a prompt file with a checkpoint (actors/sampler.h).
#include <iostream>

#include <CLI/CLI.hpp>

#include "actors/policy.h"
#include "actors/prompts.h"
#include "actors/sampler.h"
#include "core/fs.h"
#include "core/tokenizer/tokenizer.h"
#include "tools/cli.h"
#include "tools/commands/sampling_flags.h"

namespace rlvr::tools {
namespace {

struct GenerateParams {
  SamplingFlags flags;
  std::string prompts;
  std::string out;
};

void run_generate(const CLI::App& cmd, GenerateParams& p) {
  resolve_sampling_flags(cmd, p.flags);
  auto& f = p.flags;
  core::Tokenizer tokenizer = core::Tokenizer::from_file(f.tokenizer);
  actors::PromptSet prompts = actors::load_prompts(p.prompts, tokenizer, f.chat_template, /*require_ground_truth=*/false);
  actors::LoadedPolicy policy = actors::load_policy(f.model, f.device, f.dtype);
  actors::SamplingParams sp = f.sampling;
  if (prompts.end_of_turn_id >= 0) sp.stop_token_ids.push_back(prompts.end_of_turn_id);
  for (int64_t id : policy.config.eos_token_id) sp.stop_token_ids.push_back(static_cast<int32_t>(id));
  std::vector<std::vector<int32_t>> ids;
  for (const auto& row : prompts.rows) ids.push_back(row.ids);
  RLVR_LOG_INFO("generate: {} prompts x {} samples from {} (batch {}, {} batching)", ids.size(), sp.n, p.prompts,
                f.engine.batch_size, f.engine.continuous_batching ? "continuous" : "static");
  actors::Sampler sampler(policy.model, &tokenizer, f.engine);
  actors::GenerateHooks hooks;
  hooks.on_progress = progress_logger("generate");
  std::vector<actors::Sample> samples;
  try {
    samples = sampler.generate(ids, sp, f.policy_version, hooks);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", p.prompts, e.what()));
  }
  std::string text;
  for (const auto& s : samples) text += json_line(sample_to_json(s, prompts.rows[s.prompt_index]));
  core::write_file_atomic(p.out, text);
  const auto& st = sampler.last_stats();
  std::cout << fmt::format("wrote {} samples to {}: {} tokens in {:.2f}s ({:.1f} tok/s, {:.2f} samples/s)\n",
                           samples.size(), p.out, st.generated_tokens, st.total_s,
                           st.total_s > 0 ? st.generated_tokens / st.total_s : 0.0,
                           st.total_s > 0 ? samples.size() / st.total_s : 0.0);
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Sample completions for a JSONL prompt file (one output line per sample)");
  auto p = std::make_shared<GenerateParams>();
  add_sampling_flags(cmd, p->flags);
  cmd->add_option("--prompts", p->prompts, "JSONL rows with `messages` (RLVR or SFT rows)")->required();
  cmd->add_option("--out", p->out, "Output JSONL: one line per sample")->required();
  cmd->callback([cmd, p] { run_generate(*cmd, *p); });
}

}  // namespace

RLVR_REGISTER_COMMAND("generate", 50, setup);

}  // namespace rlvr::tools
