// ZeroMQ sockets for the wire protocol (see transport.h).
#include "core/protocol/transport.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/protocol/security.h"

namespace rlvr::core::protocol {

struct Context::Impl {
  explicit Impl(int io_threads) : ctx(std::max(1, io_threads)) {}
  zmq::context_t ctx;
};

Context::Context(int io_threads) : impl_(std::make_unique<Impl>(io_threads)) {}
Context::~Context() = default;

struct Socket::Impl {
  Impl(zmq::context_t& ctx, zmq::socket_type type, bool is_router) : socket(ctx, type), router(is_router) {}
  zmq::socket_t socket;
  bool router = false;
  std::string endpoint;
  // DEALER with CURVE: a PAIR socket receiving the handshake-failure events of `socket`
  // (destroyed before it).
  std::optional<zmq::socket_t> monitor;
};

namespace {

void apply_common(zmq::socket_t& s, const SocketOptions& o) {
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
  s.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(o.heartbeat_ms));
  s.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(o.heartbeat_timeout_ms));
  s.set(zmq::sockopt::heartbeat_ttl, static_cast<int>(o.heartbeat_timeout_ms));
  s.set(zmq::sockopt::sndhwm, static_cast<int>(o.send_hwm));
  s.set(zmq::sockopt::rcvhwm, static_cast<int>(o.send_hwm));
}

// Frees the chunk data's owner once libzmq has sent it (may run on libzmq's I/O thread).
void release_buffer(void* /*data*/, void* hint) { delete static_cast<std::shared_ptr<const std::string>*>(hint); }

}  // namespace

Socket::Socket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

const std::string& Socket::endpoint() const { return impl_->endpoint; }

std::string Socket::bound_endpoint() const { return impl_->socket.get(zmq::sockopt::last_endpoint); }

void Socket::close(int64_t linger_ms) {
  if (!impl_ || !impl_->socket) return;
  try {
    impl_->socket.set(zmq::sockopt::linger, static_cast<int>(linger_ms));
  } catch (const zmq::error_t&) {
  }
  impl_->socket.close();
}

Socket Socket::bind_router(Context& ctx, const std::string& endpoint, const SocketOptions& options) {
  auto impl = std::make_unique<Impl>(ctx.impl_->ctx, zmq::socket_type::router, true);
  try {
    apply_common(impl->socket, options);
    // A send to a peer that is gone fails (EHOSTUNREACH) instead of being dropped silently.
    impl->socket.set(zmq::sockopt::router_mandatory, 1);
    if (options.curve.enabled()) {
      impl->socket.set(zmq::sockopt::curve_server, 1);
      impl->socket.set(zmq::sockopt::curve_secretkey, options.curve.secret_key);
      impl->socket.set(zmq::sockopt::zap_domain, "rlvr");
    }
    impl->socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw Error(fmt::format("learner.endpoint {}: cannot bind: {}", endpoint, e.what()),
                "another learner may be running on it; choose another port with --set learner.endpoint=...");
  }
  impl->endpoint = endpoint;
  return Socket(std::move(impl));
}

