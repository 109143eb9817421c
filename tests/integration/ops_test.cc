// Operations: health, readiness, metrics, clean shutdown on SIGTERM, --help.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "testing/helpers.h"

namespace parley::testing {
namespace {

class OpsTest : public ServerTest {};

// Sum of the samples of `name` (any labels) in a Prometheus text body;
// nullopt if no sample line has that exact metric name.
std::optional<double> MetricSum(const std::string& body, const std::string& name) {
  std::istringstream in(body);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    size_t value_at = line.find(' ', line.find('}') == std::string::npos ? name.size() : line.find('}'));
    if (value_at == std::string::npos) continue;
    sum = sum.value_or(0) + std::atof(line.c_str() + value_at + 1);
  }
  return sum;
}

TEST_F(OpsTest, HealthAndReadiness) {
  auto health = http().Get("/healthz");
  EXPECT_EQ(health.status, 200) << health.Describe();
  auto ready = http().Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.Describe();
}

// Polls /metrics until `name` sums to `want` (bounded); returns the last value.
double PollMetric(HttpClient& http, const std::string& name, double want) {
  double value = -1;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    value = MetricSum(http.Get("/metrics").body, name).value_or(-1);
    if (value == want) break;
    std::this_thread::sleep_for(50ms);
  }
  return value;
}

TEST_F(OpsTest, MetricsExposeCoreSeries) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  double base = MetricSum(http().Get("/metrics").body, "parley_connections").value_or(0);
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto ack = SendAndAck(*a, bob.id, "counted", UniqueCmid());
  ASSERT_TRUE(ack && Op(*ack) == "ack");

  auto res = http().Get("/metrics");
  ASSERT_EQ(res.status, 200) << res.Describe();
  EXPECT_EQ(res.Header("Content-Type").rfind("text/plain", 0), 0u) << res.Header("Content-Type");
  for (std::string name : {"parley_connections", "parley_messages_in_total", "parley_send_ack_seconds_bucket",
                           "parley_store_commit_seconds_bucket", "parley_store_batch_size_bucket"}) {
    EXPECT_TRUE(MetricSum(res.body, name).has_value()) << "missing metric " << name;
  }
  EXPECT_GE(MetricSum(res.body, "parley_messages_in_total").value_or(0), 1.0);
  EXPECT_EQ(PollMetric(http(), "parley_connections", base + 2), base + 2) << "two sockets are open";
  EXPECT_GE(MetricSum(res.body, "parley_send_ack_seconds_count").value_or(0), 1.0);
  EXPECT_GE(MetricSum(res.body, "parley_store_commit_seconds_count").value_or(0), 1.0);

  // The connection gauge goes down when sockets close.
  a->Close();
  b->Close();
  EXPECT_EQ(PollMetric(http(), "parley_connections", base), base);
}

TEST_F(OpsTest, SigtermClosesClientsExitsZeroAndKeepsAckedMessages) {
  auto alice = NewUser("alice");
  auto bob = NewUser("bob");
  auto a = ConnectReady(port(), alice.token);
  auto b = ConnectReady(port(), bob.token);
  auto acks = SendBatch(*a, bob.id, 20, "bye");
  ASSERT_EQ(acks.size(), 20u);
  EXPECT_EQ(server_->Stop(), 0) << server_->LogTail();
  EXPECT_TRUE(a->WaitClosed(5s));
  EXPECT_TRUE(b->WaitClosed(5s));
  // docs: clean shutdown closes sockets with 1001 (going away).
  EXPECT_EQ(a->CloseCode(), std::optional<int>(1001)) << a->error();

  ASSERT_TRUE(RestartServer()) << server_->error();
  auto history = MessagesOnly(FetchAllHistory(http(), bob.token, Str(acks[0], "conversation_id")));
  ASSERT_EQ(history.size(), acks.size());
  for (size_t i = 0; i < acks.size(); ++i) {
    EXPECT_EQ(Str(history[i], "message_id"), Str(acks[i], "message_id"));
    EXPECT_EQ(Int(history[i], "seq"), Int(acks[i], "seq"));
    EXPECT_EQ(Str(history[i], "content"), "bye-" + std::to_string(i));
  }
}

TEST_F(OpsTest, SigtermWhileIdleExitsZeroRepeatedly) {
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(server_->Stop(), 0) << server_->LogTail();
    ASSERT_TRUE(RestartServer()) << server_->error();
    EXPECT_EQ(http().Get("/healthz").status, 200);
  }
}

int RunBinary(const std::string& args, std::string* output) {
  char path[] = "/tmp/parley-it-out-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  close(fd);
  std::string cmd = "'" + ServerProcess::BinaryPath() + "' " + args + " >" + path + " 2>&1 </dev/null";
  int status = std::system(cmd.c_str());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  *output = ss.str();
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(OpsCli, HelpExitsZeroAndBadFlagFails) {
  std::string out;
  EXPECT_EQ(RunBinary("--help", &out), 0) << out;
  EXPECT_NE(out.find("--listen"), std::string::npos) << out;
  EXPECT_NE(out.find("--data-dir"), std::string::npos) << out;
  EXPECT_NE(RunBinary("--no-such-flag-xyz", &out), 0) << out;
}

}  // namespace
}  // namespace parley::testing
