#include "push/dispatcher.h"

#include <spdlog/spdlog.h>

#include <future>

#include "common/crypto.h"
#include "common/ids.h"

namespace parley::push {
namespace {

constexpr size_t kMemberPage = 1000;
constexpr size_t kMaxPreviewBytes = 200;
constexpr int64_t kGaugeIntervalMs = 1000;

// At most `max` bytes, cut on a UTF-8 character boundary.
std::string Truncate(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

std::string PreviewOf(const store::EntryRecord& entry, Preview mode) {
  if (mode != Preview::kFull) return "";  // not even persisted when it will not be shown
  if (entry.type == "text" || entry.type.empty()) return Truncate(entry.content, kMaxPreviewBytes);
  return "[" + entry.type + "]";
}

}  // namespace

Dispatcher::Dispatcher(PushDeps deps, const PushOptions& options, const Providers& providers)
    : deps_(deps),
      options_(options),
      providers_(providers),
      enqueued_(deps.metrics.AddCounter("parley_push_enqueued_total", "push jobs created")),
      coalesced_(deps.metrics.AddCounter("parley_push_coalesced_total",
                                         "messages folded into a pending push job")),
      sent_(deps.metrics.AddCounter("parley_push_sent_total", "pushes accepted by a provider")),
      retried_(deps.metrics.AddCounter("parley_push_retried_total",
                                       "push attempts that failed and were rescheduled")),
      failed_(deps.metrics.AddCounter(
          "parley_push_failed_total",
          "push jobs dropped (permanent error, dead token, attempts exhausted)")),
      devices_removed_(
          deps.metrics.AddCounter("parley_push_devices_removed_total",
                                  "devices removed because the provider rejected their token")),
      skipped_online_(deps.metrics.AddCounter(
          "parley_push_skipped_total", "pushes not planned or dropped", "reason=\"online\"")),
      skipped_muted_(deps.metrics.AddCounter("parley_push_skipped_total",
                                             "pushes not planned or dropped", "reason=\"muted\"")),
      queue_depth_(deps.metrics.AddGauge("parley_push_queue_depth", "push jobs pending")),
      queue_age_ms_(deps.metrics.AddGauge("parley_push_queue_age_ms",
                                          "age of the oldest pending push job, ms")),
      senders_(options.concurrency, "push-send") {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::OnPlanner(std::function<void()> task) {
  if (stopping_) return;
  planner_.Post([this, task = std::move(task)] {
    if (!stopping_) task();
  });
}

Status Dispatcher::Recover() {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  planner_.Post([this, done] {
    auto jobs = deps_.store.ListPushJobs();
    if (!jobs.ok()) return done->set_value(jobs.status());
    for (store::PushJobRecord& job : *jobs) Adopt(std::move(job));
    auto outbox = deps_.store.ListPushOutbox();
    if (!outbox.ok()) return done->set_value(outbox.status());
    for (const auto& [conversation_id, seq] : *outbox) {
      auto entries = deps_.store.ReadEntries(conversation_id, seq - 1, seq + 1, 1, false);
      if (entries.ok() && entries->size() == 1 && !entries->front().is_event) {
        Plan(entries->front());  // deletes the outbox mark
      } else if (Status s = deps_.store.DeletePushOutbox(conversation_id, seq); !s.ok()) {
        return done->set_value(s);
      }
    }
    spdlog::info("event=push_recovered jobs={} outbox={}", jobs_.size(), outbox->size());
    UpdateGauges();
    ScheduleTick();
    done->set_value(Status::Ok());
  });
  return result.get();
}

void Dispatcher::OnStored(const store::EntryRecord& entry) {
  OnPlanner([this, entry] { Plan(entry); });
}

void Dispatcher::Stop() {
  if (stopping_.exchange(true)) return;
  senders_.Shutdown();
  planner_.Shutdown();
}

void Dispatcher::ForgetDevices(const std::string& user_id) {
  std::lock_guard lock(devices_mu_);
  devices_.erase(user_id);
  ++devices_generation_;
}

Dispatcher::DeviceList Dispatcher::DevicesOf(const std::string& user_id) {
  uint64_t generation;
  {
    std::lock_guard lock(devices_mu_);
    if (auto it = devices_.find(user_id); it != devices_.end()) return it->second;
    generation = devices_generation_;
  }
  auto listed = deps_.store.ListDevices(user_id);
  if (!listed.ok()) {
    spdlog::warn("event=push_devices_read_failed user={} error=\"{}\"", user_id,
                 listed.status().ToString());
    return std::make_shared<const std::vector<store::DeviceRecord>>();
  }
  auto devices = std::make_shared<const std::vector<store::DeviceRecord>>(std::move(*listed));
  std::lock_guard lock(devices_mu_);
  // Not cached if a registration changed devices meanwhile: the list may predate it.
  if (generation == devices_generation_) devices_[user_id] = devices;
  return devices;
}

Result<std::vector<std::string>> Dispatcher::Recipients(const store::EntryRecord& entry) {
  std::vector<std::string> out;
  if (auto pair = DirectMembers(entry.conversation_id)) {
    for (const std::string& user : {pair->first, pair->second}) {
      if (user != entry.sender) out.push_back(user);
    }
    return out;
  }
  std::string after;
  for (;;) {
    auto page = deps_.store.ListMembers(entry.conversation_id, after, kMemberPage);
    if (!page.ok()) return page.status();
    for (const store::MemberRecord& m : *page) {
      if (m.user_id != entry.sender && m.joined_seq <= entry.seq) out.push_back(m.user_id);
    }
    if (page->size() < kMemberPage) return out;
    after = page->back().user_id;
  }
}

void Dispatcher::Plan(const store::EntryRecord& entry) {
  auto recipients = Recipients(entry);
  if (!recipients.ok()) {
    // The outbox mark stays: the next start plans this message again.
    spdlog::warn("event=push_plan_failed conversation={} seq={} error=\"{}\"",
                 entry.conversation_id, entry.seq, recipients.status().ToString());
    return;
  }
  for (const std::string& user : *recipients) PlanFor(user, entry);
  if (Status s = deps_.store.DeletePushOutbox(entry.conversation_id, entry.seq); !s.ok()) {
    spdlog::warn("event=push_outbox_delete_failed error=\"{}\"", s.ToString());
  }
  UpdateGauges();
}

bool Dispatcher::LiveNow(const std::string& user_id) {
  return !deps_.directory.Sessions(user_id).empty() ||
         (deps_.directory.clustered() && deps_.presence.LiveOnOtherNode(user_id));
}

void Dispatcher::PlanFor(const std::string& user_id, const store::EntryRecord& entry) {
  DeviceList devices = DevicesOf(user_id);
  if (devices->empty()) return;
  if (LiveNow(user_id)) {  // it got the message live
    skipped_online_.Inc();
    return;
  }
  auto muted = deps_.store.IsMuted(user_id, entry.conversation_id);
  if (muted.ok() && *muted) {
    skipped_muted_.Inc();
    return;
  }
  for (const store::DeviceRecord& device : *devices) AddToJob(device, entry);
}

void Dispatcher::AddToJob(const store::DeviceRecord& device, const store::EntryRecord& entry) {
  Key key{device.device_id, entry.conversation_id};
  if (auto open = open_.find(key); open != open_.end()) {
    store::PushJobRecord& job = jobs_.at(open->second).record;
    if (job.last_seq >= entry.seq) return;  // planned already (outbox replay after a crash)
    job.count++;
    job.sender = entry.sender;
    job.preview = PreviewOf(entry, options_.preview);
    job.last_seq = entry.seq;
    Persist(job);
    coalesced_.Inc();
    return;
  }
  store::PushJobRecord job;
  job.job_id = RandomToken(12);
  job.user_id = device.user_id;
  job.device_id = device.device_id;
  job.conversation_id = entry.conversation_id;
  job.sender = entry.sender;
  job.preview = PreviewOf(entry, options_.preview);
  job.count = 1;
  job.last_seq = entry.seq;
  job.created_at = deps_.clock.NowMs();
  job.due_at = job.created_at + options_.coalesce_ms;
  Persist(job);
  enqueued_.Inc();
  Adopt(std::move(job));
}

// Takes a persisted job into memory and schedules it for its due time.
void Dispatcher::Adopt(store::PushJobRecord record) {
  std::string id = record.job_id;
  Key key{record.device_id, record.conversation_id};
  int64_t delay = std::max<int64_t>(0, record.due_at - deps_.clock.NowMs());
  Job& job = jobs_[id];
  job.record = std::move(record);
  auto open = open_.find(key);
  if (open == open_.end() || jobs_.at(open->second).record.created_at < job.record.created_at) {
    open_[key] = id;
  }
  Schedule(job, delay);
}

void Dispatcher::Schedule(Job& job, int64_t delay_ms) {
  uint64_t timer = ++job.timer;
  deps_.scheduler.After(delay_ms, [this, id = job.record.job_id, timer] {
    OnPlanner([this, id, timer] { Due(id, timer); });
  });
}

void Dispatcher::Due(const std::string& job_id, uint64_t timer) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.timer != timer || it->second.in_flight) return;
  Job& job = it->second;
  const std::string& user = job.record.user_id;
  if (LiveNow(user)) {  // came back: it syncs instead
    skipped_online_.Inc();
    return Erase(job_id);
  }
  if (deps_.presence.Get(user).online) {  // disconnected, but inside the grace period
    Schedule(job, std::min<int64_t>(options_.presence_grace_ms, 1000) + 10);
    return;
  }
  auto muted = deps_.store.IsMuted(user, job.record.conversation_id);
  if (muted.ok() && *muted) {
    skipped_muted_.Inc();
    return Erase(job_id);
  }
  job.in_flight = true;
  Key key{job.record.device_id, job.record.conversation_id};
  if (auto open = open_.find(key); open != open_.end() && open->second == job_id) open_.erase(open);
  senders_.Post([this, record = job.record] {
    if (!stopping_) Deliver(record);
  });
}

void Dispatcher::Deliver(const store::PushJobRecord& job) {
  Delivery delivery;
  auto device = deps_.store.GetDevice(job.user_id, job.device_id);
  Provider* provider = device.ok() ? providers_.For(device->platform) : nullptr;
  if (!device.ok()) {
    delivery = {Outcome::kDrop, "device is gone: " + device.status().message(), 0};
  } else if (provider == nullptr) {
    delivery = {Outcome::kDrop, device->platform + " is not configured", 0};
  } else {
    Notification n{job.user_id, job.conversation_id, "", "", job.count};
    if (options_.preview != Preview::kNone) n.sender = job.sender;
    if (options_.preview == Preview::kFull) n.preview = job.preview;
    delivery = provider->Send(*device, n);
  }
  OnPlanner([this, id = job.job_id, delivery] { Finish(id, delivery); });
}

void Dispatcher::Finish(const std::string& job_id, const Delivery& delivery) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  Job& job = it->second;
  const store::PushJobRecord& r = job.record;
  switch (delivery.outcome) {
    case Outcome::kSent:
      sent_.Inc();
      spdlog::debug("event=push_sent user={} device={} count={}", r.user_id, r.device_id, r.count);
      return Erase(job_id);
    case Outcome::kUnregistered:
      spdlog::info("event=push_device_removed user={} device={} reason=\"{}\"", r.user_id,
                   r.device_id, delivery.detail);
      if (Status s = deps_.store.DeleteDevice(r.user_id, r.device_id);
          s.ok() || s.code() == Code::kNotFound) {
        devices_removed_.Inc();
      }
      ForgetDevices(r.user_id);
      failed_.Inc();
      return Erase(job_id);
    case Outcome::kDrop:
      spdlog::warn("event=push_dropped user={} device={} reason=\"{}\"", r.user_id, r.device_id,
                   delivery.detail);
      failed_.Inc();
      return Erase(job_id);
    case Outcome::kRetry:
      return Retry(job, delivery);
  }
}

