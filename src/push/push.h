// Push notifications for members without a live session (SPEC sections 3 and
// 5.4): the device registry, per-user conversation mutes, and a dispatcher
// that turns stored messages into persisted push jobs, coalesces them per
// (device, conversation), waits out the presence grace period, and sends them
// through APNs, FCM or a webhook with retries. See docs/architecture.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/scheduler.h"
#include "common/status.h"
#include "directory/session_directory.h"
#include "presence/presence.h"
#include "push/push_options.h"
#include "store/store.h"

namespace parley::push {

Result<Preview> ParsePreview(std::string_view name);

struct PushDeps {
  store::Store& store;
  directory::SessionDirectory& directory;
  presence::Presence& presence;
  Scheduler& scheduler;
  const Clock& clock;
  MetricsRegistry& metrics;
};

class Dispatcher;
class Providers;

class PushService {
 public:
  // Fails when a configured provider cannot be set up (unreadable key file...).
  static Result<std::unique_ptr<PushService>> Create(PushDeps deps, PushOptions options);
  ~PushService();

  // True when at least one provider is configured (AnyProviderConfigured):
  // only then do messages record their pushes in the store's outbox.
  bool enabled() const;

  // Device registry. Blocking (store, DNS): call off the io threads.
  // `body` is the JSON of POST /v1/devices; returns the stored device.
  Result<store::DeviceRecord> RegisterDevice(const std::string& user_id, std::string_view body);
  Result<std::vector<store::DeviceRecord>> ListDevices(const std::string& user_id);
  Status DeleteDevice(const std::string& user_id, const std::string& device_id);

  // A user's mute of one conversation (the caller checks membership).
  Status SetMuted(const std::string& user_id, const std::string& conversation_id, bool muted);
  Result<bool> IsMuted(const std::string& user_id, const std::string& conversation_id);

  // Resumes persisted jobs and the outbox of a previous run. Call once before serving.
  Status Start();
  // The chat service's stored hook: plans the pushes of a stored message.
  void OnStored(const store::EntryRecord& entry, store::ConversationKind kind);
  // Stops planning and sending; what is not sent stays persisted for the next start.
  void Stop();

 private:
  PushService(PushDeps deps, PushOptions options, std::unique_ptr<Providers> providers);

  PushDeps deps_;
  const PushOptions options_;
  std::unique_ptr<Providers> providers_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

// The JSON object of a device as GET /v1/devices lists it.
std::string DeviceJson(const store::DeviceRecord& device);

}  // namespace parley::push
