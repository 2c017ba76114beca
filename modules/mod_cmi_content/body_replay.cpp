#include "mod_cmi_content/body_replay.hpp"

namespace cmi::content {

apr_status_t hand_out(apr_bucket_brigade* pending, apr_bucket_brigade* bb, ap_input_mode_t mode,
                      apr_off_t readbytes) {
    if (APR_BRIGADE_EMPTY(pending)) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
        return APR_SUCCESS;
    }
    apr_bucket* stop = APR_BRIGADE_SENTINEL(pending);
    if (mode != AP_MODE_EXHAUSTIVE) {
        const apr_status_t rv = apr_brigade_partition(pending, readbytes, &stop);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) return rv;
        // A read that ends exactly before EOS takes EOS along, as HTTP_IN does.
        if (stop != APR_BRIGADE_SENTINEL(pending) && APR_BUCKET_IS_EOS(stop)) stop = APR_BUCKET_NEXT(stop);
    }
    while (APR_BRIGADE_FIRST(pending) != stop) {
        apr_bucket* b = APR_BRIGADE_FIRST(pending);
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    return APR_SUCCESS;
}

}  // namespace cmi::content
