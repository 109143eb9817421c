#include "store/records.h"

#include <boost/json.hpp>
#include <limits>

namespace parley::store {
namespace {

namespace json = boost::json;

// Typed access to the fields of a decoded object. A field may be absent (it
// keeps its default) unless required, but when present it must have the
// right type; the first violation makes the whole record corrupt.
class Reader {
 public:
  explicit Reader(const json::object& object) : object_(object) {}

  bool ok() const { return ok_; }

  void Str(std::string_view key, std::string* out, bool required = false) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (const json::string* s = v->if_string()) {
      out->assign(s->data(), s->size());
    } else {
      ok_ = false;
    }
  }

  void U64(std::string_view key, uint64_t* out, bool required = false) {
    const json::value* v = Find(key, required);
    if (v == nullptr) return;
    if (const uint64_t* u = v->if_uint64()) {
      *out = *u;
    } else if (const int64_t* i = v->if_int64(); i != nullptr && *i >= 0) {
      *out = static_cast<uint64_t>(*i);
    } else {
      ok_ = false;
    }
  }

  void U32(std::string_view key, uint32_t* out) {
    uint64_t wide = *out;
    U64(key, &wide);
    if (wide > std::numeric_limits<uint32_t>::max()) ok_ = false;
    if (ok_) *out = static_cast<uint32_t>(wide);
  }

  void I64(std::string_view key, int64_t* out) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    if (const int64_t* i = v->if_int64()) {
      *out = *i;
    } else {
      ok_ = false;  // uint64 above INT64_MAX and doubles alike
    }
  }

  void Bool(std::string_view key, bool* out) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    if (const bool* b = v->if_bool()) {
      *out = *b;
    } else {
      ok_ = false;
    }
  }

  // An object of non-negative integer counts, e.g. {"👍":2}.
  void Counts(std::string_view key, std::map<std::string, uint32_t>* out) {
    const json::value* v = Find(key, false);
    if (v == nullptr) return;
    const json::object* counts = v->if_object();
    if (counts == nullptr) {
      ok_ = false;
      return;
    }
    for (const auto& [name, count] : *counts) {
      const uint64_t* u = count.if_uint64();
      const int64_t* i = count.if_int64();
      uint64_t n = u ? *u : (i && *i >= 0 ? static_cast<uint64_t>(*i) : ~uint64_t{0});
      if (n > std::numeric_limits<uint32_t>::max()) {
        ok_ = false;
        return;
      }
      (*out)[std::string(name)] = static_cast<uint32_t>(n);
    }
  }

  void Kind(std::string_view key, ConversationKind* out) {
    std::string name;
    Str(key, &name, true);
    if (!ok_) return;
    std::optional<ConversationKind> kind = ParseKind(name);
    if (!kind) {
      ok_ = false;
      return;
    }
    *out = *kind;
  }

  void RoleField(std::string_view key, Role* out) {
    std::string name;
    Str(key, &name, true);
    if (!ok_) return;
    std::optional<Role> role = ParseRole(name);
    if (!role) {
      ok_ = false;
      return;
    }
    *out = *role;
  }

 private:
  const json::value* Find(std::string_view key, bool required) {
    const json::value* v = object_.if_contains(json::string_view(key.data(), key.size()));
    if (v == nullptr && required) ok_ = false;
    return v;
  }

  const json::object& object_;
  bool ok_ = true;
};

// Parses `bytes` as a JSON object and lets `fill` read it into a T.
template <typename T, typename Fill>
Result<T> Decode(std::string_view bytes, std::string_view what, Fill fill) {
  // Records are small: parse into a stack buffer, no heap churn per read.
  unsigned char buffer[4096];
  json::monotonic_resource resource(buffer, sizeof buffer);
  json::parse_options options;
  options.max_depth = 4;
  options.allow_invalid_utf8 = true;  // stored strings are opaque bytes
  boost::system::error_code ec;
  json::value value =
      json::parse(json::string_view(bytes.data(), bytes.size()), ec, &resource, options);
  if (ec || !value.is_object()) return Internal("corrupt " + std::string(what) + " record");
  Reader reader(value.get_object());
  T record;
  fill(reader, record);
  if (!reader.ok()) return Internal("corrupt " + std::string(what) + " record");
  return record;
}

