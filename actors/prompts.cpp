// Prompt files (see prompts.h).
#include "actors/prompts.h"

#include "core/data/jsonl.h"
#include "core/error.h"

namespace rlvr::actors {

namespace {

template <class Messages>
std::vector<core::ChatMessage> to_chat(const Messages& messages) {
  std::vector<core::ChatMessage> out;
  out.reserve(messages.size());
  for (const auto& m : messages) out.push_back(core::ChatMessage{m.role, m.content});
  return out;
}

}  // namespace

PromptSet load_prompts(const std::string& path, const core::Tokenizer& tokenizer, const PromptOptions& options) {
  PromptSet set;
  set.path = path;
  const core::ChatFormat format =
      options.chat_format ? *options.chat_format : core::ChatFormat::named(tokenizer, options.chat_template);
  set.end_of_turn_id = format.end_of_turn_id();
  auto on_row = [&](int64_t line, const nlohmann::json& row) {
    PromptRow out;
    out.line = line;
    if (options.require_ground_truth || (row.is_object() && row.contains("ground_truth"))) {
      auto ex = core::parse_prompt_row(row, line);
      out.messages = to_chat(ex.messages);
      out.ground_truth = ex.ground_truth;
      out.dataset = ex.dataset;
    } else {
      // `messages` without trailing assistant turns, or a `prompt` string / list (core/data/jsonl.h).
      out.messages = to_chat(core::parse_prompt_messages(row));
      if (row.contains("dataset") && row["dataset"].is_string()) out.dataset = row["dataset"].get<std::string>();
    }
    core::ChatEncoding enc = format.encode(tokenizer, out.messages, /*add_generation_prompt=*/true);
    out.ids = std::move(enc.ids);
    out.text = std::move(enc.text);
    out.fields = row;
    set.rows.push_back(std::move(out));
  };
  core::JsonlStats stats = core::read_jsonl(path, options.on_bad_row, on_row, options.skip_hint);
  set.skipped = stats.skipped;
  RLVR_CHECK(!set.rows.empty(), "{}: no prompts ({})", path,
             stats.skipped > 0 ? fmt::format("all {} rows were bad; first: {}", stats.skipped, stats.first_error)
                               : std::string("the file has no rows"));
  return set;
}

}  // namespace rlvr::actors
