#include "chat/groups.h"

#include <algorithm>
#include <set>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace parley::chat {
namespace json = boost::json;

GroupService::GroupService(store::Store& store, ChatService& chat, Relations& relations,
                           const Clock& clock, Snowflake& ids, GroupOptions options)
    : store_(store), chat_(chat), relations_(relations), clock_(clock), ids_(ids), options_(options) {}

uint32_t GroupService::CapFor(store::ConversationKind kind) const {
  return kind == store::ConversationKind::kChannel ? options_.max_channel_members
                                                   : options_.max_group_members;
}

void GroupService::AppendEvent(store::AppendRequest request, Done done) {
  std::vector<std::string> also_to = request.remove_members;
  chat_.AppendEvent(std::move(request), std::move(also_to),
                    [done = std::move(done)](Result<store::AppendResult> r) {
                      if (!r.ok()) return done(r.status());
                      done(MemberChangeResult{r->entry.conversation_id, r->entry.seq});
                    });
}

// A group's record, with NotFound for direct conversations and unknown ids.
Result<store::ConversationRecord> GroupService::GroupRecord(const std::string& conversation_id) {
  auto c = store_.GetConversation(conversation_id);
  if (!c.ok()) return c.status().code() == Code::kNotFound ? NotFound("no such group") : c.status();
  if (c->kind == store::ConversationKind::kDirect) return NotFound("no such group");
  return c;
}

void GroupService::Create(CreateGroupRequest req, std::function<void(Result<std::string>)> done) {
  chat_.RunBlocking([this, req = std::move(req), done = std::move(done)]() {
    if (req.name.empty() || req.name.size() > options_.max_name_bytes) {
      return done(BadRequest("name must be 1-" + std::to_string(options_.max_name_bytes) + " bytes"));
    }
    if (req.members.size() > options_.max_initial_members) {
      return done(TooLarge("at most " + std::to_string(options_.max_initial_members) +
                           " members per request; add more afterwards"));
    }
    std::set<std::string> members{req.creator};
    for (const std::string& raw : req.members) {
      auto id = NormalizeUserId(raw);
      if (!id.ok()) return done(BadRequest("invalid member id: " + raw.substr(0, 64)));
      if (members.insert(*id).second) {
        auto user = store_.GetUser(*id);
        if (!user.ok()) {
          return done(user.status().code() == Code::kNotFound ? NotFound("no such user: " + *id)
                                                               : user.status());
        }
        if (relations_.Blocks(*id, req.creator)) return done(Forbidden("cannot add " + *id));
      }
    }
    uint32_t cap = CapFor(req.kind);
    if (members.size() > cap) {
      return done(Conflict("a " + std::string(store::KindName(req.kind)) + " has at most " +
                           std::to_string(cap) + " members"));
    }
    bool channel = req.kind == store::ConversationKind::kChannel;
    std::string id = (channel ? "c:" : "g:") + std::to_string(ids_.Next());
    auto r = EventRequest(id, req.creator, "created", clock_.NowMs());
    r.entry.name = req.name;
    store::ConversationRecord record;
    record.conversation_id = id;
    record.kind = req.kind;
    record.name = req.name;
    record.created_by = req.creator;
    record.created_at = r.entry.ts;
    r.create_if_missing = record;
    r.max_members = cap;
    for (const std::string& m : members) {
      store::MemberRecord member;
      member.conversation_id = id;
      member.user_id = m;
      member.role = m == req.creator ? store::Role::kAdmin : store::Role::kMember;
      member.joined_at = r.entry.ts;
      r.add_members.push_back(std::move(member));
    }
    AppendEvent(std::move(r), [id, done](Result<MemberChangeResult> result) {
      if (!result.ok()) return done(result.status());
      done(id);
    });
  });
}

void GroupService::Describe(std::string user_id, std::string conversation_id,
                            std::string after_user, size_t limit,
                            std::function<void(Result<std::string>)> done) {
  chat_.RunBlocking([=, this, done = std::move(done)] {
    auto c = GroupRecord(conversation_id);
    if (!c.ok()) return done(c.status());
    auto me = store_.GetMember(conversation_id, user_id);
    if (!me.ok() || !me->current()) return done(Forbidden("not a member of this group"));
    bool channel = c->kind == store::ConversationKind::kChannel;
    size_t page = channel ? limit : std::max<size_t>(c->member_count, 1);
    auto members = store_.ListMembers(conversation_id, channel ? after_user : "", page);
    if (!members.ok()) return done(members.status());
    json::array list;
    for (const auto& m : *members) {
      list.push_back(json::object{{"user_id", m.user_id}, {"role", store::RoleName(m.role)}});
    }
    json::object o{{"conversation_id", c->conversation_id}, {"kind", store::KindName(c->kind)},
                   {"name", c->name},       {"posting", c->posting},
                   {"created_by", c->created_by}, {"member_count", c->member_count},
                   {"last_seq", c->last_seq}, {"members", std::move(list)}};
    if (channel && members->size() == page) o["next_after"] = members->back().user_id;
    done(json::serialize(o));
  });
}

