#include "chat/typing.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.h"

namespace parley::chat {

TypingService::TypingService(store::Store& store, directory::SessionDirectory& directory,
                             Relations& relations, const Clock& clock,
                             Scheduler& scheduler,
                             std::function<void(std::function<void()>)> run_blocking,
                             MetricsRegistry& metrics, TypingOptions options)
    : store_(store),
      directory_(directory),
      relations_(relations),
      scheduler_(scheduler),
      run_blocking_(std::move(run_blocking)),
      options_(options),
      limiter_(clock, options.rate, options.burst),
      forwarded_(metrics.AddCounter("parley_typing_forwarded_total", "typing frames forwarded")),
      dropped_(metrics.AddCounter("parley_typing_dropped_total",
                                  "typing frames dropped (rate, channel or group size)")) {}

Status TypingService::Handle(const std::string& user_id, const std::string& session_id,
                             const std::string& conversation_id, const std::string& state) {
  auto member = store_.GetMember(conversation_id, user_id);
  if (!member.ok() || !member->current()) return Forbidden("not a member of this conversation");
  if (limiter_.Acquire(session_id) > 0) {
    dropped_.Inc();
    return Status::Ok();  // ephemeral: silently dropped, like the rest of its kind
  }
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    auto key = std::make_pair(conversation_id, user_id);
    if (state == "start") {
      generation = active_[key] = next_generation_++;
    } else {
      active_.erase(key);
    }
  }
  Forward(user_id, conversation_id, state, session_id);
  if (generation != 0) {
    scheduler_.After(options_.expire_ms, [this, user_id, conversation_id, generation] {
      run_blocking_([=, this] { Expire(user_id, conversation_id, generation); });
    });
  }
  return Status::Ok();
}

void TypingService::Expire(const std::string& user_id, const std::string& conversation_id,
                           uint64_t generation) {
  {
    std::lock_guard lock(mu_);
    auto it = active_.find({conversation_id, user_id});
    if (it == active_.end() || it->second != generation) return;  // refreshed or stopped
    active_.erase(it);
  }
  Forward(user_id, conversation_id, "stop", "");
}

void TypingService::Forward(const std::string& user_id, const std::string& conversation_id,
                            const std::string& state, const std::string& origin_session) {
  std::vector<std::string> recipients;
  if (auto pair = DirectMembers(conversation_id)) {
    recipients.push_back(pair->first == user_id ? pair->second : pair->first);
  } else {
    auto c = store_.GetConversation(conversation_id);
    if (!c.ok() || c->kind != store::ConversationKind::kGroup ||
        c->member_count > options_.fanout_limit) {
      dropped_.Inc();
      return;  // channels and big groups never get typing
    }
    auto members = store_.ListMembers(conversation_id, "", options_.fanout_limit + 1);
    if (!members.ok()) return;
    for (const auto& m : *members) {
      if (m.user_id != user_id) recipients.push_back(m.user_id);
    }
  }
  auto frame = std::make_shared<const std::string>(boost::json::serialize(
      boost::json::object{{"op", "typing"}, {"conversation_id", conversation_id},
                          {"user_id", user_id}, {"state", state}}));
  // A blocked user sees none of the blocker's typing.
  std::erase_if(recipients, [&](const std::string& r) { return relations_.Blocks(user_id, r); });
  forwarded_.Inc(directory_.SendToUsers(recipients, frame, 0, origin_session));
}

}  // namespace parley::chat
