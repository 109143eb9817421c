// Byte encodings of the store's records and keys for key-value backends.
//
// Values are JSON objects, so fields can be added without a migration.
// Decoders never throw: anything malformed is a Code::kInternal status.
//
// Keys are binary: string parts are separated by a 0x00 byte (user and
// conversation ids never contain one) and integers are big-endian, so the
// byte-wise order of keys is (first part, then number or second part).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/store.h"

namespace parley::store {

std::string EncodeUser(const UserRecord& user);
Result<UserRecord> DecodeUser(std::string_view bytes);

std::string EncodeToken(const TokenRecord& token);
Result<TokenRecord> DecodeToken(std::string_view bytes);

std::string EncodeConversation(const ConversationRecord& conversation);
Result<ConversationRecord> DecodeConversation(std::string_view bytes);

std::string EncodeMember(const MemberRecord& member);
Result<MemberRecord> DecodeMember(std::string_view bytes);

std::string EncodeEntry(const EntryRecord& entry);
Result<EntryRecord> DecodeEntry(std::string_view bytes);

std::string EncodeReceipt(const ReceiptRecord& r);
Result<ReceiptRecord> DecodeReceipt(std::string_view bytes);
std::string EncodeHidden(const HiddenRecord& record);
Result<HiddenRecord> DecodeHidden(std::string_view bytes);
std::string EncodeIdempotency(const IdempotencyRecord& record);
Result<IdempotencyRecord> DecodeIdempotency(std::string_view bytes);

std::string EncodeDevice(const DeviceRecord& device);
Result<DeviceRecord> DecodeDevice(std::string_view bytes);
std::string EncodePushJob(const PushJobRecord& job);
Result<PushJobRecord> DecodePushJob(std::string_view bytes);
std::string EncodeMedia(const MediaRecord& media);
Result<MediaRecord> DecodeMedia(std::string_view bytes);
std::string EncodeMediaRef(const MediaRefRecord& ref);
Result<MediaRefRecord> DecodeMediaRef(std::string_view bytes);

// 8 bytes, big-endian.
std::string EncodeBe64(uint64_t value);
// Exactly 8 bytes, else kInternal.
Result<uint64_t> DecodeBe64(std::string_view bytes);

// `first` 0x00 `second`: (conversation, user), (user, conversation),
// (sender, client_msg_id).
std::string PairKey(std::string_view first, std::string_view second);
// `first` 0x00 be64(number): (conversation, seq), (conversation, version).
std::string NumberKey(std::string_view first, uint64_t number);
// The number at the end of a NumberKey, else kInternal.
Result<uint64_t> NumberFromKey(std::string_view key);
// `first` 0x00: every key whose first part is `first` starts with this.
std::string KeyPrefix(std::string_view first);
// `first` 0x01: the exclusive upper bound of the keys that start with KeyPrefix(first).
std::string KeyPrefixEnd(std::string_view first);

}  // namespace parley::store
