// CURVE keys and the authenticated transport: key files (modes, round trips, malformed files
// with file:line), the refusals of a plain transport off loopback, and real ZeroMQ sockets over
// loopback TCP where the learner's ZAP handler admits a known actor key and refuses an unknown one.
#include "core/protocol/security.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config/config.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/protocol/protocol.h"
#include "core/protocol/transport.h"
#include "tests/test_util.h"

namespace rlvr::core::protocol {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using rlvr::testing::error_message;
using rlvr::testing::TempDir;

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(CurveKeys, GeneratedPairsRoundTripThroughTheirFilesWithPrivateSecretFiles) {
  TempDir dir;
  const CurveKeyPair keys = generate_curve_keypair();
  EXPECT_TRUE(is_z85_key(keys.public_key));
  EXPECT_TRUE(is_z85_key(keys.secret_key));
  EXPECT_NE(keys.public_key, keys.secret_key);
  EXPECT_NE(generate_curve_keypair().public_key, keys.public_key);
  const auto [pub, sec] = write_curve_keypair(keys, dir.path() + "/k", "learner", /*overwrite=*/false);
  EXPECT_EQ(pub, dir.path() + "/k/learner.public");
  EXPECT_EQ(sec, dir.path() + "/k/learner.secret");
  EXPECT_EQ(mode_of(sec), 0600u);
  EXPECT_EQ(mode_of(pub), 0644u);
  EXPECT_EQ(read_file(pub), keys.public_key + "\n");
  EXPECT_EQ(read_public_key(pub, "f"), keys.public_key);
  const CurveKeyPair back = read_secret_key(sec, "f");
  EXPECT_EQ(back.secret_key, keys.secret_key);
  EXPECT_EQ(back.public_key, keys.public_key) << "the public half is derived from the secret key";
  EXPECT_EQ(read_public_key(sec, "f"), keys.public_key);
  // Existing keys are not replaced by accident.
  const std::string msg = error_message([&] { write_curve_keypair(generate_curve_keypair(), dir.path() + "/k", "learner", false); });
  EXPECT_THAT(msg, HasSubstr("learner.public: exists; refusing to replace a key"));
  EXPECT_EQ(read_public_key(pub, "f"), keys.public_key);
  const CurveKeyPair other = generate_curve_keypair();
  write_curve_keypair(other, dir.path() + "/k", "learner", /*overwrite=*/true);
  EXPECT_EQ(read_public_key(pub, "f"), other.public_key);
  EXPECT_EQ(mode_of(sec), 0600u);
}

TEST(CurveKeys, BadKeyFilesAreRefusedNamingTheFieldAndFile) {
  TempDir dir;
  const std::string shortkey = dir.write("short.public", "abc\n");
  EXPECT_THAT(error_message([&] { read_public_key(shortkey, "security.server_public_key"); }),
              HasSubstr("security.server_public_key: " + shortkey +
                        ":1: expected a public CURVE key (40 Z85 characters, as `rlvr keys generate` writes), got 3"));
  EXPECT_THAT(error_message([&] { read_public_key(dir.path() + "/missing.public", "security.server_public_key"); }),
              HasSubstr("security.server_public_key: "));
  // A secret key others may read is refused, with the fix.
  const CurveKeyPair keys = generate_curve_keypair();
  const auto [pub, sec] = write_curve_keypair(keys, dir.path(), "a", false);
  ::chmod(sec.c_str(), 0644);
  const std::string msg = error_message([&, path = sec] { read_secret_key(path, "security.client_secret_key"); });
  EXPECT_THAT(msg, HasSubstr("the secret key may be read by other users (mode 0644); refusing to use it"));
  ::chmod(sec.c_str(), 0600);
  EXPECT_EQ(read_secret_key(sec, "x").public_key, keys.public_key);
  // A key with a character outside Z85.
  std::string bad = keys.public_key;
  bad[5] = '"';
  EXPECT_FALSE(is_z85_key(bad));
  EXPECT_THAT(error_message([&] { read_public_key(dir.write("bad.public", bad), "k"); }), HasSubstr("got 40 characters"));
}

TEST(CurveKeys, AuthorizedKeysComeFromAFileWithCommentsOrADirectory) {
  TempDir dir;
  const std::string a = generate_curve_keypair().public_key, b = generate_curve_keypair().public_key;
  const std::string file = dir.write("authorized", "# actors\n\n" + a + " actor-0 on host1\n  " + b + "\n");
  EXPECT_EQ(read_authorized_keys(file, "security.authorized_keys"), (std::vector<std::string>{a, b}));
  const std::string bad = dir.write("bad", a + "\nnot-a-key here\n");
  EXPECT_THAT(error_message([&] { read_authorized_keys(bad, "security.authorized_keys"); }),
              HasSubstr("security.authorized_keys: " + bad + ":2: expected a public CURVE key (40 Z85 characters) at "
                        "the start of the line, got 'not-a-key'"));
  EXPECT_THAT(error_message([&] { read_authorized_keys(dir.write("empty", "# nobody\n"), "security.authorized_keys"); }),
              HasSubstr("no key in the file; the learner would accept no actor"));
  write_curve_keypair({b, generate_curve_keypair().secret_key}, dir.path() + "/keys", "x", false);
  dir.write("keys/y.public", a + "\n");
  dir.write("keys/notes.txt", "ignored");
  auto keys = read_authorized_keys(dir.path() + "/keys", "f");
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> want{a, b};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys, want);
  fs::create_directories(dir.path() + "/none");
  EXPECT_THAT(error_message([&] { read_authorized_keys(dir.path() + "/none", "f"); }),
              HasSubstr("the directory holds no *.public key file"));
}

