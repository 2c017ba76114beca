// The ids of an audited request (docs/architecture.md §Audit trail): the transaction id on the
// response, in the environment and on the request to proxied backends, and the
// client's own CMI-Client-Transaction-ID, validated and echoed.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::audit {

// The note that holds the validated client transaction id.
inline constexpr const char* kClientTxidNote = "CMI_CLIENT_TRANSACTION_ID";

// Publishes the ids of r; idempotent, so internal redirects may call it again.
void publish_request_ids(request_rec* r);

// The validated client transaction id of r, or nullptr.
const char* client_transaction_id(const request_rec* r);

}  // namespace cmi::audit
