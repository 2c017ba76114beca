#include "mod_cmi_audit/request_body.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/request_chain.hpp"
#include "mod_cmi_audit/audit_config.hpp"

namespace cmi::audit {
namespace {

constexpr const char* kFilterName = "CMI_AUDIT_BODY";
// Its handle, set by register_hooks at each load of the module (adding by
// handle skips the name lookup in httpd's filter registry).
ap_filter_rec_t* g_body_filter = nullptr;

extern "C" apr_status_t body_filter(ap_filter_t* f, apr_bucket_brigade* bb, ap_input_mode_t mode,
                                    apr_read_type_e block, apr_off_t readbytes) {
    return httpd::filter_barrier(f, cmi_audit_module, "body filter", [&]() -> apr_status_t {
        const apr_status_t rv = ap_get_brigade(f->next, bb, mode, block, readbytes);
        // A speculative read leaves the data where it is: it will come again.
        if (rv != APR_SUCCESS || mode == AP_MODE_SPECULATIVE) return rv;
        auto* tally = static_cast<BodyTally*>(f->ctx);
        for (apr_bucket* b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                tally->eos = true;
                continue;
            }
            if (APR_BUCKET_IS_METADATA(b) || tally->eos) continue;
            const char* data = nullptr;
            apr_size_t len = 0;
            const apr_status_t rr = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
            if (rr != APR_SUCCESS) return rr;
            if (len && !tally->hash) tally->hash.emplace();
            if (len) tally->hash->update(data, len);
            tally->bytes += len;
        }
        return APR_SUCCESS;
    });
}

}  // namespace

void register_body_filter() {
    // Above HTTP_IN: the body after de-chunking, as the handler gets it.
    g_body_filter = ap_register_input_filter(kFilterName, body_filter, nullptr, AP_FTYPE_RESOURCE);
}

BodyTally* add_body_filter(request_rec* r) {
    auto* tally = httpd::pool_new<BodyTally>(r->pool);
    tally->frec = ap_add_input_filter_handle(g_body_filter, tally, r, r->connection)->frec;
    return tally;
}

void keep_body_filter(request_rec* r, BodyTally* tally) { httpd::keep_input_filter(r, tally->frec, tally); }

namespace {

// SHA-256 of nothing (most requests): no hash context, no string made for it.
constexpr std::string_view kEmptyDigest = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";

// The digest once EOS went through (computed once), else nullopt.
std::optional<std::string_view> digest_of(BodyTally& tally) {
    if (!tally.eos) return std::nullopt;
    if (!tally.hash) return kEmptyDigest;
    if (!tally.digest) tally.digest = rfc9530_sha256(tally.hash->finish());
    return std::string_view(*tally.digest);
}

}  // namespace

RequestBody body_facts(BodyTally& tally) {
    RequestBody body;
    body.bytes = tally.bytes;
    if (const auto d = digest_of(tally)) body.digest = std::string(*d);
    return body;
}

RecordView::Body body_view(BodyTally& tally) {
    RecordView::Body body;
    body.bytes = tally.bytes;
    body.digest = digest_of(tally);
    return body;
}

}  // namespace cmi::audit
