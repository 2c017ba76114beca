// mod_cmi needs httpd 2.4.64 or later: mod_ssl before it lets a client whose
// certificate one virtual host verified into another one by resuming its TLS 1.3
// session there, unless SSLStrictSNIVHostCheck is on (CVE-2025-23048) — a provider
// of one CMC vhost would be let in as a user of another. configure checks the headers it builds against; this checks the httpd
// that loads the module, which may be older.
#pragma once

namespace cmi::httpd {

inline constexpr int kMinHttpdMajor = 2, kMinHttpdMinor = 4, kMinHttpdPatch = 64;

constexpr bool httpd_version_supported(int major, int minor, int patch) {
    if (major != kMinHttpdMajor) return major > kMinHttpdMajor;
    if (minor != kMinHttpdMinor) return minor > kMinHttpdMinor;
    return patch >= kMinHttpdPatch;
}

// Registers a pre_config hook that refuses to start (configtest included) on an older
// httpd, with one message however many of our modules are loaded.
void register_httpd_version_check();

}  // namespace cmi::httpd
