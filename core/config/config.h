// The typed configuration of every rlvr stage, with defaults. One schema for all stages:
// a YAML file sets any subset of these keys; everything else keeps the default shown here.
// docs/CONFIG.md is generated from these `visit` functions (`rlvr config docs`) and a test
// checks that the committed file matches.
#pragma once

#include <cstdint>
#include <set>
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
  std::string dtype = "auto";
  int64_t threads = 0;
  std::string log_level = "info";

  void visit(SchemaVisitor& v) {
    v.field("name", name,
            "Run name: in the log's start and summary lines, the `rlvr train` result line and "
            "<output_dir>/summary.json.");
    v.field("output_dir", output_dir,
            "Run directory: resolved config, metrics.jsonl, logs, checkpoints, report.");
    v.field("seed", seed, "Seed for every random number generator of the run.", at_least(0));
    v.choice("device", device, {"cpu", "cuda"},
             "Device for model compute; cuda needs a CUDA build of LibTorch.");
    v.choice("dtype", dtype, {"auto", "float32", "bfloat16", "float16"},
             "Compute dtype of training: master weights stay float32; bfloat16/float16 run matmuls under "
             "autocast (CPU: bfloat16 only). auto: bfloat16 autocast on cuda, and on a CPU with native bf16 "
             "(AMX or AVX512-BF16) where a matmul probe finds it faster; float32 elsewhere. The environment "
             "variable RLVR_CPU_BF16=on|off overrides the CPU's detection (docs/TRAINING.md).");
    v.field("threads", threads, "Intra-op CPU threads; 0 uses every core.", at_least(0));
    v.choice("log_level", log_level, {"trace", "debug", "info", "warn", "error", "off"},
             "Console and log-file verbosity.");
  }
};

// The policy model and its tokenizer.
struct ModelConfig {
  std::string path;
  std::string tokenizer;
  std::string chat_template = "auto";

  void visit(SchemaVisitor& v) {
    v.field("path", path, "Hugging Face checkpoint directory (config.json + model.safetensors).");
    v.field("tokenizer", tokenizer,
            "tokenizer.json to use; empty means <path>/tokenizer.json.");
    v.choice("chat_template", chat_template, {"auto", "checkpoint", "tulu", "chatml"},
             "Chat template used to render `messages` into tokens: auto = the checkpoint's own Jinja template "
             "(<path>/chat_template.jinja or tokenizer_config.json's chat_template) when it has one, else tulu; "
             "checkpoint = the checkpoint's own (an error if it has none); tulu / chatml = the named template "
             "(docs/DATA.md).");
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
  int64_t max_input_bytes = 4194304;
  std::vector<ExternalVerifierConfig> external;

  void visit(SchemaVisitor& v) {
    v.field("verification_reward", verification_reward,
            "Reward for a fully correct answer; reward = score x this (TULU 3 uses 10).",
            at_least(0));
    v.field("max_input_bytes", max_input_bytes,
            "Input bound of the verifiers (4 MiB): gsm8k and math read the last this many bytes "
            "after removing <think> sections; ifeval, ifeval_old and external verifiers score a "
            "longer response (external: also prompt or ground_truth) 0 as an error instead of "
            "checking part of it.",
            Range{1, 64.0 * 1024 * 1024});
    v.list("external", external, "External verifiers, each a child process (see docs/VERIFIERS.md).");
  }
};

// The optimizer (AdamW) and learning-rate schedule shared by every training mode.
struct OptimConfig {
  double learning_rate = 2e-5;
  double weight_decay = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  std::string lr_scheduler = "linear";
  double warmup_ratio = 0.03;
  double max_grad_norm = 1.0;

