// HELLO's fingerprints (see fingerprint.h).
#include "core/protocol/fingerprint.h"

#include "core/config/loader.h"
#include "core/fs.h"

namespace rlvr::core::protocol {

std::string model_fingerprint(const Config& config) {
  const std::string tok = config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;
  return content_hash(file_content_hash(config.model.path + "/config.json") + file_content_hash(tok));
}

std::string config_fingerprint(const Config& config) {
  std::string text;
  for (const auto& [key, value] : flatten_config(config)) {
    if (key.rfind("generation.", 0) == 0 || key == "rl.update_mode" || key == "model.chat_template") {
      text += key + "=" + value + "\n";
    }
  }
  return content_hash(text);
}

}  // namespace rlvr::core::protocol
