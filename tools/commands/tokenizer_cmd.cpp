// `rlvr tokenizer encode|decode|train|convert-gpt2|chat`: byte-level BPE tokenizers from the
// command line (tokenizer.json in, JSON out).
#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/data/jsonl.h"
#include "core/log.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "tools/cli.h"

namespace rlvr::tools {
namespace {

struct TokenizerParams {
  std::string tokenizer;
  std::string text;
  std::string text_file;
  bool no_special = false;
  std::string ids;
  bool skip_special = false;
  std::vector<std::string> inputs;
  int32_t vocab_size = 4096;
  std::string out;
  std::vector<std::string> special_tokens;
  std::string pattern = "qwen2";
  int64_t min_frequency = 2;
  std::string encoder_json;
  std::string vocab_bpe;
  std::string chat_template = "auto";
  std::string checkpoint;
  std::string messages_file;
  bool generation_prompt = false;
  std::string eos_token;
  std::string bos_token;
};

void print_ids(const char* key, const std::vector<int32_t>& ids) {
  std::cout << "{\"" << key << "\": " << nlohmann::json(ids).dump() << "}\n";
}

void setup(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Encode, decode and train byte-level BPE tokenizers (tokenizer.json)");
  cmd->require_subcommand(1);
  auto p = std::make_shared<TokenizerParams>();

  auto* enc = cmd->add_subcommand("encode", "Print {\"ids\": [...]} for a text");
  enc->add_option("--tokenizer", p->tokenizer, "tokenizer.json")->required();
  auto* text = enc->add_option("--text", p->text, "Text to encode");
  auto* text_file = enc->add_option("--text-file", p->text_file, "File whose bytes are encoded");
  text->excludes(text_file);
  enc->add_flag("--no-special", p->no_special,
                "Encode special tokens as ordinary text (default: recognise them)");
  enc->callback([p, text, text_file] {
    RLVR_CHECK(text->count() + text_file->count() == 1, "tokenizer encode: give exactly one of --text, --text-file");
    auto tok = core::Tokenizer::from_file(p->tokenizer);
    std::string input = text_file->count() ? core::read_file(p->text_file) : p->text;
    print_ids("ids", tok.encode(input, !p->no_special));
  });

  auto* dec = cmd->add_subcommand("decode", "Print the text of comma-separated ids");
  dec->add_option("--tokenizer", p->tokenizer, "tokenizer.json")->required();
  dec->add_option("--ids", p->ids, "Token ids, e.g. 1,2,3")->required();
  dec->add_flag("--skip-special", p->skip_special, "Drop special tokens (default: keep)");
  dec->callback([p] {
    auto tok = core::Tokenizer::from_file(p->tokenizer);
    std::vector<int32_t> ids;
    for (int64_t v : parse_int_list(p->ids, "--ids")) {
      RLVR_CHECK(v >= 0 && v < tok.vocab_size(), "--ids: {} is out of range [0, {})", v, tok.vocab_size());
      ids.push_back(static_cast<int32_t>(v));
    }
    std::cout << tok.decode(ids, p->skip_special);
    std::cout.flush();
  });

  auto* train = cmd->add_subcommand("train", "Train a byte-level BPE tokenizer and write tokenizer.json");
  train->add_option("--input", p->inputs, "Training text files (one or more)")->required()->expected(1, -1);
  train->add_option("--vocab-size", p->vocab_size, "Vocabulary size incl. 256 bytes and special tokens")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  train->add_option("--out", p->out, "Output tokenizer.json")->required();
  train->add_option("--special-tokens", p->special_tokens, "Special tokens (ids 0..k-1 in this order)")
      ->expected(0, -1)
      ->delimiter(',');
  train->add_option("--pattern", p->pattern, "Split regex family: qwen2 | llama3 | gpt2")->capture_default_str();
  train->add_option("--min-frequency", p->min_frequency, "Never merge pairs seen fewer times")->capture_default_str();
  train->callback([p] {
    core::BpeTrainerOptions opt;
    opt.vocab_size = p->vocab_size;
    opt.special_tokens = p->special_tokens;
    opt.pattern = p->pattern;
    opt.min_frequency = p->min_frequency;
    core::write_file_atomic(p->out, core::train_bpe_files(p->inputs, opt));
    auto tok = core::Tokenizer::from_file(p->out);
    std::cout << p->out << ": " << tok.vocab_size() << " tokens\n";
  });

  auto* conv = cmd->add_subcommand("convert-gpt2", "Convert GPT-2 encoder.json + vocab.bpe into tokenizer.json");
  conv->add_option("--encoder", p->encoder_json, "encoder.json")->required();
  conv->add_option("--vocab-bpe", p->vocab_bpe, "vocab.bpe")->required();
  conv->add_option("--out", p->out, "Output tokenizer.json")->required();
  conv->callback([p] {
    std::string json = core::convert_gpt2_vocab(p->encoder_json, p->vocab_bpe);
    core::Tokenizer::from_json(json, p->out);  // validate before writing
    core::write_file_atomic(p->out, json);
    std::cout << p->out << ": written\n";
  });

  auto* chat = cmd->add_subcommand("chat", "Apply a chat template: print ids, assistant mask and the text");
  chat->add_option("--tokenizer", p->tokenizer, "tokenizer.json")->required();
  chat->add_option("--template", p->chat_template,
                   "auto (the checkpoint's own Jinja template, else tulu) | checkpoint (its template, required) | "
                   "tulu | chatml")
      ->capture_default_str()
      ->check(CLI::IsMember({"tulu", "chatml", "checkpoint", "auto"}));
  chat->add_option("--checkpoint", p->checkpoint,
                   "Checkpoint directory whose chat_template.jinja / tokenizer_config.json gives the template "
                   "(default: the directory of --tokenizer)");
  chat->add_option("--messages-file", p->messages_file,
                   "JSON file: [{\"role\": ..., \"content\": ...}, ...] or {\"messages\": [...]}, as in the "
                   "data files (content as text parts, tool roles; docs/DATA.md)")
      ->required();
  chat->add_flag("--generation-prompt", p->generation_prompt, "Append the assistant generation prompt");
  chat->add_option("--eos-token", p->eos_token, "tulu end-of-turn token (default: guessed from the tokenizer)");
  chat->add_option("--bos-token", p->bos_token, "Token prepended to the conversation (default: none)");
  chat->callback([p] {
    auto tok = core::Tokenizer::from_file(p->tokenizer);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(core::read_file(p->messages_file));
    } catch (const nlohmann::json::parse_error& e) {
      throw Error(fmt::format("{}: not valid JSON: {}", p->messages_file, e.what()));
    }
    if (j.is_object() && j.contains("messages")) j = j["messages"];
    std::vector<core::ChatMessage> messages;
    try {
      messages = core::parse_messages(j, "messages");
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", p->messages_file, e.what()));
    }
    std::string checkpoint =
        p->checkpoint.empty() ? std::filesystem::path(p->tokenizer).parent_path().string() : p->checkpoint;
    if (checkpoint.empty()) checkpoint = ".";  // --tokenizer in the working directory
    std::string setting = p->chat_template;
    // auto without a template in the checkpoint is tulu, which takes --eos-token / --bos-token.
    if (setting == "auto" && !core::read_checkpoint_chat_template(checkpoint)) {
      setting = "tulu";
    }
    core::ChatTemplateOptions opt;
    opt.add_generation_prompt = p->generation_prompt;
    opt.eos_token = p->eos_token;
    opt.bos_token = p->bos_token;
    core::ChatEncoding enc;
    if (setting == "tulu" || setting == "chatml") {
      enc = core::apply_chat_template(tok, setting, messages, opt);
    } else {
      RLVR_CHECK(p->eos_token.empty() && p->bos_token.empty(),
                 "--eos-token / --bos-token apply to the named templates; a checkpoint's template takes them from "
                 "its tokenizer_config.json");
      enc = core::ChatFormat::resolve(tok, setting, checkpoint)
                .encode(tok, messages, p->generation_prompt);
    }
    nlohmann::json out{{"ids", enc.ids},
                       {"assistant_mask", enc.assistant_mask},
                       {"end_of_turn_id", enc.end_of_turn_id},
                       {"text", enc.text}};
    std::cout << out.dump() << "\n";
  });
}

}  // namespace

RLVR_REGISTER_COMMAND("tokenizer", 80, setup);

}  // namespace rlvr::tools
