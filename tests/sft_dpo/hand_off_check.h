// The hand-off files of a run's final/ (learner/run_outputs.cpp write_hand_off_files), checked the
// same way for SFT, DPO and RL runs on the tiny world (tests/sft_dpo/tiny_world.h).
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/fs.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"

namespace rlvr::testing {

// final/ holds the tiny world's tulu template as the chat template it trained with, its EOS token
// <|endoftext|>, and that token's id as config.json's and generation_config.json's eos_token_id.
inline void expect_tulu_hand_off(const std::string& final_dir) {
  const core::Tokenizer tok = core::Tokenizer::from_file(final_dir + "/tokenizer.json");
  const int64_t eos = *tok.single_token_id("<|endoftext|>");
  auto json_of = [](const std::string& path) { return nlohmann::json::parse(core::read_file(path)); };
  const nlohmann::json tc = json_of(final_dir + "/tokenizer_config.json");
  EXPECT_EQ(tc["chat_template"], core::named_chat_template_jinja("tulu")) << final_dir;
  EXPECT_EQ(tc["eos_token"], "<|endoftext|>") << final_dir;
  EXPECT_EQ(json_of(final_dir + "/generation_config.json")["eos_token_id"], eos) << final_dir;
  EXPECT_EQ(json_of(final_dir + "/config.json")["eos_token_id"], eos) << final_dir;
}

}  // namespace rlvr::testing
