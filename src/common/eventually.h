// For tests of asynchronous behaviour: polls `condition` until it holds or
// `timeout` passes, and returns its last value. A bound on waiting, never a
// performance assertion.
#pragma once

#include <chrono>
#include <thread>

namespace parley {

template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace parley
