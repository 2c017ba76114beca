// Which methods may bring content into a validated location (issue 22): the
// table of docs/content-validation.md. PUT, POST and any other body are
// validated by the rest of the module; here,
//   - COPY and MOVE (and any method that names a destination) are refused where
//     mod_dav looks their Destination up with a subrequest (dav_lookup_uri):
//     403 copy-refused when it lies in a validated location, unless
//     CMIContentCopyWithin allows copies within one validated section; and a
//     collection's, when its members would land in a validated section below
//     the destination (validated_sections.hpp);
//   - a request with Content-Range (mod_dav's partial PUT) is refused with 400
//     partial-update-refused: the stored whole would be signed by nobody;
//   - methods outside HTTP's and WebDAV's own (PATCH, BIND, DeltaV, custom
//     ones) are refused with 405 method-refused unless CMIContentExtensionMethods
//     lists them.
#pragma once
#include "httpd/httpd_includes.hpp"

namespace cmi::content {

// A fixups hook that runs before validation, and the filter that turns
// mod_dav's own answer to a refused destination into the problem document.
void register_method_policy();

// Whether method number `m` is one of HTTP's and WebDAV's (RFC 4918) own
// methods: each has its row in the policy table (HEAD is M_GET's).
bool has_own_rules(int m);

// The policy for r as its location now is (also run again after mod_dir's fast redirects).
int apply_method_policy(request_rec* r);

}  // namespace cmi::content
