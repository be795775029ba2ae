// The 25 IFEval instruction checkers (google-research instruction_following_eval, strict mode),
// keyed by IFEval's instruction ids, with its kwarg names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rlvr::verifiers::ifeval {

// One instruction's outcome. A kwargs problem (missing, wrong type, out of range, invalid
// regex) is `followed = false` with `kwargs_error = true` and a reason naming the kwarg.
struct CheckResult {
  bool followed = false;
  bool kwargs_error = false;
  std::string reason;  // short: "ok", "found 3 sentences, need at least 5", ...
};

// Checks `response` (valid UTF-8, see sanitize_utf8) against instruction `id` with `kwargs`
// (a JSON object; null kwargs are already dropped). Unknown ids give followed = false and
// kwargs_error = true. Never throws; linear or close to it in the response size.
CheckResult check_instruction(std::string_view id, const nlohmann::json& kwargs, std::string_view response);

// The supported instruction ids, in IFEval's registry order.
const std::vector<std::string>& instruction_ids();

}  // namespace rlvr::verifiers::ifeval
