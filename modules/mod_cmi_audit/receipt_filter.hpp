// CMIAuditReceipts On: the CMI-Receipt response header (docs/architecture.md §Audit trail), made by
// an output filter on the first brigade of the response, before the headers
// go out, and kept for the end record.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi {
class Signer;
}

namespace cmi::audit {

void register_receipt_filter();
void add_receipt_filter(request_rec* r, const Signer* signer);

}  // namespace cmi::audit
