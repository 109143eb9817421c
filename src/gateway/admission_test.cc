#include "gateway/admission.h"

#include <gtest/gtest.h>

namespace parley::gateway {
namespace {

AdmissionOptions Options() {
  return {.max_connections = 2,
          .max_handshakes = 2,
          .handshake_rate_per_address = 1,
          .handshake_burst_per_address = 3,
          .max_sessions_per_user = 2};
}

TEST(AdmissionTest, ConnectionsAreCappedAndGivenBack) {
  FakeClock clock;
  Admission admission(clock, Options());
  auto a = admission.OpenConnection();
  auto b = admission.OpenConnection();
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(admission.OpenConnection());
  a->reset();
  EXPECT_EQ(admission.open_connections(), 1u);
  EXPECT_TRUE(admission.OpenConnection());  // the slot came back (and this one is released at once)
  EXPECT_EQ(admission.open_connections(), 1u);
}

TEST(AdmissionTest, HandshakesInProgressAreCappedWithRetryAfter) {
  FakeClock clock;
  Admission admission(clock, Options());
  auto a = admission.BeginHandshake("10.0.0.1");
  auto b = admission.BeginHandshake("10.0.0.2");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = admission.BeginHandshake("10.0.0.3");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kUnavailable);
  EXPECT_EQ(c.status().retry_after_ms(), kBusyRetryAfterMs);
  Admission::Slot moved = std::move(*a);  // a moved slot is released once, by its new owner
  EXPECT_EQ(admission.open_handshakes(), 2u);
  moved.reset();
  EXPECT_EQ(admission.open_handshakes(), 1u);
  EXPECT_TRUE(admission.BeginHandshake("10.0.0.3").ok());
}

TEST(AdmissionTest, PerAddressBudgetRefillsWithTime) {
  FakeClock clock;
  AdmissionOptions o = Options();
  o.max_handshakes = 0;  // unbounded: only the address budget counts here
  Admission admission(clock, o);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(admission.BeginHandshake("10.0.0.1").ok()) << i;
  auto refused = admission.BeginHandshake("10.0.0.1");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kRateLimited);
  EXPECT_EQ(refused.status().retry_after_ms(), 1000);
  EXPECT_TRUE(admission.BeginHandshake("10.0.0.2").ok()) << "another address has its own budget";
  clock.Advance(1000);
  EXPECT_TRUE(admission.BeginHandshake("10.0.0.1").ok());
  EXPECT_FALSE(admission.BeginHandshake("10.0.0.1").ok());
}

TEST(AdmissionTest, ZeroRateMeansNoAddressLimit) {
  FakeClock clock;
  AdmissionOptions o = Options();
  o.max_handshakes = 0;
  o.handshake_rate_per_address = 0;
  Admission admission(clock, o);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(admission.BeginHandshake("10.0.0.1").ok()) << i;
}

TEST(AdmissionTest, SessionsPerUserAreCapped) {
  FakeClock clock;
  Admission admission(clock, Options());
  auto a1 = admission.OpenSession("alice");
  auto a2 = admission.OpenSession("alice");
  ASSERT_TRUE(a1.ok() && a2.ok());
  auto a3 = admission.OpenSession("alice");
  ASSERT_FALSE(a3.ok());
  EXPECT_EQ(a3.status().code(), Code::kConflict);
  EXPECT_NE(a3.status().message().find("at most 2"), std::string::npos) << a3.status().message();
  EXPECT_TRUE(admission.OpenSession("bob").ok()) << "the cap is per user";
  a1->reset();
  EXPECT_TRUE(admission.OpenSession("alice").ok());
}

}  // namespace
}  // namespace parley::gateway
