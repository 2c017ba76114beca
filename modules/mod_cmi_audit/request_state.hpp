// What happened to one operation's records; kept on the request as received,
// so internal redirects and subrequests see the same state.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"

namespace cmi::audit {

struct BodyTally;
class AuditLog;

struct RequestState {
    bool begun = false;         // the begin record is in the chain (or queued for it): an end record follows
    bool begin_failed = false;  // it could not be recorded
    bool has_entry = false;     // `entry` is the begin record's result entry in the log's ring...
    bool entry_released = false;  // ...until the end record (or a pool cleanup) lets go of it
    std::uint32_t entry = 0;
    AuditLog* log = nullptr;
    BodyTally* body = nullptr;
    const char* receipt = nullptr;  // the CMI-Receipt value sent
    // The connection's TLS facts, looked up once for both records (mod_ssl's
    // variable lookups are not free).
    bool tls_known = false;
    std::optional<RecordView::Tls> tls;  // views into the connection's (or request's) pool
    // The begin record's description of the request (ids, connection,
    // request line), serialized, in the operation's pool; the end record of
    // the same request_rec (`described`) copies it.
    RecordView::Pieces description;
    const request_rec* described = nullptr;
};

// The state of r's operation, or nullptr if none was made yet.
RequestState* find_state(request_rec* r);
// The state of r's operation, made if needed.
RequestState& state(request_rec* r);
// The pool of r's operation (its first request's): what lives as long as the state.
apr_pool_t* operation_pool(request_rec* r);

}  // namespace cmi::audit
