// How mod_cmi logs. Module files declare their module once (APLOG_USE_MODULE in
// the module's config header) and log with APLOG_MARK, so httpd's per-module
// LogLevel is checked before a message is even formatted. The shared glue
// (modules/httpd) logs for whichever module calls it: CMI_LOG_MARK(m) in place
// of APLOG_MARK does the same for a module known only at run time.
//
// Message ids, in the manner of httpd's APLOGNO: every message at warn or above
// begins with one, so a line can be looked up in docs/troubleshooting.md and
// found again across releases: CMILOGNO(n) "text" logs "CMIn: text".
// Five digits; the first names the area: 0 the shared glue (modules/httpd),
// 1 mod_cmi_tls, 2 mod_cmi_auth, 3 mod_cmi_content, 4 mod_cmi_audit; the other
// four count up within it. An id names one message and is never reused;
// tests/e2e/test_log_ids.py checks that every id is unique and documented.
#pragma once
#include "libcmi/log_id.hpp"

#include <http_log.h>

#define CMI_LOG_MARK(m) __FILE__, __LINE__, (m).module_index
