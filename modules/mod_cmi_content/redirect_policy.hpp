// A body judged under one location's content policy and handed on inside httpd
// — ap_internal_redirect (Action, RewriteRule [PT], ErrorDocument, a CGI's local
// Location) or ap_internal_fast_redirect (DirectoryIndex, FallbackResource) — to
// a location whose policy differs must satisfy that policy too: the location a
// handler runs in decides what its handler may be given, not only the location
// the client named. Its signer is judged again from what the first verification
// kept (header_check.hpp); what cannot be judged again is refused.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/content_config.hpp"
#include "mod_cmi_content/request_state.hpp"

namespace cmi::content {

struct JudgedBody {
    const DirConfig* policy = nullptr;    // the configuration the verdict was last reached under
    const Expectation* signer = nullptr;  // the signature the body passed; nullptr for a manifest
};

// Whether two configurations accept exactly the same bodies (signer, formats,
// times, digests, spooling, Decoupled Upload).
bool same_content_policy(const DirConfig& a, const DirConfig& b);

// r, a redirected request whose body already has its verdict, in its location
// `now`: DECLINED when the verdict holds there (the same policy, a location that
// does not validate, or a signer it accepts too; a spooling location then gets
// the body spooled before its handler runs), else the refusal.
int judge_in_new_location(request_rec* r, const DirConfig& now, const JudgedBody& was);

}  // namespace cmi::content
