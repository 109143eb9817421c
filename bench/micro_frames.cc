// Microbenchmarks of the JSON frame codec on the server's receive path
// (protocol::DecodeClientFrame) for the frames a chat server sees most, and of
// the bench's own non-allocating reader of server frames for comparison.
#include <benchmark/benchmark.h>

#include <string>

#include "flat_json.h"
#include "protocol/frames.h"

namespace {

const parley::protocol::Limits kLimits;

std::string SendFrame(size_t content_bytes) {
  return R"({"op":"send","id":12345,"conversation_id":"d:alice:bob","type":"text",)"
         R"("client_msg_id":"b1x2y3-17-0-12345","content":")" +
         std::string(content_bytes, 'x') + "\"}";
}

void BM_DecodeSend(benchmark::State& state) {
  const std::string frame = SendFrame(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto d = parley::protocol::DecodeClientFrame(frame, kLimits);
    benchmark::DoNotOptimize(d);
    if (!d.body.ok()) state.SkipWithError("decode failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(frame.size()));
}
BENCHMARK(BM_DecodeSend)->Arg(64)->Arg(1024)->Arg(16 * 1024);

void BM_DecodeReceipt(benchmark::State& state) {
  const std::string frame = R"({"op":"receipt","conversation_id":"d:alice:bob","kind":"read","up_to_seq":987654})";
  for (auto _ : state) {
    auto d = parley::protocol::DecodeClientFrame(frame, kLimits);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeReceipt);

void BM_DecodeInvalid(benchmark::State& state) {
  const std::string frame = R"({"op":"send","id":"x-1","to":"bob"})";
  for (auto _ : state) {
    auto d = parley::protocol::DecodeClientFrame(frame, kLimits);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeInvalid);

void BM_BenchFlatJsonMessage(benchmark::State& state) {
  const std::string frame =
      R"({"op":"message","conversation_id":"d:alice:bob","seq":4242,"message_id":"384894148223700992",)"
      R"("sender":"alice","ts":1795833115924,"type":"text","content":"17.0.4242.123456789.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",)"
      R"("client_msg_id":"b1x2y3-17-0-4242"})";
  parley::bench::FlatJson j;
  for (auto _ : state) {
    benchmark::DoNotOptimize(j.Parse(frame));
    benchmark::DoNotOptimize(j.Get("content"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BenchFlatJsonMessage);

}  // namespace

BENCHMARK_MAIN();