void Dispatcher::Retry(Job& job, const Delivery& delivery) {
  store::PushJobRecord& r = job.record;
  if (++r.attempts >= options_.max_attempts) {
    spdlog::warn("event=push_dropped user={} device={} attempts={} reason=\"{}\"", r.user_id,
                 r.device_id, r.attempts, delivery.detail);
    failed_.Inc();
    return Erase(r.job_id);
  }
  retried_.Inc();
  job.in_flight = false;
  Key key{r.device_id, r.conversation_id};
  if (auto open = open_.find(key); open != open_.end()) {
    // Newer messages opened a job meanwhile: it carries this one's count too.
    store::PushJobRecord& newer = jobs_.at(open->second).record;
    newer.count += r.count;
    Persist(newer);
    return Erase(r.job_id);
  }
  int64_t delay = std::max(
      BackoffDelayMs(r.attempts - 1, options_.backoff_base_ms, options_.backoff_max_ms, rng_),
      delivery.retry_after_ms);
  spdlog::info("event=push_retry user={} device={} attempt={} delay_ms={} reason=\"{}\"", r.user_id,
               r.device_id, r.attempts, delay, delivery.detail);
  r.due_at = deps_.clock.NowMs() + delay;
  open_[key] = r.job_id;
  Persist(r);
  Schedule(job, delay);
}

