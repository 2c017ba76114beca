// The names mod_cmi gives to what it asserts about a request: the transaction
// id, the authenticated identity, the content validation (environment variables
// for CGI, notes, and for the transaction id a request header to proxied
// backends). Backends map request headers to variables loosely: WSGI/CGI turn
// "CMI_Transaction_ID" and "CMI-Transaction-ID" alike into
// HTTP_CMI_TRANSACTION_ID, Node lower-cases, some servers turn '.' into '_'. A
// client-sent header whose name matches one of ours that way must never reach a
// backend that "can trust" ours.
#pragma once
#include <string_view>

namespace cmi {

// True if `header_name`, without case and ignoring every character that is not
// a letter or digit, names one of mod_cmi's variables (CMI_SAML_ATTR_* by its
// prefix). The client's own CMI-Client-Transaction-ID and CMI-Content-Signature
// are not ours and stay.
bool is_reserved_header_name(std::string_view header_name) noexcept;

}  // namespace cmi
