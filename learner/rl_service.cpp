// The live learner: the network thread (actors, credits, weights) and the trainer loop (see
// rl_service.h; the protocol is docs/PROTOCOL.md, the scheduling learner/rl_scheduler.h).
#include "learner/rl_service.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/config/loader.h"
#include "core/data/jsonl.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/model_config.h"
#include "core/protocol/fingerprint.h"
#include "core/protocol/protocol.h"
#include "core/protocol/security.h"
#include "core/protocol/transport.h"
#include "core/run_dir.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "learner/collapse_guard.h"
#include "learner/distributed.h"
#include "learner/precision.h"
#include "learner/progress.h"
#include "learner/rl_learner.h"
#include "learner/rl_replay.h"
#include "learner/rl_scheduler.h"
#include "learner/rollout_log.h"
#include "learner/run_guard.h"
#include "learner/run_outputs.h"
#include "learner/train_state.h"

namespace rlvr::learner {
namespace fs = std::filesystem;
namespace proto = core::protocol;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// --- Prompts ---------------------------------------------------------------------------------

struct PromptRow {
  std::vector<int32_t> ids;
  std::string text, ground_truth, dataset;
};

// rl.train_file rendered with the model's chat template; prompts that leave no room to generate
// are skipped with a warning naming file:line.
std::vector<PromptRow> load_prompt_table(const core::Config& config, const core::Tokenizer& tokenizer,
                                         int64_t max_positions) {
  std::vector<PromptRow> rows;
  const core::ChatFormat format = core::ChatFormat::resolve(tokenizer, config.model.chat_template, config.model.path);
  RLVR_LOG_INFO("chat template: {} (model.chat_template: {}; end of turn {})", format.source(),
                config.model.chat_template, format.end_of_turn());
  int64_t too_long = 0;
  core::read_jsonl(
      config.rl.train_file, core::BadRowPolicy::kStop,
      [&](int64_t line, const nlohmann::json& row) {
        core::PromptExample ex = core::parse_prompt_row(row, line);
        core::ChatEncoding enc = format.encode(tokenizer, ex.messages, /*add_generation_prompt=*/true);
        if (static_cast<int64_t>(enc.ids.size()) >= max_positions) {
          RLVR_LOG_WARN("{}:{}: prompt has {} tokens; the model's context ({} positions) leaves no room; skipped",
                        config.rl.train_file, line, enc.ids.size(), max_positions);
          ++too_long;
          return;
        }
        rows.push_back({std::move(enc.ids), std::move(enc.text), ex.ground_truth, ex.dataset});
      },
      "fix the row: the learner hands every row to the actors");
  RLVR_CHECK(!rows.empty(), "{}: no usable prompts ({} too long for the model)", config.rl.train_file, too_long);
  return rows;
}

// --- State shared by the network thread and the trainer ------------------------------------------

struct Snapshot {
  int64_t version = 0;
  std::shared_ptr<const std::string> data;
  std::string checksum;
};

struct BufferedGroup {
  GrantedUnit unit;
  std::vector<core::RolloutSample> samples;
  int64_t oldest_version = 0;
};

struct Counters {
  int64_t malformed = 0;          // messages that did not decode
  int64_t unknown_peer = 0;       // messages from peers without HELLO
  int64_t rejected_hellos = 0;
  int64_t late_results = 0;       // ROLLOUTS for units no longer in flight
  int64_t actors_joined = 0, actors_lost = 0;
  int64_t generated_tokens = 0;   // completion tokens received
  int64_t received_groups = 0;
  std::map<int64_t, int64_t> staleness_hist;  // staleness at training -> samples
  double actor_generating_s = 0;  // sum over actors' heartbeats of the seconds spent generating
  double actor_waiting_s = 0;     // ... and waiting for work or weights
  std::map<int64_t, std::pair<int64_t, double>> per_actor;  // actor id -> (generated tokens, generate seconds)
  std::map<int64_t, double> weights_fetch_s;  // actor id -> seconds its last weights fetch took
};

struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  Scheduler sched;
  int64_t version = 0;
  std::deque<BufferedGroup> buffer;
  std::shared_ptr<const Snapshot> current, previous;
  bool announce = false;
  std::atomic<bool> finishing{false};  // training is over: every actor is told to stop (repeatedly)
  std::atomic<bool> stop{false};
  std::atomic<int64_t> actors_alive{0};
  Counters counters;
  std::string network_error;  // set when the network thread died

  explicit Shared(SchedulerOptions o) : sched(o) {}
};

// --- The network thread ----------------------------------------------------------------------

struct ActorInfo {
  std::string peer;
  std::string name;  // "actor-<id>"
  int64_t actor_id = 0;
  uint64_t incarnation = 0;
  Clock::time_point last_seen, last_sent, last_goodbye;
  int64_t want = 0;
};

class Network {
 public:
  Network(const core::Config& config, Shared& shared, const std::vector<PromptRow>& prompts,
          std::vector<core::WeightsEntry> manifest, core::RolloutLimits limits, uint64_t session,
          std::string model_fingerprint, std::string config_fingerprint)
      : config_(config),
        shared_(shared),
        prompts_(prompts),
        limits_(limits),
        session_(session),
        model_fingerprint_(std::move(model_fingerprint)),
        config_fingerprint_(std::move(config_fingerprint)) {
    for (auto& e : manifest) {
      proto::ManifestEntry m;
      m.name = e.name;
      m.dtype = e.dtype;
      m.shape = e.shape;
      m.offset = e.offset;
      m.bytes = e.bytes;
      total_bytes_ += e.bytes;
      manifest_.push_back(std::move(m));
    }
    wire_.max_frame_bytes = static_cast<uint64_t>(config.learner.max_message_bytes);
    wire_.max_chunk_bytes = static_cast<uint64_t>(config.learner.weight_chunk_bytes);
    wire_.max_tokens = static_cast<uint64_t>(std::max<int64_t>(limits.max_positions, 1));
    // A ROLLOUTS message is one unit: one group of num_samples_per_prompt samples.
    wire_.max_samples = static_cast<uint64_t>(config.generation.num_samples_per_prompt);
  }

