// What happened to one operation's records; kept on the request as received,
// so internal redirects and subrequests see the same state.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"

namespace cmi::audit {

struct BodyTally;

struct RequestState {
    bool begun = false;         // the begin record is in the log
    bool begin_failed = false;  // it could not be written
    std::uint64_t begin_seq = 0;     // where the begin record was chained
    std::string begin_line_hash;     // hex SHA-256 of its line
    BodyTally* body = nullptr;
    const char* receipt = nullptr;  // the CMI-Receipt value sent
    // The connection's TLS facts, looked up once for both records (mod_ssl's
    // variable lookups are not free).
    bool tls_known = false;
    std::optional<TlsFacts> tls;
};

// The state of r's operation, or nullptr if none was made yet.
RequestState* find_state(request_rec* r);
// The state of r's operation, made if needed.
RequestState& state(request_rec* r);

}  // namespace cmi::audit