  void visit(SchemaVisitor& v) {
    v.field("learning_rate", learning_rate, "Peak learning rate of AdamW.", Range{0, 10});
    v.field("weight_decay", weight_decay,
            "Decoupled weight decay; biases and norm weights are never decayed.", Range{0, 10});
    v.field("adam_beta1", adam_beta1, "AdamW beta1.", Range{0, 0.999999});
    v.field("adam_beta2", adam_beta2, "AdamW beta2.", Range{0, 0.999999999});
    v.field("adam_eps", adam_eps, "AdamW epsilon.", Range{0, 1});
    v.choice("lr_scheduler", lr_scheduler, {"linear", "cosine", "constant"},
             "Decay after warmup, as transformers' get_scheduler: linear or cosine to 0, or constant.");
    v.field("warmup_ratio", warmup_ratio,
            "Fraction of the optimizer steps spent warming up linearly from 0 (int(ratio x steps)).",
            Range{0, 1});
    v.field("max_grad_norm", max_grad_norm, "Clip the global gradient L2 norm to this; 0 disables.",
            at_least(0));
  }
};

// One file of a training mix (train.train_files), as open-instruct's dataset_mixer: `weight` is
// a fraction of the file's usable rows (above 1 repeats them), `rows` a row count (above the
// file's count repeats them). See docs/DATA.md.
struct TrainFileConfig {
  std::string path;
  double weight = 1.0;
  int64_t rows = 0;

  void visit(SchemaVisitor& v) {
    v.field("path", path, "JSONL file (plain or .gz), in the format of train.mode.");
    v.field("weight", weight,
            "Fraction of the file's usable rows drawn (int(weight x rows)); above 1 repeats the file, then "
            "draws the remainder. Ignored when rows is set.",
            Range{0, 1e6});
    v.field("rows", rows,
            "Rows drawn from the file instead of a fraction; more than it has repeats it. 0: use weight.",
            Range{0, 1e12});
  }
};

// The training loop of `rlvr train` (modes sft and dpo).
struct TrainConfig {
  std::string mode = "sft";
  std::string train_file;
  std::vector<TrainFileConfig> train_files;
  std::string eval_file;
  int64_t max_seq_len = 1024;
  bool packing = false;
  std::string on_bad_row = "stop";
  int64_t batch_size = 8;
  int64_t grad_accum_steps = 1;
  int64_t num_epochs = 1;
  int64_t max_steps = 0;
  double max_time_s = 0;
  int64_t eval_every = 0;
  int64_t checkpoint_every = 0;
  int64_t keep_checkpoints = 2;
  bool resume = true;
  bool overwrite_output_dir = false;
  int64_t log_every = 1;

  void visit(SchemaVisitor& v) {
    v.choice("mode", mode, {"sft", "dpo"}, "Training mode of `rlvr train`.");
    v.field("train_file", train_file,
            "Training data, JSONL or .jsonl.gz (format depends on the mode, docs/DATA.md); set this or "
            "train_files.");
    v.list("train_files", train_files,
           "Several training files mixed with sampling weights, drawn and shuffled with run.seed (instead "
           "of train_file).");
    v.field("eval_file", eval_file, "Validation data, JSONL; empty disables evaluation.");
    v.field("max_seq_len", max_seq_len, "Longest tokenized row; longer rows are truncated and counted.",
            Range{8, 1048576});
    v.field("packing", packing,
            "SFT: pack several rows into one sequence (attention stays inside each row).");
    v.choice("on_bad_row", on_bad_row, {"stop", "skip"},
             "A malformed data row stops the run with its file:line, or is skipped and counted.");
    v.field("batch_size", batch_size, "Sequences (DPO: pairs) per micro-batch.", Range{1, 65536});
    v.field("grad_accum_steps", grad_accum_steps, "Micro-batches per optimizer step.", Range{1, 65536});
    v.field("num_epochs", num_epochs, "Passes over the training data (when max_steps is 0).", Range{1, 100000});
    v.field("max_steps", max_steps, "Optimizer steps to run; 0 runs num_epochs.", at_least(0));
    v.field("max_time_s", max_time_s,
            "Stop after the optimizer step at which this many seconds have passed since the run started "
            "(summed over resumes), writing the checkpoint and final/ as at the end; the learning-rate schedule "
            "follows the steps or the clock, whichever is further along. 0: no time limit.",
            at_least(0));
    v.field("eval_every", eval_every, "Evaluate every N optimizer steps; 0 only at the end.", at_least(0));
    v.field("checkpoint_every", checkpoint_every,
            "Write a resumable checkpoint every N optimizer steps; 0 only at the end.", at_least(0));
    v.field("keep_checkpoints", keep_checkpoints, "Intermediate checkpoints kept (oldest deleted first).",
            Range{1, 1000});
    v.field("resume", resume,
            "Continue from the newest checkpoint in run.output_dir when it belongs to the same run (same "
            "data contents and run-defining keys, see docs/TRAINING.md); a different run is refused.");
    v.field("overwrite_output_dir", overwrite_output_dir,
            "Allow discarding another or a finished run found in run.output_dir (its checkpoints, metrics "
            "and final/) to start this one fresh; without it such a run is refused.");
    v.field("log_every", log_every, "Progress line and metrics row every N optimizer steps.", Range{1, 1000000});
  }
};

// Direct preference optimization (mode dpo).
struct DpoConfig {
  std::string loss = "dpo_norm";
  double beta = 5.0;
  double gamma = 0.5;
  double label_smoothing = 0.0;
  double rpo_alpha = 0.0;
  std::string reference_path;
  std::string reference_cache_dir;

