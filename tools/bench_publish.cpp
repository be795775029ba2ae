// bench_publish: how long one weights version takes to reach N actors (issue 16, item 2). Does the
// learner's publish time grow with the number of actors, i.e. is the learner's send bandwidth the
// limit (time ~ N x bytes / bandwidth)?
//
// For each model (`--models`, configs/bench/*.json) it builds a world (tools/data/synth.h prompts,
// a BPE tokenizer, the model freshly initialized with the config's vocabulary), starts a real
// `rlvr learner` on tcp://127.0.0.1:<free port> (plain, and with CURVE keys and
// security.require_on_loopback: `--modes`), and for N in `--clients` starts N fetch clients: each
// a separate process (this program with --probe) that speaks the wire protocol like an actor
// (core/protocol/protocol.h): HELLO, WELCOME, the WEIGHTS_ANNOUNCE of version 0, then on the
// parent's "go" it fetches every chunk with the actor's window of 4 requests in flight
// (actors/actor.cpp request_chunks), copies each into its buffer and compares core::content_hash
// of the whole buffer with the announced checksum, as the actor does before it applies weights.
//
// The learner announces a version to every actor at once after an update; here the parent sends
// "go" to every client at once instead (the learner announces only after a training step), so a
// round measures the same thing: from the moment all N clients know of the version to the last
// client's verified checksum (both on CLOCK_MONOTONIC, comparable across processes). Each N gets
// a first fetch on fresh connections (reported on its own: the cold start) and then `--repeats`
// rounds with the same clients. `--variants`: baseline = the learner with one ZeroMQ I/O thread and
// each client allocating a fresh buffer per version (rlvr before 2026-12-01), current =
// learner.io_threads auto and the client reusing its buffer as the actor now does.
//
// Reported per model, mode and N: seconds (median, min, max over the rounds), bytes the learner
// sent per round (TCP bytes acknowledged on the learner's sockets, from `ss -ti`, 0 where `ss` is
// missing; and message bytes the clients received), effective aggregate MB/s (N x weights bytes /
// median seconds), the CPU seconds per round of the learner and of all clients together
// (/proc/PID/stat: where the time goes when N clients share this machine's cores), and two
// ceilings: memcpy of the same N x weights bytes on this machine, and one client alone (N x the
// N = 1 median: what "linear in N" predicts). A least-squares line t = a + b N over the medians
// gives the seconds each extra client costs.
//
//   build/bench_publish [--models configs/bench/small.json,configs/bench/tiny.json]
//                       [--clients 1,2,4,8] [--repeats 3] [--modes plain,curve]
//                       [--variants baseline,current] [--out DIR]
//                       [--keep] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config/loader.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/model/checkpoint.h"
#include "core/model/model_config.h"
#include "core/model/transformer.h"
#include "core/protocol/fingerprint.h"
#include "core/protocol/protocol.h"
#include "core/protocol/security.h"
#include "core/protocol/transport.h"
#include "core/tokenizer/bpe_trainer.h"
#include "tools/data/synth.h"
#include "tools/thread_env.h"

