// Microbenchmark of the store's append path (store::OpenRocksDbStore): N
// concurrent appenders, each appending to its own conversation and waiting for
// the durable callback before its next append (like N clients each with one
// send in flight), with sync (fsync per group commit) on and off. Reports
// appends/s and the mean group-commit batch size.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/rocksdb/rocksdb_store.h"
#include "store/store.h"

namespace {

using namespace parley;

std::string TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parley_microbench_store_XXXXXX").string();
  if (!::mkdtemp(pattern.data())) return {};
  return pattern;
}

// Appends one request and waits for its callback; false on failure.
bool AppendWait(store::Store& s, store::AppendRequest r) {
  std::atomic<int> done{0};
  bool ok = false;
  s.Append(std::move(r), [&](Result<store::AppendResult> res) {
    ok = res.ok();
    done.store(1, std::memory_order_release);
    done.notify_one();
  });
  done.wait(0, std::memory_order_acquire);
  return ok;
}

store::AppendRequest Create(const std::string& conv, const std::string& user) {
  store::AppendRequest r;
  r.entry.conversation_id = conv;
  r.entry.is_event = true;
  r.entry.kind = "created";
  r.entry.actor = user;
  r.entry.ts = 1'700'000'000'000;
  store::ConversationRecord c;
  c.kind = store::ConversationKind::kGroup;
  c.created_by = user;
  r.create_if_missing = c;
  store::MemberRecord m;
  m.user_id = user;
  m.role = store::Role::kAdmin;
  r.add_members.push_back(m);
  return r;
}

// Args: appenders, sync (0/1).
void BM_Append(benchmark::State& state) {
  const int appenders = static_cast<int>(state.range(0));
  const bool sync = state.range(1) != 0;
  const std::string dir = TempDir();
  auto opened = store::OpenRocksDbStore(dir, {.sync_writes = sync});
  if (!opened.ok()) {
    state.SkipWithError("cannot open the store");
    return;
  }
  store::Store& s = **opened;
  for (int a = 0; a < appenders; ++a) {
    if (!AppendWait(s, Create("c" + std::to_string(a), "u" + std::to_string(a)))) {
      state.SkipWithError("cannot create a conversation");
      return;
    }
  }
  const int per_iteration = sync ? 64 : 1024;  // appends per appender per iteration
  std::atomic<uint64_t> next_id{1};
  std::atomic<bool> failed{false};
  const auto before = s.GetStats();
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int a = 0; a < appenders; ++a) {
      threads.emplace_back([&, a] {
        const std::string conv = "c" + std::to_string(a), user = "u" + std::to_string(a);
        for (int i = 0; i < per_iteration; ++i) {
          store::AppendRequest r;
          const uint64_t id = next_id++;
          r.entry.conversation_id = conv;
          r.entry.sender = user;
          r.entry.type = "text";
          r.entry.content = std::string(64, 'x');
          r.entry.ts = 1'700'000'000'000;
          r.entry.message_id = id;
          r.entry.client_msg_id = "m" + std::to_string(id);
          r.idempotent = true;
          r.require_member = user;
          if (!AppendWait(s, std::move(r))) failed = true;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  if (failed) state.SkipWithError("an append failed");
  const auto after = s.GetStats();
  const double appends = static_cast<double>(after.appends - before.appends);
  const double batches = static_cast<double>(after.batches - before.batches);
  state.SetItemsProcessed(static_cast<int64_t>(appends));
  state.counters["batch"] = batches > 0 ? appends / batches : 0;
  s.Close();
  opened->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Append)
    ->ArgNames({"appenders", "sync"})
    ->ArgsProduct({{1, 4, 16, 64}, {1, 0}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
