// A tiny task world for the sft_dpo tests: synthetic SFT/DPO data (tools/data/synth.h), a BPE
// tokenizer trained on its corpus, and a freshly initialized tiny Llama checkpoint.
#pragma once

#include <cstdint>
#include <string>

#include "tools/data/synth.h"
#include "core/fs.h"
#include "core/model/checkpoint.h"
#include "core/model/transformer.h"
#include "core/tokenizer/bpe_trainer.h"

namespace rlvr::testing {

struct TinyWorld {
  std::string data_dir;   // sft.jsonl, dpo.jsonl, eval.jsonl, corpus.txt
  std::string model_dir;  // config.json, model.safetensors, tokenizer.json
};

// Builds the world under `root`. `rows` training rows per file.
inline TinyWorld make_tiny_world(const std::string& root, int64_t rows = 48, int64_t hidden = 32,
                                 int64_t layers = 2) {
  TinyWorld w{root + "/data", root + "/model"};
  tools::SynthOptions synth;
  synth.seed = 7;
  synth.train_rows = rows;
  synth.eval_rows = 16;
  tools::synthesize_task_world(w.data_dir, synth);
  core::BpeTrainerOptions bpe;
  bpe.vocab_size = 320;
  bpe.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
  core::write_file_atomic(w.model_dir + "/tokenizer.json", core::train_bpe_files({w.data_dir + "/corpus.txt"}, bpe));
  core::TransformerConfig cfg;
  cfg.vocab_size = 320;
  cfg.hidden_size = hidden;
  cfg.intermediate_size = hidden * 2;
  cfg.num_hidden_layers = layers;
  cfg.num_attention_heads = 4;
  cfg.num_key_value_heads = 2;
  cfg.head_dim = hidden / 4;
  cfg.max_position_embeddings = 256;
  cfg.tie_word_embeddings = true;
  cfg.bos_token_id = {0};
  cfg.eos_token_id = {0};
  core::CausalLM model(cfg);
  model->init_weights(3);
  core::save_checkpoint(*model, cfg, w.model_dir);
  return w;
}

}  // namespace rlvr::testing
