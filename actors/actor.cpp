// The generation actor: network thread (learner conversation, weight fetch) and generation loop
// (see actor.h; the protocol is docs/PROTOCOL.md).
#include "actors/actor.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include <torch/torch.h>

#include "actors/sampler.h"
#include "core/config/generation_defaults.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/transformer.h"
#include "core/model/weights_blob.h"
#include "core/protocol/fingerprint.h"
#include "core/protocol/protocol.h"
#include "core/protocol/security.h"
#include "core/protocol/transport.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "verifiers/reward.h"
#include "verifiers/thread_pool.h"

namespace rlvr::actors {
namespace proto = core::protocol;
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_terminate{false};
void on_terminate(int) { g_terminate = true; }

uint64_t now_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Weights {
  int64_t version = -1;
  std::shared_ptr<std::string> data;
};

// State shared by the network thread and the generation loop.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t session = 0;                  // the learner session the queue and outbox belong to
  std::deque<proto::WorkUnit> queue;     // granted, not started
  int64_t busy_units = 0;                // units being generated or scored
  std::deque<proto::Rollouts> outbox;    // scored, to send (for `session`)
  Weights pending;                       // verified, not yet in the model
  // The buffer of the last version put into the model: the next fetch writes into it instead of
  // allocating, zero-filling and faulting in a new one (the weights' size never changes).
  std::shared_ptr<std::string> spare;
  int64_t applied = -1;                  // the version the model holds (-1: none from this learner)
  std::vector<proto::ManifestEntry> manifest;  // the learner's (from WELCOME)
  bool stop = false;
  std::string stop_reason, fatal, fatal_hint;
  double generating_s = 0, waiting_s = 0;
  int64_t units_sent = 0, tokens = 0, versions_applied = 0;
};

std::vector<core::WeightsEntry> to_entries(const std::vector<proto::ManifestEntry>& m) {
  std::vector<core::WeightsEntry> out;
  for (const auto& e : m) out.push_back({e.name, e.dtype, e.shape, e.offset, e.bytes});
  return out;
}

// --- The network thread ----------------------------------------------------------------------

class Network {
 public:
  Network(const core::Config& config, int64_t actor_id, std::string endpoint, Shared& shared,
          std::vector<core::WeightsEntry> own_manifest, int64_t units_per_request)
      : config_(config),
        actor_id_(actor_id),
        endpoint_(std::move(endpoint)),
        shared_(shared),
        own_manifest_(std::move(own_manifest)),
        units_per_request_(units_per_request) {
    std::random_device rd;
    incarnation_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(::getpid());
    wire_.max_frame_bytes = static_cast<uint64_t>(config.learner.max_message_bytes);
    wire_.max_chunk_bytes = static_cast<uint64_t>(config.learner.weight_chunk_bytes);
    model_fp_ = proto::model_fingerprint(config);
    config_fp_ = proto::config_fingerprint(config);
    curve_ = proto::actor_security(config, endpoint_);
    char host[256] = {0};
    ::gethostname(host, sizeof(host) - 1);
    host_ = host;
  }

  void run() {
    try {
      loop();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.fatal = e.what();
      if (const auto* err = dynamic_cast<const Error*>(&e)) shared_.fatal_hint = err->hint();
      shared_.stop = true;
      shared_.cv.notify_all();
    }
    if (socket_) {
      // Let libzmq deliver a goodbye (it advances its pipes during socket calls), then close with a
      // bounded linger.
      const auto until = Clock::now() + std::chrono::milliseconds(200);
      while (Clock::now() < until) socket_->receive(20, wire_);
      socket_->close(/*linger_ms=*/500);
    }
    socket_.reset();
  }

 private:
  template <class P>
  bool send(P payload) {
    proto::Message m;
    m.envelope.sender = proto::actor_sender(actor_id_);
    m.envelope.seq = ++seq_;
    m.envelope.session = incarnation_;
    m.payload = std::move(payload);
    last_sent_ = Clock::now();
    return socket_->send(m);
  }

