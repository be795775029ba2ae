// CURVE key files (see security.h).
#include "core/protocol/security.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <zmq.h>

#include "core/config/config.h"
#include "core/error.h"
#include "core/fs.h"

namespace rlvr::core::protocol {
namespace {

namespace fs = std::filesystem;

constexpr const char* kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// The one key of a key file (its first line, trimmed).
std::string key_of_file(const std::string& path, const std::string& field, const char* what) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", field, e.what()), "create keys with `rlvr keys generate --out DIR`");
  }
  const std::string key = trim(text.substr(0, text.find('\n')));
  if (!is_z85_key(key)) {
    throw Error(fmt::format("{}: {}:1: expected a {} CURVE key (40 Z85 characters, as `rlvr keys generate` "
                            "writes), got {} characters",
                            field, path, what, key.size()));
  }
  return key;
}

// Writes `text` to `path` through a temp file created with `mode`, fsynced and renamed in place.
void write_with_mode(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  RLVR_CHECK(fd >= 0, "{}: cannot create: {}", tmp, std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("{}: cannot write: {}", path, std::strerror(e)));
  }
}

}  // namespace

bool is_z85_key(const std::string& text) {
  return text.size() == 40 && text.find_first_not_of(kZ85Alphabet) == std::string::npos;
}

std::string key_tag(const std::string& z85) { return z85.substr(0, std::min<size_t>(8, z85.size())) + "..."; }

CurveKeyPair generate_curve_keypair() {
  char pub[41] = {0}, sec[41] = {0};
  if (zmq_curve_keypair(pub, sec) != 0) {
    throw Error(fmt::format("cannot generate a CURVE key pair: {}", zmq_strerror(zmq_errno())),
                "this libzmq was built without libsodium/CURVE support");
  }
  return {pub, sec};
}

std::pair<std::string, std::string> write_curve_keypair(const CurveKeyPair& keys, const std::string& dir,
                                                        const std::string& name, bool overwrite) {
  RLVR_CHECK(is_z85_key(keys.public_key) && is_z85_key(keys.secret_key), "write_curve_keypair: malformed key");
  RLVR_CHECK(!name.empty() && name.find('/') == std::string::npos && name[0] != '.',
             "--name '{}': expected a plain file name (no '/', not starting with '.')", name);
  std::error_code ec;
  fs::create_directories(dir, ec);
  RLVR_CHECK(!ec, "{}: cannot create the directory: {}", dir, ec.message());
  const std::string pub = (fs::path(dir) / (name + ".public")).string();
  const std::string sec = (fs::path(dir) / (name + ".secret")).string();
  if (!overwrite) {
    for (const auto& p : {pub, sec}) {
      if (fs::exists(p)) {
        throw Error(fmt::format("{}: exists; refusing to replace a key (peers may trust it)", p),
                    "choose another --name or --out, or pass --force");
      }
    }
  }
  write_with_mode(sec, keys.secret_key + "\n", 0600);
  write_with_mode(pub, keys.public_key + "\n", 0644);
  return {pub, sec};
}

std::string read_public_key(const std::string& path, const std::string& field) {
  RLVR_CHECK(!path.empty(), "{}: expected the path of a key file", field);
  if (path.size() > 7 && path.compare(path.size() - 7, 7, ".secret") == 0) {
    return read_secret_key(path, field).public_key;
  }
  return key_of_file(path, field, "public");
}

CurveKeyPair read_secret_key(const std::string& path, const std::string& field) {
  RLVR_CHECK(!path.empty(), "{}: expected the path of a secret key file", field);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    throw Error(fmt::format("{}: {}: the secret key may be read by other users (mode {:04o}); refusing to use it",
                            field, path, st.st_mode & 07777),
                fmt::format("chmod 600 {}", path));
  }
  CurveKeyPair keys;
  keys.secret_key = key_of_file(path, field, "secret");
  char pub[41] = {0};
  if (zmq_curve_public(pub, keys.secret_key.c_str()) != 0) {
    throw Error(fmt::format("{}: {}: not a valid CURVE secret key: {}", field, path, zmq_strerror(zmq_errno())));
  }
  keys.public_key = pub;
  return keys;
}

