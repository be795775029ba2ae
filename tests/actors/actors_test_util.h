// Shared helpers of the actors tests: a tiny random model and a tokenizer trained in-test.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/model/transformer.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::testing {

// 2 layers, hidden 32: fast enough for many generate() calls per test. A larger init range
// than transformers' default makes next-token distributions peaked enough to be interesting.
inline core::TransformerConfig tiny_config(int64_t vocab = 320) {
  core::TransformerConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 256;
  c.initializer_range = 0.3;
  c.eos_token_id = {0};
  return c;
}

inline core::CausalLM tiny_model(uint64_t seed = 7, int64_t vocab = 320) {
  core::CausalLM m(tiny_config(vocab));
  m->init_weights(seed);
  m->eval();
  return m;
}

// Deterministic text for tokenizer training.
inline std::vector<std::string> tiny_corpus() {
  std::vector<std::string> texts;
  const char* names[] = {"Mia", "Leo", "Ava", "Sam", "Zoe", "Max"};
  const char* items[] = {"pencils", "apples", "stickers", "marbles", "books"};
  for (int i = 0; i < 200; ++i) {
    texts.push_back(std::string(names[i % 6]) + " has " + std::to_string(i % 17 + 2) + " " + items[i % 5] +
                    ". She buys " + std::to_string(i % 9 + 1) + " more. How many " + items[i % 5] +
                    " now?\n" + std::to_string(i % 17 + 2) + " + " + std::to_string(i % 9 + 1) + " = " +
                    std::to_string(i % 17 + i % 9 + 3) + "\n#### " + std::to_string(i % 17 + i % 9 + 3));
  }
  return texts;
}

inline std::string tiny_tokenizer_json() {
  core::BpeTrainerOptions opts;
  opts.vocab_size = 320;
  opts.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
  return core::train_bpe(tiny_corpus(), opts);
}

}  // namespace rlvr::testing