  // Binds (throws rlvr::Error when it cannot) so the caller learns about a taken port at once.
  void bind(proto::Context& ctx, const proto::CurveOptions& curve) {
    proto::SocketOptions so;
    so.curve = curve;
    so.max_message_bytes = config_.learner.max_message_bytes;
    so.heartbeat_ms = config_.learner.heartbeat_ms;
    so.heartbeat_timeout_ms = config_.learner.heartbeat_timeout_ms;
    socket_.emplace(proto::Socket::bind_router(ctx, config_.learner.endpoint, so));
  }

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.network_error = e.what();
      shared_.stop = true;
      shared_.cv.notify_all();
    }
    // Tell every actor the run is over (best effort; nobody waits for an answer), then close the
    // socket on this thread, which owns it.
    if (socket_) {
      for (auto& [peer, a] : actors_) send(a, proto::Shutdown{"the learner finished"});
      // Keep the socket open a moment (draining what arrives) so libzmq delivers the goodbyes
      // while the connections are up, then close with a bounded linger.
      const auto until = Clock::now() + std::chrono::milliseconds(300);
      while (Clock::now() < until) socket_->receive(20, wire_);
      socket_->close(/*linger_ms=*/1000);
    }
    socket_.reset();
  }

 private:
  template <class P>
  bool send(ActorInfo& a, P payload) {
    proto::Message m;
    m.envelope.sender = std::string(proto::kLearnerSender);
    m.envelope.seq = ++seq_;
    m.envelope.session = session_;
    m.payload = std::move(payload);
    a.last_sent = Clock::now();
    const bool ok = socket_->send(m, a.peer);
    if (!ok) RLVR_LOG_DEBUG("could not queue {} for actor {}", proto::message_type_name(m.type()), a.actor_id);
    return ok;
  }
  template <class P>
  void send_to_peer(const std::string& peer, P payload) {
    proto::Message m;
    m.envelope.sender = std::string(proto::kLearnerSender);
    m.envelope.seq = ++seq_;
    m.envelope.session = session_;
    m.payload = std::move(payload);
    socket_->send(m, peer);
  }

  void loop() {
    auto last_tick = Clock::now();
    while (!shared_.stop) {
      if (auto r = socket_->receive(20, wire_)) handle(*r);
      if (Clock::now() - last_tick >= std::chrono::milliseconds(50)) {
        last_tick = Clock::now();
        tick();
      }
    }
  }

  proto::WeightsAnnounce announce_of(const Snapshot& s) const {
    proto::WeightsAnnounce a;
    a.version = s.version;
    a.total_bytes = s.data->size();
    a.checksum = s.checksum;
    a.chunk_bytes = static_cast<uint64_t>(config_.learner.weight_chunk_bytes);
    a.num_chunks = proto::chunk_count(a.total_bytes, a.chunk_bytes);
    return a;
  }

  void tick() {
    const auto now = Clock::now();
    std::shared_ptr<const Snapshot> to_announce;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      if (shared_.announce) {
        shared_.announce = false;
        to_announce = shared_.current;
      }
    }
    if (to_announce) {
      for (auto& [peer, a] : actors_) send(a, announce_of(*to_announce));
    }
    // Dead actors: their units go back to the queue.
    const auto timeout = std::chrono::milliseconds(config_.learner.heartbeat_timeout_ms);
    for (auto it = actors_.begin(); it != actors_.end();) {
      if (now - it->second.last_seen > timeout) {
        lose(it->second, fmt::format("silent for {} ms", config_.learner.heartbeat_timeout_ms));
        it = actors_.erase(it);
      } else {
        ++it;
      }
    }
    shared_.actors_alive = static_cast<int64_t>(actors_.size());
    // Heartbeats to actors we have not talked to lately.
    const auto interval = std::chrono::milliseconds(config_.learner.heartbeat_ms);
    for (auto& [peer, a] : actors_) {
      if (now - a.last_sent >= interval) send(a, proto::Heartbeat{now_ms(), {}});
    }
    if (shared_.finishing) {
      // Tell every actor, and again every heartbeat until the socket closes: one lost goodbye must
      // not leave an actor waiting for a learner that is gone.
      for (auto& [peer, a] : actors_) {
        if (now - a.last_goodbye >= interval) {
          if (!send(a, proto::Shutdown{"the learner finished"})) {
            RLVR_LOG_DEBUG("could not queue SHUTDOWN for actor {}", a.actor_id);
          }
          a.last_goodbye = now;
        }
      }
      return;
    }
    grant_pending();
  }

  void lose(ActorInfo& a, const std::string& why) {
    int64_t returned = 0;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      returned = shared_.sched.lose_actor(a.name);
      ++shared_.counters.actors_lost;
    }
    RLVR_LOG_WARN("actor {} ({}) lost: {}; {} units back in the queue", a.actor_id, a.name, why, returned);
  }

  void grant_pending() {
    for (auto& [peer, a] : actors_) {
      if (a.want <= 0) continue;
      std::vector<GrantedUnit> units;
      int64_t version = 0;
      {
        std::lock_guard<std::mutex> lock(shared_.mu);
        version = shared_.version;
        units = shared_.sched.grant(a.name, a.want, version);
      }
      if (units.empty()) continue;
      proto::WorkGrant g;
      for (const auto& u : units) {
        const PromptRow& p = prompts_[static_cast<size_t>(u.prompt_index)];
        proto::WorkUnit w;
        w.unit_id = u.unit_id;
        w.prompt_index = u.prompt_index;
        w.epoch = u.epoch;
        w.prompt_ids = p.ids;
        w.prompt_text = p.text;
        w.ground_truth = p.ground_truth;
        w.dataset = p.dataset;
        w.n = config_.generation.num_samples_per_prompt;
        w.min_version = u.min_version;
        w.seed = u.seed;
        g.units.push_back(std::move(w));
      }
      a.want -= static_cast<int64_t>(units.size());
      if (!send(a, std::move(g))) {
        // The actor is gone: its units come back when it is declared dead (or right now).
        std::lock_guard<std::mutex> lock(shared_.mu);
        shared_.sched.lose_actor(a.name);
      }
    }
  }

  void drop_malformed(const proto::Received& r) {
    const auto& e = r.result.error;
    int64_t n = 0;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      n = ++shared_.counters.malformed;
      // A result that did not decode still names its unit: hand that prompt out again.
      auto it = actors_.find(r.peer);
      if (e.unit_id && it != actors_.end()) shared_.sched.fail(it->second.name, *e.unit_id, /*retry=*/true);
    }
    if (n <= 20 || n % 1000 == 0) {
      RLVR_LOG_WARN("dropped a malformed message ({} bytes) from peer {}{}: {} ({} so far)", r.bytes,
                    excerpt(hex(r.peer), 40), e.sender.empty() ? "" : " (" + excerpt(e.sender, 40) + ")",
                    e.to_string(), n);
    }
  }

  static std::string hex(const std::string& bytes) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out += d[c >> 4];
      out += d[c & 15];
    }
    return out;
  }

  void handle(const proto::Received& r) {
    if (!r.result.ok()) {
      drop_malformed(r);
      return;
    }
    const proto::Message& m = *r.result.message;
    auto it = actors_.find(r.peer);
    if (m.type() == proto::MessageType::kHello) {
      hello(r.peer, m, std::get<proto::Hello>(m.payload));
      return;
    }
    if (it == actors_.end()) {
      {
        std::lock_guard<std::mutex> lock(shared_.mu);
        ++shared_.counters.unknown_peer;
      }
      send_to_peer(r.peer, proto::ErrorReport{"unknown actor (or one declared dead): send HELLO", false});
      return;
    }
    ActorInfo& a = it->second;
    a.last_seen = Clock::now();
    if (shared_.finishing) {
      send(a, proto::Shutdown{"the learner finished"});
      return;
    }
    if (m.envelope.session != a.incarnation) {
      // A message of an earlier incarnation on the same identity: ignore it.
      std::lock_guard<std::mutex> lock(shared_.mu);
      ++shared_.counters.unknown_peer;
      return;
    }
    switch (m.type()) {
      case proto::MessageType::kHeartbeat: {
        const auto& hb = std::get<proto::Heartbeat>(m.payload);
        std::lock_guard<std::mutex> lock(shared_.mu);
        // Seconds the actor spent generating and waiting since its last heartbeat.
        auto g = hb.stats.find("generating_s"), w = hb.stats.find("waiting_s");
        if (g != hb.stats.end() && w != hb.stats.end() && g->second >= 0 && w->second >= 0) {
          shared_.counters.actor_generating_s += g->second;
          shared_.counters.actor_waiting_s += w->second;
        }
        auto f = hb.stats.find("weights_fetch_s");
        if (f != hb.stats.end() && f->second >= 0) shared_.counters.weights_fetch_s[a.actor_id] = f->second;
        break;
      }
      case proto::MessageType::kWorkRequest:
        a.want = std::get<proto::WorkRequest>(m.payload).want;
        grant_pending();
        break;
      case proto::MessageType::kRollouts:
        rollouts(a, std::get<proto::Rollouts>(m.payload));
        break;
      case proto::MessageType::kUnitFailed: {
        const auto& f = std::get<proto::UnitFailed>(m.payload);
        std::lock_guard<std::mutex> lock(shared_.mu);
        shared_.sched.fail(a.name, f.unit_id, f.retry);
        RLVR_LOG_WARN("actor {} gave up unit {}: {}", a.actor_id, f.unit_id, excerpt(f.reason, 200));
        break;
      }
      case proto::MessageType::kWeightsRequest:
        weights_request(a, std::get<proto::WeightsRequest>(m.payload));
        break;
      case proto::MessageType::kShutdown:
        lose(a, "it said goodbye: " + excerpt(std::get<proto::Shutdown>(m.payload).reason, 200));
        actors_.erase(it);
        break;
      default: {
        std::lock_guard<std::mutex> lock(shared_.mu);
        ++shared_.counters.malformed;
        RLVR_LOG_WARN("actor {} sent {}, which an actor may not send; dropped", a.actor_id,
                      proto::message_type_name(m.type()));
      }
    }
  }

  void hello(const std::string& peer, const proto::Message& m, const proto::Hello& h) {
    proto::Welcome w;
    w.actor_id = h.actor_id;
    w.learner_session = session_;
    w.group_size = config_.generation.num_samples_per_prompt;
    std::string refuse;
    if (h.model_fingerprint != model_fingerprint_) {
      refuse = fmt::format("model fingerprint {} differs from the learner's {} (config.json + tokenizer.json of "
                           "model.path must be the same files)",
                           excerpt(h.model_fingerprint, 40), model_fingerprint_);
    } else if (h.config_fingerprint != config_fingerprint_) {
      refuse = fmt::format("config fingerprint {} differs from the learner's {} (the generation section and "
                           "rl.update_mode must be the same)",
                           excerpt(h.config_fingerprint, 40), config_fingerprint_);
    } else if (h.update_mode != config_.rl.update_mode) {
      refuse = fmt::format("update_mode {} differs from the learner's {}", h.update_mode, config_.rl.update_mode);
    }
    if (!refuse.empty()) {
      w.accepted = false;
      w.reason = refuse;
      {
        std::lock_guard<std::mutex> lock(shared_.mu);
        ++shared_.counters.rejected_hellos;
      }
      RLVR_LOG_WARN("refused actor {} ({}): {}", h.actor_id, excerpt(h.host, 60), refuse);
      send_to_peer(peer, std::move(w));
      return;
    }
    // The same actor id under another identity or incarnation is a restart: the old one's units
    // return to the queue first.
    for (auto it = actors_.begin(); it != actors_.end();) {
      if (it->second.actor_id == h.actor_id && (it->first != peer || it->second.incarnation != h.incarnation)) {
        lose(it->second, "it restarted");
        it = actors_.erase(it);
      } else {
        ++it;
      }
    }
    ActorInfo& a = actors_[peer];
    const bool fresh = a.name.empty();
    a.peer = peer;
    a.actor_id = h.actor_id;
    a.incarnation = m.envelope.session;
    a.name = proto::actor_sender(h.actor_id);
    a.last_seen = Clock::now();
    a.want = 0;
    std::shared_ptr<const Snapshot> snap;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      w.policy_version = shared_.version;
      snap = shared_.current;
      if (fresh) ++shared_.counters.actors_joined;
    }
    w.accepted = true;
    w.manifest = manifest_;
    w.total_bytes = total_bytes_;
    send(a, std::move(w));
    if (snap) send(a, announce_of(*snap));
    shared_.actors_alive = static_cast<int64_t>(actors_.size());
    if (fresh) RLVR_LOG_INFO("actor {} joined from {} ({})", h.actor_id, excerpt(h.host, 60), h.update_mode);
  }

  void weights_request(ActorInfo& a, const proto::WeightsRequest& req) {
    std::shared_ptr<const Snapshot> snap;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      if (shared_.current && shared_.current->version == req.version) snap = shared_.current;
      if (shared_.previous && shared_.previous->version == req.version) snap = shared_.previous;
    }
    proto::WeightsChunk c;
    c.version = req.version;
    c.index = req.index;
    if (!snap) {
      c.available = false;
      send(a, std::move(c));
      return;
    }
    proto::WeightsAnnounce ann = announce_of(*snap);
    const uint64_t size = proto::expected_chunk_bytes(ann, req.index);
    if (size == 0) {
      c.available = false;
      send(a, std::move(c));
      return;
    }
    c.offset = req.index * ann.chunk_bytes;
    proto::Message head;
    head.envelope.sender = std::string(proto::kLearnerSender);
    head.envelope.seq = ++seq_;
    head.envelope.session = session_;
    head.payload = std::move(c);
    a.last_sent = Clock::now();
    socket_->send_chunk(head, snap->data, req.index * ann.chunk_bytes, size, a.peer);
  }

  void rollouts(ActorInfo& a, const proto::Rollouts& r) {
    std::lock_guard<std::mutex> lock(shared_.mu);
    auto unit = shared_.sched.in_flight(r.unit_id);
    if (!unit || unit->actor != a.name) {
      ++shared_.counters.late_results;
      return;
    }
    const PromptRow& p = prompts_[static_cast<size_t>(unit->prompt_index)];
    std::string problem;
    core::RolloutLimits lim = limits_;
    lim.max_version = shared_.version;
    int64_t oldest = std::numeric_limits<int64_t>::max();
    if (static_cast<int64_t>(r.samples.size()) != config_.generation.num_samples_per_prompt) {
      problem = fmt::format("samples: {}; expected {} (generation.num_samples_per_prompt)", r.samples.size(),
                            config_.generation.num_samples_per_prompt);
    }
    for (size_t i = 0; problem.empty() && i < r.samples.size(); ++i) {
      const auto& s = r.samples[i];
      if (auto pr = core::rollout_problem(s, lim)) {
        problem = fmt::format("samples[{}]: {}", i, *pr);
      } else if (s.prompt_index != unit->prompt_index || s.prompt_ids != p.ids) {
        problem = fmt::format("samples[{}]: prompt {} is not the granted prompt {}", i, s.prompt_index,
                              unit->prompt_index);
      } else if (s.actor_id != a.actor_id) {
        problem = fmt::format("samples[{}]: actor_id {}; expected {}", i, s.actor_id, a.actor_id);
      }
      if (problem.empty()) oldest = std::min(oldest, s.min_version());
    }
    if (!problem.empty()) oldest = unit->min_version;
    GrantedUnit granted;
    const auto outcome = shared_.sched.receive(a.name, r.unit_id, problem.empty(), oldest, shared_.version, &granted);
    ++shared_.counters.received_groups;
    if (!problem.empty()) {
      RLVR_LOG_WARN("dropped the rollouts of unit {} from actor {}: {}; the prompt goes back to the queue", r.unit_id,
                    a.actor_id, excerpt(problem, 300));
      return;
    }
    int64_t tokens = 0;
    for (const auto& s : r.samples) tokens += static_cast<int64_t>(s.completion_ids.size());
    shared_.counters.generated_tokens += tokens;
    auto& pa = shared_.counters.per_actor[a.actor_id];
    pa.first += tokens;
    pa.second += r.generate_s;
    if (outcome == Scheduler::Outcome::kStale) {
      RLVR_LOG_INFO("dropped stale rollouts of unit {} (version {}, learner {}, max_staleness {})", r.unit_id, oldest,
                    shared_.version, config_.rl.max_staleness);
      return;
    }
    if (outcome != Scheduler::Outcome::kAccepted) return;
    shared_.buffer.push_back({granted, r.samples, oldest});
    shared_.cv.notify_all();
  }

  const core::Config& config_;
  Shared& shared_;
  const std::vector<PromptRow>& prompts_;
  core::RolloutLimits limits_;
  uint64_t session_;
  std::string model_fingerprint_, config_fingerprint_;
  std::vector<proto::ManifestEntry> manifest_;
  uint64_t total_bytes_ = 0;
  proto::ProtocolLimits wire_;
  std::optional<proto::Socket> socket_;
  std::map<std::string, ActorInfo> actors_;  // by ROUTER identity
  uint64_t seq_ = 0;
};

