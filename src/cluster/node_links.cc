#include "cluster/node_links.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "client/backoff.h"
#include "client/transport.h"
#include "cluster/node_frame.h"

namespace parley::cluster {

namespace net = client::internal::net;
using client::internal::Millis;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

namespace {

// One target node. The queue and state are shared with senders (under mu);
// the connection lives on the io thread only.
struct Link {
  Link(std::string node, net::io_context& io, const NodeLinksOptions& o)
      : node(std::move(node)),
        timer(io),
        flush_timer(io),
        backoff({.base = Millis(o.backoff_base_ms), .cap = Millis(o.backoff_cap_ms)}) {}

  enum class State { kConnecting, kUp, kDown };
  const std::string node;
  std::mutex mu;
  std::deque<std::string> queue;  // guarded by mu
  size_t queued_bytes = 0;        // guarded by mu
  State state = State::kConnecting;  // guarded by mu
  bool flush_posted = false;      // guarded by mu
  // io thread only:
  std::shared_ptr<client::internal::WsConnection> conn;
  net::steady_timer timer;
  net::steady_timer flush_timer;
  client::Backoff backoff;
  int64_t failures_logged = 0;
  std::optional<std::chrono::steady_clock::time_point> unknown_since;
};

}  // namespace

struct NodeLinks::Impl {
  Impl(AddressOf address_of, MetricsRegistry& metrics, NodeLinksOptions options)
      : address_of(std::move(address_of)),
        options(std::move(options)),
        forwarded(metrics.AddCounter("parley_cluster_items_sent_total",
                                     "Deliveries written to another node")),
        dropped(metrics.AddCounter("parley_cluster_items_dropped_total",
                                   "Deliveries for a node that could not be reached")),
        connects(metrics.AddCounter("parley_cluster_link_connects_total",
                                    "Connections made to other nodes' internal ports")) {}

  std::shared_ptr<Link> LinkFor(const std::string& node) {
    std::lock_guard lock(mu);
    if (stopping) return nullptr;
    auto& link = links[node];
    if (!link) {
      link = std::make_shared<Link>(node, io, options);
      net::co_spawn(io, Run(link), net::detached);
    }
    return link;
  }

  void SetState(Link& link, Link::State state) {
    std::lock_guard lock(link.mu);
    link.state = state;
  }

  // The node left the registry long ago (stopped, or expired after a crash):
  // its users' routes went too, and nothing queued for it will be wanted.
  void DropQueue(Link& link) {
    std::lock_guard lock(link.mu);
    dropped.Inc(link.queue.size());
    link.queue.clear();
    link.queued_bytes = 0;
  }

  net::awaitable<void> Run(std::shared_ptr<Link> link) {
    while (!stopped()) {
      bool up = co_await Connect(*link);
      if (up) {
        link->backoff.Reset();
        link->failures_logged = 0;
        connects.Inc();
        spdlog::info("event=node_link_up node={}", link->node);
        SetState(*link, Link::State::kUp);
        PostFlush(link);
        std::string text;
        boost::system::error_code ec;
        while (!(ec = co_await link->conn->Read(text))) {
          spdlog::warn("event=node_link_error node={} frame=\"{}\"", link->node, text.substr(0, 200));
        }
        spdlog::warn("event=node_link_down node={} error=\"{}\"", link->node, ec.message());
      }
      SetState(*link, Link::State::kDown);
      link->conn.reset();
      if (stopped()) break;
      link->timer.expires_after(*link->backoff.Next());
      co_await link->timer.async_wait(kTuple);
      SetState(*link, Link::State::kConnecting);
    }
  }