  void visit(SchemaVisitor& v) {
    v.choice("loss", loss, {"sigmoid", "dpo_norm", "ipo", "simpo"},
             "sigmoid (DPO), dpo_norm (length-normalized, TULU 3), ipo, or simpo (no reference).");
    v.field("beta", beta, "Inverse temperature of the implicit reward (TULU 3 dpo_norm uses 5).",
            Range{0, 1000});
    v.field("gamma", gamma, "SimPO target reward margin (gamma / beta is subtracted).", Range{0, 1000});
    v.field("label_smoothing", label_smoothing, "Conservative DPO label smoothing.", Range{0, 0.5});
    v.field("rpo_alpha", rpo_alpha, "Weight of the NLL loss on the chosen response (TRL rpo_alpha); 0 disables.",
            Range{0, 1000});
    v.field("reference_path", reference_path,
            "Frozen reference checkpoint; empty uses model.path (the policy's starting point).");
    v.field("reference_cache_dir", reference_cache_dir,
            "Where reference log-probs are cached (keyed by data, reference and tokenization); "
            "empty uses <run.output_dir>/cache.");
  }
};

// Sampling: `rlvr generate`, `rlvr eval` and the RL actors (actors/sampler.h; see
// docs/GENERATION.md). The learner uses `temperature` to recompute behaviour log-probs.
struct GenerationConfig {
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  int64_t max_new_tokens = 256;
  std::vector<std::string> stop;
  int64_t num_samples_per_prompt = 1;
  int64_t batch_size = 32;
  bool continuous_batching = true;

  void visit(SchemaVisitor& v) {
    v.field("temperature", temperature,
            "Sampling temperature; 0 is greedy. Behaviour log-probs are log_softmax(logits / temperature).",
            Range{0, 100});
    v.field("top_p", top_p, "Nucleus sampling mass; 1 disables.", Range{1e-9, 1});
    v.field("top_k", top_k, "Keep only the k most likely tokens; 0 disables.", at_least(0));
    v.field("max_new_tokens", max_new_tokens, "Most tokens generated per sample (EOS included).",
            Range{1, 1048576});
    v.field("stop", stop, "Stop strings; the text is cut before the first match (EOS always stops).");
    v.field("num_samples_per_prompt", num_samples_per_prompt,
            "Samples per prompt (the GRPO group size); they share the prompt's prefill.", Range{1, 65536});
    v.field("batch_size", batch_size, "Rows decoded together by the sampler.", Range{1, 65536});
    v.field("continuous_batching", continuous_batching,
            "Start the next prompt in a row as soon as its sample finishes (else static batches).");
  }
};

// KL penalty against the frozen reference policy (rl.kl).
struct KlConfig {
  double coef = 0.0;
  std::string estimator = "k3";
  std::string in = "loss";

