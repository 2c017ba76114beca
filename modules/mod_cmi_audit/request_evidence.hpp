// Evidence of origin (issue 15.3), the mod_cmi_audit side: the provider's
// signature that mod_cmi_content left in the request notes (httpd/notes.hpp,
// kEvidence*) goes into the evidence store beside the log
// (libcmi/evidence_store.hpp) before the begin record that names it is
// written, so the chain covers each file's SHA-256 and size.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"

#include <string>

namespace cmi::audit {

class EvidenceStore;
struct ServerConfig;

// In post_config, as root: the store of the log (CMIAuditEvidenceStore, or
// cmi-evidence beside the log), made if missing and then owned by the httpd
// User so the children can write to it, and opened: the children reach it
// through that descriptor, whatever the directories above allow them.
// Throws std::runtime_error.
const EvidenceStore* open_evidence_store(apr_pool_t* pconf, server_rec* s, const ServerConfig& main);

// Keeps the evidence of r's operation, if any, and lists it in rec.evidence
// (a list in r's pool; made durable first with CMIAuditSync On). Returns why
// it could not be kept, or "" (also when there is none). `has_notes`: whether
// r's chain has any CMI_EVIDENCE_* note (RecordNotes::evidence); most
// requests have none.
std::string keep_evidence(request_rec* r, RecordView& rec, bool has_notes);

}  // namespace cmi::audit