  net::awaitable<bool> Connect(Link& link) {
    auto address = address_of(link.node);
    if (!address) {
      if (!(++link.failures_logged & (link.failures_logged - 1))) {
        spdlog::warn("event=node_link_failed node={} error=\"not in the node registry\"", link.node);
      }
      auto now = std::chrono::steady_clock::now();
      if (!link.unknown_since) link.unknown_since = now;
      if (now - *link.unknown_since > Millis(options.forget_unknown_after_ms)) DropQueue(link);
      co_return false;
    }
    link.unknown_since.reset();
    auto url = client::ServerUrl::Parse("http://" + *address);
    if (!url.ok()) co_return false;
    link.conn = client::internal::MakeWsConnection(io.get_executor(), /*tls=*/false);
    client::internal::HttpReply declined;
    auto ec = co_await link.conn->Connect(*url, options.secret, Millis(options.connect_timeout_ms),
                                          Millis(30'000), &declined);
    if (!ec) co_return true;
    // One line per failure streak's doubling, not one per attempt.
    if (++link.failures_logged & (link.failures_logged - 1)) co_return false;
    spdlog::warn("event=node_link_failed node={} address={} error=\"{}\" status={}", link.node,
                 *address, ec.message(), declined.status);
    co_return false;
  }

  void PostFlush(const std::shared_ptr<Link>& link) {
    {
      std::lock_guard lock(link->mu);
      if (link->flush_posted || link->queue.empty()) return;
      link->flush_posted = true;
    }
    net::post(io, [this, link] { Flush(link); });
  }

  // On the io thread: everything queued (up to a frame's worth) goes out as one frame.
  void Flush(const std::shared_ptr<Link>& link) {
    if (!link->conn) return;
    if (link->conn->queued_frames() > 1) {  // the socket is behind: let items gather
      link->flush_timer.expires_after(Millis(1));
      link->flush_timer.async_wait([this, link](boost::system::error_code ec) {
        if (!ec) Flush(link);
      });
      return;
    }
    std::string frame(kDeliverFrameStart);
    size_t items = 0;
    {
      std::lock_guard lock(link->mu);
      link->flush_posted = false;
      while (!link->queue.empty() && (items == 0 || frame.size() < options.max_frame_bytes)) {
        if (items++ > 0) frame += ',';
        frame += link->queue.front();
        link->queued_bytes -= link->queue.front().size();
        link->queue.pop_front();
      }
    }
    if (items == 0) return;
    frame += kDeliverFrameEnd;
    forwarded.Inc(items);
    link->conn->Write(std::move(frame));
    PostFlush(link);  // what did not fit
  }

  // Stopping: what is queued for connected nodes goes out (for up to a
  // second), then every connection closes and the thread ends.
  net::awaitable<void> DrainThenClose() {
    net::steady_timer wait(io);
    for (int i = 0; i < 100 && !Drained(); ++i) {
      wait.expires_after(Millis(10));
      co_await wait.async_wait(kTuple);
    }
    for (auto& [node, link] : links) {
      if (link->conn) link->conn->Abort();
      link->timer.cancel();
      link->flush_timer.cancel();
    }
    work.reset();
  }

  bool Drained() {
    for (auto& [node, link] : links) {
      std::lock_guard lock(link->mu);
      if (link->state == Link::State::kUp &&
          (!link->queue.empty() || (link->conn && link->conn->queued_frames() > 0))) {
        return false;
      }
    }
    return true;
  }

  bool stopped() {
    std::lock_guard lock(mu);
    return stopping;
  }

  const AddressOf address_of;
  const NodeLinksOptions options;
  Counter& forwarded;
  Counter& dropped;
  Counter& connects;
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<Link>> links;  // guarded by mu
  bool stopping = false;                                         // guarded by mu
};

NodeLinks::NodeLinks(AddressOf address_of, MetricsRegistry& metrics, NodeLinksOptions options)
    : impl_(std::make_unique<Impl>(std::move(address_of), metrics, std::move(options))) {
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

NodeLinks::~NodeLinks() { Stop(); }

void NodeLinks::Send(const std::string& node_id, std::string item) {
  auto link = impl_->LinkFor(node_id);
  if (!link) return;
  {
    std::lock_guard lock(link->mu);
    // Queued while the node is unreachable too (a restart takes a moment): it
    // gets them once back; only past the bound are they dropped.
    if (link->queued_bytes + item.size() > impl_->options.max_queued_bytes) {
      impl_->dropped.Inc();
      return;
    }
    link->queued_bytes += item.size();
    link->queue.push_back(std::move(item));
    if (link->state != Link::State::kUp) return;  // sent once connected
  }
  impl_->PostFlush(link);
}

void NodeLinks::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  net::co_spawn(impl_->io, impl_->DrainThenClose(), net::detached);
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace parley::cluster
