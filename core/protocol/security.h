// CURVE keys for the learner-actor transport (docs/SECURITY.md): generating key pairs, reading
// them back with clear errors, and the list of actor keys a learner accepts.
//
// Key files are ZeroMQ's Z85 text (40 characters, one key per file, a trailing newline):
//   <name>.public   the public key; safe to copy to other machines (mode 0644)
//   <name>.secret   the secret key; written with mode 0600, refused when others may read it
// An authorized-keys list is a file with one Z85 public key per line (text after the key, blank
// lines and lines starting with '#' are comments), or a directory whose *.public files are read.
//
// Thread-safe: no shared state.
#pragma once

#include <string>
#include <vector>

#include "core/protocol/transport.h"

namespace rlvr::core {
struct Config;
}

namespace rlvr::core::protocol {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh key pair from libsodium (zmq_curve_keypair). Throws rlvr::Error when libzmq has no CURVE.
CurveKeyPair generate_curve_keypair();

// Writes <dir>/<name>.public and <dir>/<name>.secret (mode 0600, never world-readable, even
// while being written); creates `dir`. Refuses to replace existing files unless `overwrite`.
// Returns the two paths (public, secret).
std::pair<std::string, std::string> write_curve_keypair(const CurveKeyPair& keys, const std::string& dir,
                                                        const std::string& name, bool overwrite);

// Whether `text` is a well-formed Z85 CURVE key (40 characters of the Z85 alphabet).
bool is_z85_key(const std::string& text);

// A public key file (or, as a convenience, a secret key file: its public half). `field` names the
// config key in messages, e.g. "security.server_public_key".
std::string read_public_key(const std::string& path, const std::string& field);

// A secret key file and the public key derived from it. Refuses a file that the group or others
// may read (mode & 077), like ssh does, naming the chmod that fixes it.
CurveKeyPair read_secret_key(const std::string& path, const std::string& field);

// The keys of an authorized-keys file or directory (see above); errors name file:line. An empty
// list is an error (a learner that accepts nobody is a mistake).
std::vector<std::string> read_authorized_keys(const std::string& path, const std::string& field);

// The first characters of a key, to name it in logs without printing it whole.
std::string key_tag(const std::string& z85);

// What the learner's ROUTER needs: its CURVE options and the authorized actor keys (both empty
// for a plain transport). Throws rlvr::Error, naming the keys to set, when `endpoint` is not
// loopback (or security.require_on_loopback) and security.server_secret_key is empty, or when
// the key files are missing or malformed.
struct LearnerSecurity {
  CurveOptions curve;
  std::vector<std::string> authorized;
};
LearnerSecurity learner_security(const Config& config, const std::string& endpoint);

// An actor's CURVE options for connecting to `endpoint` (empty for a plain transport); the same
// refusals as learner_security, for security.server_public_key and security.client_secret_key.
CurveOptions actor_security(const Config& config, const std::string& endpoint);

}  // namespace rlvr::core::protocol
