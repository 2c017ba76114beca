#include "httpd/httpd_version.hpp"

#include "httpd/httpd_includes.hpp"

#include <ap_release.h>

namespace cmi::httpd {
namespace {

// Set in the configuration pool by the first of our modules to refuse: the others
// refuse too, silently (each module links its own copy of this hook).
constexpr const char* kRefusedKey = "cmi-httpd-version-refused";

// Nothing here can throw: no barrier needed.
extern "C" int check_httpd_version(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*) noexcept {
    ap_version_t v;
    ap_get_server_revision(&v);
    if (httpd_version_supported(v.major, v.minor, v.patch)) return OK;
    void* refused = nullptr;
    apr_pool_userdata_get(&refused, kRefusedKey, pconf);
    if (!refused) {
        apr_pool_userdata_setn("1", kRefusedKey, nullptr, pconf);
        ap_log_perror(__FILE__, __LINE__, APLOG_NO_MODULE, APLOG_EMERG, 0, pconf,
                      CMILOGNO(00004) "mod_cmi needs httpd %d.%d.%d or later; this is %d.%d.%d, whose mod_ssl "
                                      "lets a client whose certificate one virtual host verified into another by "
                                      "resuming its TLS 1.3 session there (CVE-2025-23048): upgrade httpd",
                       kMinHttpdMajor, kMinHttpdMinor, kMinHttpdPatch, v.major, v.minor, v.patch);
    }
    return HTTP_INTERNAL_SERVER_ERROR;
}

}  // namespace

void register_httpd_version_check() {
    ap_hook_pre_config(check_httpd_version, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
}

}  // namespace cmi::httpd