void GroupService::Update(std::string actor, std::string conversation_id,
                          std::optional<std::string> name, std::optional<std::string> posting,
                          Done done) {
  chat_.RunBlocking([=, this, done = std::move(done)] {
    auto c = GroupRecord(conversation_id);
    if (!c.ok()) return done(c.status());
    if (!name && !posting) return done(BadRequest("nothing to change: give name or posting"));
    if (name && (name->empty() || name->size() > options_.max_name_bytes)) {
      return done(BadRequest("name must be 1-" + std::to_string(options_.max_name_bytes) + " bytes"));
    }
    if (posting && *posting != "all" && *posting != "admins") {
      return done(BadRequest("posting must be all or admins"));
    }
    if (posting && c->kind != store::ConversationKind::kChannel) {
      return done(BadRequest("posting applies to channels only"));
    }
    auto r = EventRequest(conversation_id, actor, "renamed", clock_.NowMs());
    r.require_admin = actor;
    r.entry.name = name.value_or(c->name);
    r.entry.posting = posting.value_or("");
    r.set_name = name;
    r.set_posting = posting;
    AppendEvent(std::move(r), done);
  });
}

void GroupService::SetRole(std::string actor, std::string conversation_id, std::string user_id,
                           store::Role role, Done done) {
  chat_.RunBlocking([=, this, done = std::move(done)] {
    auto c = GroupRecord(conversation_id);
    if (!c.ok()) return done(c.status());
    auto me = store_.GetMember(conversation_id, actor);
    if (!me.ok() || !me->current() || me->role != store::Role::kAdmin) {
      return done(Forbidden("only admins change roles"));
    }
    auto target = store_.GetMember(conversation_id, user_id);
    if (!target.ok() || !target->current()) return done(NotFound("not a member: " + user_id));
    if (target->role == store::Role::kAdmin && role == store::Role::kMember) {
      auto admins = CountAdmins(conversation_id);
      if (!admins.ok()) return done(admins.status());
      if (*admins <= 1) return done(Conflict("a group needs an admin: promote another member first"));
    }
    auto r = EventRequest(conversation_id, actor, "role_changed", clock_.NowMs());
    r.require_admin = actor;
    r.entry.user_id = user_id;
    r.entry.role = std::string(store::RoleName(role));
    r.set_roles.emplace_back(user_id, role);
    r.promote_if_no_admin = true;  // safety net if two admins demote each other at once
    AppendEvent(std::move(r), done);
  });
}

Result<size_t> GroupService::CountAdmins(const std::string& conversation_id) {
  size_t admins = 0;
  std::string after;
  for (;;) {
    auto page = store_.ListMembers(conversation_id, after, 1000);
    if (!page.ok()) return page.status();
    for (const auto& m : *page) admins += m.role == store::Role::kAdmin;
    if (page->size() < 1000) return admins;
    after = page->back().user_id;
  }
}

void GroupService::AddMember(std::string actor, std::string conversation_id, std::string user_id,
                             Done done) {
  chat_.RunBlocking([=, this, done = std::move(done)] {
    auto c = GroupRecord(conversation_id);
    if (!c.ok()) return done(c.status());
    auto id = NormalizeUserId(user_id);
    if (!id.ok()) return done(BadRequest("invalid user_id"));
    auto me = store_.GetMember(conversation_id, actor);
    if (!me.ok() || !me->current()) return done(Forbidden("not a member of this group"));
    auto user = store_.GetUser(*id);
    if (!user.ok()) {
      return done(user.status().code() == Code::kNotFound ? NotFound("no such user: " + *id)
                                                           : user.status());
    }
    if (relations_.Blocks(*id, actor)) return done(Forbidden("cannot add " + *id));
    auto existing = store_.GetMember(conversation_id, *id);
    if (existing.ok() && existing->current()) {  // idempotent: already a member
      if (me->role != store::Role::kAdmin) return done(Forbidden("only admins add members"));
      return done(MemberChangeResult{conversation_id, 0});
    }
    auto r = EventRequest(conversation_id, actor, "member_added", clock_.NowMs());
    r.require_admin = actor;
    r.entry.user_id = *id;
    store::MemberRecord m;
    m.conversation_id = conversation_id;
    m.user_id = *id;
    m.joined_at = r.entry.ts;
    r.add_members.push_back(std::move(m));
    r.max_members = CapFor(c->kind);
    AppendEvent(std::move(r), done);
  });
}

void GroupService::RemoveMember(std::string actor, std::string conversation_id,
                                std::string user_id, Done done) {
  chat_.RunBlocking([=, this, done = std::move(done)] {
    auto c = GroupRecord(conversation_id);
    if (!c.ok()) return done(c.status());
    auto me = store_.GetMember(conversation_id, actor);
    if (!me.ok() || !me->current()) return done(Forbidden("not a member of this group"));
    auto id = NormalizeUserId(user_id);
    auto target = id.ok() ? store_.GetMember(conversation_id, *id) : Result<store::MemberRecord>(id.status());
    if (!target.ok() || !target->current()) return done(NotFound("not a member: " + user_id));
    bool leaving = *id == actor;
    auto r = EventRequest(conversation_id, actor, leaving ? "member_left" : "member_removed",
                          clock_.NowMs());
    if (leaving) {
      r.require_member = actor;
    } else {
      r.require_admin = actor;
    }
    r.entry.user_id = *id;
    r.remove_members.push_back(*id);
    r.promote_if_no_admin = true;  // the last admin leaving promotes the oldest member
    AppendEvent(std::move(r), done);
  });
}

}  // namespace parley::chat
