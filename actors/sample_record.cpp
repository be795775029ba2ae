// Output records and the ordered streaming writer (see sample_record.h).
#include "actors/sample_record.h"

#include "core/error.h"

namespace rlvr::actors {

nlohmann::json sample_record(const Sample& s, const PromptRow& row, int64_t prompt_index) {
  nlohmann::json j = row.fields.is_object() ? row.fields : nlohmann::json::object();
  j["prompt_index"] = prompt_index;
  j["sample_index"] = s.sample_index;
  j["line"] = row.line;
  j["response"] = s.text;
  j["token_ids"] = s.token_ids;
  j["logprobs"] = s.logprobs;
  j["finish_reason"] = finish_reason_name(s.finish_reason);
  j["num_tokens"] = s.token_ids.size();
  j["prompt_tokens"] = s.prompt_tokens;
  j["policy_version"] = s.policy_version;
  j["timing"] = {{"start_s", s.start_s}, {"end_s", s.end_s}, {"latency_s", s.end_s - s.start_s}};
  if (s.finish_reason == FinishReason::kStop) j["stop_string"] = s.stop_string;
  return j;
}

std::string json_line(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

OrderedLineWriter::OrderedLineWriter(const std::string& path)
    : out_(path, core::AtomicFileWriter::Options{path + ".partial", /*keep_partial=*/true}) {}

void OrderedLineWriter::add(int64_t index, std::string text) {
  RLVR_ASSERT(index >= next_ && !waiting_.count(index));
  if (index != next_) {
    waiting_.emplace(index, std::move(text));
    return;
  }
  out_.write(text);
  ++next_;
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_; it = waiting_.erase(it)) {
    out_.write(it->second);
    ++next_;
  }
}

void OrderedLineWriter::finish(int64_t n) {
  RLVR_CHECK(next_ == n, "{}: line {} of {} was never produced; the lines before it are in {}", out_.path(), next_,
             n, partial_path());
  out_.commit();
}

}  // namespace rlvr::actors