  void connect() {
    ++attempt_;
    proto::SocketOptions so;
    so.max_message_bytes = config_.learner.max_message_bytes;
    so.heartbeat_ms = config_.learner.heartbeat_ms;
    so.heartbeat_timeout_ms = config_.learner.heartbeat_timeout_ms;
    // A new identity per connection: the learner tells a reconnect from a stale peer.
    so.routing_id = fmt::format("actor-{}-{:016x}-{}", actor_id_, incarnation_, attempt_);
    so.curve = curve_;
    socket_.reset();
    socket_.emplace(proto::Socket::connect_dealer(ctx_, endpoint_, so));
    connected_ = false;
    connect_started_ = Clock::now();
    last_hello_ = Clock::time_point{};
    fetch_ = {};
    request_outstanding_ = false;
  }

  void loop() {
    connect();
    while (true) {
      {
        std::lock_guard<std::mutex> lock(shared_.mu);
        if (shared_.stop) break;
      }
      if (g_terminate) {
        if (connected_) send(proto::Shutdown{"the actor was asked to stop (SIGTERM/SIGINT)"});
        std::lock_guard<std::mutex> lock(shared_.mu);
        shared_.stop = true;
        shared_.stop_reason = "terminated by a signal";
        shared_.cv.notify_all();
        break;
      }
      const auto now = Clock::now();
      if (!connected_) {
        check_handshake();
        if (now - connect_started_ > std::chrono::milliseconds(config_.actors.connect_timeout_ms)) {
          throw Error(fmt::format("actor {}: no answer from the learner at {} for {} ms{}", actor_id_, endpoint_,
                                  config_.actors.connect_timeout_ms,
                                  handshake_failure_.empty() ? "" : "; " + handshake_failure_),
                      curve_.enabled() ? "start `rlvr learner` first, check --learner / learner.endpoint, and that "
                                         "security.server_public_key is the learner's key"
                                       : "start `rlvr learner` first, or check --learner / learner.endpoint; a "
                                         "learner that uses CURVE needs security.server_public_key here");
        }
        if (now - last_hello_ > std::chrono::milliseconds(1000)) {
          proto::Hello h;
          h.actor_id = actor_id_;
          h.incarnation = incarnation_;
          h.model_fingerprint = model_fp_;
          h.config_fingerprint = config_fp_;
          h.update_mode = config_.rl.update_mode;
          h.max_units = std::max<int64_t>(1, units_per_request_);
          h.host = host_;
          send(h);
          last_hello_ = now;
        }
      }
      if (auto r = socket_->receive(20, wire_)) handle(*r);
      if (connected_) tick();
    }
  }

  // A CURVE handshake that failed: a refused key is final (the learner will refuse it again); a
  // mismatch may be a learner restarting, so it is remembered for the connect-timeout message.
  void check_handshake() {
    auto why = socket_->handshake_failure();
    if (!why) return;
    if (why->find("refused this actor's CURVE key") != std::string::npos) {
      throw Error(fmt::format("actor {}: {}", actor_id_, *why),
                  fmt::format("add this actor's public key {} (the .public beside {}) to the learner's "
                              "security.authorized_keys",
                              proto::key_tag(curve_.public_key), config_.security.client_secret_key));
    }
    if (handshake_failure_.empty()) RLVR_LOG_WARN("actor {}: {}", actor_id_, *why);
    handshake_failure_ = *why;
  }

