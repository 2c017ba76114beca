// cmi-audit evidence: writes the evidence files one begin record names back
// out of the evidence store under names a person (and openssl) can use, and
// says how to check each one with standard tools alone.
#pragma once
#include "libcmi/audit_record.hpp"
#include "libcmi/evidence_store.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace cmi::audit_tool {

struct EvidenceContext {
    std::string txid;
    std::string out_dir;
    std::string digest;  // the end record's request digest (RFC 9530), "" if unknown
};

// A record's `evidence` list; nullopt when it is not a list of
// {"kind","name","sha256","bytes"} (an empty list when the field is null).
std::optional<std::vector<audit::EvidenceFile>> evidence_of(const nlohmann::json& rec);

// Every file the list names (and every item of a manifest-items index) is in
// `store` with its SHA-256 and size. Returns how many files were checked;
// throws std::runtime_error for the first that is missing or altered.
std::size_t check_evidence(const audit::EvidenceStore& store, const std::vector<audit::EvidenceFile>& files);

// Reads each file from `store` (its SHA-256 and size must match the record),
// writes it to ctx.out_dir and prints on `how` what was written and the
// command that checks it. Throws std::runtime_error on a file that is
// missing, altered or cannot be written (the message says which).
void export_evidence(const audit::EvidenceStore& store, const std::vector<audit::EvidenceFile>& files,
                     const EvidenceContext& ctx, std::ostream& how);

}  // namespace cmi::audit_tool