  void visit(SchemaVisitor& v) {
    v.field("coef", coef,
            "KL coefficient beta; 0 disables the penalty (and the reference model is not loaded).",
            Range{0, 1000});
    v.choice("estimator", estimator, {"k1", "k3"},
             "Per-token KL estimator in the loss: k1 = logp - ref, k3 = exp(ref - logp) - (ref - logp) - 1.");
    v.choice("in", in, {"loss", "reward"},
             "Where the penalty goes: added to the loss, or subtracted from the reward (k1 per token; "
             "gae: per-token rewards, grpo/rloo: from the sample's reward).");
  }
};

// Stopping a live RL run whose learning collapsed (rl.collapse), checked after every step over
// the last `window` steps (learner/collapse_guard.h).
struct CollapseConfig {
  int64_t window = 20;
  double min_mixed_fraction = 0.02;
  double reward_drop = 0.5;

  void visit(SchemaVisitor& v) {
    v.field("window", window, "Steps averaged by both checks; 0 disables them.", at_least(0));
    v.field("min_mixed_fraction", min_mixed_fraction,
            "Stop when, over the window, fewer groups than this fraction had mixed rewards while accuracy is below "
            "0.99 (GRPO has no signal left); 0 disables this check.",
            Range{0, 1});
    v.field("reward_drop", reward_drop,
            "Stop when the window's mean reward fell below (1 - reward_drop) x the best window mean so far (a "
            "positive best); 0 disables this check.",
            Range{0, 1});
  }
};

// A per-data-set reward multiplier (rl.rewards.scales[]).
struct RewardScaleConfig {
  std::string dataset;
  double scale = 1.0;

  void visit(SchemaVisitor& v) {
    v.field("dataset", dataset, "Verifier name (a data row's `dataset`).");
    v.field("scale", scale, "Multiplier of verification_reward x score for this data set.", Range{-1000, 1000});
  }
};

// Reward shaping (rl.rewards), as TULU 3 does it.
struct RewardsConfig {
  double non_stop_penalty = 0.0;
  double length_penalty = 0.0;
  int64_t length_penalty_buffer = 0;
  bool skip_verifier_errors = true;
  std::vector<RewardScaleConfig> scales;

  void visit(SchemaVisitor& v) {
    v.field("non_stop_penalty", non_stop_penalty,
            "Added to the reward of a sample that ended by length without EOS (TULU 3 used -10); 0 disables.",
            Range{-1e6, 1e6});
    v.field("length_penalty", length_penalty,
            "DAPO's soft overlong penalty: up to this much is subtracted from samples longer than "
            "max_new_tokens - length_penalty_buffer, linearly; 0 disables.", Range{0, 1e6});
    v.field("length_penalty_buffer", length_penalty_buffer,
            "Tokens before generation.max_new_tokens where the length penalty starts.", at_least(0));
    v.field("skip_verifier_errors", skip_verifier_errors,
            "Leave samples the verifier could not score (timeouts, crashes) out of training.");
    v.list("scales", scales, "Per-data-set reward multipliers (default 1).");
  }
};

// The RL learner (learner/rl_learner.h; docs/RL.md has every formula).
struct RlConfig {
  std::string train_file;
  int64_t prompt_epochs = 0;
  int64_t max_staleness = 1;
  std::string update_mode = "between_samples";
  int64_t total_steps = 100;
  int64_t rollout_batch_size = 64;
  std::string advantage = "grpo";
  bool std_normalize = true;
  bool whiten_advantages = false;
  bool drop_zero_signal_groups = false;
  double gamma = 1.0;
  double lam = 0.95;
  double clip_low = 0.2;
  double clip_high = 0.28;
  int64_t ppo_epochs = 1;
  int64_t num_minibatches = 1;
  int64_t micro_batch_size = 8;
  std::string off_policy = "none";
  double is_cap = 2.0;
  std::string loss_agg = "token-mean";
  double entropy_coef = 0.0;
  KlConfig kl;
  RewardsConfig rewards;
  CollapseConfig collapse;
  std::string reference_path;
  std::string critic_path;
  double value_coef = 0.5;
  double value_clip = 0.2;
  double critic_learning_rate = 0.0;
  int64_t checkpoint_every = 0;
  int64_t keep_checkpoints = 2;
  int64_t log_every = 1;
  bool resume = true;
  bool overwrite_output_dir = false;
  std::string rollouts_log = "all";
  int64_t rollouts_log_max_mb = 256;