std::vector<std::string> read_authorized_keys(const std::string& path, const std::string& field) {
  RLVR_CHECK(!path.empty(), "{}: expected a file of actor public keys (one per line) or a directory of *.public files",
             field);
  std::vector<std::string> keys;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      if (e.path().extension() == ".public") files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) keys.push_back(key_of_file(f, field, "public"));
    if (keys.empty()) {
      throw Error(fmt::format("{}: {}: the directory holds no *.public key file; the learner would accept no actor",
                              field, path),
                  "copy each actor's <name>.public there (`rlvr keys generate` on the actor's machine)");
    }
    return keys;
  }
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", field, e.what()));
  }
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const std::string key = line.substr(0, line.find_first_of(" \t"));
    if (!is_z85_key(key)) {
      throw Error(fmt::format("{}: {}:{}: expected a public CURVE key (40 Z85 characters) at the start of the line, "
                              "got '{}'",
                              field, path, line_no, key.substr(0, 48)));
    }
    keys.push_back(key);
  }
  if (keys.empty()) {
    throw Error(fmt::format("{}: {}: no key in the file; the learner would accept no actor", field, path),
                "add one actor public key per line (the contents of its <name>.public)");
  }
  return keys;
}

namespace {

// A plain transport is allowed on loopback only (unless security.require_on_loopback).
void check_plain_allowed(const Config& config, const std::string& endpoint, const char* role, const char* keys) {
  const bool loopback = is_loopback_endpoint(endpoint);
  if (loopback && !config.security.require_on_loopback) return;
  throw Error(fmt::format("{}: endpoint {} {}; refusing a plain transport, where anyone who can reach it could {}; "
                          "set {}",
                          role, endpoint,
                          loopback ? "is loopback but security.require_on_loopback is true" : "is not loopback",
                          std::string(role) == "learner" ? "push rollouts that become gradients"
                                                         : "send weights this actor would run",
                          keys),
              "create keys with `rlvr keys generate --out DIR --name NAME` (docs/SECURITY.md)");
}

}  // namespace

LearnerSecurity learner_security(const Config& config, const std::string& endpoint) {
  const auto& sc = config.security;
  LearnerSecurity out;
  if (sc.server_secret_key.empty()) {
    check_plain_allowed(config, endpoint, "learner", "security.server_secret_key and security.authorized_keys");
    return out;
  }
  const CurveKeyPair keys = read_secret_key(sc.server_secret_key, "security.server_secret_key");
  out.curve.secret_key = keys.secret_key;
  out.curve.public_key = keys.public_key;
  if (sc.authorized_keys.empty()) {
    throw Error("security.authorized_keys: empty; with security.server_secret_key the learner needs the public keys "
                "of the actors it accepts",
                "a file with one actor public key per line, or a directory of their *.public files");
  }
  out.authorized = read_authorized_keys(sc.authorized_keys, "security.authorized_keys");
  return out;
}

CurveOptions actor_security(const Config& config, const std::string& endpoint) {
  const auto& sc = config.security;
  CurveOptions out;
  if (sc.server_public_key.empty()) {
    check_plain_allowed(config, endpoint, "actor", "security.server_public_key and security.client_secret_key");
    return out;
  }
  out.server_key = read_public_key(sc.server_public_key, "security.server_public_key");
  if (sc.client_secret_key.empty()) {
    throw Error("security.client_secret_key: empty; with security.server_public_key the actor needs a key of its own",
                "`rlvr keys generate --out DIR --name actor`, then add DIR/actor.public to the learner's "
                "security.authorized_keys");
  }
  const CurveKeyPair keys = read_secret_key(sc.client_secret_key, "security.client_secret_key");
  out.secret_key = keys.secret_key;
  out.public_key = keys.public_key;
  return out;
}

}  // namespace rlvr::core::protocol
