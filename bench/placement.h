// Where the bench's connections go when it drives several server nodes (a
// cluster): the server list of --server, the pid list of --server-pid, and the
// node of each connection. No Asio here, so it is unit-tested with the checker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

struct ServerAddr {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// Splits "host:port" (port 0..65535, host not empty).
bool SplitHostPort(const std::string& s, std::string& host, uint16_t& port);

// "HOST:PORT" or "HOST:PORT,HOST:PORT,...": one entry per node, in order.
// False with `error` naming the bad entry; an empty list or entry is an error.
bool ParseServerList(const std::string& list, std::vector<ServerAddr>& out, std::string& error);

// "PID" or "PID,PID,...": positive integers, one per node.
bool ParsePidList(const std::string& list, std::vector<int>& out, std::string& error);

// Node of side 0 or 1 of pair `pair` among `nodes`: side 0 on pair % nodes,
// side 1 on the next node, so with two or more nodes every pair spans two.
size_t PairNode(size_t pair, int side, size_t nodes);

// Node of the i-th connection when connections are spread round robin.
inline size_t RoundRobinNode(size_t i, size_t nodes) { return nodes == 0 ? 0 : i % nodes; }

}  // namespace parley::bench