  void visit(SchemaVisitor& v) {
    v.field("train_file", train_file,
            "RLVR prompts (JSONL: messages, ground_truth, dataset) the learner hands to the actors.");
    v.field("prompt_epochs", prompt_epochs,
            "Passes over train_file; the run stops when they are used up (0: only total_steps limits it).",
            at_least(0));
    v.field("max_staleness", max_staleness,
            "Most policy versions a trained sample may lag the learner; older rollouts are dropped and their "
            "prompts generated again. 0 is the synchronous mode.", Range{0, 1000});
    v.choice("update_mode", update_mode, {"between_samples", "in_flight"},
             "Actors apply new weights between generate() calls (one version per sample), or between decode "
             "steps while samples keep running (PipelineRL; every token records its version).");
    v.field("total_steps", total_steps, "Learner steps (rollout batches; each bumps the policy version).",
            Range{1, 1e9});
    v.field("rollout_batch_size", rollout_batch_size,
            "Samples per learner step (prompts x generation.num_samples_per_prompt).", Range{1, 1048576});
    v.choice("advantage", advantage, {"grpo", "rloo", "gae"},
             "grpo: group-normalized rewards; rloo: leave-one-out baseline; gae: a critic and GAE(gamma, lam).");
    v.field("std_normalize", std_normalize, "grpo: divide by the group's reward standard deviation.");
    v.field("whiten_advantages", whiten_advantages,
            "Whiten advantages over the batch's valid tokens (mean 0, variance 1).");
    v.field("drop_zero_signal_groups", drop_zero_signal_groups,
            "Leave groups whose rewards are all equal (no signal) out of the loss; they are always counted.");
    v.field("gamma", gamma, "gae: discount.", Range{0, 1});
    v.field("lam", lam, "gae: lambda.", Range{0, 1});
    v.field("clip_low", clip_low, "PPO clip below: the ratio is clipped at 1 - clip_low.", Range{0, 1});
    v.field("clip_high", clip_high, "PPO clip above (DAPO clip-higher): 1 + clip_high.", Range{0, 100});
    v.field("ppo_epochs", ppo_epochs, "Passes over each rollout batch.", Range{1, 1000});
    v.field("num_minibatches", num_minibatches,
            "Optimizer steps per pass: the batch is split into this many minibatches.", Range{1, 65536});
    v.field("micro_batch_size", micro_batch_size,
            "Samples per forward/backward (gradients accumulate over a minibatch).", Range{1, 65536});
    v.choice("off_policy", off_policy, {"none", "tis", "decoupled"},
             "Correction for stale samples: none (ratio against the behaviour log-probs), tis (truncated "
             "importance sampling) or decoupled (proximal policy = weights when the batch arrived).");
    v.field("is_cap", is_cap,
            "tis: cap of the importance weight; decoupled: tokens whose weight exceeds it are dropped "
            "(0: no cap).", Range{0, 1e6});
    v.choice("loss_agg", loss_agg, {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"},
             "How per-token losses are averaged (verl's names).");
    v.field("entropy_coef", entropy_coef, "Entropy bonus coefficient (subtracted from the loss); 0 only reports it.",
            Range{0, 100});
    v.section("kl", kl, "KL penalty against the frozen reference policy.");
    v.section("rewards", rewards, "Reward shaping.");
    v.section("collapse", collapse, "Stopping a live run whose learning collapsed (rlvr learner, rlvr launch).");
    v.field("reference_path", reference_path, "Frozen reference checkpoint; empty uses model.path.");
    v.field("critic_path", critic_path,
            "gae: critic checkpoint; empty starts from model.path with a fresh (zero) value head.");
    v.field("value_coef", value_coef, "gae: value-loss coefficient.", Range{0, 1000});
    v.field("value_clip", value_clip, "gae: value clipping range around the old values; 0 disables.",
            Range{0, 1e6});
    v.field("critic_learning_rate", critic_learning_rate, "gae: critic learning rate; 0 uses optim.learning_rate.",
            Range{0, 10});
    v.field("checkpoint_every", checkpoint_every, "Resumable checkpoint every N learner steps; 0 only at the end.",
            at_least(0));
    v.field("keep_checkpoints", keep_checkpoints, "Checkpoints kept (oldest deleted first).", Range{1, 1000});
    v.field("log_every", log_every, "Progress line every N learner steps (metrics.jsonl gets every step).",
            Range{1, 1000000});
    v.field("resume", resume,
            "Continue from the newest checkpoint in run.output_dir when it belongs to the same run (same "
            "rollouts, model and run-defining keys, see docs/RL.md); a different run is refused.");
    v.field("overwrite_output_dir", overwrite_output_dir,
            "Allow discarding another or a finished run found in run.output_dir to start this one fresh.");
    v.choice("rollouts_log", rollouts_log, {"all", "off"},
             "Write every sample the learner trains on to <output_dir>/rollouts.jsonl.");
    v.field("rollouts_log_max_mb", rollouts_log_max_mb,
            "Rotate rollouts.jsonl to rollouts.jsonl.1 beyond this size; 0 never rotates.", at_least(0));
  }
};

// The learner process's endpoint and transport limits (`rlvr learner`, docs/PROTOCOL.md).
struct LearnerConfig {
  std::string endpoint = "tcp://127.0.0.1:5555";
  int64_t threads = 0;
  int64_t heartbeat_ms = 1000;
  int64_t heartbeat_timeout_ms = 10000;
  int64_t weight_chunk_bytes = 4194304;
  int64_t io_threads = 0;
  int64_t max_message_bytes = 268435456;
  int64_t wait_log_ms = 10000;
  int64_t world_size = 1;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string dist_interface;
  int64_t dist_timeout_s = 600;

