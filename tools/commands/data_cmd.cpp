// `rlvr data synth`: write the tiny task world (SFT, DPO, RLVR and eval JSONL + a corpus).
#include <iostream>

#include <CLI/CLI.hpp>

#include "tools/data/synth.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct SynthParams {
  std::string out;
  tools::SynthOptions options;
};

void setup(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Synthesize data sets");
  data->require_subcommand(1);
  auto p = std::make_shared<SynthParams>();
  auto* synth = data->add_subcommand(
      "synth", "Write the tiny task world: sft.jsonl, dpo.jsonl, rlvr.jsonl, eval.jsonl, corpus.txt");
  synth->add_option("--out", p->out, "Output directory")->required();
  synth->add_option("--seed", p->options.seed, "Random seed")->capture_default_str();
  synth->add_option("--train-rows", p->options.train_rows, "Training rows per file")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  synth->add_option("--eval-rows", p->options.eval_rows, "Held-out evaluation rows")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  synth->add_option("--max-operand", p->options.max_operand, "Largest operand in a problem")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{2}, int64_t{1000000}));
  synth->callback([p] {
    tools::synthesize_task_world(p->out, p->options);
    std::cout << "wrote " << p->out << "/{sft,dpo,rlvr,eval}.jsonl and corpus.txt\n";
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("data", 80, setup);

}  // namespace rlvr::tools
