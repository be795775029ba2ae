// The tiny task world: arithmetic word problems with a required answer format, generated
// from a seed, so the tiny pipeline can train a tokenizer and a model from scratch and show
// accuracy rising stage by stage. Torch-free and deterministic for a given seed.
//
// Each problem asks for the result of one or two operations on small numbers, e.g.
//   "Mia has 7 pencils. She buys 5 more. How many pencils does Mia have now?"
// The required answer format is GSM8K's: a short working line, then "#### <answer>":
//   "7 + 5 = 12\n#### 12"
#pragma once

#include <cstdint>
#include <string>

namespace rlvr::tools {

struct SynthOptions {
  uint64_t seed = 1;
  int64_t train_rows = 2000;   // rows of sft.jsonl (and of dpo.jsonl, rlvr.jsonl)
  int64_t eval_rows = 200;     // rows of eval.jsonl (held out: different seed stream)
  int64_t max_operand = 20;    // operands are drawn from [1, max_operand]
  // The instruction-following family (0 = none), checked by the `ifeval` verifier. A prompt gives
  // facts ("Tell me what Mia has: 5 apples and 3 pencils.") and instructions from IFEval:
  // startend:quotation (Q), startend:end_checker (E, one of three end phrases),
  // punctuation:no_comma (C). Each stage gets something only it sees:
  //   sft.jsonl   `instruction_rows` demonstrations: none, Q, E, C, or Q + C (never E + C)
  //   dpo.jsonl   `instruction_rows` pairs for the combination E + C (chosen follows both; rejected
  //               drops the end phrase or keeps the comma: what the SFT model gets wrong)
  //   rlvr.jsonl  `instruction_rows` prompts for E + C, ground truth only
  //   eval.jsonl  `instruction_eval_rows` held-out E + C prompts
  int64_t instruction_rows = 0;
  int64_t instruction_eval_rows = 0;
};

// Writes into `dir` (created if missing), each atomically:
//   sft.jsonl     {"messages": [user problem, assistant worked answer]}
//   dpo.jsonl     {"chosen": [...], "rejected": [...]} (rejected: wrong result or wrong format)
//   rlvr.jsonl    {"messages": [user], "ground_truth": "<n>", "dataset": "gsm8k"}
//   eval.jsonl    held-out rows in the rlvr.jsonl layout
//   corpus.txt    text for tokenizer training (problems and answers)
// Throws rlvr::Error on I/O failure or invalid options.
void synthesize_task_world(const std::string& dir, const SynthOptions& options);

}  // namespace rlvr::tools
