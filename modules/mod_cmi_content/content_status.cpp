// mod_cmi_content on server-status: refusals per problem code (counted by
// httpd::refuse), validations per format and result (counted here, at log time,
// from CMI_CONTENT_VALIDATION / CMI_CONTENT_FORMAT), replay-cache hits and misses.
#include "mod_cmi_content/content_status.hpp"

#include "httpd/notes.hpp"
#include "httpd/status_counters.hpp"
#include "mod_cmi_content/content_config.hpp"

#include <string>

namespace cmi::content {
namespace {

constexpr const char* kCounters[] = {
    "validations.cms.valid", "validations.cms.invalid",
    "validations.http-signature.valid", "validations.http-signature.invalid",
    "validations.manifest.valid", "validations.manifest.invalid",
    "validations.absent", "validations.unknown.invalid",
    "refused.signature-required", "refused.signature-malformed", "refused.digest-mismatch",
    "refused.signature-invalid", "refused.signer-untrusted", "refused.signer-not-bound",
    "refused.manifest-malformed", "refused.content-missing", "refused.too-large",
    "refused.validation-unavailable", "refused.signature-reused", "refused.copy-refused",
    "refused.method-refused", "refused.partial-update-refused",
    "replay_cache.hits", "replay_cache.misses", "replay_cache.errors", "replay_cache.full", "other",
};

void count_validation(request_rec* r) {
    // After an internal redirect the verdict may be known only to the last request.
    const request_rec* last = r;
    while (last->next) last = last->next;
    const char* result = apr_table_get(last->notes, httpd::kContentValidationKey);
    if (!result) return;
    const std::string res(result);
    if (res == "absent") return httpd::count(r, cmi_content_module, "validations.absent");
    const char* format = apr_table_get(last->notes, httpd::kContentFormatKey);
    httpd::count(r, cmi_content_module,
                 std::string("validations.") + (format && *format ? format : "unknown") + "." + res);
}

constexpr httpd::StatusTable kStatus{
    &cmi_content_module, "cmi_content", "mod_cmi_content (CMI content validation)", kCounters, std::size(kCounters),
    nullptr,             count_validation};

}  // namespace

void register_status_hooks() { httpd::register_status_table<kStatus>(); }

}  // namespace cmi::content