namespace {

namespace fs = std::filesystem;
namespace proto = rlvr::core::protocol;
using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC: the same clock in every process
using nlohmann::json;

double secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

// --- The fetch client (--probe) -----------------------------------------------------------------

// One actor's weights fetch, nothing else: says HELLO, waits for WELCOME and the announcement,
// prints "ready", then fetches the announced version on each "go" line of stdin and prints
// "done <CLOCK_MONOTONIC ns> <message bytes received> <1|0 checksum ok> <chunks>". "quit" (or
// stdin closing) says goodbye to the learner and ends it.
int probe_main(const std::string& config_path, int64_t id, int64_t window, bool fresh_buffer) {
  rlvr::core::init_logging("warn");
  const rlvr::core::Config config = rlvr::core::load_config(config_path);
  const std::string& endpoint = config.learner.endpoint;
  proto::Context ctx;
  proto::SocketOptions so;
  so.routing_id = fmt::format("publish-probe-{}-{}", id, ::getpid());
  so.heartbeat_ms = config.learner.heartbeat_ms;
  so.heartbeat_timeout_ms = config.learner.heartbeat_timeout_ms;
  so.max_message_bytes = config.learner.max_message_bytes;
  so.curve = proto::actor_security(config, endpoint);
  proto::Socket s = proto::Socket::connect_dealer(ctx, endpoint, so);
  proto::ProtocolLimits limits;
  limits.max_frame_bytes = static_cast<uint64_t>(config.learner.max_message_bytes);
  limits.max_chunk_bytes = static_cast<uint64_t>(config.learner.weight_chunk_bytes);
  const uint64_t incarnation = static_cast<uint64_t>(::getpid()) << 20 | static_cast<uint64_t>(id);
  uint64_t seq = 0;
  auto send = [&](proto::Payload payload) {
    proto::Message m;
    m.envelope.sender = proto::actor_sender(id);
    m.envelope.seq = ++seq;
    m.envelope.session = incarnation;
    m.payload = std::move(payload);
    return s.send(m);
  };
  proto::Hello h;
  h.actor_id = id;
  h.incarnation = incarnation;
  h.model_fingerprint = proto::model_fingerprint(config);
  h.config_fingerprint = proto::config_fingerprint(config);
  h.update_mode = config.rl.update_mode;
  h.max_units = 1;
  h.host = "bench-publish-probe";

  bool welcomed = false, ready = false;
  std::optional<proto::WeightsAnnounce> announce;
  uint64_t learner_session = 0;
  // The fetch in progress (the actor's Fetch).
  bool active = false;
  std::string data;
  std::vector<uint8_t> have;
  uint64_t received = 0, next = 0, in_flight = 0, bytes = 0;
  auto last_progress = Clock::now();
  auto request = [&] {
    while (in_flight < static_cast<uint64_t>(window) && next < announce->num_chunks) {
      const uint64_t i = next++;
      if (have[i]) continue;
      send(proto::WeightsRequest{announce->version, i});
      ++in_flight;
    }
  };
  auto last_hello = Clock::time_point{}, last_heartbeat = Clock::now();
  const auto started = Clock::now();
  std::string stdin_buf;
  while (true) {
    const auto now = Clock::now();
    if (auto why = s.handshake_failure()) {
      std::fprintf(stderr, "probe %lld: %s\n", static_cast<long long>(id), why->c_str());
      if (why->find("refused") != std::string::npos) return 1;
    }
    if (!welcomed) {
      RLVR_CHECK(now - started < std::chrono::seconds(300),
                 "probe {}: no WELCOME from the learner at {} within 300 s", id, endpoint);
      if (now - last_hello > std::chrono::milliseconds(500)) {
        send(h);
        last_hello = now;
      }
    } else if (now - last_heartbeat >= std::chrono::milliseconds(config.learner.heartbeat_ms)) {
      send(proto::Heartbeat{0, {}});
      last_heartbeat = now;
    }
    if (welcomed && announce && !ready) {
      std::printf("ready %lld %llu %llu\n", static_cast<long long>(announce->version),
                  static_cast<unsigned long long>(announce->total_bytes),
                  static_cast<unsigned long long>(announce->num_chunks));
      std::fflush(stdout);
      ready = true;
    }
    if (active &&
        now - last_progress > std::chrono::milliseconds(config.learner.heartbeat_timeout_ms)) {
      next = 0;  // as the actor: ask for the missing chunks again
      in_flight = 0;
      last_progress = now;
      request();
    }
    // The parent's commands.
    if (ready && !active) {
      pollfd p{0, POLLIN, 0};
      if (::poll(&p, 1, 0) > 0) {
        char buf[256];
        const ssize_t n = ::read(0, buf, sizeof(buf));
        if (n <= 0)
          stdin_buf += "quit\n";
        else
          stdin_buf.append(buf, static_cast<size_t>(n));
      }
      const auto eol = stdin_buf.find('\n');
      if (eol != std::string::npos) {
        const std::string cmd = stdin_buf.substr(0, eol);
        stdin_buf.erase(0, eol + 1);
        if (cmd == "go") {
          active = true;
          if (fresh_buffer || data.size() != announce->total_bytes) {
            data = std::string(announce->total_bytes, '\0');  // a fresh buffer per version
          } else {
            // The actor's buffer reuse (actors/actor.cpp Shared::spare). The previous round's
            // bytes would pass the checksum, so the first byte of every chunk is spoiled first.
            for (uint64_t c = 0; c < announce->num_chunks; ++c) data[c * announce->chunk_bytes] ^= 0x5a;
          }
          have.assign(announce->num_chunks, 0);
          received = next = in_flight = bytes = 0;
          last_progress = Clock::now();
          request();
        } else {
          send(proto::Shutdown{"bench_publish: done"});
          const auto until = Clock::now() + std::chrono::milliseconds(200);
          while (Clock::now() < until) s.receive(20, limits);
          s.close(500);
          return 0;
        }
      }
    }
    auto r = s.receive(active ? 20 : 1, limits);
    if (!r) continue;
    if (!r->result.ok()) {
      std::fprintf(stderr, "probe %lld: malformed message: %s\n", static_cast<long long>(id),
                   r->result.error.to_string().c_str());
      continue;
    }
    const proto::Message& m = *r->result.message;
    switch (m.type()) {
      case proto::MessageType::kWelcome: {
        const auto& w = std::get<proto::Welcome>(m.payload);
        RLVR_CHECK(w.accepted, "probe {}: the learner refused it: {}", id, w.reason);
        welcomed = true;
        learner_session = w.learner_session;
        break;
      }
      case proto::MessageType::kWeightsAnnounce:
        if (m.envelope.session == learner_session && !active)
          announce = std::get<proto::WeightsAnnounce>(m.payload);
        break;
      case proto::MessageType::kWeightsChunk: {
        const auto& c = std::get<proto::WeightsChunk>(m.payload);
        if (!active || c.version != announce->version) break;
        bytes += r->bytes;
        if (in_flight > 0) --in_flight;
        RLVR_CHECK(c.available, "probe {}: version {} is no longer served", id, c.version);
        if (auto problem = proto::chunk_problem(*announce, c)) {
          std::fprintf(stderr, "probe %lld: bad chunk %llu: %s\n", static_cast<long long>(id),
                       static_cast<unsigned long long>(c.index), problem->c_str());
          next = std::min(next, c.index);
          request();
          break;
        }
        if (!have[c.index]) {
          std::memcpy(data.data() + c.offset, c.data.data(), c.data.size());
          have[c.index] = 1;
          ++received;
        }
        last_progress = Clock::now();
        if (received == announce->num_chunks) {
          const bool ok = rlvr::core::content_hash(data) == announce->checksum;
          std::printf("done %lld %llu %d %llu\n", static_cast<long long>(mono_ns()),
                      static_cast<unsigned long long>(bytes), ok ? 1 : 0,
                      static_cast<unsigned long long>(received));
          std::fflush(stdout);
          active = false;
        } else {
          request();
        }
        break;
      }
      case proto::MessageType::kShutdown:
        std::fprintf(stderr, "probe %lld: the learner said goodbye\n", static_cast<long long>(id));
        return 1;
      case proto::MessageType::kError:
        welcomed = false;  // declared dead (it should not be): say HELLO again
        break;
      default:
        break;
    }
  }
}

// --- Processes ----------------------------------------------------------------------------------

// A child process (execv, no shell) in its own process group; stderr (and stdout unless piped)
// to `log`. With `pipes`, its stdin and stdout are pipes to this process (lines).
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::string& log, bool pipes) {
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (pipes)
      RLVR_CHECK(::pipe(in) == 0 && ::pipe(out) == 0, "pipe failed: {}", std::strerror(errno));
    pid_ = ::fork();
    RLVR_CHECK(pid_ >= 0, "fork failed: {}", std::strerror(errno));
    if (pid_ == 0) {
      ::setpgid(0, 0);
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) ::dup2(fd, 2);
      if (pipes) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
      } else if (fd >= 0) {
        ::dup2(fd, 1);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    if (pipes) {
      ::close(in[0]);
      ::close(out[1]);
      to_ = in[1];
      from_ = out[0];
    }
  }
  ~Child() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    stop(SIGKILL, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  void write_line(const std::string& line) {
    const std::string s = line + "\n";
    RLVR_CHECK(::write(to_, s.data(), s.size()) == static_cast<ssize_t>(s.size()),
               "could not write to child {}: {}", pid_, std::strerror(errno));
  }
  // The next line of its stdout, or nullopt when none came by `deadline` or it closed stdout.
  std::optional<std::string> read_line(Clock::time_point deadline) {
    while (true) {
      const auto eol = buf_.find('\n');
      if (eol != std::string::npos) {
        std::string line = buf_.substr(0, eol);
        buf_.erase(0, eol + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) <= 0) continue;
      char b[4096];
      const ssize_t n = ::read(from_, b, sizeof(b));
      if (n <= 0) return std::nullopt;
      buf_.append(b, static_cast<size_t>(n));
    }
  }
  std::optional<int> poll() {
    if (done_) return status_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) != pid_) return std::nullopt;
    done_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }
  // The exit status once it ended within `timeout_s`; else it is killed (SIGKILL) and nullopt.
  std::optional<int> wait(double timeout_s) {
    const auto until = Clock::now() + std::chrono::duration<double>(timeout_s);
    while (!poll() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (auto st = poll()) return st;
    stop(SIGKILL, 0);
    return std::nullopt;
  }
  // Sends `sig` to the group, waits up to `grace_s` for it to end, then SIGKILL; reaped.
  void stop(int sig, double grace_s) {
    if (pid_ <= 0 || poll()) return;
    ::kill(-pid_, sig);
    const auto until = Clock::now() + std::chrono::duration<double>(grace_s);
    while (!poll() && Clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (poll()) return;
    ::kill(-pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    done_ = true;
    status_ = 128 + SIGKILL;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
  bool done_ = false;
  int status_ = -1;
};

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int port = -1;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) ::close(fd);
  RLVR_CHECK(port > 0, "no free loopback port");
  return port;
}

// TCP bytes acknowledged on every established socket whose local port is `port` (the learner's
// side of each connection), from `ss -ti`.
int64_t tcp_bytes_acked(int port) {
  const std::string cmd =
      fmt::format("ss -tinH state established '( sport = :{} )' 2>/dev/null", port);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), p)) > 0;) text.append(buf, n);
  ::pclose(p);
  static const std::regex re("bytes_acked:([0-9]+)");
  int64_t sum = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it)
    sum += std::stoll((*it)[1]);
  return sum;
}

