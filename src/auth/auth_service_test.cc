#include "auth/auth_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "common/crypto.h"
#include "store/rocksdb/rocksdb_store.h"

namespace parley::auth {
namespace {

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "parley_auth_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::OpenRocksDbStore(dir_, {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auth_ = std::make_unique<AuthService>(*store_, clock_, Options());
  }
  void TearDown() override {
    auth_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  static AuthOptions Options() {
    AuthOptions o;
    o.argon2_opslimit = 1;
    o.argon2_memlimit_bytes = 8192;
    o.token_ttl_ms = 60'000;
    o.login_rate_per_min = 6;
    return o;
  }

  std::string dir_;
  FakeClock clock_;
  store::StorePtr store_;
  std::unique_ptr<AuthService> auth_;
};

TEST_F(AuthServiceTest, RegisterValidatesAndCaseFolds) {
  EXPECT_EQ(auth_->Register("Alice", "password1", "", "127.0.0.1").value(), "alice");
  EXPECT_EQ(auth_->Register("ALICE", "password2", "", "127.0.0.1").status().code(), Code::kConflict);
  EXPECT_EQ(auth_->Register("al", "password1", "", "127.0.0.1").status().code(), Code::kBadRequest);
  EXPECT_EQ(auth_->Register("bob", "short", "", "127.0.0.1").status().code(), Code::kBadRequest);
  EXPECT_EQ(auth_->Register("bob", std::string(1025, 'x'), "", "127.0.0.1").status().code(), Code::kBadRequest);
  EXPECT_TRUE(auth_->Register("bob", std::string(1024, 'x'), "Bob", "127.0.0.1").ok());
}

TEST_F(AuthServiceTest, PasswordsAreStoredAsArgon2id) {
  ASSERT_TRUE(auth_->Register("carol", "correct horse", "", "127.0.0.1").ok());
  auto user = store_->GetUser("carol");
  ASSERT_TRUE(user.ok());
  EXPECT_TRUE(user->password_hash.starts_with("$argon2id$"));
  EXPECT_EQ(user->password_hash.find("correct horse"), std::string::npos);
  EXPECT_TRUE(auth_->VerifyPassword(user->password_hash, "correct horse"));
  EXPECT_FALSE(auth_->VerifyPassword(user->password_hash, "correct horsE"));
}

TEST_F(AuthServiceTest, LoginIssuesTokensStoredHashed) {
  ASSERT_TRUE(auth_->Register("dave", "password1", "", "127.0.0.1").ok());
  auto login = auth_->Login("DAVE", "password1", "phone", "127.0.0.1");
  ASSERT_TRUE(login.ok()) << login.status().ToString();
  EXPECT_EQ(login->user_id, "dave");
  EXPECT_GE(login->token.size(), 22u);  // >= 128 bits
  EXPECT_EQ(login->expires_at, clock_.NowMs() + 60'000);
  EXPECT_FALSE(store_->GetToken(login->token).ok());  // the raw token is not a key
  EXPECT_EQ(auth_->Authenticate(login->token).value(), "dave");
}

TEST_F(AuthServiceTest, WrongCredentialsLookAlike) {
  ASSERT_TRUE(auth_->Register("erin", "password1", "", "127.0.0.1").ok());
  auto wrong_password = auth_->Login("erin", "password2", "", "a");
  auto unknown_user = auth_->Login("nobody", "password1", "", "b");
  EXPECT_EQ(wrong_password.status().code(), Code::kUnauthorized);
  EXPECT_EQ(unknown_user.status().code(), Code::kUnauthorized);
  EXPECT_EQ(wrong_password.status().message(), unknown_user.status().message());
}

TEST_F(AuthServiceTest, TokensExpireAndLogoutRevokes) {
  ASSERT_TRUE(auth_->Register("frank", "password1", "", "127.0.0.1").ok());
  auto a = auth_->Login("frank", "password1", "", "x").value();
  auto b = auth_->Login("frank", "password1", "", "x").value();
  EXPECT_TRUE(auth_->Logout(a.token).ok());
  EXPECT_EQ(auth_->Authenticate(a.token).status().code(), Code::kUnauthorized);
  EXPECT_TRUE(auth_->Authenticate(b.token).ok());  // other sessions unaffected
  clock_.Advance(60'001);
  EXPECT_EQ(auth_->Authenticate(b.token).status().code(), Code::kUnauthorized);
  EXPECT_EQ(auth_->Authenticate("garbage").status().code(), Code::kUnauthorized);
  EXPECT_EQ(auth_->Authenticate("").status().code(), Code::kUnauthorized);
}

TEST_F(AuthServiceTest, TokensSurviveRestart) {
  ASSERT_TRUE(auth_->Register("gina", "password1", "", "127.0.0.1").ok());
  auto login = auth_->Login("gina", "password1", "", "x").value();
  auth_.reset();
  store_->Close();
  store_.reset();
  store_ = std::move(store::OpenRocksDbStore(dir_, {}).value());
  auth_ = std::make_unique<AuthService>(*store_, clock_, Options());
  EXPECT_EQ(auth_->Authenticate(login.token).value(), "gina");
}

TEST_F(AuthServiceTest, LoginIsRateLimitedPerUserAndAddress) {
  ASSERT_TRUE(auth_->Register("hank", "password1", "", "127.0.0.1").ok());
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = auth_->Login("hank", "wrong-password", "", "10.0.0." + std::to_string(i));
    if (r.status().code() == Code::kRateLimited) {
      ++limited;
      EXPECT_GT(r.status().retry_after_ms(), 0);
    }
  }
  EXPECT_GT(limited, 0);  // per user, whatever the address
  clock_.Advance(120'000);
  EXPECT_TRUE(auth_->Login("hank", "password1", "", "10.0.1.1").ok());
}

TEST_F(AuthServiceTest, RegistrationsAreRateLimitedPerAddress) {
  AuthOptions o = Options();
  o.register_rate_per_min = 4;  // a burst of 2
  AuthService auth(*store_, clock_, o);
  EXPECT_TRUE(auth.Register("ivan1", "password1", "", "10.0.0.1").ok());
  EXPECT_EQ(auth.Register("ivan2", "short", "", "10.0.0.1").status().code(), Code::kBadRequest);
  auto limited = auth.Register("ivan3", "password1", "", "10.0.0.1");  // invalid ones count too
  EXPECT_EQ(limited.status().code(), Code::kRateLimited);
  EXPECT_GT(limited.status().retry_after_ms(), 0);
  EXPECT_TRUE(auth.Register("ivan3", "password1", "", "10.0.0.2").ok());  // another address
  clock_.Advance(limited.status().retry_after_ms());
  EXPECT_TRUE(auth.Register("ivan4", "password1", "", "10.0.0.1").ok());
}

TEST_F(AuthServiceTest, UnknownUsersCostAPasswordCheckToo) {
  MetricsRegistry metrics;
  AuthOptions o = Options();
  o.metrics = &metrics;
  AuthService auth(*store_, clock_, o);
  ASSERT_TRUE(auth.Register("judy", "password1", "", "x").ok());
  EXPECT_FALSE(auth.Login("judy", "password2", "", "a").ok());
  EXPECT_FALSE(auth.Login("nobody", "password1", "", "a").ok());
  EXPECT_FALSE(auth.Login("NOT VALID!", "password1", "", "a").ok());
  EXPECT_NE(metrics.Render().find("parley_password_checks_total 3\n"), std::string::npos)
      << metrics.Render();
}

TEST_F(AuthServiceTest, TokensAreFoundByKeyOnlyAndRevocationWins) {
  ASSERT_TRUE(auth_->Register("kate", "password1", "", "x").ok());
  auto login = auth_->Login("kate", "password1", "", "x").value();
  std::string key = AuthService::TokenKey(login.token);
  EXPECT_EQ(key, Sha256Hex(login.token));
  EXPECT_EQ(store_->GetToken(key).value().user_id, "kate");
  EXPECT_EQ(auth_->AuthenticateKey(key).value(), "kate");  // cached now
  std::string near = login.token;
  near.back() = near.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(auth_->Authenticate(near).status().code(), Code::kUnauthorized);
  ASSERT_TRUE(auth_->Logout(login.token).ok());
  EXPECT_EQ(auth_->AuthenticateKey(key).status().code(), Code::kUnauthorized);
  EXPECT_EQ(auth_->Authenticate(login.token).status().code(), Code::kUnauthorized);
  EXPECT_EQ(auth_->Logout(login.token).code(), Code::kUnauthorized);
  EXPECT_FALSE(store_->GetToken(key).ok());
}

}  // namespace
}  // namespace parley::auth
