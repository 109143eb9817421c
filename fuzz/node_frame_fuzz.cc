// Frames on the internal port (cluster/node_frame.h): any bytes decode to deliveries or an
// error without crashing; a decoded delivery keeps the format's invariants and survives an
// encode/decode round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster/node_frame.h"
#include "fuzz_check.h"

using namespace parley;

namespace {
constexpr size_t kMaxItemFrame = 256;  // small, so short inputs reach the bound
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto frames = cluster::DecodeDeliverFrame(text, kMaxItemFrame);
  if (!frames.ok()) return 0;
  std::string again(cluster::kDeliverFrameStart);
  for (size_t i = 0; i < frames->size(); ++i) {
    const directory::RemoteFrame& f = (*frames)[i];
    FUZZ_CHECK(!f.users.empty());
    FUZZ_CHECK(f.frame && !f.frame->empty() && f.frame->size() <= kMaxItemFrame);
    FUZZ_CHECK(f.conversation_id.empty() == (f.seq == 0));
    if (i > 0) again += ',';
    again += cluster::EncodeDeliverItem(f, f.users);
  }
  again += cluster::kDeliverFrameEnd;
  auto round = cluster::DecodeDeliverFrame(again, kMaxItemFrame);
  FUZZ_CHECK(round.ok() && round->size() == frames->size());
  for (size_t i = 0; i < frames->size(); ++i) {
    const auto& a = (*frames)[i];
    const auto& b = (*round)[i];
    FUZZ_CHECK(a.users == b.users && *a.frame == *b.frame && a.version == b.version &&
               a.conversation_id == b.conversation_id && a.seq == b.seq &&
               a.changes_members == b.changes_members);
  }
  return 0;
}
