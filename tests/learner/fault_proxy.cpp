// fault_proxy: a byte-for-byte TCP proxy on loopback for the fault-injection tests
// (tests/learner/rl_faults_itest.cpp). An actor connects to the proxy instead of the learner;
// the proxy opens one upstream connection per client connection and copies bytes both ways.
//
//   fault_proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT [--port-file FILE]
//               [--stall-after BYTES]
//
// Faults it can inject:
//   * a network cut: SIGSTOP the proxy, SIGCONT it later. Nothing is forwarded meanwhile; the
//     kernel keeps accepting and queuing bytes until the socket buffers fill, as a link that
//     drops every packet would look to both ends (no FIN, no RST). The bytes queued during the
//     cut are delivered after SIGCONT.
//   * a stalled transfer: with --stall-after BYTES, the first connection that has carried BYTES
//     from upstream to the client stops forwarding in both directions (one-shot: connections
//     accepted later are not affected). It stays open until either end closes it, or SIGUSR1
//     resumes every stalled connection.
//
// Events, one line each on stdout, flushed at once (the tests wait for them):
//   listening PORT              once bound (and PORT written to --port-file, atomically)
//   accepted N                  client connection N (1, 2, ...) and its upstream are open
//   stalled N after B bytes     connection N stopped forwarding after B upstream->client bytes
//   closed N (REASON)           connection N is gone (both sockets closed)
// Errors (bad flags, cannot bind) go to stderr with exit status 2. Runs until killed.
//
// Single-threaded: one poll() loop over non-blocking sockets; at most 1 MiB is buffered per
// direction (reading stops while the buffer is full, so a slow reader backs up to its writer).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <list>
#include <string>
#include <vector>

namespace {

constexpr size_t kMaxBuffered = 1 << 20;

volatile sig_atomic_t g_resume = 0;
void on_usr1(int) { g_resume = 1; }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fault_proxy: %s\n", what.c_str());
  std::exit(2);
}

