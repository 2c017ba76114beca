// Where an operation's begin record stands in the chain, for the request side
// (the receipt filter binds a receipt to it: issue 15).
#pragma once
#include "httpd/httpd_includes.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace cmi::audit {

struct BeginPosition {
    std::uint64_t seq = 0;                   // the begin record's seq
    std::array<unsigned char, 32> sha256{};  // SHA-256 of its line as written, line feed included
    // Lower-case hex of sha256: what `sed -n Np log | sha256sum` prints.
    std::string sha256_hex() const;
};

// The begin record of r's operation (r may be a subrequest or an internal
// redirect of it), once the log's writer has chained it: waits up to
// `max_wait` for that. nullopt when there is none: not audited, no
// CMIAuditLog, the begin record was refused or failed, or it was not chained
// within `max_wait`. Call it on the request's own thread, from any hook or
// filter after fixups (e.g. an output filter at response time).
std::optional<BeginPosition> begin_position(request_rec* r, apr_interval_time_t max_wait);

}  // namespace cmi::audit