// --- Data-parallel ranks -------------------------------------------------------------------------
// Rank 0 runs the service; it sends every other rank each step's samples ({"op": "step",
// "samples": [...]}), a sign of life while it waits for rollouts ({"op": "wait"}, so that a slow
// step does not run into learner.dist_timeout_s), and the end ({"op": "end"}, then a barrier once
// final/ is written, or {"op": "abort"} when it stops with an error).

std::string step_message(const std::vector<core::RolloutSample>& samples) {
  nlohmann::json j;
  j["op"] = "step";
  j["samples"] = nlohmann::json::array();
  for (const auto& s : samples) j["samples"].push_back(core::rollout_to_json(s));
  return j.dump();
}

// The loop of a rank other than 0: the same learner steps on the samples rank 0 sends.
ServiceResult run_follower(const core::Config& config, DataParallel& dp) {
  const RunFingerprint fingerprint = fingerprint_rl_run(config, "rl.train_file", config.rl.train_file);
  const RlRunStart start = start_rl_run_dir(config, fingerprint, &dp);
  const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  seed_and_threads(config.run.seed, config.learner.threads > 0 ? config.learner.threads : std::max<int64_t>(1, cores / 2));
  RlLearner learner(config, config.rl.total_steps, &dp);
  ServiceResult result;
  if (start.plan.resume_from) {
    learner.load_checkpoint(*start.plan.resume_from);
    result.resumed_from_step = learner.version();
    RLVR_LOG_INFO("learner rank {}: resumed from {} (step {})", dp.rank(), *start.plan.resume_from, learner.version());
  }
  while (true) {
    const std::string text = dp.broadcast_bytes("", fmt::format("waiting for rank 0's step {}", learner.version() + 1));
    nlohmann::json msg;
    try {
      msg = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("learner rank {}: rank 0 sent a message that is not JSON: {}", dp.rank(), e.what()));
    }
    const std::string op = msg.value("op", "");
    if (op == "wait") continue;
    if (op == "end") break;
    if (op == "abort") {
      throw Error(fmt::format("learner rank {}: rank 0 stopped with an error at step {} (see its log)", dp.rank(),
                              learner.version()));
    }
    RLVR_CHECK(op == "step" && msg.contains("samples") && msg["samples"].is_array(),
               "learner rank {}: rank 0 sent op '{}'; expected step, wait, end or abort", dp.rank(), op);
    std::vector<core::RolloutSample> samples;
    for (const auto& j : msg["samples"]) samples.push_back(core::rollout_from_json(j));
    RlStepResult step = learner.step(samples);
    RLVR_LOG_DEBUG("learner rank {}: step {} done (loss {:.4f})", dp.rank(), learner.version(), step.loss);
  }
  dp.barrier("the end of the run (rank 0 writes final/)");
  result.steps = learner.version();
  result.final_dir = config.run.output_dir + "/final";
  result.balanced = true;
  result.accounting = "kept by rank 0";
  RLVR_LOG_INFO("learner rank {}: done after {} steps; rank 0 wrote {}", dp.rank(), result.steps, result.final_dir);
  return result;
}

