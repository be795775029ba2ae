// Loading, printing and documenting configs (yaml-cpp stays inside loader.cpp).
//
// Strictness: an unknown key names file:line:col and the closest known key; a value of the
// wrong type or out of range names the key, the value and what was expected. `base: FILE`
// (top level, relative to the including file) starts from another config; `--set a.b=v`
// overrides apply last, in order. Every function is thread-safe (no shared state).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace rlvr::core {

// Loads `path` and its `base:` chain, applies `overrides` ("a.b.c=value", value in YAML
// syntax) and returns the typed config, with Config::explicit_keys filled and the sampling
// defaults of <model.path>/generation_config.json applied to the generation keys it does not set
// (core/config/generation_defaults.h). Throws rlvr::Error with file:line:col (or the
// offending --set) on any syntax, key, type or range error, or a `base:` cycle.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Same, from YAML text; `source_name` stands in for the file name in messages and
// `base_dir` resolves a relative `base:`.
Config load_config_text(const std::string& yaml, const std::string& source_name,
                        const std::vector<std::string>& overrides = {},
                        const std::string& base_dir = ".");

// The fully resolved config (every key, defaults filled) as YAML that load_config accepts.
std::string config_to_yaml(Config config);

// docs/CONFIG.md: every key with its type, default and description, generated from the schema.
std::string config_docs_markdown();

// Every key of `config` flattened to "section.key" -> value text (numbers in their shortest
// round-trip form, lists as JSON arrays, list items as "section.list[i].key").
std::map<std::string, std::string> flatten_config(const Config& config);

// Every key of the schema as a dotted path ("run.seed", "verifiers.external[].name", ...).
std::vector<std::string> config_keys();

// The candidate closest to `word` by edit distance, when it is close enough to be a
// plausible typo (distance <= max(2, |word| / 3)); nullopt otherwise.
std::optional<std::string> closest_match(const std::string& word,
                                         const std::vector<std::string>& candidates);

}  // namespace rlvr::core
