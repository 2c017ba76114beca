// Handing a body that was read ahead (spooled, or a buffered manifest) to the
// handler as an input filter would: at most `readbytes` per read, EOS taken
// along when a read ends just before it, EOS again once everything is out.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::content {

// register_hooks: the input filter `name` that replays a body read ahead.
void register_read_ahead_filter(const char* name);

// The handler reads `body` (the whole body in r's pool, EOS last: `length`
// bytes, its Content-Length whatever the client's framing was) through the
// input filter `name`; every request of r's chain does (body_guard.hpp).
void replay_to_handler(request_rec* r, const char* name, apr_bucket_brigade* body, apr_off_t length);

// Moves the next part of `pending` (the whole body, EOS last) into `bb`.
apr_status_t hand_out(apr_bucket_brigade* pending, apr_bucket_brigade* bb, ap_input_mode_t mode,
                      apr_off_t readbytes);

}  // namespace cmi::content