void event(const std::string& line) {
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

// "HOST:PORT" with a numeric IPv4 host.
sockaddr_in parse_address(const std::string& flag, const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos)
    die(flag + " " + text + ": expected HOST:PORT, e.g. 127.0.0.1:5555");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (::inet_pton(AF_INET, text.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    die(flag + " " + text + ": host is not a numeric IPv4 address");
  }
  char* end = nullptr;
  const long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (end == text.c_str() + colon + 1 || *end != '\0' || port < 0 || port > 65535) {
    die(flag + " " + text + ": port is not a number in [0, 65535]");
  }
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct Connection {
  int id = 0;
  int client = -1, upstream = -1;
  std::string to_client, to_upstream;  // bytes read, not yet written
  uint64_t downstream_bytes = 0;       // upstream -> client, forwarded
  bool stalled = false;
};

void close_connection(Connection& c, const std::string& why) {
  if (c.client >= 0) ::close(c.client);
  if (c.upstream >= 0) ::close(c.upstream);
  c.client = c.upstream = -1;
  event("closed " + std::to_string(c.id) + " (" + why + ")");
}

// Reads what `from` has into `buffer` (up to the cap). False when the peer closed or failed.
bool read_into(int from, std::string& buffer, std::string* why) {
  char chunk[65536];
  while (buffer.size() < kMaxBuffered) {
    const ssize_t n = ::read(from, chunk, std::min(sizeof(chunk), kMaxBuffered - buffer.size()));
    if (n > 0) {
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      *why = "end of stream";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    *why = std::strerror(errno);
    return false;
  }
  return true;
}

// Writes as much of `buffer` as `to` takes; returns the bytes written, or -1 when it failed.
int64_t write_from(int to, std::string& buffer, std::string* why) {
  int64_t total = 0;
  while (!buffer.empty()) {
    const ssize_t n = ::send(to, buffer.data(), buffer.size(), MSG_NOSIGNAL);
    if (n > 0) {
      buffer.erase(0, static_cast<size_t>(n));
      total += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    *why = std::strerror(errno);
    return -1;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_text, upstream_text, port_file;
  uint64_t stall_after = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) die(flag + ": expected a value");
    const std::string value = argv[++i];
    if (flag == "--listen") {
      listen_text = value;
    } else if (flag == "--upstream") {
      upstream_text = value;
    } else if (flag == "--port-file") {
      port_file = value;
    } else if (flag == "--stall-after") {
      char* end = nullptr;
      stall_after = std::strtoull(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || stall_after == 0)
        die("--stall-after " + value + ": expected bytes > 0");
    } else {
      die("unknown flag " + flag +
          "; usage: fault_proxy --listen HOST:PORT --upstream HOST:PORT [--port-file FILE] "
          "[--stall-after BYTES]");
    }
  }
  if (listen_text.empty() || upstream_text.empty()) die("--listen and --upstream are required");
  const sockaddr_in listen_addr = parse_address("--listen", listen_text);
  const sockaddr_in upstream_addr = parse_address("--upstream", upstream_text);

  struct sigaction sa {};
  sa.sa_handler = &on_usr1;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGUSR1, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&listen_addr), sizeof(listen_addr)) != 0) {
    die("--listen " + listen_text + ": cannot bind: " + std::strerror(errno));
  }
  if (::listen(listener, 64) != 0) die(std::string("listen: ") + std::strerror(errno));
  set_nonblocking(listener);
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
  const int port = ntohs(bound.sin_port);
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) die("--port-file " + port_file + ": " + std::strerror(errno));
    std::fprintf(f, "%d\n", port);
    std::fclose(f);
    if (::rename(tmp.c_str(), port_file.c_str()) != 0)
      die("--port-file " + port_file + ": " + std::strerror(errno));
  }
  event("listening " + std::to_string(port));

  std::list<Connection> connections;
  int next_id = 1;
  bool stall_used = false;
  while (true) {
    if (g_resume) {
      g_resume = 0;
      for (auto& c : connections) c.stalled = false;
    }
    // Poll set: the listener, then two entries per connection (client, upstream).
    std::vector<pollfd> fds;
    fds.push_back({listener, POLLIN, 0});
    for (auto& c : connections) {
      short client_events = POLLRDHUP, upstream_events = POLLRDHUP;
      if (!c.stalled) {
        if (c.to_upstream.size() < kMaxBuffered) client_events |= POLLIN;
        if (c.to_client.size() < kMaxBuffered) upstream_events |= POLLIN;
        if (!c.to_client.empty()) client_events |= POLLOUT;
        if (!c.to_upstream.empty()) upstream_events |= POLLOUT;
      }
      fds.push_back({c.client, client_events, 0});
      fds.push_back({c.upstream, upstream_events, 0});
    }
    if (::poll(fds.data(), fds.size(), 100) < 0) {
      if (errno == EINTR) continue;
      die(std::string("poll: ") + std::strerror(errno));
    }
    if (fds[0].revents & POLLIN) {
      while (true) {
        const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (client < 0) break;
        const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (upstream < 0 || ::connect(upstream, reinterpret_cast<const sockaddr*>(&upstream_addr),
                                      sizeof(upstream_addr)) != 0) {
          const std::string why = std::strerror(errno);
          if (upstream >= 0) ::close(upstream);
          ::close(client);
          event("refused " + std::to_string(next_id++) + " (upstream " + upstream_text + ": " +
                why + ")");
          continue;
        }
        set_nonblocking(upstream);
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        ::setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        Connection c;
        c.id = next_id++;
        c.client = client;
        c.upstream = upstream;
        connections.push_back(std::move(c));
        event("accepted " + std::to_string(connections.back().id));
      }
    }
    size_t i = 1;
    for (auto it = connections.begin(); it != connections.end(); i += 2) {
      Connection& c = *it;
      // Connections accepted in this round have no poll entry yet.
      if (i >= fds.size()) break;
      const short ce = fds[i].revents, ue = fds[i + 1].revents;
      std::string why;
      bool alive = true;
      if ((ce | ue) & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) {
        // A stalled connection is not read: a close of either end is noticed here.
        if (c.stalled || ((ce | ue) & (POLLERR | POLLNVAL))) {
          alive = false;
          why =
              (ce & (POLLERR | POLLHUP | POLLRDHUP)) ? "the client closed" : "the upstream closed";
        }
      }
      if (alive && !c.stalled) {
        if ((ce & (POLLIN | POLLRDHUP | POLLHUP)) && !read_into(c.client, c.to_upstream, &why)) {
          alive = false;
          why = "client: " + why;
        }
        if (alive && (ue & (POLLIN | POLLRDHUP | POLLHUP)) &&
            !read_into(c.upstream, c.to_client, &why)) {
          alive = false;
          why = "upstream: " + why;
        }
        if (alive && !c.to_upstream.empty() && write_from(c.upstream, c.to_upstream, &why) < 0) {
          alive = false;
          why = "upstream: " + why;
        }
        if (alive && !c.to_client.empty()) {
          // Forward downstream bytes up to the stall point only, so the stall is exact.
          std::string& buf = c.to_client;
          const bool may_stall = stall_after > 0 && !stall_used;
          std::string rest;
          if (may_stall && c.downstream_bytes + buf.size() > stall_after) {
            const size_t keep = static_cast<size_t>(stall_after - c.downstream_bytes);
            rest = buf.substr(keep);
            buf.resize(keep);
          }
          const int64_t n = write_from(c.client, buf, &why);
          if (n < 0) {
            alive = false;
            why = "client: " + why;
          } else {
            c.downstream_bytes += static_cast<uint64_t>(n);
            buf += rest;
            if (may_stall && c.downstream_bytes >= stall_after) {
              c.stalled = true;
              stall_used = true;
              event("stalled " + std::to_string(c.id) + " after " +
                    std::to_string(c.downstream_bytes) + " bytes");
            }
          }
        }
      }
      if (!alive) {
        close_connection(c, why);
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }
}