  void visit(SchemaVisitor& v) {
    v.field("endpoint", endpoint,
            "ZeroMQ endpoint the learner binds and actors connect to (loopback by default).");
    v.field("threads", threads,
            "Intra-op threads of the learner process; 0 takes the documented share of the cores (docs/LAUNCH.md).",
            Range{0, 4096});
    v.field("heartbeat_ms", heartbeat_ms, "Heartbeat interval in both directions.", Range{10, 600000});
    v.field("heartbeat_timeout_ms", heartbeat_timeout_ms,
            "A peer silent this long is dead: an actor's work goes back to the queue; an actor reconnects.",
            Range{100, 3600000});
    v.field("weight_chunk_bytes", weight_chunk_bytes, "Bytes per weight chunk on the wire.",
            Range{4096, 1073741824});
    v.field("io_threads", io_threads,
            "ZeroMQ I/O threads of the learner: each actor connection's sends (and CURVE encryption) run on one "
            "of them, so more threads serve more actors' weight fetches at once; 0: min(4, cores).",
            Range{0, 64});
    v.field("max_message_bytes", max_message_bytes,
            "Largest message accepted (ZMQ_MAXMSGSIZE); larger ones are dropped by the transport.",
            Range{65536, 4294967296.0});
    v.field("wait_log_ms", wait_log_ms, "How often a process that waits (for rollouts, work, weights) says so.",
            Range{100, 3600000});
    v.field("world_size", world_size,
            "Data-parallel learner ranks (processes) of `rlvr learner` and `rlvr train`; each rank takes its slice "
            "of every batch and gradients are summed with c10d (Gloo). The environment variable WORLD_SIZE, when "
            "set, wins (it must agree unless this is 1); each rank needs RANK (docs/SCALING.md).",
            Range{1, 4096});
    v.field("master_addr", master_addr,
            "Host of rank 0's rendezvous store (c10d TCPStore); the environment variable MASTER_ADDR wins.");
    v.field("master_port", master_port,
            "Port of rank 0's rendezvous store; the environment variable MASTER_PORT wins.", Range{1, 65535});
    v.field("dist_interface", dist_interface,
            "Network interface the ranks' Gloo connections use (e.g. eth0); empty: the address master_addr "
            "resolves to when it is loopback, else this host's name (GLOO_SOCKET_IFNAME wins).");
    v.field("dist_timeout_s", dist_timeout_s,
            "Longest wait of a rank on the others (rendezvous and every collective); past it the rank stops "
            "with an error naming the operation.",
            Range{1, 86400});
  }
};

// The actor processes (`rlvr actor`, `rlvr launch`).
struct ActorsConfig {
  int64_t count = 2;
  int64_t threads = 0;
  int64_t units_per_request = 0;
  int64_t restart_max = 5;
  int64_t restart_backoff_ms = 500;
  int64_t connect_timeout_ms = 120000;

