// What an actor and its learner must agree on before they work together (HELLO's fingerprints):
// the model files and the sampling settings. Torch-free.
#pragma once

#include <string>

#include "core/config/config.h"

namespace rlvr::core::protocol {

// XXH64 over the contents of model.path/config.json and the tokenizer (model.tokenizer or
// model.path/tokenizer.json): the same architecture and token ids on both sides. Throws
// rlvr::Error naming a file that cannot be read.
std::string model_fingerprint(const Config& config);

// XXH64 over every generation.* key, rl.update_mode and model.chat_template (the behaviour
// log-probs and the prompts depend on them).
std::string config_fingerprint(const Config& config);

}  // namespace rlvr::core::protocol
