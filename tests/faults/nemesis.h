// The nemesis: injects faults into the processes under test at random moments
// drawn from a seeded RNG, and heals them all at the end.
//
// Faults act on Nodes: the single parley-server process, or one Node per
// server of a cluster run. Faults of a shared service (Redis, PostgreSQL) are
// Outages: they take their own service down, whichever node is drawn.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "faults/history.h"
#include "testing/server_process.h"

namespace parley::faults {

using Rng = std::mt19937_64;
using Millis = std::chrono::milliseconds;

// A process the nemesis may hurt.
class Node {
 public:
  virtual ~Node() = default;
  virtual std::string name() const = 0;
  virtual void Kill9() = 0;
  // Starts it again on the same address and data; false if it would not come up.
  virtual bool Start(std::string* error) = 0;
  virtual void Pause() = 0;   // SIGSTOP
  virtual void Resume() = 0;  // SIGCONT
  virtual bool running() const = 0;
};

// A parley-server process (the single node, or one node of a cluster).
class ServerNode : public Node {
 public:
  explicit ServerNode(testing::ServerProcess& server, std::string name = "server")
      : server_(server), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void Kill9() override { server_.Kill9(); }
  // Retries for a while: a client's ephemeral port may briefly hold the port.
  bool Start(std::string* error) override;
  void Pause() override { server_.Pause(); }
  void Resume() override { server_.Resume(); }
  bool running() const override { return server_.running(); }

 private:
  testing::ServerProcess& server_;
  std::string name_;
};

// One kind of fault. Inject() hurts `node` and returns once the fault is
// over (the node restarted, continued, reconnected…), with a description.
class Fault {
 public:
  virtual ~Fault() = default;
  virtual std::string name() const = 0;
  virtual std::string Inject(Node& node, Rng& rng) = 0;
  // Undoes whatever an interrupted Inject may have left behind.
  virtual void Heal(Node& node) = 0;
  // After Inject: whatever it hurt is back (false ends the run).
  virtual bool Recovered(Node& node) const { return node.running(); }
};

// kill -9, down for a random time in [0, max_down], then started again.
class KillRestart : public Fault {
 public:
  explicit KillRestart(Millis max_down) : max_down_(max_down) {}
  std::string name() const override { return "kill9"; }
  std::string Inject(Node& node, Rng& rng) override;
  void Heal(Node& node) override;

 private:
  Millis max_down_;
};

// SIGSTOP for a random time in [min, max], then SIGCONT.
class PauseResume : public Fault {
 public:
  PauseResume(Millis min, Millis max) : min_(min), max_(max) {}
  std::string name() const override { return "pause"; }
  std::string Inject(Node& node, Rng& rng) override;
  void Heal(Node& node) override { node.Resume(); }

 private:
  Millis min_, max_;
};

// A shared service (Redis, PostgreSQL) taken down for a random time in
// [min, max] and brought back, whichever node was drawn.
class Outage : public Fault {
 public:
  struct Service {
    std::string name;
    std::function<void()> stop;               // kill -9, or the service's own stop
    std::function<bool(std::string*)> start;  // back on the same port and data
    std::function<bool()> running;
  };
  Outage(std::string fault_name, Service service, Millis min, Millis max)
      : name_(std::move(fault_name)), service_(std::move(service)), min_(min), max_(max) {}
  std::string name() const override { return name_; }
  std::string Inject(Node& node, Rng& rng) override;
  void Heal(Node& node) override;
  bool Recovered(Node& /*node*/) const override { return service_.running(); }

 private:
  std::string name_;
  Service service_;
  Millis min_, max_;
};

struct NemesisOptions {
  uint64_t seed = 1;
  int min_cycles = 20;                 // of the first fault (kill/restart): run at least this many
  Millis min_duration{0};              // and at least this long (the soak mode)
  Millis max_duration{600'000};        // a fuse: stop even if the cycles are not reached
  Millis min_gap{300}, max_gap{2000};  // quiet time between two faults
};

class Nemesis {
 public:
  // `faults` with their relative weights; the first one's count is `min_cycles`.
  Nemesis(std::vector<Node*> nodes, std::vector<std::pair<std::unique_ptr<Fault>, int>> faults,
          History& history, NemesisOptions options);

  // Injects faults until the options are satisfied (or `stop` is set).
  // False if a node could not be brought back (error() says why).
  bool Run(const std::atomic<bool>& stop);
  // Every node resumed and running; recorded as the heal.
  bool Heal();

  const std::string& error() const { return error_; }
  std::map<std::string, int> counts() const { return counts_; }

 private:
  std::vector<Node*> nodes_;
  std::vector<std::pair<std::unique_ptr<Fault>, int>> faults_;
  History& history_;
  NemesisOptions options_;
  Rng rng_;
  std::map<std::string, int> counts_;
  std::string error_;
};

}  // namespace parley::faults