void Dispatcher::Erase(std::string job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  Key key{it->second.record.device_id, it->second.record.conversation_id};
  if (auto open = open_.find(key); open != open_.end() && open->second == job_id) open_.erase(open);
  jobs_.erase(it);
  if (Status s = deps_.store.DeletePushJob(job_id); !s.ok()) {
    spdlog::warn("event=push_job_delete_failed job={} error=\"{}\"", job_id, s.ToString());
  }
  UpdateGauges();
}

void Dispatcher::Persist(const store::PushJobRecord& job) {
  if (Status s = deps_.store.PutPushJob(job); !s.ok()) {
    spdlog::warn("event=push_job_write_failed job={} error=\"{}\"", job.job_id, s.ToString());
  }
}

void Dispatcher::UpdateGauges() { queue_depth_.Set(static_cast<int64_t>(jobs_.size())); }

// The age gauge is a scan of every job: once a second, not per change.
void Dispatcher::ScheduleTick() {
  deps_.scheduler.After(kGaugeIntervalMs, [this] {
    OnPlanner([this] {
      int64_t oldest = 0;
      int64_t now = deps_.clock.NowMs();
      for (const auto& [id, job] : jobs_) oldest = std::max(oldest, now - job.record.created_at);
      queue_age_ms_.Set(oldest);
      UpdateGauges();
      ScheduleTick();
    });
  });
}

}  // namespace parley::push
