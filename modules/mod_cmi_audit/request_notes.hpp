// The notes an audit record reads (docs/architecture.md §Notes contract),
// gathered in one pass over the notes of a request and of the requests
// before it, instead of one lookup per key and per request of the chain.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::audit {

struct RecordNotes {
    const char* user = nullptr;         // CMI_USER
    const char* auth_mech = nullptr;    // CMI_AUTH_MECH
    const char* auth_issuer = nullptr;  // CMI_AUTH_ISSUER
    const char* validation = nullptr;   // CMI_CONTENT_VALIDATION
    const char* format = nullptr;       // CMI_CONTENT_FORMAT
    const char* signer = nullptr;       // CMI_CONTENT_SIGNER
    const char* items = nullptr;        // CMI_CONTENT_ITEMS
    const char* refusal = nullptr;      // CMI_REFUSAL
    const char* client_txid = nullptr;  // the validated CMI-Client-Transaction-ID (request_ids.hpp)
    bool evidence = false;              // a CMI_EVIDENCE_* note (request_evidence.hpp)
};

// What httpd::chain_note(r, key) gives for each key: the first request of the
// chain (r, then the requests it redirected from and the main request of a
// subrequest) that has the note; keys without case.
RecordNotes record_notes(const request_rec* r);

}  // namespace cmi::audit