json::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

// Entries are the bulk of the data: leave out empty fields.
void PutIfSet(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) o[Sv(key)] = Sv(value);
}

}  // namespace

std::string EncodeUser(const UserRecord& user) {
  json::object o;
  o["user_id"] = Sv(user.user_id);
  o["display_name"] = Sv(user.display_name);
  o["password_hash"] = Sv(user.password_hash);
  o["created_at"] = user.created_at;
  o["last_seen"] = user.last_seen;
  o["show_last_seen"] = user.show_last_seen;
  return json::serialize(o);
}

Result<UserRecord> DecodeUser(std::string_view bytes) {
  return Decode<UserRecord>(bytes, "user", [](Reader& r, UserRecord& u) {
    r.Str("user_id", &u.user_id, true);
    r.Str("display_name", &u.display_name);
    r.Str("password_hash", &u.password_hash);
    r.I64("created_at", &u.created_at);
    r.I64("last_seen", &u.last_seen);
    r.Bool("show_last_seen", &u.show_last_seen);
  });
}

std::string EncodeToken(const TokenRecord& token) {
  json::object o;
  o["token_hash"] = Sv(token.token_hash);
  o["user_id"] = Sv(token.user_id);
  o["device"] = Sv(token.device);
  o["created_at"] = token.created_at;
  o["expires_at"] = token.expires_at;
  return json::serialize(o);
}

Result<TokenRecord> DecodeToken(std::string_view bytes) {
  return Decode<TokenRecord>(bytes, "token", [](Reader& r, TokenRecord& t) {
    r.Str("token_hash", &t.token_hash, true);
    r.Str("user_id", &t.user_id, true);
    r.Str("device", &t.device);
    r.I64("created_at", &t.created_at);
    r.I64("expires_at", &t.expires_at);
  });
}

std::string EncodeConversation(const ConversationRecord& c) {
  json::object o;
  o["conversation_id"] = Sv(c.conversation_id);
  o["kind"] = Sv(KindName(c.kind));
  o["name"] = Sv(c.name);
  o["posting"] = Sv(c.posting);
  o["created_by"] = Sv(c.created_by);
  o["created_at"] = c.created_at;
  o["last_seq"] = c.last_seq;
  o["last_version"] = c.last_version;
  o["member_count"] = c.member_count;
  if (c.disappear_after_s != 0) o["disappear_after_s"] = c.disappear_after_s;
  if (c.purged_seq != 0) o["purged_seq"] = c.purged_seq;
  return json::serialize(o);
}

Result<ConversationRecord> DecodeConversation(std::string_view bytes) {
  return Decode<ConversationRecord>(bytes, "conversation", [](Reader& r, ConversationRecord& c) {
    r.Str("conversation_id", &c.conversation_id, true);
    r.Kind("kind", &c.kind);
    r.Str("name", &c.name);
    r.Str("posting", &c.posting);
    r.Str("created_by", &c.created_by);
    r.I64("created_at", &c.created_at);
    r.U64("last_seq", &c.last_seq);
    r.U64("last_version", &c.last_version);
    r.U32("member_count", &c.member_count);
    r.I64("disappear_after_s", &c.disappear_after_s);
    r.U64("purged_seq", &c.purged_seq);
  });
}

std::string EncodeMember(const MemberRecord& m) {
  json::object o;
  o["conversation_id"] = Sv(m.conversation_id);
  o["user_id"] = Sv(m.user_id);
  o["role"] = Sv(RoleName(m.role));
  o["joined_seq"] = m.joined_seq;
  o["left_seq"] = m.left_seq;
  o["joined_at"] = m.joined_at;
  return json::serialize(o);
}

