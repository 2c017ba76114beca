// mod_cmi_content configuration: per-directory validation policy.
#pragma once
#include "httpd/directive.hpp"
#include "httpd/httpd_includes.hpp"
#include "httpd/replay_cache.hpp"

#include <ap_expr.h>
#include "libcmi/digest.hpp"
#include "libcmi/signer_policy.hpp"
#include "libcmi/trust_anchors.hpp"
#include "mod_cmi_content/manifest_config.hpp"

#include <string>
#include <vector>

// Every file of the module logs under its name (per-module LogLevel).
extern "C" {
APLOG_USE_MODULE(cmi_content);
}

namespace cmi::content {

enum class Validation : signed char { unset = -1, off = 0, optional = 1, required = 2 };

// Bit sets; 0 means "unset, inherit".
enum Format : unsigned { kFormatCms = 1, kFormatHttpSignature = 2 };
enum AlgBit : unsigned { kAlgSha256 = 1, kAlgSha512 = 2 };

// CMIContentExtensionMethods: methods beyond the WebDAV/HTTP set that a
// validated location lets through (their bodies validated like any other).
struct MethodNames {
    std::vector<std::string> names;
    bool contains(const char* method) const {
        for (const auto& n : names)
            if (n == method) return true;
        return false;
    }
};

struct DirConfig {
    Validation validation = Validation::unset;
    unsigned formats = 0;
    unsigned digest_algs = 0;
    const TrustAnchors* anchors = nullptr;  // owned by the configuration pool
    const char* signer_keys_dir = nullptr;
    httpd::Tri bind_signer = httpd::Tri::unset;
    httpd::Tri spool = httpd::Tri::unset;
    const char* spool_dir = nullptr;
    ManifestConfig manifest;  // Decoupled Upload
    long signature_max_age = -1;  // seconds; -1: unset (300)
    const ap_expr_info_t* signer_identity = nullptr;  // nullptr: %{SIGNER_S_DN_CN}
    const KeyPurposes* signer_purposes = nullptr;     // CMIContentSignerEKU
    const RevocationList* crl = nullptr;              // CMIContentCRL
    // The section that set CMIContentValidation: one "validated tree" for CMIContentCopyWithin.
    const char* validation_scope = nullptr;
    httpd::Tri copy_within = httpd::Tri::unset;
    const MethodNames* extension_methods = nullptr;   // CMIContentExtensionMethods
};

struct ServerConfig {
    httpd::ReplayCache* replay_cache = nullptr;  // nullptr: shmcb, made in post_config
    bool several_hosts = false;  // post_config: the configuration answers for more than one host name
    apr_array_header_t* snapshot_dirs = nullptr;  // every CMIStagingSnapshotDir here (const char*), for the sweep
};

// Records a CMIStagingSnapshotDir of server s (each child sweeps them at start).
void note_snapshot_dir(server_rec* s, apr_pool_t* pconf, const char* dir);

// Section merges (httpd::merge_config).
void merge_into(DirConfig& out, const DirConfig& base, const DirConfig& add, apr_pool_t* p);
void merge_into(ServerConfig& out, const ServerConfig& base, const ServerConfig& add, apr_pool_t* p);

inline ServerConfig& server_config(server_rec* s) {
    return *static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &cmi_content_module));
}

extern const command_rec directives[];

// A directive's directory argument (relative to ServerRoot), which must exist;
// `what` ends the error message ("give an existing directory <what>").
const char* directory_arg(cmd_parms* cmd, const char* arg, const char* what);

// Effective values after defaults.
inline Validation validation(const DirConfig& c) {
    return c.validation == Validation::unset ? Validation::off : c.validation;
}
// Unset: every format whose keys are configured (cms: trust anchors,
// http-signature: signer keys); a format that cannot be verified is not offered.
inline unsigned formats(const DirConfig& c) {
    if (c.formats) return c.formats;
    return (c.anchors ? unsigned{kFormatCms} : 0u) | (c.signer_keys_dir ? unsigned{kFormatHttpSignature} : 0u);
}
std::vector<DigestAlg> digest_algs(const DirConfig& c);
inline bool binds_signer(const DirConfig& c) { return c.bind_signer == httpd::Tri::on; }
inline bool spools(const DirConfig& c) { return c.spool == httpd::Tri::on; }
// The default CMIContentSpoolDir, set by the build (configure --with-spool-dir;
// LOCALSTATEDIR/lib/cmi/spool): httpd's own state, not the system temporary
// directory, which is often a tmpfs where a spooled body would sit in RAM.
#ifndef CMI_DEFAULT_SPOOL_DIR
#error "CMI_DEFAULT_SPOOL_DIR comes from the build (Makefile.am, configure --with-spool-dir)"
#endif
inline constexpr const char* kDefaultSpoolDir = CMI_DEFAULT_SPOOL_DIR;
inline const char* spool_dir(const DirConfig& c) { return c.spool_dir ? c.spool_dir : kDefaultSpoolDir; }
inline long signature_max_age(const DirConfig& c) { return c.signature_max_age >= 0 ? c.signature_max_age : 300; }
// Content enters this location only validated: uploads, manifests, copies.
inline bool validates(const DirConfig& c) { return validation(c) != Validation::off || decoupled(c.manifest); }
inline bool copies_within(const DirConfig& c) { return c.copy_within == httpd::Tri::on; }
inline SignerPolicy signer_policy(const DirConfig& c) { return SignerPolicy(*c.anchors, c.signer_purposes, c.crl); }

}  // namespace cmi::content