  void tick() {
    const auto now = Clock::now();
    if (now - last_heard_ > std::chrono::milliseconds(config_.learner.heartbeat_timeout_ms)) {
      RLVR_LOG_WARN("actor {}: the learner has been silent for {} ms; reconnecting", actor_id_,
                    config_.learner.heartbeat_timeout_ms);
      drop_work("the learner went silent");
      connect();
      return;
    }
    // Results.
    std::deque<proto::Rollouts> out;
    int64_t queued = 0;
    double gen = 0, wait = 0;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      out.swap(shared_.outbox);
      queued = static_cast<int64_t>(shared_.queue.size()) + shared_.busy_units;
      gen = shared_.generating_s;
      wait = shared_.waiting_s;
    }
    for (auto& r : out) {
      if (send(std::move(r))) {
        std::lock_guard<std::mutex> lock(shared_.mu);
        ++shared_.units_sent;
      }
      // A result that cannot be queued (the learner is gone) is lost with the session; the
      // learner regenerates that unit.
    }
    // More work when the queue runs low (one request at a time, renewed every second).
    if (queued < units_per_request_ &&
        (!request_outstanding_ || now - last_request_ > std::chrono::milliseconds(1000))) {
      send(proto::WorkRequest{units_per_request_ - queued});
      request_outstanding_ = true;
      last_request_ = now;
    }
    // Weight chunks that did not arrive in time are asked for again.
    if (fetch_.active && now - fetch_.last_progress > std::chrono::milliseconds(config_.learner.heartbeat_timeout_ms)) {
      RLVR_LOG_WARN("actor {}: weights version {} stalled; asking for the missing chunks again", actor_id_,
                    fetch_.announce.version);
      fetch_.next = 0;
      fetch_.in_flight = 0;
      fetch_.last_progress = now;
      request_chunks();
    }
    // A heartbeat every heartbeat_ms even while other messages flow: it carries the time spent
    // generating and waiting since the last one, which the learner sums into
    // actors/generating_fraction.
    if (now - last_heartbeat_ >= std::chrono::milliseconds(config_.learner.heartbeat_ms)) {
      proto::Heartbeat hb;
      hb.time_ms = now_ms();
      hb.stats["generating_s"] = gen - reported_gen_;
      hb.stats["waiting_s"] = wait - reported_wait_;
      reported_gen_ = gen;
      reported_wait_ = wait;
      last_heartbeat_ = now;
      // How long the last weights version took to arrive, announcement to checksum.
      if (last_fetch_s_ > 0) hb.stats["weights_fetch_s"] = last_fetch_s_;
      send(hb);
    }
  }

  // Units and results of the session are void (the learner took them back).
  void drop_work(const char* why) {
    std::lock_guard<std::mutex> lock(shared_.mu);
    if (!shared_.queue.empty() || !shared_.outbox.empty()) {
      RLVR_LOG_WARN("actor {}: dropping {} queued units and {} results: {}", actor_id_, shared_.queue.size(),
                    shared_.outbox.size(), why);
    }
    shared_.queue.clear();
    shared_.outbox.clear();
    ++shared_.session;  // results still being computed for the old session are dropped when done
    shared_.cv.notify_all();
  }

  void handle(const proto::Received& r) {
    if (!r.result.ok()) {
      if (++malformed_ <= 20) {
        RLVR_LOG_WARN("actor {}: dropped a malformed message from the learner: {}", actor_id_,
                      r.result.error.to_string());
      }
      return;
    }
    const proto::Message& m = *r.result.message;
    last_heard_ = Clock::now();
    switch (m.type()) {
      case proto::MessageType::kWelcome:
        welcome(std::get<proto::Welcome>(m.payload));
        break;
      case proto::MessageType::kHeartbeat:
        break;
      case proto::MessageType::kWorkGrant: {
        if (!connected_ || m.envelope.session != learner_session_) break;
        request_outstanding_ = false;
        auto& g = std::get<proto::WorkGrant>(m.payload);
        std::lock_guard<std::mutex> lock(shared_.mu);
        for (auto& u : g.units) shared_.queue.push_back(std::move(u));
        shared_.cv.notify_all();
        break;
      }
      case proto::MessageType::kWeightsAnnounce:
        if (connected_ && m.envelope.session == learner_session_) announce(std::get<proto::WeightsAnnounce>(m.payload));
        break;
      case proto::MessageType::kWeightsChunk:
        if (connected_ && m.envelope.session == learner_session_) chunk(std::get<proto::WeightsChunk>(m.payload));
        break;
      case proto::MessageType::kShutdown: {
        std::lock_guard<std::mutex> lock(shared_.mu);
        shared_.stop = true;
        shared_.stop_reason = "the learner said: " + excerpt(std::get<proto::Shutdown>(m.payload).reason, 200);
        shared_.cv.notify_all();
        break;
      }
      case proto::MessageType::kError: {
        const auto& e = std::get<proto::ErrorReport>(m.payload);
        if (e.fatal) throw Error(fmt::format("actor {}: the learner refused: {}", actor_id_, excerpt(e.reason, 500)));
        RLVR_LOG_WARN("actor {}: the learner says: {}; saying HELLO again", actor_id_, excerpt(e.reason, 200));
        drop_work("the learner no longer knows this actor");
        connected_ = false;
        connect_started_ = Clock::now();
        last_hello_ = Clock::time_point{};
        break;
      }
      default:
        RLVR_LOG_WARN("actor {}: the learner sent {}, which it may not send; ignored", actor_id_,
                      proto::message_type_name(m.type()));
    }
  }

  void welcome(const proto::Welcome& w) {
    if (!w.accepted) {
      throw Error(fmt::format("actor {}: the learner at {} refused it: {}", actor_id_, endpoint_, excerpt(w.reason, 500)),
                  "start actors with the learner's config file and model files");
    }
    const std::string mismatch = core::manifest_mismatch(own_manifest_, to_entries(w.manifest));
    if (!mismatch.empty()) {
      throw Error(fmt::format("actor {}: the learner's weights do not fit this model: {}", actor_id_, mismatch));
    }
    const bool new_session = w.learner_session != learner_session_;
    learner_session_ = w.learner_session;
    connected_ = true;
    last_heard_ = Clock::now();
    request_outstanding_ = false;
    std::lock_guard<std::mutex> lock(shared_.mu);
    shared_.manifest = w.manifest;
    if (new_session) {
      // Another learner (or the same one restarted): nothing of the old session is valid.
      shared_.queue.clear();
      shared_.outbox.clear();
      ++shared_.session;
      shared_.pending = Weights{};
      shared_.applied = -1;
      fetch_ = {};
      shared_.cv.notify_all();
    }
    RLVR_LOG_INFO("actor {}: connected to the learner at {} (session {:016x}, policy version {})", actor_id_,
                  endpoint_, learner_session_, w.policy_version);
  }

  struct Fetch {
    bool active = false;
    proto::WeightsAnnounce announce;
    std::shared_ptr<std::string> data;
    std::vector<uint8_t> have;
    uint64_t received = 0, next = 0, in_flight = 0;
    Clock::time_point last_progress;
  };

  int64_t newest_version() {
    std::lock_guard<std::mutex> lock(shared_.mu);
    return std::max(shared_.applied, shared_.pending.version);
  }

  void announce(const proto::WeightsAnnounce& a) {
    if (a.version <= newest_version() || (fetch_.active && fetch_.announce.version >= a.version)) return;
    uint64_t total = 0;
    for (const auto& e : own_manifest_) total += e.bytes;
    if (a.total_bytes != total) {
      RLVR_LOG_WARN("actor {}: weights version {} has {} bytes, the model needs {}; ignored", actor_id_, a.version,
                    a.total_bytes, total);
      return;
    }
    fetch_ = {};
    fetch_.active = true;
    fetch_.announce = a;
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      if (shared_.spare && shared_.spare.use_count() == 1 && shared_.spare->size() == a.total_bytes) {
        fetch_.data = std::move(shared_.spare);  // every byte is overwritten by a chunk, then checksummed
      }
      shared_.spare.reset();
    }
    if (!fetch_.data) fetch_.data = std::make_shared<std::string>(a.total_bytes, '\0');
    fetch_.have.assign(a.num_chunks, 0);
    fetch_.last_progress = Clock::now();
    fetch_started_ = Clock::now();
    request_chunks();
  }

  void request_chunks() {
    constexpr uint64_t kWindow = 4;
    while (fetch_.in_flight < kWindow && fetch_.next < fetch_.announce.num_chunks) {
      const uint64_t i = fetch_.next++;
      if (fetch_.have[i]) continue;
      send(proto::WeightsRequest{fetch_.announce.version, i});
      ++fetch_.in_flight;
    }
  }

  void chunk(const proto::WeightsChunk& c) {
    if (!fetch_.active || c.version != fetch_.announce.version) return;
    if (fetch_.in_flight > 0) --fetch_.in_flight;
    if (!c.available) {
      RLVR_LOG_INFO("actor {}: weights version {} is no longer served; waiting for the next announcement", actor_id_,
                    c.version);
      fetch_ = {};
      return;
    }
    if (auto problem = proto::chunk_problem(fetch_.announce, c)) {
      RLVR_LOG_WARN("actor {}: bad weights chunk {}: {}; asking again", actor_id_, c.index, *problem);
      fetch_.next = std::min(fetch_.next, c.index < fetch_.announce.num_chunks ? c.index : fetch_.next);
      request_chunks();
      return;
    }
    if (!fetch_.have[c.index]) {
      std::memcpy(fetch_.data->data() + c.offset, c.data.data(), c.data.size());
      fetch_.have[c.index] = 1;
      ++fetch_.received;
    }
    fetch_.last_progress = Clock::now();
    if (fetch_.received == fetch_.announce.num_chunks) {
      const std::string sum = core::content_hash(*fetch_.data);
      if (sum != fetch_.announce.checksum) {
        RLVR_LOG_WARN("actor {}: weights version {} checksum {} != announced {}; fetching again", actor_id_,
                      fetch_.announce.version, sum, fetch_.announce.checksum);
        const auto a = fetch_.announce;
        fetch_ = {};
        announce(a);
        return;
      }
      last_fetch_s_ = seconds_since(fetch_started_);
      RLVR_LOG_DEBUG("actor {}: weights version {} received ({} bytes in {:.3f}s)", actor_id_, fetch_.announce.version,
                     fetch_.data->size(), last_fetch_s_);
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.pending = Weights{fetch_.announce.version, fetch_.data};
      shared_.cv.notify_all();
      fetch_ = {};
      return;
    }
    request_chunks();
  }

  const core::Config& config_;
  int64_t actor_id_;
  std::string endpoint_;
  Shared& shared_;
  std::vector<core::WeightsEntry> own_manifest_;
  int64_t units_per_request_;
  uint64_t incarnation_ = 0, learner_session_ = 0, seq_ = 0;
  int attempt_ = 0;
  std::string model_fp_, config_fp_, host_;
  proto::ProtocolLimits wire_;
  proto::CurveOptions curve_;       // empty: plain transport (loopback)
  std::string handshake_failure_;  // the last failed CURVE handshake, if any
  proto::Context ctx_;
  std::optional<proto::Socket> socket_;
  bool connected_ = false, request_outstanding_ = false;
  Clock::time_point connect_started_, last_hello_, last_heard_, last_sent_, last_request_, fetch_started_;
  double last_fetch_s_ = 0;  // seconds the last completed weights fetch took
  Clock::time_point last_heartbeat_;
  double reported_gen_ = 0, reported_wait_ = 0;  // generating/waiting seconds already reported
  Fetch fetch_;
  int64_t malformed_ = 0;
};

}  // namespace

