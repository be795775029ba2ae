// The typed configuration of every rlvr stage, with defaults. One schema for all stages:
// a YAML file sets any subset of these keys; everything else keeps the default shown here.
// docs/CONFIG.md is generated from these `visit` functions (`rlvr config docs`) and a test
// checks that the committed file matches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/schema.h"

namespace rlvr::core {

// Where and how a run executes.
struct RunConfig {
  std::string name = "run";
  std::string output_dir = "runs/run";
  int64_t seed = 1;
  std::string device = "cpu";
  std::string dtype = "float32";
  int64_t threads = 0;
  std::string log_level = "info";

  void visit(SchemaVisitor& v) {
    v.field("name", name, "Run name, shown in logs and the report.");
    v.field("output_dir", output_dir,
            "Run directory: resolved config, metrics.jsonl, logs, checkpoints, report.");
    v.field("seed", seed, "Seed for every random number generator of the run.", at_least(0));
    v.choice("device", device, {"cpu", "cuda"},
             "Device for model compute; cuda needs a CUDA build of LibTorch.");
    v.choice("dtype", dtype, {"float32", "bfloat16", "float16"},
             "Compute dtype of model weights and activations.");
    v.field("threads", threads, "Intra-op CPU threads; 0 uses every core.", at_least(0));
    v.choice("log_level", log_level, {"trace", "debug", "info", "warn", "error", "off"},
             "Console and log-file verbosity.");
  }
};

// The policy model and its tokenizer.
struct ModelConfig {
  std::string path;
  std::string tokenizer;
  std::string chat_template = "tulu";

  void visit(SchemaVisitor& v) {
    v.field("path", path, "Hugging Face checkpoint directory (config.json + model.safetensors).");
    v.field("tokenizer", tokenizer,
            "tokenizer.json to use; empty means <path>/tokenizer.json.");
    v.choice("chat_template", chat_template, {"tulu", "chatml"},
             "Chat template used to render `messages` into tokens.");
  }
};

// One external verifier: a long-lived child process speaking JSON lines.
struct ExternalVerifierConfig {
  std::string name;
  std::vector<std::string> command;
  int64_t timeout_ms = 5000;
  int64_t num_processes = 1;

  void visit(SchemaVisitor& v) {
    v.field("name", name, "Verifier name; data rows select it with their `dataset` field.");
    v.field("command", command, "Program and arguments (argv) of the child process.");
    v.field("timeout_ms", timeout_ms, "Per-request timeout; a late reply scores 0 and restarts the process.",
            Range{1, 3600000});
    v.field("num_processes", num_processes, "Child processes run in parallel for throughput.",
            Range{1, 256});
  }
};

// Reward computation shared by `rlvr verify`, `rlvr eval` and the RL stage.
struct VerifiersConfig {
  double verification_reward = 10.0;
  int64_t max_input_bytes = 65536;
  std::vector<ExternalVerifierConfig> external;

  void visit(SchemaVisitor& v) {
    v.field("verification_reward", verification_reward,
            "Reward for a fully correct answer; reward = score x this (TULU 3 uses 10).",
            at_least(0));
    v.field("max_input_bytes", max_input_bytes,
            "Bytes of a response a verifier reads; longer responses are cut to this.",
            Range{1, 64.0 * 1024 * 1024});
    v.list("external", external, "External verifiers, each a child process (see docs/VERIFIERS.md).");
  }
};

// The whole configuration.
struct Config {
  RunConfig run;
  ModelConfig model;
  VerifiersConfig verifiers;

  void visit(SchemaVisitor& v) {
    v.section("run", run, "Where and how the run executes.");
    v.section("model", model, "The policy model and its tokenizer.");
    v.section("verifiers", verifiers, "Verifiers and rewards.");
  }
};

}  // namespace rlvr::core
