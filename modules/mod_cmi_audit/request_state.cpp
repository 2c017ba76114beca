#include "mod_cmi_audit/request_state.hpp"

#include "httpd/request_chain.hpp"
#include "httpd/pool_object.hpp"
#include "mod_cmi_audit/audit_config.hpp"

namespace cmi::audit {

using httpd::first_request;

apr_pool_t* operation_pool(request_rec* r) { return first_request(r)->pool; }

RequestState* find_state(request_rec* r) {
    return static_cast<RequestState*>(ap_get_module_config(first_request(r)->request_config, &cmi_audit_module));
}

RequestState& state(request_rec* r) {
    if (RequestState* st = find_state(r)) return *st;
    request_rec* first = first_request(r);
    auto* st = httpd::pool_new<RequestState>(first->pool);
    ap_set_module_config(first->request_config, &cmi_audit_module, st);
    return *st;
}

}  // namespace cmi::audit