Result<MemberRecord> DecodeMember(std::string_view bytes) {
  return Decode<MemberRecord>(bytes, "member", [](Reader& r, MemberRecord& m) {
    r.Str("conversation_id", &m.conversation_id, true);
    r.Str("user_id", &m.user_id, true);
    r.RoleField("role", &m.role);
    r.U64("joined_seq", &m.joined_seq);
    r.U64("left_seq", &m.left_seq);
    r.I64("joined_at", &m.joined_at);
  });
}

std::string EncodeEntry(const EntryRecord& e) {
  json::object o;
  o["conversation_id"] = Sv(e.conversation_id);
  o["seq"] = e.seq;
  o["version"] = e.version;
  o["ts"] = e.ts;
  if (e.is_event) o["is_event"] = true;
  if (e.message_id != 0) o["message_id"] = e.message_id;
  PutIfSet(o, "sender", e.sender);
  PutIfSet(o, "type", e.type);
  PutIfSet(o, "content", e.content);
  PutIfSet(o, "client_msg_id", e.client_msg_id);
  PutIfSet(o, "media_id", e.media_id);
  if (e.media_width != 0) o["media_width"] = e.media_width;
  if (e.media_height != 0) o["media_height"] = e.media_height;
  PutIfSet(o, "reply_to", e.reply_to);
  PutIfSet(o, "kind", e.kind);
  PutIfSet(o, "actor", e.actor);
  PutIfSet(o, "user_id", e.user_id);
  PutIfSet(o, "name", e.name);
  PutIfSet(o, "role", e.role);
  PutIfSet(o, "promoted", e.promoted);
  PutIfSet(o, "posting", e.posting);
  PutIfSet(o, "reply_sender", e.reply_sender);
  PutIfSet(o, "reply_preview", e.reply_preview);
  if (e.edited_at != 0) o["edited_at"] = e.edited_at;
  if (e.deleted) o["deleted"] = true;
  if (!e.reactions.empty()) {
    json::object counts;
    for (const auto& [emoji, count] : e.reactions) counts[Sv(emoji)] = count;
    o["reactions"] = std::move(counts);
  }
  PutIfSet(o, "emoji", e.emoji);
  if (e.disappear_after_s >= 0) o["disappear_after_s"] = e.disappear_after_s;
  return json::serialize(o);
}

Result<EntryRecord> DecodeEntry(std::string_view bytes) {
  return Decode<EntryRecord>(bytes, "entry", [](Reader& r, EntryRecord& e) {
    r.Str("conversation_id", &e.conversation_id, true);
    r.U64("seq", &e.seq, true);
    r.U64("version", &e.version);
    r.I64("ts", &e.ts);
    r.Bool("is_event", &e.is_event);
    r.U64("message_id", &e.message_id);
    r.Str("sender", &e.sender);
    r.Str("type", &e.type);
    r.Str("content", &e.content);
    r.Str("client_msg_id", &e.client_msg_id);
    r.Str("media_id", &e.media_id);
    r.U32("media_width", &e.media_width);
    r.U32("media_height", &e.media_height);
    r.Str("reply_to", &e.reply_to);
    r.Str("kind", &e.kind);
    r.Str("actor", &e.actor);
    r.Str("user_id", &e.user_id);
    r.Str("name", &e.name);
    r.Str("role", &e.role);
    r.Str("promoted", &e.promoted);
    r.Str("posting", &e.posting);
    r.Str("reply_sender", &e.reply_sender);
    r.Str("reply_preview", &e.reply_preview);
    r.I64("edited_at", &e.edited_at);
    r.Bool("deleted", &e.deleted);
    r.Counts("reactions", &e.reactions);
    r.Str("emoji", &e.emoji);
    r.I64("disappear_after_s", &e.disappear_after_s);
  });
}

