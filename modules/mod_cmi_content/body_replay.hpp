// Handing a body that was read ahead (spooled, or a buffered manifest) to the
// handler as an input filter would: at most `readbytes` per read, EOS taken
// along when a read ends just before it, EOS again once everything is out.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::content {

// Moves the next part of `pending` (the whole body, EOS last) into `bb`.
apr_status_t hand_out(apr_bucket_brigade* pending, apr_bucket_brigade* bb, ap_input_mode_t mode,
                      apr_off_t readbytes);

}  // namespace cmi::content
