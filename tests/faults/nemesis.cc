#include "faults/nemesis.h"

#include <atomic>
#include <thread>

namespace parley::faults {
namespace {

using Clock = std::chrono::steady_clock;

Millis Uniform(Rng& rng, Millis lo, Millis hi) {
  std::uniform_int_distribution<int64_t> d(lo.count(), std::max(lo, hi).count());
  return Millis(d(rng));
}

// Sleeps `total` in slices, returning early when `stop` is set.
void SleepUnlessStopped(Millis total, const std::atomic<bool>& stop) {
  auto end = Clock::now() + total;
  while (!stop && Clock::now() < end) {
    std::this_thread::sleep_for(std::min<Clock::duration>(Millis(50), end - Clock::now()));
  }
}

}  // namespace

bool ServerNode::Start(std::string* error) {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (true) {
    if (server_.Start()) return true;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(Millis(200));
  }
  if (error) *error = server_.error() + "\n" + server_.LogTail(4096);
  return false;
}

std::string KillRestart::Inject(Node& node, Rng& rng) {
  Millis down = Uniform(rng, Millis(0), max_down_);
  node.Kill9();
  std::this_thread::sleep_for(down);
  std::string error;
  std::string what = "kill -9 " + node.name() + ", down " + std::to_string(down.count()) + " ms";
  if (!node.Start(&error)) return what + ", restart failed: " + error;
  return what;
}

void KillRestart::Heal(Node& node) {
  node.Resume();
  if (!node.running()) node.Start(nullptr);
}

std::string PauseResume::Inject(Node& node, Rng& rng) {
  Millis paused = Uniform(rng, min_, max_);
  node.Pause();
  std::this_thread::sleep_for(paused);
  node.Resume();
  return "SIGSTOP " + node.name() + " for " + std::to_string(paused.count()) + " ms";
}

std::string Outage::Inject(Node& /*node*/, Rng& rng) {
  Millis down = Uniform(rng, min_, max_);
  service_.stop();
  std::this_thread::sleep_for(down);
  std::string what = name_ + ": " + service_.name + " down " + std::to_string(down.count()) + " ms";
  std::string error;
  if (!service_.start(&error)) return what + ", restart failed: " + error;
  return what;
}

void Outage::Heal(Node& /*node*/) {
  if (!service_.running()) service_.start(nullptr);
}

Nemesis::Nemesis(std::vector<Node*> nodes,
                 std::vector<std::pair<std::unique_ptr<Fault>, int>> faults, History& history,
                 NemesisOptions options)
    : nodes_(std::move(nodes)),
      faults_(std::move(faults)),
      history_(history),
      options_(options),
      rng_(options.seed) {}

bool Nemesis::Run(const std::atomic<bool>& stop) {
  auto start = Clock::now();
  const std::string first = faults_.front().first->name();
  std::vector<int> weights;
  for (const auto& [fault, weight] : faults_) weights.push_back(weight);
  std::discrete_distribution<size_t> pick_fault(weights.begin(), weights.end());
  std::uniform_int_distribution<size_t> pick_node(0, nodes_.size() - 1);
  while (!stop) {
    auto elapsed = Clock::now() - start;
    bool enough = counts_[first] >= options_.min_cycles && elapsed >= options_.min_duration;
    if (enough || elapsed >= options_.max_duration) break;
    SleepUnlessStopped(Uniform(rng_, options_.min_gap, options_.max_gap), stop);
    if (stop) break;
    Fault& fault = *faults_[pick_fault(rng_)].first;
    Node& node = *nodes_[pick_node(rng_)];
    std::string what = fault.Inject(node, rng_);
    ++counts_[fault.name()];
    history_.Add(
        Op{.type = OpType::kNemesis, .process = "nemesis", .kind = fault.name(), .detail = what});
    if (!fault.Recovered(node)) {
      error_ = what;
      return false;
    }
  }
  return true;
}

bool Nemesis::Heal() {
  for (Node* node : nodes_) {
    for (const auto& [fault, weight] : faults_) fault->Heal(*node);
    if (!node->running()) {
      std::string error;
      if (!node->Start(&error)) {
        error_ = "heal: " + node->name() + " would not start: " + error;
        return false;
      }
    }
  }
  history_.Add(Op{.type = OpType::kHeal, .process = "nemesis"});
  return true;
}

}  // namespace parley::faults
