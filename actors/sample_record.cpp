// Output records and the ordered streaming writer (see sample_record.h).
#include "actors/sample_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/fs.h"

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

OrderedLineWriter::OrderedLineWriter(std::string path) : path_(std::move(path)), partial_(path_ + ".partial") {
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) core::make_dirs(parent.string());
  fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(fmt::format("{}: cannot create: {}", partial_, std::strerror(errno)));
}

OrderedLineWriter::~OrderedLineWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void OrderedLineWriter::write_all(const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(fmt::format("{}: write failed: {}", partial_, std::strerror(errno)));
    off += static_cast<size_t>(n);
  }
}

void OrderedLineWriter::add(int64_t index, std::string text) {
  RLVR_ASSERT(index >= next_ && !waiting_.count(index));
  if (index != next_) {
    waiting_.emplace(index, std::move(text));
    return;
  }
  write_all(text);
  ++next_;
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_; it = waiting_.erase(it)) {
    write_all(it->second);
    ++next_;
  }
}

void OrderedLineWriter::finish(int64_t n) {
  RLVR_CHECK(next_ == n, "{}: line {} of {} was never produced; the lines before it are in {}", path_, next_, n,
             partial_);
  if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
    fd_ = -1;
    throw Error(fmt::format("{}: cannot flush: {}", partial_, std::strerror(errno)));
  }
  fd_ = -1;
  if (::rename(partial_.c_str(), path_.c_str()) != 0) {
    throw Error(fmt::format("{}: cannot rename {} into place: {}", path_, partial_, std::strerror(errno)));
  }
}

}  // namespace rlvr::actors