Socket Socket::connect_dealer(Context& ctx, const std::string& endpoint, const SocketOptions& options) {
  auto impl = std::make_unique<Impl>(ctx.impl_->ctx, zmq::socket_type::dealer, false);
  try {
    apply_common(impl->socket, options);
    if (!options.routing_id.empty()) impl->socket.set(zmq::sockopt::routing_id, options.routing_id);
    impl->socket.set(zmq::sockopt::immediate, 1);  // queue only for a completed connection
    impl->socket.set(zmq::sockopt::reconnect_ivl, 100);
    impl->socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
    if (options.curve.enabled()) {
      impl->socket.set(zmq::sockopt::curve_serverkey, options.curve.server_key);
      impl->socket.set(zmq::sockopt::curve_publickey, options.curve.public_key);
      impl->socket.set(zmq::sockopt::curve_secretkey, options.curve.secret_key);
      const std::string monitor = fmt::format("inproc://rlvr-monitor-{}", static_cast<const void*>(impl.get()));
      if (zmq_socket_monitor(impl->socket.handle(), monitor.c_str(),
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0) {
        throw zmq::error_t();
      }
      impl->monitor.emplace(ctx.impl_->ctx, zmq::socket_type::pair);
      impl->monitor->set(zmq::sockopt::linger, 0);
      impl->monitor->connect(monitor);
    }
    impl->socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw Error(fmt::format("learner endpoint {}: cannot connect: {}", endpoint, e.what()),
                "expected an endpoint like tcp://host:port");
  }
  impl->endpoint = endpoint;
  return Socket(std::move(impl));
}

namespace {

// Sends the frames (after the identity frame on a ROUTER) without blocking; false when they could
// not be queued (unknown/gone peer, full queue).
bool send_frames(zmq::socket_t& s, bool router, const std::string& peer, std::vector<zmq::message_t>& frames) {
  try {
    if (router) {
      if (!s.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
    }
    for (size_t i = 0; i < frames.size(); ++i) {
      auto flags = zmq::send_flags::dontwait;
      if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
      if (!s.send(frames[i], flags)) return false;
    }
    return true;
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH (router_mandatory) and the like: the peer is not there
  }
}

}  // namespace

bool Socket::send(const Message& m, const std::string& peer) {
  std::vector<std::string> parts = encode(m);
  std::vector<zmq::message_t> frames;
  frames.reserve(parts.size());
  for (auto& p : parts) frames.emplace_back(p.data(), p.size());
  return send_frames(impl_->socket, impl_->router, peer, frames);
}

bool Socket::send_chunk(const Message& head, std::shared_ptr<const std::string> buffer, uint64_t offset, uint64_t size,
                        const std::string& peer) {
  RLVR_ASSERT(buffer && offset + size <= buffer->size());
  std::vector<std::string> parts = encode_head(head);
  std::vector<zmq::message_t> frames;
  for (auto& p : parts) frames.emplace_back(p.data(), p.size());
  auto* hint = new std::shared_ptr<const std::string>(std::move(buffer));
  frames.emplace_back(const_cast<char*>((*hint)->data()) + offset, size, &release_buffer, hint);
  return send_frames(impl_->socket, impl_->router, peer, frames);
}

std::optional<Received> Socket::receive(int64_t timeout_ms, const ProtocolLimits& limits) {
  zmq::pollitem_t item{impl_->socket.handle(), 0, ZMQ_POLLIN, 0};
  try {
    if (zmq::poll(&item, 1, std::chrono::milliseconds(timeout_ms)) <= 0) return std::nullopt;
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return std::nullopt;
    throw Error(fmt::format("{}: poll failed: {}", impl_->endpoint, e.what()));
  }
  // Read every part of one message (a peer may send any number of parts; keep at most a few).
  std::vector<zmq::message_t> parts;
  size_t extra = 0;
  while (true) {
    zmq::message_t msg;
    auto got = impl_->socket.recv(msg, zmq::recv_flags::dontwait);
    if (!got) break;
    const bool more = msg.more();
    if (parts.size() < 6) {
      parts.push_back(std::move(msg));
    } else {
      ++extra;
    }
    if (!more) break;
  }
  if (parts.empty()) return std::nullopt;
  Received r;
  size_t first = 0;
  if (impl_->router) {
    r.peer = parts[0].to_string();
    first = 1;
  }
  std::vector<std::string_view> frames;
  for (size_t i = first; i < parts.size(); ++i) {
    frames.emplace_back(static_cast<const char*>(parts[i].data()), parts[i].size());
    r.bytes += parts[i].size();
  }
  if (extra > 0) {
    r.result.error.field = "frames";
    r.result.error.problem = fmt::format("{} frames; expected at most 3", frames.size() + extra);
    return r;
  }
  r.result = decode(frames, limits);
  return r;
}

std::optional<std::string> Socket::handshake_failure() {
  if (!impl_ || !impl_->monitor) return std::nullopt;
  std::optional<std::string> out;
  while (true) {
    zmq::message_t head, address;
    if (!impl_->monitor->recv(head, zmq::recv_flags::dontwait)) break;
    if (head.more()) (void)impl_->monitor->recv(address, zmq::recv_flags::dontwait);
    if (head.size() < 6) continue;
    uint16_t event = 0;
    uint32_t value = 0;
    std::memcpy(&event, head.data(), 2);
    std::memcpy(&value, static_cast<const char*>(head.data()) + 2, 4);
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      out = fmt::format("the learner at {} refused this actor's CURVE key (ZAP status {})", impl_->endpoint, value);
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      out = fmt::format("the CURVE handshake with the learner at {} failed (libzmq event {}, code {:#x}): the "
                        "learner may not use CURVE, or its public key differs from security.server_public_key",
                        impl_->endpoint, event, value);
    }
  }
  return out;
}

// --- Authenticator ---

struct Authenticator::Impl {
  Impl(zmq::context_t& ctx, const std::vector<std::string>& keys) : socket(ctx, zmq::socket_type::rep) {
    for (const auto& k : keys) allowed.insert(k);
    socket.set(zmq::sockopt::linger, 0);
    try {
      socket.bind("inproc://zeromq.zap.01");
    } catch (const zmq::error_t& e) {
      throw Error(fmt::format("cannot start the CURVE authenticator: {}", e.what()));
    }
    thread = std::thread([this] { run(); });
  }
  ~Impl() {
    stop = true;
    if (thread.joinable()) thread.join();
  }

  void run() {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    while (!stop) {
      try {
        if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
        std::vector<zmq::message_t> frames;
        while (true) {
          zmq::message_t m;
          if (!socket.recv(m, zmq::recv_flags::dontwait)) break;
          const bool more = m.more();
          if (frames.size() < 16) frames.push_back(std::move(m));
          if (!more) break;
        }
        reply(frames);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) return;
        if (e.num() != EINTR) RLVR_LOG_WARN("CURVE authenticator: {}", e.what());
      }
    }
  }

  // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
  void reply(const std::vector<zmq::message_t>& f) {
    std::string request_id = f.size() > 1 ? f[1].to_string() : std::string();
    const std::string address = f.size() > 3 ? f[3].to_string() : "?";
    const std::string mechanism = f.size() > 5 ? f[5].to_string() : "?";
    bool ok = false;
    std::string why;
    if (f.size() < 6 || f[0].to_string() != "1.0") {
      why = "a malformed ZAP request";
    } else if (mechanism != "CURVE" || f.size() < 7 || f[6].size() != 32) {
      why = fmt::format("mechanism {} (expected CURVE)", mechanism);
    } else {
      char z85[41] = {0};
      zmq_z85_encode(z85, static_cast<const uint8_t*>(f[6].data()), 32);
      ok = allowed.count(z85) > 0;
      if (!ok) why = fmt::format("CURVE key {} is not in security.authorized_keys", key_tag(z85));
    }
    if (ok) {
      ++accepted;
    } else {
      const int64_t n = ++rejected;
      // Logged, but a stranger retrying in a loop cannot flood the log.
      if (n <= 20 || n % 1000 == 0) {
        RLVR_LOG_WARN("refused a connection from {}: {} (refusal {})", address, why, n);
      }
    }
    const std::string status = ok ? "200" : "400";
    const std::string text = ok ? "OK" : why;
    socket.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(status), zmq::send_flags::sndmore);
    socket.send(zmq::buffer(text), zmq::send_flags::sndmore);
    socket.send(zmq::str_buffer(""), zmq::send_flags::sndmore);  // user id
    socket.send(zmq::str_buffer(""), zmq::send_flags::none);     // metadata
  }

  zmq::socket_t socket;
  std::set<std::string> allowed;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> accepted{0}, rejected{0};
  std::thread thread;
};

Authenticator::Authenticator(Context& ctx, const std::vector<std::string>& allowed)
    : impl_(std::make_unique<Impl>(ctx.impl_->ctx, allowed)) {}
Authenticator::~Authenticator() = default;
int64_t Authenticator::accepted() const { return impl_->accepted; }
int64_t Authenticator::rejected() const { return impl_->rejected; }

bool is_loopback_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  for (const char* p : {"tcp://127.", "tcp://localhost:", "tcp://[::1]:"}) {
    if (endpoint.rfind(p, 0) == 0) return true;
  }
  return false;
}

}  // namespace rlvr::core::protocol