TEST(CurveKeys, APlainTransportIsRefusedOffLoopbackOnBothSides) {
  Config c;
  EXPECT_FALSE(learner_security(c, "tcp://127.0.0.1:5555").curve.enabled());
  EXPECT_FALSE(learner_security(c, "ipc:///tmp/x.sock").curve.enabled());
  EXPECT_FALSE(actor_security(c, "tcp://localhost:5555").enabled());
  std::string msg = error_message([&] { learner_security(c, "tcp://0.0.0.0:5555"); });
  EXPECT_THAT(msg, HasSubstr("learner: endpoint tcp://0.0.0.0:5555 is not loopback; refusing a plain transport, "
                             "where anyone who can reach it could push rollouts that become gradients"));
  EXPECT_THAT(msg, HasSubstr("security.server_secret_key and security.authorized_keys"));
  msg = error_message([&] { actor_security(c, "tcp://10.0.0.2:5555"); });
  EXPECT_THAT(msg, HasSubstr("actor: endpoint tcp://10.0.0.2:5555 is not loopback"));
  EXPECT_THAT(msg, HasSubstr("send weights this actor would run"));
  c.security.require_on_loopback = true;
  EXPECT_THAT(error_message([&] { learner_security(c, "tcp://127.0.0.1:5555"); }),
              HasSubstr("is loopback but security.require_on_loopback is true"));

  TempDir dir;
  write_curve_keypair(generate_curve_keypair(), dir.path(), "learner", false);
  c.security.server_secret_key = dir.path() + "/learner.secret";
  EXPECT_THAT(error_message([&] { learner_security(c, "tcp://0.0.0.0:5555"); }),
              HasSubstr("security.authorized_keys: empty"));
  c.security.server_public_key = dir.path() + "/learner.public";
  EXPECT_THAT(error_message([&] { actor_security(c, "tcp://10.0.0.2:5555"); }),
              HasSubstr("security.client_secret_key: empty"));
}

// --- Real sockets over loopback TCP ---

class CurveTransport : public ::testing::Test {
 protected:
  void SetUp() override {
    core::init_logging("warn");
    server_ = generate_curve_keypair();
    good_ = generate_curve_keypair();
    bad_ = generate_curve_keypair();
  }
  // A ROUTER on an ephemeral loopback port.
  Socket bind_server(Context& ctx) {
    SocketOptions so;
    so.curve.secret_key = server_.secret_key;
    so.curve.public_key = server_.public_key;
    return Socket::bind_router(ctx, "tcp://127.0.0.1:*", so);
  }
  Socket connect_client(Context& ctx, const std::string& endpoint, const CurveKeyPair* keys) {
    SocketOptions so;
    if (keys) {
      so.curve.secret_key = keys->secret_key;
      so.curve.public_key = keys->public_key;
      so.curve.server_key = server_.public_key;
    }
    return Socket::connect_dealer(ctx, endpoint, so);
  }
  static Message heartbeat() {
    Message m;
    m.envelope.sender = "actor-0";
    m.envelope.seq = 1;
    m.payload = Heartbeat{};
    return m;
  }
  // Sends from `client` until `server` receives something (true) or `ms` pass (false).
  static bool delivered(Socket& client, Socket& server, int ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      client.send(heartbeat());
      if (auto r = server.receive(50, ProtocolLimits{})) return r->result.ok();
    }
    return false;
  }
  CurveKeyPair server_, good_, bad_;
};

TEST_F(CurveTransport, AnAuthorizedKeyIsAdmittedAndAnUnknownOneIsRefusedCountedAndToldSo) {
  Context ctx;
  Authenticator auth(ctx, {good_.public_key});
  Socket server = bind_server(ctx);
  const std::string endpoint = server.bound_endpoint();
  Socket good = connect_client(ctx, endpoint, &good_);
  EXPECT_TRUE(delivered(good, server, 5000));
  EXPECT_GE(auth.accepted(), 1);
  EXPECT_EQ(auth.rejected(), 0);

  Socket bad = connect_client(ctx, endpoint, &bad_);
  EXPECT_FALSE(delivered(bad, server, 1000));
  EXPECT_GE(auth.rejected(), 1);
  std::optional<std::string> why;
  for (int i = 0; i < 50 && !why; ++i) {
    why = bad.handshake_failure();
    if (!why) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("refused this actor's CURVE key (ZAP status 400)"));

  // A client without CURVE never gets a message through either.
  Socket plain = connect_client(ctx, endpoint, nullptr);
  EXPECT_FALSE(delivered(plain, server, 1000));
  // ...nor one that expects another learner key.
  CurveKeyPair wrong_server = generate_curve_keypair();
  SocketOptions so;
  so.curve.secret_key = good_.secret_key;
  so.curve.public_key = good_.public_key;
  so.curve.server_key = wrong_server.public_key;
  Socket mismatched = Socket::connect_dealer(ctx, endpoint, so);
  EXPECT_FALSE(delivered(mismatched, server, 1000));
  // The authorized client still works.
  EXPECT_TRUE(delivered(good, server, 5000));
}

}  // namespace
}  // namespace rlvr::core::protocol
