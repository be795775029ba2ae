// The ZeroMQ side of the wire protocol: one socket wrapper for the learner's ROUTER and the actors'
// DEALERs, with the socket options STYLE 21-25 and ASYNC-LESSONS ask for (linger 0, maximum message
// size, mandatory routing, immediate, ZMTP heartbeats), non-blocking sends and bounded receives.
// Messages are encoded/decoded with core/protocol/protocol.h; a received message that does not
// decode is returned as an error naming the peer and the field, never thrown.
//
// Thread-safety: a Socket is owned by one thread (ZeroMQ sockets are not thread-safe); the
// Context may be shared. Not copyable. zmq.hpp stays out of this header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/protocol/protocol.h"

namespace rlvr::core::protocol {

// One per process (wraps zmq::context_t). Thread-safe. `io_threads` (>= 1) is ZeroMQ's I/O thread
// count: each connection's encoding, CURVE encryption and TCP sends run on one of them, so a
// learner serving many actors spreads that work over the cores (learner.io_threads).
class Context {
 public:
  explicit Context(int io_threads = 1);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  friend class Socket;
  friend class Authenticator;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// CURVE encryption and authentication of a socket (docs/SECURITY.md); keys are Z85 text
// (core/protocol/security.h). Default (empty secret_key): plain ZMTP, no authentication.
struct CurveOptions {
  std::string secret_key;  // this side's secret key
  std::string public_key;  // this side's public key
  std::string server_key;  // DEALER only: the learner's public key
  bool enabled() const { return !secret_key.empty(); }
};

struct SocketOptions {
  int64_t max_message_bytes = 256ll << 20;  // ZMQ_MAXMSGSIZE: larger messages are refused by libzmq
  int64_t heartbeat_ms = 1000;              // ZMQ_HEARTBEAT_IVL (ZMTP level; the application has its own)
  int64_t heartbeat_timeout_ms = 10000;     // ZMQ_HEARTBEAT_TIMEOUT
  int64_t send_hwm = 10000;                 // queued outgoing messages per peer before sends would block
  std::string routing_id;                   // DEALER: its identity at the ROUTER
  CurveOptions curve;                       // ROUTER: CURVE server (needs an Authenticator); DEALER: client
};

// A received message: the peer (ROUTER identity; empty on a DEALER), the decoded message or the
// decode error, and the byte size.
struct Received {
  std::string peer;
  DecodeResult result;
  size_t bytes = 0;
};

class Socket {
 public:
  // The learner's socket. Throws rlvr::Error naming the endpoint when it cannot bind.
  static Socket bind_router(Context& ctx, const std::string& endpoint, const SocketOptions& options);
  // An actor's socket (connects in the background; messages queue only for a connected peer).
  // Throws rlvr::Error for a malformed endpoint.
  static Socket connect_dealer(Context& ctx, const std::string& endpoint, const SocketOptions& options);
  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  ~Socket();

  // Sends `m` (ROUTER: to `peer`). Never blocks: returns false when the message cannot be queued
  // now (the peer is unknown or gone, or its queue is full); the caller decides what that means.
  bool send(const Message& m, const std::string& peer = {});
  // Sends a WEIGHTS_CHUNK whose data is bytes [offset, offset + size) of `buffer` without copying
  // them (the buffer is kept alive until libzmq has sent them).
  bool send_chunk(const Message& head, std::shared_ptr<const std::string> buffer, uint64_t offset, uint64_t size,
                  const std::string& peer = {});
  // Waits up to `timeout_ms` (0: just checks) for one message. nullopt: nothing arrived.
  std::optional<Received> receive(int64_t timeout_ms, const ProtocolLimits& limits);

  // Closes the socket, letting libzmq deliver what is queued for at most `linger_ms` (a
  // goodbye such as SHUTDOWN); the destructor closes with linger 0.
  void close(int64_t linger_ms);

  const std::string& endpoint() const;
  // The address libzmq bound or connected last (ZMQ_LAST_ENDPOINT): tcp://127.0.0.1:* becomes the
  // port the system chose.
  std::string bound_endpoint() const;

  // DEALER with CURVE: why the last handshake with the learner failed (the learner refused this
  // key, or the two sides' keys do not match), from libzmq's socket monitor; nullopt when no
  // handshake failed since the last call. Never blocks.
  std::optional<std::string> handshake_failure();

 private:
  struct Impl;
  explicit Socket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The learner's ZAP handler (ZeroMQ RFC 27): while it exists, a CURVE client may finish its
// handshake with any CURVE ROUTER of `ctx` only when its public key is one of `allowed` (Z85).
// Each refusal is logged (peer address and the key's first characters) and counted. Create it
// before the ROUTER binds and destroy it after the ROUTER closes, before `ctx`.
// Thread-safe (counters are atomic); owns one thread. Not copyable.
class Authenticator {
 public:
  // Throws rlvr::Error when another handler is bound in `ctx`.
  Authenticator(Context& ctx, const std::vector<std::string>& allowed);
  ~Authenticator();
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  int64_t accepted() const;  // handshakes allowed so far
  int64_t rejected() const;  // handshakes refused so far (unknown key or not CURVE)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The endpoint's host is loopback (tcp://127.0.0.1, tcp://localhost, tcp://[::1], ipc://, inproc://).
bool is_loopback_endpoint(const std::string& endpoint);

}  // namespace rlvr::core::protocol