// utime + stime of a process in seconds (/proc/PID/stat), or -1.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// --- World, configs ----------------------------------------------------------------------------

struct Params {
  std::vector<std::string> models;
  std::vector<int64_t> clients = {1, 2, 4, 8};
  std::vector<std::string> modes = {"plain", "curve"};
  // baseline: one ZeroMQ I/O thread in the learner and a fresh buffer per version in each client
  // (rlvr before learner.io_threads and the actor's buffer reuse); current: learner.io_threads
  // auto (min(4, cores)) and the buffer reused, as the actor does now.
  std::vector<std::string> variants = {"baseline", "current"};
  int64_t repeats = 3, window = 4, chunk_bytes = 4194304;
  std::string out, json_out, rlvr, self;
  bool keep = false;
};

struct World {
  std::string model_dir, data_file;
  int64_t parameters = 0, weight_bytes = 0;
  std::string name;
};

World build_world(const std::string& model_config, const std::string& dir) {
  rlvr::tools::SynthOptions synth;
  synth.seed = 1;
  synth.train_rows = 200;
  synth.eval_rows = 8;
  rlvr::tools::synthesize_task_world(dir + "/data", synth);
  rlvr::core::BpeTrainerOptions bpe;
  bpe.vocab_size = 320;
  bpe.special_tokens = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>"};
  const std::string tok = rlvr::core::train_bpe_files({dir + "/data/corpus.txt"}, bpe);
  rlvr::core::write_file_atomic(dir + "/model/tokenizer.json", tok);
  rlvr::core::TransformerConfig cfg = rlvr::core::load_transformer_config(model_config);
  // The config's vocabulary (the weights' size is what is measured); the tokenizer's ids fit in it.
  cfg.vocab_size = std::max<int64_t>(
      cfg.vocab_size, static_cast<int64_t>(json::parse(tok).at("model").at("vocab").size()));
  cfg.bos_token_id = {0};
  cfg.eos_token_id = {0};
  rlvr::core::CausalLM model(cfg);
  model->init_weights(1);
  rlvr::core::save_checkpoint(*model, cfg, dir + "/model");
  World w;
  w.model_dir = dir + "/model";
  w.data_file = dir + "/data/rlvr.jsonl";
  w.parameters = cfg.num_parameters();
  w.weight_bytes = 4 * w.parameters;  // F32 on the wire (core/model/weights_blob.h)
  return w;
}

