// What an audit record says about a request: read from the request, mod_ssl
// (connection_tls.hpp) and the notes other CMI modules leave
// (docs/architecture.md §Notes contract). The records are views: every
// string stays where it is (the request's or the connection's pool).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_record.hpp"
#include "mod_cmi_audit/request_notes.hpp"

#include <optional>
#include <string_view>

namespace cmi::audit {

// The request target as sent, without its query (`?` and after): a query
// may carry secrets (tokens, passwords) and the log can never forget them.
std::optional<std::string_view> recorded_uri(const request_rec* r);

// The begin record of the request r (the one that runs the handler);
// `notes`: record_notes(r).
RecordView begin_record(request_rec* r, const RecordNotes& notes);

// The end record: `first` is the request as received, `last` the one that
// produced the response (they differ after internal redirects); `notes`:
// record_notes(last). `described`: the begin record's description of
// `first`, if it made one (RecordView::Pieces), else it is made again.
RecordView end_record(request_rec* first, request_rec* last, const RecordNotes& notes,
                      const RecordView::Pieces* described = nullptr);

}  // namespace cmi::audit