// Tells the other ranks that rank 0 stopped, unless it ended normally.
struct AbortFollowers {
  DataParallel* dp;
  bool ended = false;
  ~AbortFollowers() {
    if (dp == nullptr || ended) return;
    try {
      dp->broadcast_bytes(R"({"op": "abort"})", "telling the other ranks that rank 0 stopped");
    } catch (const std::exception&) {
      // They stopped too, or will time out.
    }
  }
};

}  // namespace

ServiceResult run_service(const core::Config& config) {
  std::unique_ptr<DataParallel> dp = join_data_parallel(config);
  if (dp && !dp->is_main()) return run_follower(config, *dp);
  AbortFollowers abort_followers{dp.get()};
  const auto& rl = config.rl;
  const std::string& out_dir = config.run.output_dir;
  RLVR_CHECK(!config.model.path.empty(), "model.path is empty; expected the policy checkpoint to train");
  if (rl.train_file.empty()) {
    throw Error("rl.train_file is empty; expected the RLVR prompts (JSONL) the learner hands to the actors",
                "or pass --replay FILE to train on recorded rollouts without actors");
  }
  const int64_t n = config.generation.num_samples_per_prompt;
  RLVR_CHECK(rl.rollout_batch_size % n == 0,
             "rl.rollout_batch_size {} is not a multiple of generation.num_samples_per_prompt {}; expected whole "
             "groups per step", rl.rollout_batch_size, n);
  const int64_t groups_per_step = rl.rollout_batch_size / n;
  // Refuses an unauthenticated non-loopback endpoint before anything is loaded or written.
  const proto::LearnerSecurity security = proto::learner_security(config, config.learner.endpoint);

  const std::string tokenizer_path =
      config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;
  core::Tokenizer tokenizer = core::Tokenizer::from_file(tokenizer_path);
  const core::TransformerConfig mc = core::load_transformer_config(config.model.path + "/config.json");
  const std::vector<PromptRow> prompts = load_prompt_table(config, tokenizer, mc.max_positions());

  const RunFingerprint fingerprint = fingerprint_rl_run(config, "rl.train_file", rl.train_file);
  const RlRunStart start = start_rl_run_dir(config, fingerprint, dp.get());
  const StartPlan& plan = start.plan;
  const std::string& previous_config = start.previous_config;
  const std::string& config_yaml = start.config_yaml;
  const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  const int64_t threads = config.learner.threads > 0 ? config.learner.threads : std::max<int64_t>(1, cores / 2);
  seed_and_threads(config.run.seed, threads);

  SchedulerOptions sched_opts;
  sched_opts.groups_per_step = groups_per_step;
  sched_opts.max_staleness = rl.max_staleness;
  sched_opts.num_prompts = static_cast<int64_t>(prompts.size());
  sched_opts.prompt_epochs = rl.prompt_epochs;
  sched_opts.seed = static_cast<uint64_t>(config.run.seed);
  Shared shared(sched_opts);

  RlLearner learner(config, rl.total_steps, dp.get());
  ServiceResult result;
  if (plan.resume_from) {
    nlohmann::json cursor = learner.load_checkpoint(*plan.resume_from);
    RLVR_CHECK(cursor.is_object() && cursor.contains("scheduler"),
               "{}: no scheduler state in state.json; expected a checkpoint of the live `rlvr learner`", *plan.resume_from);
    shared.sched.restore(cursor["scheduler"]);
    const std::string buffer_path = *plan.resume_from + "/rollout_buffer.jsonl";
    if (fs::exists(buffer_path)) {
      // Buffered groups: one JSON line per group {"unit": {...}, "samples": [...]}.
      core::read_jsonl(buffer_path, core::BadRowPolicy::kStop, [&](int64_t, const nlohmann::json& row) {
        BufferedGroup g;
        const auto& u = row.at("unit");
        g.unit.unit_id = u.at("unit_id").get<uint64_t>();
        g.unit.prompt_index = u.at("prompt_index").get<int64_t>();
        g.unit.epoch = u.at("epoch").get<int64_t>();
        g.unit.min_version = u.at("min_version").get<int64_t>();
        g.unit.seed = u.at("seed").get<uint64_t>();
        g.unit.actor = u.at("actor").get<std::string>();
        for (const auto& s : row.at("samples")) g.samples.push_back(core::rollout_from_json(s));
        g.oldest_version = row.at("oldest_version").get<int64_t>();
        shared.buffer.push_back(std::move(g));
      });
      shared.sched.restore_buffered(static_cast<int64_t>(shared.buffer.size()));
    }
    result.resumed_from_step = learner.version();
    if (!plan.changes.empty()) RLVR_LOG_WARN("resuming with changed settings: {}", describe_changes(plan.changes));
    record_resume(out_dir, plan, learner.version(), previous_config, config_yaml);
    RLVR_LOG_INFO("resumed from {} (step {}/{}, {} buffered groups)", *plan.resume_from, learner.version(),
                  rl.total_steps, shared.buffer.size());
  } else {
    clear_previous_run(out_dir, plan, {"metrics.jsonl", "resumes.jsonl", "summary.json", "rollouts.jsonl"});
  }
  shared.version = learner.version();

  auto publish = [&](int64_t version) {
    const auto t0 = Clock::now();
    core::WeightsBlob blob = learner.policy_weights();
    auto snap = std::make_shared<Snapshot>();
    snap->version = version;
    snap->checksum = core::content_hash(blob.data);
    snap->data = std::make_shared<const std::string>(std::move(blob.data));
    std::lock_guard<std::mutex> lock(shared.mu);
    shared.previous = shared.current;
    shared.current = snap;
    shared.announce = true;
    return std::make_pair(seconds_since(t0), static_cast<double>(snap->data->size()));
  };
  publish(shared.version);

  std::random_device rd;
  const uint64_t session = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
  // The context outlives every socket (zmq_ctx_term waits for open sockets). Its I/O threads
  // carry the actors' connections (weights fetches, CURVE encryption): learner.io_threads, or
  // min(4, cores).
  const int io_threads = config.learner.io_threads > 0 ? static_cast<int>(config.learner.io_threads)
                                                       : static_cast<int>(std::min<int64_t>(4, cores));
  proto::Context ctx(io_threads);
  // The ZAP handler exists before the socket binds (without one, libzmq lets any CURVE client in)
  // and is destroyed after the network thread's socket.
  std::optional<proto::Authenticator> auth;
  if (security.curve.enabled()) auth.emplace(ctx, security.authorized);
  Network net(config, shared, prompts, learner.policy_manifest(), learner.limits(), session,
              proto::model_fingerprint(config), proto::config_fingerprint(config));
  net.bind(ctx, security.curve);
  if (auth) {
    RLVR_LOG_INFO("CURVE on: learner key {}, {} authorized actor key(s) from {}", proto::key_tag(security.curve.public_key),
                  security.authorized.size(), config.security.authorized_keys);
  } else {
    RLVR_LOG_INFO("plain transport on loopback endpoint {} (no CURVE keys set)", config.learner.endpoint);
  }
  RLVR_LOG_INFO("rlvr learner: run '{}' on {} ({} prompts from {}, {} groups of {} per step, max_staleness {}, {}, "
                "{} threads, {} ZeroMQ I/O threads), output {}",
                config.run.name, config.learner.endpoint, prompts.size(), rl.train_file, groups_per_step, n,
                rl.max_staleness, rl.update_mode, threads, io_threads, out_dir);
  std::thread net_thread([&net] { net.run(); });
  struct StopNetwork {
    Shared& s;
    std::thread& t;
    ~StopNetwork() {
      s.stop = true;
      if (t.joinable()) t.join();
    }
  } stop_network{shared, net_thread};

  core::MetricsWriter metrics(out_dir + "/metrics.jsonl", learner.version());
  RolloutLog rollout_log(out_dir + "/rollouts.jsonl", plan.resume_from ? learner.version() : -1,
                         rl.rollouts_log_max_mb * 1024 * 1024);
  const nlohmann::json run_json = fingerprint.to_json();
  ProgressMeter meter(rl.total_steps, learner.version());
  double wait_s = 0, busy_s = 0;
  auto window_start = Clock::now();
  int64_t window_groups = 0, window_tokens = 0;
  int64_t last_checkpoint = learner.version();

  auto checkpoint = [&] {
    std::string buffer_text;
    nlohmann::json sched_state;
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      sched_state = shared.sched.state();
      for (const auto& g : shared.buffer) {
        nlohmann::json row;
        row["unit"] = {{"unit_id", g.unit.unit_id}, {"prompt_index", g.unit.prompt_index}, {"epoch", g.unit.epoch},
                       {"min_version", g.unit.min_version}, {"seed", g.unit.seed}, {"actor", g.unit.actor}};
        row["samples"] = nlohmann::json::array();
        for (const auto& s : g.samples) row["samples"].push_back(core::rollout_to_json(s));
        row["oldest_version"] = g.oldest_version;
        buffer_text += row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      }
    }
    learner.save_checkpoint({{"scheduler", sched_state}}, run_json, {{"rollout_buffer.jsonl", buffer_text}});
    last_checkpoint = learner.version();
  };

  CollapseGuard collapse(rl.collapse);
  std::string collapsed;  // why the run stopped early, when it did
  while (learner.version() < rl.total_steps) {
    // Wait for a step's worth of fresh groups.
    std::vector<BufferedGroup> batch;
    bool out_of_prompts = false;
    {
      std::unique_lock<std::mutex> lock(shared.mu);
      const auto t0 = Clock::now();
      // The other ranks hear from rank 0 at least this often while it waits.
      const auto sign_every = std::chrono::milliseconds(
          std::min<int64_t>(config.learner.wait_log_ms, config.learner.dist_timeout_s * 1000 / 4));
      auto last_sign = t0;
      while (true) {
        // Take what is buffered, oldest weights first (they have the least slack before they go
        // stale; arrival order breaks ties), dropping groups that went stale while they waited.
        std::stable_sort(shared.buffer.begin(), shared.buffer.end(),
                         [](const BufferedGroup& a, const BufferedGroup& b) { return a.oldest_version < b.oldest_version; });
        while (!shared.buffer.empty() && static_cast<int64_t>(batch.size()) < groups_per_step) {
          BufferedGroup g = std::move(shared.buffer.front());
          shared.buffer.pop_front();
          if (shared.sched.take_for_training(g.unit, g.oldest_version, shared.version)) {
            batch.push_back(std::move(g));
          } else {
            RLVR_LOG_INFO("dropped a buffered group that went stale (version {}, learner {})", g.oldest_version,
                          shared.version);
          }
        }
        if (static_cast<int64_t>(batch.size()) >= groups_per_step || shared.stop) break;
        if (shared.sched.exhausted() && shared.sched.in_flight_count() == 0 && shared.buffer.empty()) {
          out_of_prompts = true;
          break;
        }
        if (shared.cv.wait_for(lock, std::chrono::milliseconds(config.learner.wait_log_ms)) ==
            std::cv_status::timeout) {
          RLVR_LOG_INFO("waiting for rollouts: {}/{} groups for step {}, {} buffered, {} units in flight, {} actors",
                        batch.size(), groups_per_step, shared.version + 1, shared.buffer.size(),
                        shared.sched.in_flight_count(), shared.actors_alive.load());
        }
        if (dp && Clock::now() - last_sign >= sign_every) {
          lock.unlock();
          dp->broadcast_bytes(R"({"op": "wait"})", "telling the other ranks that rank 0 waits for rollouts");
          lock.lock();
          last_sign = Clock::now();
        }
      }
      wait_s += seconds_since(t0);
      if (!shared.network_error.empty()) throw Error("learner network thread failed: " + shared.network_error);
    }
    if (out_of_prompts && batch.empty()) {
      RLVR_LOG_INFO("rl.prompt_epochs ({}) are used up: stopping at step {}", rl.prompt_epochs, learner.version());
      break;
    }
    if (shared.stop) break;
    std::vector<core::RolloutSample> samples;
    for (const auto& g : batch) samples.insert(samples.end(), g.samples.begin(), g.samples.end());
    const auto t_step = Clock::now();
    if (dp) dp->broadcast_bytes(step_message(samples), fmt::format("sending step {}'s samples", learner.version() + 1));
    RlStepResult step = learner.step(samples);
    busy_s += seconds_since(t_step);
    const auto [publish_s, publish_bytes] = publish(learner.version());
    const int64_t v = learner.version();
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.version = v;
      shared.sched.step_done();
      auto& c = shared.counters;
      for (const auto& s : samples) ++c.staleness_hist[v - 1 - s.min_version()];
      const double window = std::max(1e-9, seconds_since(window_start));
      auto& mt = step.metrics;
      mt["actors/alive"] = static_cast<double>(shared.actors_alive.load());
      if (auth) mt["security/handshakes_rejected"] = static_cast<double>(auth->rejected());
      mt["rollouts/groups_per_s"] = static_cast<double>(c.received_groups - window_groups) / window;
      mt["rollouts/generated_tokens_per_s"] = static_cast<double>(c.generated_tokens - window_tokens) / window;
      window_groups = c.received_groups;
      window_tokens = c.generated_tokens;
      window_start = Clock::now();
      mt["learner/busy_fraction"] = busy_s / std::max(1e-9, busy_s + wait_s);
      mt["learner/wait_fraction"] = wait_s / std::max(1e-9, busy_s + wait_s);
      const double actor_s = c.actor_generating_s + c.actor_waiting_s;
      if (actor_s > 0) mt["actors/generating_fraction"] = c.actor_generating_s / actor_s;
      const auto& sc = shared.sched.counters();
      mt["units/trained"] = static_cast<double>(sc.trained);
      mt["units/dropped_stale"] = static_cast<double>(sc.dropped_stale);
      mt["units/dropped_invalid"] = static_cast<double>(sc.dropped_invalid);
      mt["units/lost"] = static_cast<double>(sc.lost);
      mt["units/in_flight"] = static_cast<double>(shared.sched.in_flight_count());
      mt["units/buffered"] = static_cast<double>(shared.sched.buffered());  // with in_flight: the credit window's use
      mt["messages/malformed"] = static_cast<double>(c.malformed);
      mt["weights/publish_s"] = publish_s;
      mt["weights/bytes"] = publish_bytes;
      for (const auto& [st, count] : c.staleness_hist) mt[fmt::format("staleness/hist_{}", st)] = static_cast<double>(count);
      // Each actor's generation speed: its tokens over the time its generate() calls took (each unit
      // reports its share of the call).
      // Weight distribution: the slowest actor's last fetch (announcement to verified checksum).
      double fetch_max = 0;
      for (const auto& [id, s] : c.weights_fetch_s) fetch_max = std::max(fetch_max, s);
      if (!c.weights_fetch_s.empty()) mt["weights/fetch_s_max"] = fetch_max;
      for (const auto& [id, tg] : c.per_actor) {
        if (tg.second > 0) mt[fmt::format("actor/{}/tokens_per_s", id)] = static_cast<double>(tg.first) / tg.second;
      }
    }
    metrics.write(v, step.metrics);
    if (rl.rollouts_log == "all") rollout_log.append(v, samples, step.samples);
    meter.step_done(v, step.trained_tokens);
    if (v % rl.log_every == 0 || v == rl.total_steps) {
      RLVR_LOG_INFO("{} | reward {:.3f} | acc {:.3f} | stale max {:.0f} | actors {:.0f} | learner busy {:.0f}%",
                    meter.line(step.loss, step.metrics["lr"]), step.metrics["reward/mean"], step.metrics["accuracy"],
                    step.metrics["staleness/max"], step.metrics["actors/alive"],
                    100 * step.metrics["learner/busy_fraction"]);
    }
    if (rl.checkpoint_every > 0 && v % rl.checkpoint_every == 0) checkpoint();
    if (auto why = collapse.add(v, step.metrics["reward/mean"], step.metrics["accuracy"],
                                step.metrics["groups/zero_signal_fraction"])) {
      collapsed = *why;
      RLVR_LOG_ERROR("stopping at step {}: {}", v, collapsed);
      break;
    }
    if (out_of_prompts) {
      RLVR_LOG_INFO("rl.prompt_epochs ({}) are used up after a last step of {} groups: stopping at step {}",
                    rl.prompt_epochs, batch.size(), v);
      break;
    }
  }
  shared.finishing = true;  // the actors stop now, while the final checkpoint and model are written
  if (dp) {
    dp->broadcast_bytes(R"({"op": "end"})", "telling the other ranks that the run ends");
    abort_followers.ended = true;
  }
  if (last_checkpoint != learner.version() || !latest_training_checkpoint(out_dir + "/checkpoints")) checkpoint();
  result.steps = learner.version();
  result.final_dir = learner.save_final();
  // The network thread keeps telling the actors to stop until here, then says goodbye once more.
  shared.stop = true;
  if (net_thread.joinable()) net_thread.join();
  if (!shared.network_error.empty()) throw Error("learner network thread failed: " + shared.network_error);
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    result.balanced = shared.sched.balanced();
    result.accounting = shared.sched.describe_accounting();
    nlohmann::ordered_json j;
    j["name"] = config.run.name;
    j["mode"] = "rl";
    j["steps"] = result.steps;
    j["resumed_from_step"] = result.resumed_from_step;
    j["final_dir"] = result.final_dir;
    const auto& sc = shared.sched.counters();
    j["accounting"] = {{"granted", sc.granted},          {"received", sc.received},
                       {"trained", sc.trained},          {"dropped_stale", sc.dropped_stale},
                       {"dropped_invalid", sc.dropped_invalid}, {"lost", sc.lost},
                       {"failed", sc.failed},            {"skipped", sc.skipped},
                       {"in_flight_at_exit", shared.sched.in_flight_count()},
                       {"buffered_at_exit", shared.sched.buffered()},
                       {"balanced", result.balanced}};
    j["messages_malformed"] = shared.counters.malformed;
    j["actors_joined"] = shared.counters.actors_joined;
    j["actors_lost"] = shared.counters.actors_lost;
    j["security"] = {{"curve", auth.has_value()},
                     {"handshakes_accepted", auth ? auth->accepted() : 0},
                     {"handshakes_rejected", auth ? auth->rejected() : 0}};
    if (!collapsed.empty()) j["stopped"] = collapsed;
    core::write_file_atomic(out_dir + "/summary.json", j.dump(2) + "\n");
  }
  if (dp) dp->barrier("the end of the run (rank 0 writes final/)");
  if (!collapsed.empty()) {
    throw Error(fmt::format("run '{}' stopped at step {} (checkpoint and final/ written): {}", config.run.name,
                            result.steps, collapsed));
  }
  RLVR_LOG_INFO("run '{}' done: {} learner steps; {}; final model in {}", config.run.name, result.steps,
                result.accounting, result.final_dir);
  return result;
}

}  // namespace rlvr::learner
