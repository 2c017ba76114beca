#include "mod_cmi_content/http_signature_check.hpp"

#include "libcmi/validation_error.hpp"

namespace cmi::content {

bool has_http_signature(request_rec* r) {
    return apr_table_get(r->headers_in, "Signature-Input") || apr_table_get(r->headers_in, "Signature");
}

Expectation check_http_signature(request_rec*, const DirConfig&) {
    throw ValidationError("signature-malformed", "http-signature is not implemented yet");
}

}  // namespace cmi::content