std::string EncodeReceipt(const ReceiptRecord& r) {
  json::object o;
  o["conversation_id"] = Sv(r.conversation_id);
  o["user_id"] = Sv(r.user_id);
  o["delivered_seq"] = r.delivered_seq;
  o["read_seq"] = r.read_seq;
  o["version"] = r.version;
  o["updated_at"] = r.updated_at;
  return json::serialize(o);
}

Result<ReceiptRecord> DecodeReceipt(std::string_view bytes) {
  return Decode<ReceiptRecord>(bytes, "receipt", [](Reader& r, ReceiptRecord& out) {
    r.Str("conversation_id", &out.conversation_id, true);
    r.Str("user_id", &out.user_id, true);
    r.U64("delivered_seq", &out.delivered_seq);
    r.U64("read_seq", &out.read_seq);
    r.U64("version", &out.version);
    r.I64("updated_at", &out.updated_at);
  });
}

std::string EncodeHidden(const HiddenRecord& h) {
  json::object o;
  o["conversation_id"] = Sv(h.conversation_id);
  o["user_id"] = Sv(h.user_id);
  o["seq"] = h.seq;
  o["message_id"] = h.message_id;
  o["version"] = h.version;
  o["hidden_at"] = h.hidden_at;
  return json::serialize(o);
}

Result<HiddenRecord> DecodeHidden(std::string_view bytes) {
  return Decode<HiddenRecord>(bytes, "hidden", [](Reader& r, HiddenRecord& h) {
    r.Str("conversation_id", &h.conversation_id, true);
    r.Str("user_id", &h.user_id, true);
    r.U64("seq", &h.seq, true);
    r.U64("message_id", &h.message_id);
    r.U64("version", &h.version);
    r.I64("hidden_at", &h.hidden_at);
  });
}

std::string EncodeIdempotency(const IdempotencyRecord& i) {
  json::object o;
  o["sender"] = Sv(i.sender);
  o["client_msg_id"] = Sv(i.client_msg_id);
  o["conversation_id"] = Sv(i.conversation_id);
  o["message_id"] = i.message_id;
  o["seq"] = i.seq;
  o["ts"] = i.ts;
  return json::serialize(o);
}

Result<IdempotencyRecord> DecodeIdempotency(std::string_view bytes) {
  return Decode<IdempotencyRecord>(bytes, "idempotency", [](Reader& r, IdempotencyRecord& i) {
    r.Str("sender", &i.sender, true);
    r.Str("client_msg_id", &i.client_msg_id, true);
    r.Str("conversation_id", &i.conversation_id, true);
    r.U64("message_id", &i.message_id);
    r.U64("seq", &i.seq);
    r.I64("ts", &i.ts);
  });
}

std::string EncodeDevice(const DeviceRecord& d) {
  json::object o;
  o["device_id"] = Sv(d.device_id);
  o["user_id"] = Sv(d.user_id);
  o["platform"] = Sv(d.platform);
  PutIfSet(o, "token", d.token);
  PutIfSet(o, "url", d.url);
  PutIfSet(o, "app_id", d.app_id);
  o["created_at"] = d.created_at;
  return json::serialize(o);
}

Result<DeviceRecord> DecodeDevice(std::string_view bytes) {
  return Decode<DeviceRecord>(bytes, "device", [](Reader& r, DeviceRecord& d) {
    r.Str("device_id", &d.device_id, true);
    r.Str("user_id", &d.user_id, true);
    r.Str("platform", &d.platform, true);
    r.Str("token", &d.token);
    r.Str("url", &d.url);
    r.Str("app_id", &d.app_id);
    r.I64("created_at", &d.created_at);
  });
}

