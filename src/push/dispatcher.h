// Plans, coalesces, schedules and sends push jobs. One planner thread owns
// the jobs (so their bookkeeping needs no lock); a pool of sender threads
// makes the provider requests, so at most --push-concurrency are in flight
// and none runs on an io or chat thread.
//
// A job's life: a stored message becomes one job per device of every member
// without a live session (not muted), persisted at once; messages to the
// same (device, conversation) before it is sent are folded into it (count).
// When due (end of the coalescing window) it is dropped if the user came
// back, waits while the user is inside the presence grace period, else goes
// to a sender. The answer sends it, retries it with backoff, drops it, or
// removes a dead device.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/worker_pool.h"
#include "push/providers.h"
#include "push/push.h"

namespace parley::push {

class Dispatcher {
 public:
  Dispatcher(PushDeps deps, const PushOptions& options, const Providers& providers);
  ~Dispatcher();

  // Loads the jobs and the outbox left by a previous run and schedules them.
  Status Recover();
  void OnStored(const store::EntryRecord& entry);
  void Stop();
  // The user's devices changed: drop the cached list.
  void ForgetDevices(const std::string& user_id);

 private:
  struct Job {
    store::PushJobRecord record;
    bool in_flight = false;
    uint64_t timer = 0;  // the current timer's number: an older one that fires is stale
  };
  using Key = std::pair<std::string, std::string>;  // (device_id, conversation_id)
  using DeviceList = std::shared_ptr<const std::vector<store::DeviceRecord>>;

  // On the planner thread.
  void Plan(const store::EntryRecord& entry);
  Result<std::vector<std::string>> Recipients(const store::EntryRecord& entry);
  // A session is open here or on another node: the user gets messages live.
  bool LiveNow(const std::string& user_id);
  void PlanFor(const std::string& user_id, const store::EntryRecord& entry);
  void AddToJob(const store::DeviceRecord& device, const store::EntryRecord& entry);
  void Adopt(store::PushJobRecord record);
  void Schedule(Job& job, int64_t delay_ms);
  void Due(const std::string& job_id, uint64_t timer);
  void Finish(const std::string& job_id, const Delivery& delivery);
  void Retry(Job& job, const Delivery& delivery);
  void Erase(std::string job_id);  // by value: callers pass the erased job's own id
  void Persist(const store::PushJobRecord& job);
  void UpdateGauges();
  void ScheduleTick();
  // On a sender thread.
  void Deliver(const store::PushJobRecord& job);

  DeviceList DevicesOf(const std::string& user_id);
  // Runs `task` on the planner thread unless stopping.
  void OnPlanner(std::function<void()> task);

  PushDeps deps_;
  const PushOptions options_;
  const Providers& providers_;
  std::atomic<bool> stopping_{false};

  // Planner thread only.
  std::unordered_map<std::string, Job> jobs_;  // by job id
  std::map<Key, std::string> open_;            // the job that takes new messages, per key
  std::mt19937_64 rng_{std::random_device{}()};

  std::mutex devices_mu_;
  std::unordered_map<std::string, DeviceList> devices_;  // guarded by devices_mu_
  uint64_t devices_generation_ = 0;                      // guarded by devices_mu_

  Counter& enqueued_;
  Counter& coalesced_;
  Counter& sent_;
  Counter& retried_;
  Counter& failed_;
  Counter& devices_removed_;
  Counter& skipped_online_;
  Counter& skipped_muted_;
  Gauge& queue_depth_;
  Gauge& queue_age_ms_;

  // Last: stopped and joined before the state above goes away.
  WorkerPool senders_;
  WorkerPool planner_{1, "push-plan"};
};

}  // namespace parley::push
