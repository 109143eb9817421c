// Judges a fault-injection history (history.h) against the guarantees of
// SPEC section 5. Each violation names its check:
//   lost       an acknowledged message missing from a member's final sync
//   unacked    a send the application asked for was never acknowledged
//   duplicate  one client_msg_id stored (or acked) at more than one seq, or
//              one seq released twice to the application
//   phantom    a stored message no client ever asked to send
//   order      a client released a conversation out of seq order, or a
//              connection got a seq below one it already had (live delivery
//              skipped ahead of what it delivered later)
//   gap        a final sync with holes in a conversation, or a client whose
//              released messages differ from what its final sync holds
//   receipt    a watermark seen going backwards, or a read mark sent after
//              the heal missing from the final state
//   push       an offline member got pushes for fewer messages than were
//              acknowledged in its conversation
#pragma once

#include <string>
#include <vector>

#include "faults/history.h"

namespace parley::faults {

struct Violation {
  std::string check;
  std::string detail;
};

struct CheckResult {
  std::vector<Violation> violations;
  size_t invoked = 0, acked = 0, attempts = 0, deliveries = 0, released = 0;
  size_t receipts = 0, pushes = 0, faults = 0, connections = 0;

  bool ok() const { return violations.empty(); }
  // Violations of one check.
  size_t Count(const std::string& check) const;
  // The counts and the first `max_listed` violations, for the test log.
  std::string Summary(size_t max_listed = 25) const;
};

CheckResult Check(const std::vector<Op>& history);

}  // namespace parley::faults