std::string config_yaml(const World& w, const std::string& dir, int port, const Params& p,
                        const std::string& keys, const std::string& variant) {
  std::string security;
  if (!keys.empty()) {
    security = fmt::format(
        "security:\n  server_secret_key: {0}/learner.secret\n  authorized_keys: {0}/authorized\n"
        "  server_public_key: {0}/learner.public\n  client_secret_key: {0}/actor.secret\n"
        "  require_on_loopback: true\n",
        keys);
  }
  return fmt::format(
      "run:\n  output_dir: {dir}/run\n  name: bench-publish\n  threads: 1\n"
      "model:\n  path: {model}\n"
      "generation:\n  max_new_tokens: 8\n  num_samples_per_prompt: 4\n  batch_size: 8\n"
      "rl:\n  train_file: {data}\n  rollout_batch_size: 8\n  total_steps: 1000\n  "
      "checkpoint_every: 0\n"
      "  collapse:\n    window: 0\n"
      "learner:\n  endpoint: tcp://127.0.0.1:{port}\n  threads: 1\n  heartbeat_ms: 500\n"
      "  heartbeat_timeout_ms: 30000\n  wait_log_ms: 600000\n  weight_chunk_bytes: "
      "{chunk}\n  io_threads: {io}\n{security}",
      fmt::arg("dir", dir), fmt::arg("model", w.model_dir), fmt::arg("data", w.data_file),
      fmt::arg("port", port), fmt::arg("chunk", p.chunk_bytes), fmt::arg("security", security),
      fmt::arg("io", variant == "baseline" ? 1 : 0));
}

