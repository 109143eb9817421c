// The store's record and key codecs (src/store/records.h) on bytes read back from disk: a
// decoder never crashes, a decoded record re-encodes to bytes that decode to the same record,
// and the key helpers keep their ordering promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "store/records.h"

using namespace parley::store;

namespace {

// Decode → encode → decode → encode: both encodings are equal (the codec is stable on
// whatever it accepts).
template <typename Decode, typename Encode>
void RoundTrip(std::string_view bytes, Decode decode, Encode encode) {
  auto first = decode(bytes);
  if (!first.ok()) return;
  std::string once = encode(*first);
  auto second = decode(once);
  FUZZ_CHECK(second.ok());
  FUZZ_CHECK(encode(*second) == once);
}

void Keys(std::string_view bytes) {
  // A key part never holds a 0x00 byte: cut the input there into two parts.
  size_t cut = bytes.find('\0');
  std::string_view first = bytes.substr(0, cut);
  std::string_view second = cut == std::string_view::npos ? "" : bytes.substr(cut + 1);
  uint64_t number = 0;
  for (unsigned char c : second) number = number * 131 + c;

  auto be = DecodeBe64(EncodeBe64(number));
  FUZZ_CHECK(be.ok() && *be == number);
  auto from_key = NumberFromKey(NumberKey(first, number));
  FUZZ_CHECK(from_key.ok() && *from_key == number);
  (void)NumberFromKey(bytes);
  (void)DecodeBe64(bytes);

  std::string prefix = KeyPrefix(first), end = KeyPrefixEnd(first);
  std::string pair = PairKey(first, second), numbered = NumberKey(first, number);
  FUZZ_CHECK(prefix < end);
  FUZZ_CHECK(pair.starts_with(prefix) && pair < end);
  FUZZ_CHECK(numbered.starts_with(prefix) && numbered < end);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the codec; the rest are the stored bytes.
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 14) {
    case 0: RoundTrip(bytes, DecodeUser, EncodeUser); break;
    case 1: RoundTrip(bytes, DecodeToken, EncodeToken); break;
    case 2: RoundTrip(bytes, DecodeConversation, EncodeConversation); break;
    case 3: RoundTrip(bytes, DecodeMember, EncodeMember); break;
    case 4: RoundTrip(bytes, DecodeEntry, EncodeEntry); break;
    case 5: RoundTrip(bytes, DecodeReceipt, EncodeReceipt); break;
    case 6: RoundTrip(bytes, DecodeHidden, EncodeHidden); break;
    case 7: RoundTrip(bytes, DecodeIdempotency, EncodeIdempotency); break;
    case 8: RoundTrip(bytes, DecodeDevice, EncodeDevice); break;
    case 9: RoundTrip(bytes, DecodePushJob, EncodePushJob); break;
    case 10: RoundTrip(bytes, DecodeMedia, EncodeMedia); break;
    case 11: RoundTrip(bytes, DecodeMediaRef, EncodeMediaRef); break;
    default: Keys(bytes); break;
  }
  return 0;
}
