// libFuzzer target: SAML document validation up to the signature check
// (no IdP is trusted, so nothing validates; parsing and structure checks run).
// Build: see tests/fuzz/README-auth.md
#include "libcmi/lasso_includes.hpp"
#include "libcmi/saml_assertion.hpp"
#include "libcmi/saml_time.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    lasso_init();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static cmi::saml::TrustedIdps none;
    cmi::saml::Policy p;
    p.sp_entity_id = "https://sp";
    p.recipients = {"https://h/x"};
    p.now = 1700000000;
    const std::string_view s(reinterpret_cast<const char*>(data), size);
    auto r = cmi::saml::validate(s, none, p);
    if (r.ok) abort();  // nothing is trusted: nothing may validate
    cmi::saml::parse_time(s);
    return 0;
}