std::string EncodePushJob(const PushJobRecord& j) {
  json::object o;
  o["job_id"] = Sv(j.job_id);
  o["user_id"] = Sv(j.user_id);
  o["device_id"] = Sv(j.device_id);
  o["conversation_id"] = Sv(j.conversation_id);
  PutIfSet(o, "sender", j.sender);
  PutIfSet(o, "preview", j.preview);
  o["count"] = j.count;
  o["last_seq"] = j.last_seq;
  o["created_at"] = j.created_at;
  o["due_at"] = j.due_at;
  o["attempts"] = j.attempts;
  return json::serialize(o);
}

Result<PushJobRecord> DecodePushJob(std::string_view bytes) {
  return Decode<PushJobRecord>(bytes, "push job", [](Reader& r, PushJobRecord& j) {
    r.Str("job_id", &j.job_id, true);
    r.Str("user_id", &j.user_id, true);
    r.Str("device_id", &j.device_id, true);
    r.Str("conversation_id", &j.conversation_id, true);
    r.Str("sender", &j.sender);
    r.Str("preview", &j.preview);
    r.U32("count", &j.count);
    r.U64("last_seq", &j.last_seq);
    r.I64("created_at", &j.created_at);
    r.I64("due_at", &j.due_at);
    r.U32("attempts", &j.attempts);
  });
}

std::string EncodeMedia(const MediaRecord& m) {
  json::object o;
  o["media_id"] = Sv(m.media_id);
  o["sha256"] = Sv(m.sha256);
  o["size"] = m.size;
  o["content_type"] = Sv(m.content_type);
  o["uploader"] = Sv(m.uploader);
  PutIfSet(o, "file_name", m.file_name);
  o["created_at"] = m.created_at;
  if (m.width != 0) o["width"] = m.width;
  if (m.height != 0) o["height"] = m.height;
  return json::serialize(o);
}

Result<MediaRecord> DecodeMedia(std::string_view bytes) {
  return Decode<MediaRecord>(bytes, "media", [](Reader& r, MediaRecord& m) {
    r.Str("media_id", &m.media_id, true);
    r.Str("sha256", &m.sha256, true);
    r.U64("size", &m.size);
    r.Str("content_type", &m.content_type);
    r.Str("uploader", &m.uploader);
    r.Str("file_name", &m.file_name);
    r.I64("created_at", &m.created_at);
    r.U32("width", &m.width);
    r.U32("height", &m.height);
  });
}

std::string EncodeMediaRef(const MediaRefRecord& ref) {
  json::object o;
  o["media_id"] = Sv(ref.media_id);
  o["conversation_id"] = Sv(ref.conversation_id);
  o["seq"] = ref.seq;
  o["ts"] = ref.ts;
  return json::serialize(o);
}

Result<MediaRefRecord> DecodeMediaRef(std::string_view bytes) {
  return Decode<MediaRefRecord>(bytes, "media reference", [](Reader& r, MediaRefRecord& ref) {
    r.Str("media_id", &ref.media_id, true);
    r.Str("conversation_id", &ref.conversation_id, true);
    r.U64("seq", &ref.seq);
    r.I64("ts", &ref.ts);
  });
}

std::string EncodeBe64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

Result<uint64_t> DecodeBe64(std::string_view bytes) {
  if (bytes.size() != 8) return Internal("corrupt 64-bit value");
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

std::string PairKey(std::string_view first, std::string_view second) {
  std::string key;
  key.reserve(first.size() + 1 + second.size());
  key.append(first).push_back('\0');
  key.append(second);
  return key;
}

std::string NumberKey(std::string_view first, uint64_t number) {
  return PairKey(first, EncodeBe64(number));
}

Result<uint64_t> NumberFromKey(std::string_view key) {
  if (key.size() < 9 || key[key.size() - 9] != '\0') return Internal("corrupt numbered key");
  return DecodeBe64(key.substr(key.size() - 8));
}

std::string KeyPrefix(std::string_view first) {
  std::string key(first);
  key.push_back('\0');
  return key;
}

std::string KeyPrefixEnd(std::string_view first) {
  std::string key(first);
  key.push_back('\x01');
  return key;
}

}  // namespace parley::store
