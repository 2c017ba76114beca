#include "httpd/notes.hpp"
#include "mod_cmi_content/request_state.hpp"


namespace cmi::content {

void publish(request_rec* r, const char* key, const std::string& value) {
    const char* v = apr_pstrmemdup(r->pool, value.data(), value.size());
    apr_table_setn(r->notes, key, v);
    apr_table_setn(r->subprocess_env, key, v);
}

const char* conclude(request_rec* r, RequestState& st, std::string& detail) {
    const std::string streamed = st.digest.finish();
    publish(r, httpd::kContentDigestKey, content_digest_member(st.expect.alg, streamed));
    if (!digest_equal(streamed, st.expect.digest)) {
        publish(r, httpd::kContentValidationKey, "invalid");
        detail = std::string("The request body does not match the ") +
                 (std::string(st.expect.format) == "cms" ? "signed messageDigest of CMI-Content-Signature."
                                                         : "signed Content-Digest.");
        return "digest-mismatch";
    }
    publish(r, httpd::kContentValidationKey, "valid");
    return nullptr;
}

}  // namespace cmi::content