  void visit(SchemaVisitor& v) {
    v.field("count", count, "Actor processes `rlvr launch` starts on this machine.", Range{1, 1024});
    v.field("threads", threads,
            "Intra-op threads per actor; 0 takes the documented share of the cores (docs/LAUNCH.md).",
            Range{0, 4096});
    v.field("units_per_request", units_per_request,
            "Prompt groups an actor asks for at a time; 0: generation.batch_size / num_samples_per_prompt "
            "(at least 1).", at_least(0));
    v.field("restart_max", restart_max, "`rlvr launch` restarts a dead actor at most this many times.",
            Range{0, 1000000});
    v.field("restart_backoff_ms", restart_backoff_ms,
            "Wait before the first restart; doubles per restart of the same actor (at most 30 s).",
            Range{0, 600000});
    v.field("connect_timeout_ms", connect_timeout_ms,
            "An actor that cannot reach the learner for this long stops with an error.", Range{100, 86400000});
  }
};

// CURVE authentication and encryption of the learner-actor transport (docs/SECURITY.md). Key
// files come from `rlvr keys generate`. A learner whose endpoint is not loopback refuses to start
// without server_secret_key and authorized_keys; actors then need server_public_key and
// client_secret_key.
struct SecurityConfig {
  std::string server_secret_key;
  std::string authorized_keys;
  std::string server_public_key;
  std::string client_secret_key;
  bool require_on_loopback = false;

  void visit(SchemaVisitor& v) {
    v.field("server_secret_key", server_secret_key,
            "Learner: its secret key file (<name>.secret, mode 0600). Set: CURVE on; empty: plain transport, "
            "loopback endpoints only.");
    v.field("authorized_keys", authorized_keys,
            "Learner: the actors it accepts: a file with one public key per line, or a directory of *.public "
            "files. Required with server_secret_key.");
    v.field("server_public_key", server_public_key,
            "Actors: the learner's public key file (<name>.public). Set: CURVE on; empty: plain transport, loopback "
            "endpoints only.");
    v.field("client_secret_key", client_secret_key,
            "Actors: this actor's secret key file; its public half must be in the learner's authorized_keys. "
            "Required with server_public_key.");
    v.field("require_on_loopback", require_on_loopback,
            "Refuse a plain transport on loopback endpoints too (by default loopback runs need no keys).");
  }
};

// The whole configuration.
struct Config {
  RunConfig run;
  ModelConfig model;
  VerifiersConfig verifiers;
  TrainConfig train;
  OptimConfig optim;
  DpoConfig dpo;
  GenerationConfig generation;
  RlConfig rl;
  LearnerConfig learner;
  ActorsConfig actors;
  SecurityConfig security;

  // Not part of the schema: the dotted keys ("generation.temperature") that a config file or
  // --set wrote, filled by the loader. Values from a checkpoint (generation_config.json) apply
  // only to keys not in it (core/config/generation_defaults.h).
  std::set<std::string> explicit_keys;

  void visit(SchemaVisitor& v) {
    v.section("run", run, "Where and how the run executes.");
    v.section("model", model, "The policy model and its tokenizer.");
    v.section("verifiers", verifiers, "Verifiers and rewards.");
    v.section("train", train, "The training loop of `rlvr train` (SFT and DPO).");
    v.section("optim", optim, "AdamW and the learning-rate schedule.");
    v.section("dpo", dpo, "DPO losses (train.mode: dpo).");
    v.section("generation", generation, "Sampling for generate, eval and the RL actors.");
    v.section("rl", rl, "The RL learner: rewards, advantages, PPO/GRPO losses, KL, critic (docs/RL.md).");
    v.section("learner", learner, "The learner process: endpoint, heartbeats, transport limits (docs/PROTOCOL.md).");
    v.section("actors", actors, "The actor processes and `rlvr launch`.");
    v.section("security", security, "CURVE keys of the learner-actor transport (docs/SECURITY.md).");
  }
};

}  // namespace rlvr::core
