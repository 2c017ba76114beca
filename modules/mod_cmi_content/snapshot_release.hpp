// Decoupled Upload: the snapshots the handler did not take are released —
// moved files back at their staged names, the transaction directory removed —
// when the handler's response ends, BEFORE the client can see it complete, so
// that a provider's next manifest (on this connection or another) finds its
// staged files. The request pool's cleanup stays the fallback (a handler that
// never ends its response, an aborted connection), the child_init sweep the
// one for killed children.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi {
class TransactionDir;
}

namespace cmi::content {

void register_snapshot_release();

// A protocol output filter on r (internal redirects and error documents keep
// it, so it sees the final request's response): when EOS comes, after every
// byte before it has been read from the handler (a CGI's output to its end),
// `tx` is released, then EOS is passed on. Until then the last byte of the
// response is held back, so that neither a Content-Length body, nor the last
// chunk, nor HTTP/2's END_STREAM reaches the client before the release.
void release_snapshots_at_end_of_response(request_rec* r, TransactionDir& tx);

}  // namespace cmi::content
