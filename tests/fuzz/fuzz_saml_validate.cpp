// libFuzzer target: the SAML intake after base64 (XML parse, structure checks,
// lasso/xmlsec signature verification, conditions). One throw-away IdP is
// trusted (saml/idp-metadata.xml; the seeds are documents it signed, valid
// at the fixed time below, made by saml/make-seeds), so mutations reach the
// signature check and everything after it. Input that is base64 is decoded
// first, as the Authorization: SAML header carries it.
// Properties: nothing validates when no IdP is trusted; what validates names
// the trusted issuer and a user.
// fuzz-sources: libcmi/saml_*.cpp libcmi/base64.cpp libcmi/sha256.cpp libcmi/ossl.cpp pkg:lasso pkg:gobject-2.0 pkg:xmlsec1-openssl pkg:libxml-2.0
// fuzz-options: -max_len=65536
#include "libcmi/base64.hpp"
#include "libcmi/lasso_includes.hpp"
#include "libcmi/saml_assertion.hpp"
#include "libcmi/saml_time.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace {
cmi::saml::TrustedIdps* trusted = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    lasso_init();
    std::string dir(__FILE__);
    dir.resize(dir.rfind('/') + 1);
    trusted = new cmi::saml::TrustedIdps;
    try {
        trusted->load_metadata(dir + "saml/idp-metadata.xml");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_saml_validate: %s\n", e.what());
        std::abort();
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static cmi::saml::TrustedIdps none;
    std::string_view s(reinterpret_cast<const char*>(data), size);
    const auto decoded = cmi::base64_decode(s);
    if (decoded) s = *decoded;
    cmi::saml::Policy p;
    p.sp_entity_id = "https://sp";
    p.recipients = {"https://h/x"};
    p.now = 1700000000;
    if (cmi::saml::validate(s, none, p).ok) __builtin_trap();  // nothing is trusted: nothing may validate
    const auto r = cmi::saml::validate(s, *trusted, p);
    static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;  // to check the seeds
    if (verbose) std::fprintf(stderr, "validate: %s\n", r.ok ? ("ok, user " + r.identity.user).c_str() : r.error.c_str());
    if (r.ok && (r.identity.issuer != "https://idp.fuzz.example" || r.identity.user.empty())) __builtin_trap();
    cmi::saml::parse_time(s);
    return 0;
}
