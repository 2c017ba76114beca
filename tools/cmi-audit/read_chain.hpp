// Reads the log files given to a cmi-audit command through one chain
// verifier: opened with open_logs (plain or gzip, head files left out),
// merged by seq, each line that passes handed to an optional observer.
#pragma once
#include "libcmi/audit_verify.hpp"

#include <string>
#include <vector>

namespace cmi::audit_tool {

struct ChainRead {
    bool ok = false;
    // When not ok: "FILE:LINE: seq N: REASON" (a read error names its cause).
    std::string failure;
};

// Throws std::runtime_error when a file cannot be opened (exit status 2).
ChainRead read_chain(const std::vector<std::string>& files, audit::ChainVerifier& verifier);

}  // namespace cmi::audit_tool
