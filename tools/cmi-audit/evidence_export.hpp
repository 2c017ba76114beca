// cmi-audit evidence: writes the evidence files one begin record names back
// out of the evidence store under names a person (and openssl) can use, and
// says how to check each one with standard tools alone.
#pragma once
#include "libcmi/audit_record.hpp"
#include "libcmi/evidence_store.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace cmi::audit_tool {

struct EvidenceContext {
    std::string txid;
    std::string out_dir;
    std::string digest;  // the end record's request digest (RFC 9530), "" if unknown
};

// Reads each file from `store` (its SHA-256 and size must match the record),
// writes it to ctx.out_dir and prints on `how` what was written and the
// command that checks it. Throws std::runtime_error on a file that is
// missing, altered or cannot be written (the message says which).
void export_evidence(const audit::EvidenceStore& store, const std::vector<audit::EvidenceFile>& files,
                     const EvidenceContext& ctx, std::ostream& how);

}  // namespace cmi::audit_tool