// --- Measurement --------------------------------------------------------------------------------

struct Round {
  double seconds = 0;
  int64_t tcp_bytes = 0, message_bytes = 0;
  double learner_cpu_s = 0, clients_cpu_s = 0;
};

struct Row {
  std::string model, mode, variant;
  int64_t clients = 0, weight_bytes = 0;
  Round first;  // the first fetch on fresh connections (not in `rounds`)
  std::vector<Round> rounds;
  double memcpy_s = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Seconds to memcpy `copies` x `bytes` (distinct destinations, as N clients would hold them;
// the best of 3).
double memcpy_seconds(int64_t bytes, int64_t copies) {
  std::string src(static_cast<size_t>(bytes), 'x');
  for (size_t i = 0; i < src.size(); i += 4096) src[i] = static_cast<char>(i);
  std::vector<std::string> dst(static_cast<size_t>(copies),
                               std::string(static_cast<size_t>(bytes), '\0'));
  double best = 1e30;
  for (int t = 0; t < 3; ++t) {
    const auto t0 = Clock::now();
    for (auto& d : dst) std::memcpy(d.data(), src.data(), src.size());
    best = std::min(best, secs(t0, Clock::now()));
  }
  volatile char sink = dst.back()[static_cast<size_t>(bytes) / 2];
  (void)sink;
  return best;
}

std::vector<Row> run_mode(const Params& p, const World& w, const std::string& dir,
                          const std::string& mode, const std::string& variant, int64_t& next_id) {
  fs::create_directories(dir);
  std::string keys;
  if (mode == "curve") {
    keys = dir + "/keys";
    for (const char* name : {"learner", "actor"}) {
      Child k({p.rlvr, "keys", "generate", "--out", keys, "--name", name}, dir + "/keys.log",
              false);
      RLVR_CHECK(k.wait(30) == 0, "rlvr keys generate failed; see {}/keys.log", dir);
    }
    fs::create_directories(keys + "/authorized");
    fs::copy_file(keys + "/actor.public", keys + "/authorized/actor.public",
                  fs::copy_options::overwrite_existing);
  }
  const int port = free_loopback_port();
  const std::string cfg = dir + "/publish.yaml";
  rlvr::core::write_file_atomic(cfg, config_yaml(w, dir, port, p, keys, variant));
  Child learner({p.rlvr, "learner", "--config", cfg}, dir + "/learner.log", false);
  std::vector<Row> rows;
  for (int64_t n : p.clients) {
    Row row;
    row.model = w.name;
    row.mode = mode;
    row.variant = variant;
    row.clients = n;
    row.weight_bytes = w.weight_bytes;
    std::vector<std::unique_ptr<Child>> probes;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t id = next_id++;
      std::vector<std::string> argv = {p.self,   "--probe", "--config", cfg, "--id", std::to_string(id),
                                       "--window", std::to_string(p.window)};
      if (variant == "baseline") argv.push_back("--fresh-buffer");
      probes.push_back(std::make_unique<Child>(argv, fmt::format("{}/probe-{}.log", dir, id), true));
    }
    for (auto& c : probes) {
      auto line = c->read_line(Clock::now() + std::chrono::seconds(300));
      RLVR_CHECK(line && line->rfind("ready ", 0) == 0,
                 "a fetch client did not get the announcement within 300 s (learner exit {}); see "
                 "{}/learner.log "
                 "and {}/probe-*.log",
                 learner.poll().value_or(-1), dir, dir);
      std::istringstream in(line->substr(6));
      int64_t version = 0, total = 0;
      in >> version >> total;
      RLVR_CHECK(total == w.weight_bytes,
                 "announced {} bytes; the model has {} parameters x 4 = {}", total, w.parameters,
                 w.weight_bytes);
    }
    for (int64_t r = -1; r < p.repeats; ++r) {  // round -1: the first fetch, reported on its own
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      Round round;
      const int64_t tcp0 = tcp_bytes_acked(port);
      const double cpu0 = cpu_seconds(learner.pid());
      double clients0 = 0;
      for (auto& c : probes) clients0 += cpu_seconds(c->pid());
      const int64_t go = mono_ns();
      for (auto& c : probes) c->write_line("go");
      int64_t last = go;
      for (auto& c : probes) {
        auto line = c->read_line(Clock::now() + std::chrono::seconds(600));
        RLVR_CHECK(line && line->rfind("done ", 0) == 0,
                   "a fetch client did not finish within 600 s; see {}", dir);
        std::istringstream in(line->substr(5));
        int64_t t = 0, bytes = 0, ok = 0, chunks = 0;
        in >> t >> bytes >> ok >> chunks;
        RLVR_CHECK(ok == 1, "a fetch client's checksum did not match the announced one ({} chunks)",
                   chunks);
        last = std::max(last, t);
        round.message_bytes += bytes;
      }
      round.seconds = static_cast<double>(last - go) * 1e-9;
      round.learner_cpu_s = cpu_seconds(learner.pid()) - cpu0;
      for (auto& c : probes) round.clients_cpu_s += cpu_seconds(c->pid());
      round.clients_cpu_s -= clients0;
      // The last acknowledgements may trail the clients' checksums by a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      round.tcp_bytes = tcp_bytes_acked(port) - tcp0;
      if (r < 0) {
        row.first = round;
      } else {
        row.rounds.push_back(round);
      }
      std::printf("  %s %s %s N=%lld %s: %.3f s\n", w.name.c_str(), mode.c_str(), variant.c_str(),
                  static_cast<long long>(n),
                  r < 0 ? "first fetch" : fmt::format("round {}", r + 1).c_str(), round.seconds);
      std::fflush(stdout);
    }
    for (auto& c : probes) c->write_line("quit");
    for (auto& c : probes) c->wait(10);
    row.memcpy_s = memcpy_seconds(w.weight_bytes, n);
    rows.push_back(row);
  }
  learner.stop(SIGTERM, 20);
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  rlvr::tools::ensure_thread_env(argv);
  Params p;
  p.rlvr = (fs::path(argv[0]).parent_path() / "rlvr").string();
  p.self = fs::absolute(argv[0]).string();
  std::string models = std::string(RLVR_SOURCE_DIR) + "/configs/bench/small.json," +
                       RLVR_SOURCE_DIR + "/configs/bench/tiny.json";
  std::string clients = "1,2,4,8", modes = "plain,curve", variants = "baseline,current", probe_config;
  bool probe = false, fresh_buffer = false;
  int64_t probe_id = 0;
  CLI::App app("Weights publish time from one learner to N fetch clients (issue 16, item 2)");
  app.add_option("--models", models, "Comma-separated model config.json files");
  app.add_option("--clients", clients, "Comma-separated client counts");
  app.add_option("--modes", modes, "Comma-separated transports: plain, curve");
  app.add_option("--variants", variants,
                 "Comma-separated: baseline (one ZeroMQ I/O thread, a fresh client buffer per version), "
                 "current (learner.io_threads auto, the buffer reused as the actor does)");
  app.add_option("--repeats", p.repeats, "Rounds per client count")->check(CLI::Range(1, 100));
  app.add_option("--window", p.window, "Chunk requests in flight per client (the actor's: 4)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--chunk-bytes", p.chunk_bytes, "learner.weight_chunk_bytes")
      ->check(CLI::Range(4096, 64 << 20));
  app.add_option("--out", p.out,
                 "Working directory (default: a fresh temp dir, removed unless --keep)");
  app.add_option("--json", p.json_out, "Also write the results as JSON to this file");
  app.add_option("--rlvr", p.rlvr, "The rlvr binary");
  app.add_flag("--keep", p.keep, "Keep the working directory");
  app.add_flag("--probe", probe, "(internal) run one fetch client");
  app.add_option("--config", probe_config, "(internal, --probe) the learner's config");
  app.add_option("--id", probe_id, "(internal, --probe) actor id");
  app.add_flag("--fresh-buffer", fresh_buffer, "(internal, --probe) a new buffer per version");
  CLI11_PARSE(app, argc, argv);
  try {
    if (probe) return probe_main(probe_config, probe_id, p.window, fresh_buffer);
    rlvr::core::init_logging("warn");
    p.models = split(models, ',');
    p.modes = split(modes, ',');
    p.variants = split(variants, ',');
    for (const auto& v : p.variants)
      RLVR_CHECK(v == "baseline" || v == "current", "--variants: '{}'; expected baseline or current", v);
    p.clients.clear();
    for (const auto& c : split(clients, ',')) p.clients.push_back(std::stoll(c));
    for (const auto& m : p.modes)
      RLVR_CHECK(m == "plain" || m == "curve", "--modes: '{}'; expected plain or curve", m);
    bool temp = false;
    if (p.out.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "rlvr-bench-publish-XXXXXX").string();
      RLVR_CHECK(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
      p.out = tmpl;
      temp = true;
    }
    fs::create_directories(p.out);
    std::vector<Row> all;
    int64_t next_id = 0;
    for (const auto& model : p.models) {
      const std::string name = fs::path(model).stem().string();
      World w = build_world(model, p.out + "/" + name);
      w.name = name;
      std::printf("model %s: %lld parameters, %.1f MB of F32 weights, %lld chunks of %lld bytes\n",
                  name.c_str(), static_cast<long long>(w.parameters), w.weight_bytes / 1e6,
                  static_cast<long long>((w.weight_bytes + p.chunk_bytes - 1) / p.chunk_bytes),
                  static_cast<long long>(p.chunk_bytes));
      std::fflush(stdout);
      for (const auto& mode : p.modes) {
        for (const auto& variant : p.variants) {
          auto rows = run_mode(p, w, p.out + "/" + name + "-" + mode + "-" + variant, mode, variant, next_id);
          all.insert(all.end(), rows.begin(), rows.end());
        }
      }
    }

    std::printf(
        "\ncores: %u; clients are processes on this machine (tcp://127.0.0.1), %lld requests in "
        "flight each\n",
        std::thread::hardware_concurrency(), static_cast<long long>(p.window));
    std::printf(
        "| model | transport | variant | N | s median (min-max) | learner sent per round (TCP / messages) | "
        "aggregate MB/s | "
        "CPU s per round: learner / clients | memcpy of N x weights | N x (N=1 median) | t(N) / "
        "t(1) | first fetch s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    json out = json::array();
    std::map<std::tuple<std::string, std::string, std::string>, double> t1;
    for (const auto& row : all) {
      std::vector<double> s, cpu, ccpu;
      int64_t tcp = 0, msg = 0;
      for (const auto& r : row.rounds) {
        s.push_back(r.seconds);
        cpu.push_back(r.learner_cpu_s);
        ccpu.push_back(r.clients_cpu_s);
        tcp = std::max(tcp, r.tcp_bytes);
        msg = std::max(msg, r.message_bytes);
      }
      const double med = median(s);
      const auto key = std::make_tuple(row.model, row.mode, row.variant);
      if (row.clients == 1) t1[key] = med;
      const double one = t1.count(key) ? t1[key] : 0;
      const double mbs =
          static_cast<double>(row.clients * row.weight_bytes) / 1e6 / std::max(1e-9, med);
      std::printf(
          "| %s | %s | %s | %lld | %.3f (%.3f-%.3f) | %.1f MB / %.1f MB | %.0f | %.2f / %.2f | %.1f ms "
          "(%.0f MB/s) | %s | %s | %.3f |\n",
          row.model.c_str(), row.mode.c_str(), row.variant.c_str(), static_cast<long long>(row.clients), med,
          *std::min_element(s.begin(), s.end()), *std::max_element(s.begin(), s.end()), tcp / 1e6,
          msg / 1e6, mbs, median(cpu), median(ccpu), 1e3 * row.memcpy_s,
          static_cast<double>(row.clients * row.weight_bytes) / 1e6 / std::max(1e-9, row.memcpy_s),
          one > 0 ? fmt::format("{:.3f}", one * static_cast<double>(row.clients)).c_str() : "-",
          one > 0 ? fmt::format("{:.2f}", med / one).c_str() : "-", row.first.seconds);
      out.push_back({{"model", row.model},
                     {"transport", row.mode},
                     {"variant", row.variant},
                     {"clients", row.clients},
                     {"weight_bytes", row.weight_bytes},
                     {"seconds", s},
                     {"seconds_median", med},
                     {"first_fetch_seconds", row.first.seconds},
                     {"learner_cpu_s", cpu},
                     {"clients_cpu_s", ccpu},
                     {"tcp_bytes_per_round", tcp},
                     {"message_bytes_per_round", msg},
                     {"aggregate_mb_per_s", mbs},
                     {"memcpy_s", row.memcpy_s}});
    }
    // t = a + b N over the medians, per model and transport.
    std::printf("\nleast-squares fit of the medians, t(N) = a + b N:\n");
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<std::pair<double, double>>> pts;
    for (const auto& row : all) {
      std::vector<double> s;
      for (const auto& r : row.rounds) s.push_back(r.seconds);
      pts[{row.model, row.mode, row.variant}].push_back({static_cast<double>(row.clients), median(s)});
    }
    for (const auto& [key, v] : pts) {
      double sx = 0, sy = 0, sxx = 0, sxy = 0;
      for (const auto& [x, y] : v) sx += x, sy += y, sxx += x * x, sxy += x * y;
      const double k = static_cast<double>(v.size());
      const double b = v.size() > 1 ? (k * sxy - sx * sy) / std::max(1e-12, k * sxx - sx * sx) : 0;
      const double a = (sy - b * sx) / k;
      double ss_res = 0, ss_tot = 0;
      for (const auto& [x, y] : v)
        ss_res += std::pow(y - (a + b * x), 2), ss_tot += std::pow(y - sy / k, 2);
      std::printf("  %s %s %s: a = %.3f s, b = %.3f s per client, R^2 = %.3f\n", std::get<0>(key).c_str(),
                  std::get<1>(key).c_str(), std::get<2>(key).c_str(), a, b, ss_tot > 0 ? 1 - ss_res / ss_tot : 1.0);
    }
    if (!p.json_out.empty()) rlvr::core::write_file_atomic(p.json_out, out.dump(2) + "\n");
    if (temp && !p.keep) {
      std::error_code ec;
      fs::remove_all(p.out, ec);
    } else {
      std::printf("runs kept in %s\n", p.out.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_publish: %s\n", e.what());
    return 1;
  }
}