// --- The generation loop -------------------------------------------------------------------

ActorResult run_actor(const core::Config& config, int64_t actor_id, const std::string& endpoint_flag) {
  RLVR_CHECK(actor_id >= 0, "--id {}: expected a non-negative actor id", actor_id);
  const std::string endpoint = endpoint_flag.empty() ? config.learner.endpoint : endpoint_flag;
  const int64_t n = config.generation.num_samples_per_prompt;
  const int64_t units_per_request = config.actors.units_per_request > 0
                                        ? config.actors.units_per_request
                                        : std::max<int64_t>(1, config.generation.batch_size / n);
  const int64_t cores = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()));
  at::set_num_threads(static_cast<int>(config.actors.threads > 0 ? config.actors.threads : std::max<int64_t>(1, cores / 2)));
  torch::manual_seed(static_cast<uint64_t>(config.run.seed) + static_cast<uint64_t>(actor_id));

  const std::string tokenizer_path =
      config.model.tokenizer.empty() ? config.model.path + "/tokenizer.json" : config.model.tokenizer;
  core::Tokenizer tokenizer = core::Tokenizer::from_file(tokenizer_path);
  core::CausalLM model{nullptr};
  try {
    model = core::load_causal_lm(config.model.path);  // the architecture; the weights come from the learner
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: cannot load the model: {}", config.model.path, e.what_without_backtrace()));
  }
  model->eval();
  // Stop tokens: the chat template's end of turn, config.json's and generation_config.json's EOS ids.
  const int32_t end_of_turn =
      core::ChatFormat::resolve(tokenizer, config.model.chat_template, config.model.path).end_of_turn_id();
  SamplingParams sp;
  sp.temperature = config.generation.temperature;
  sp.top_p = config.generation.top_p;
  sp.top_k = config.generation.top_k;
  sp.max_new_tokens = config.generation.max_new_tokens;
  sp.stop = config.generation.stop;
  sp.n = n;
  if (end_of_turn >= 0) sp.stop_token_ids.push_back(end_of_turn);
  for (int64_t id : model->config().eos_token_id) sp.stop_token_ids.push_back(static_cast<int32_t>(id));
  for (int64_t id : core::checkpoint_eos_ids(config.model.path)) sp.stop_token_ids.push_back(static_cast<int32_t>(id));
  SamplerOptions so;
  so.batch_size = config.generation.batch_size;
  so.continuous_batching = config.generation.continuous_batching;
  Sampler sampler(model.ptr(), &tokenizer, so);
  verifiers::RewardScorer scorer(config.verifiers, /*num_threads=*/1);
  verifiers::ThreadPool scoring(1);  // scores batch k while batch k + 1 generates
  const bool in_flight = config.rl.update_mode == "in_flight";

  Shared shared;
  g_terminate = false;
  struct sigaction sa {};
  sa.sa_handler = &on_terminate;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_term {}, old_int {};
  ::sigaction(SIGTERM, &sa, &old_term);
  ::sigaction(SIGINT, &sa, &old_int);
  struct RestoreSignals {
    struct sigaction term, intr;
    ~RestoreSignals() {
      ::sigaction(SIGTERM, &term, nullptr);
      ::sigaction(SIGINT, &intr, nullptr);
    }
  } restore{old_term, old_int};

  Network net(config, actor_id, endpoint, shared, core::weights_manifest(*model), units_per_request);
  std::thread net_thread([&net] { net.run(); });
  struct Join {
    Shared& s;
    std::thread& t;
    ~Join() {
      {
        std::lock_guard<std::mutex> lock(s.mu);
        s.stop = true;
        s.cv.notify_all();
      }
      if (t.joinable()) t.join();
    }
  } join{shared, net_thread};
  RLVR_LOG_INFO("actor {}: connecting to {} ({}, {} units per request, {} samples each)", actor_id, endpoint,
                config.rl.update_mode, units_per_request, n);

  std::vector<std::future<void>> scoring_tasks;
  // Applies the newest verified weights if they are newer than the model's. Caller holds shared.mu.
  auto apply_pending = [&]() {
    if (shared.pending.version > shared.applied && shared.pending.data) {
      core::unpack_weights(*model, to_entries(shared.manifest), *shared.pending.data, "the learner's weights");
      shared.applied = shared.pending.version;
      shared.spare = std::move(shared.pending.data);
      shared.pending = Weights{};
      ++shared.versions_applied;
    }
    return shared.applied;
  };

  while (true) {
    std::vector<proto::WorkUnit> units;
    uint64_t session = 0;
    {
      std::unique_lock<std::mutex> lock(shared.mu);
      const auto t_wait = Clock::now();
      // Work, and weights at least as new as the units need.
      while (!shared.stop) {
        if (!shared.queue.empty()) {
          int64_t need = 0;
          for (const auto& u : shared.queue) need = std::max(need, u.min_version);
          apply_pending();
          if (shared.applied >= need) break;
        }
        shared.cv.wait_for(lock, std::chrono::milliseconds(200));
      }
      shared.waiting_s += seconds_since(t_wait);
      if (shared.stop) break;
      while (!shared.queue.empty() && static_cast<int64_t>(units.size()) < units_per_request) {
        units.push_back(std::move(shared.queue.front()));
        shared.queue.pop_front();
      }
      shared.busy_units += static_cast<int64_t>(units.size());
      session = shared.session;
    }
    std::vector<std::vector<int32_t>> prompts;
    for (const auto& u : units) prompts.push_back(u.prompt_ids);
    sp.seed = units.front().seed;
    GenerateHooks hooks;
    if (in_flight) {
      hooks.before_model_call = [&]() {
        std::lock_guard<std::mutex> lock(shared.mu);
        return apply_pending();
      };
    }
    int64_t version = 0;
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      version = shared.applied;
    }
    const auto t_gen = Clock::now();
    std::vector<Sample> samples;
    try {
      samples = sampler.generate(prompts, sp, version, hooks);
    } catch (const Error& e) {
      // A unit the model cannot take (e.g. a prompt longer than its context): give them back.
      RLVR_LOG_WARN("actor {}: cannot generate this batch: {}", actor_id, e.what());
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.busy_units -= static_cast<int64_t>(units.size());
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.generating_s += seconds_since(t_gen);
    }
    const double generate_s = seconds_since(t_gen);
    // Score on the scoring thread while the next batch generates (at most one batch waits).
    while (!scoring_tasks.empty() && scoring_tasks.size() >= 2) {
      scoring_tasks.front().get();
      scoring_tasks.erase(scoring_tasks.begin());
    }
    scoring_tasks.push_back(scoring.submit([&, units = std::move(units), samples = std::move(samples), session,
                                            generate_s]() {
      const auto t_score = Clock::now();
      std::vector<verifiers::RewardRequest> requests;
      for (const auto& s : samples) {
        const auto& u = units[static_cast<size_t>(s.prompt_index)];
        requests.push_back({u.dataset, {u.prompt_text, s.text, u.ground_truth}});
      }
      std::vector<verifiers::Reward> rewards = scorer.score_batch(requests);
      std::vector<proto::Rollouts> results(units.size());
      int64_t tokens = 0;
      for (size_t i = 0; i < samples.size(); ++i) {
        const auto& s = samples[i];
        const auto& u = units[static_cast<size_t>(s.prompt_index)];
        core::RolloutSample r;
        r.prompt_index = u.prompt_index;
        r.sample_index = s.sample_index;
        r.actor_id = actor_id;
        r.dataset = u.dataset;
        r.prompt_ids = u.prompt_ids;
        r.completion_ids = s.token_ids;
        r.logprobs = s.logprobs;
        const bool one_version = std::all_of(s.token_versions.begin(), s.token_versions.end(),
                                             [&](int64_t v) { return v == s.token_versions.front(); });
        r.versions = one_version ? std::vector<int64_t>{s.token_versions.front()} : s.token_versions;
        r.finish_reason = finish_reason_name(s.finish_reason);
        r.score = rewards[i].score;
        r.answer_found = rewards[i].answer_found;
        r.verifier_error = rewards[i].error;
        r.reason = excerpt(rewards[i].reason, 1000);
        tokens += static_cast<int64_t>(s.token_ids.size());
        auto& out = results[static_cast<size_t>(s.prompt_index)];
        out.unit_id = u.unit_id;
        out.samples.push_back(std::move(r));
      }
      const double score_s = seconds_since(t_score);
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.busy_units -= static_cast<int64_t>(units.size());
      shared.tokens += tokens;
      if (session != shared.session) return;  // the learner of that session is gone
      for (auto& r : results) {
        r.generate_s = generate_s / static_cast<double>(results.size());  // each unit's share of the call
        r.score_s = score_s;
        shared.outbox.push_back(std::move(r));
      }
      shared.cv.notify_all();
    }));
  }
  for (auto& t : scoring_tasks) t.get();
  ActorResult result;
  std::lock_guard<std::mutex> lock(shared.mu);
  if (!shared.fatal.empty()) throw Error(shared.fatal, shared.fatal_hint);
  result.units_sent = shared.units_sent;
  result.tokens = shared.tokens;
  result.weight_versions = shared.versions_applied;
  result.reason = shared.stop_reason;
  return result;
}

}  // namespace rlvr::actors
