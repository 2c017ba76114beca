#include "mod_cmi_content/content_config.hpp"

#include "httpd/barrier.hpp"
#include "httpd/pool_object.hpp"
#include "mod_cmi_content/method_policy.hpp"
#include "mod_cmi_content/signer_identity.hpp"

#include <apr_file_info.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::content {
namespace {

using httpd::as_cmd;

const char* set_validation(cmd_parms* cmd, DirConfig& c, const char* arg) {
    if (!strcasecmp(arg, "Off")) c.validation = Validation::off;
    else if (!strcasecmp(arg, "Optional")) c.validation = Validation::optional;
    else if (!strcasecmp(arg, "Required")) c.validation = Validation::required;
    else throw std::invalid_argument(std::string("'") + arg + "' is not a mode; use Off, Optional or Required");
    c.validation_scope = cmd->path ? cmd->path : "";  // the section (server config: "")
    return nullptr;
}

// ITERATE handlers see one argument per call. The set named in a section
// replaces the inherited one (see merge_into).
const char* add_format(cmd_parms*, DirConfig& c, const char* arg) {
    unsigned bit = 0;
    if (!strcasecmp(arg, "cms")) bit = kFormatCms;
    else if (!strcasecmp(arg, "http-signature")) bit = kFormatHttpSignature;
    else throw std::invalid_argument(std::string("'") + arg + "' is not a format; use cms and/or http-signature");
    c.formats |= bit;
    return nullptr;
}

const char* add_digest_alg(cmd_parms*, DirConfig& c, const char* arg) {
    const auto alg = digest_alg_from_name(arg);
    if (!alg)
        throw std::invalid_argument(std::string("'") + arg +
                                    "' is not accepted; use sha-256 and/or sha-512 (SHA-1 and MD5 are refused)");
    c.digest_algs |= *alg == DigestAlg::sha256 ? kAlgSha256 : kAlgSha512;
    return nullptr;
}

constexpr char kAnchorsHint[] = "give a readable PEM bundle of the CA certificates content signers must chain to";
constexpr auto set_trust_anchors = httpd::set_arg<httpd::file_arg<TrustAnchors>, kAnchorsHint, &DirConfig::anchors>;

constexpr char kSignerKeysHint[] = "holding <keyid>.pem public keys or certificates";
constexpr auto set_signer_keys = httpd::set_arg<directory_arg, kSignerKeysHint, &DirConfig::signer_keys_dir>;

constexpr char kSpoolDirHint[] = "writable by the httpd user";
constexpr auto set_spool_dir = httpd::set_arg<directory_arg, kSpoolDirHint, &DirConfig::spool_dir>;

constexpr char kMaxAgeHint[] = "an age; use a number of seconds from 1 to 86400";
constexpr auto set_signature_max_age =
    httpd::set_arg<httpd::number_in<1, 86400>, kMaxAgeHint, &DirConfig::signature_max_age>;

const char* set_signer_identity(cmd_parms* cmd, DirConfig& c, const char* arg) {
    c.signer_identity = parse_signer_identity(cmd, arg);
    return nullptr;
}

// ITERATE: the list named in a section replaces the inherited one.
const char* add_signer_eku(cmd_parms* cmd, DirConfig& c, const char* arg) {
    auto* purposes = const_cast<KeyPurposes*>(c.signer_purposes);
    if (!purposes) c.signer_purposes = purposes = httpd::pool_new<KeyPurposes>(cmd->pool);
    purposes->add(arg);
    return nullptr;
}

constexpr char kCrlHint[] =
    "give a readable file of the CRLs (PEM) of the CAs that issue content signer certificates";
constexpr auto set_crl = httpd::set_arg<httpd::file_arg<RevocationList>, kCrlHint, &DirConfig::crl>;

// Methods are case-sensitive tokens (RFC 9110 §9.1).
const char* add_extension_method(cmd_parms* cmd, DirConfig& c, const char* arg) {
    if (!*arg || arg[strcspn(arg, "()<>@,;:\\\"/[]?={} \t")])
        throw std::invalid_argument(std::string("'") + arg + "' is not a method name (e.g. PATCH)");
    // HTTP's and WebDAV's own methods have their own rules in a validated
    // location; listing one here would change nothing, which an administrator
    // would not expect (e.g. hoping to let a COPY through unchecked).
    if (has_own_rules(ap_method_number_of(arg)))
        throw std::invalid_argument(std::string("'") + arg + "' is one of HTTP's and WebDAV's own methods, which a "
                                    "validated location already handles by its own rules (see docs/directives.md); "
                                    "list only other methods here (e.g. PATCH)");
    auto* methods = const_cast<MethodNames*>(c.extension_methods);
    if (!methods) c.extension_methods = methods = httpd::pool_new<MethodNames>(cmd->pool);
    methods->names.emplace_back(arg);
    return nullptr;
}

}  // namespace

const char* directory_arg(cmd_parms* cmd, const char* arg, const char* what) {
    const char* path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS || fi.filetype != APR_DIR)
        throw std::invalid_argument(std::string("'") + arg + "' is not a directory; give an existing directory " + what);
    return path;
}

const command_rec directives[] = {
    AP_INIT_TAKE1("CMIContentValidation", httpd::handler<set_validation>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "Off (default), Optional or Required: validation of signed request bodies"),
    AP_INIT_ITERATE("CMIContentFormats", httpd::handler<add_format>(), nullptr, RSRC_CONF | ACCESS_CONF,
                    "cms and/or http-signature: the self-contained upload formats accepted (default both)"),
    AP_INIT_ITERATE("CMIContentDigestAlgorithms", httpd::handler<add_digest_alg>(), nullptr, RSRC_CONF | ACCESS_CONF,
                    "sha-256 and/or sha-512: the body digest algorithms accepted (default both)"),
    AP_INIT_TAKE1("CMIContentTrustAnchors", httpd::handler<set_trust_anchors>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "PEM file of the CA certificates that CMS content signers must chain to"),
    AP_INIT_TAKE1("CMIContentSignerKeys", httpd::handler<set_signer_keys>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "directory of RFC 9421 signer keys, one <keyid>.pem (public key or certificate) each"),
    AP_INIT_FLAG("CMIContentBindSigner", as_cmd(httpd::set_flag<&DirConfig::bind_signer>), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: the signer identity must equal the authenticated CMI user (default Off)"),
    AP_INIT_FLAG("CMIContentSpool", as_cmd(httpd::set_flag<&DirConfig::spool>), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: spool and verify the whole body before the handler runs (default Off: stream)"),
    AP_INIT_TAKE1("CMIContentSpoolDir", httpd::handler<set_spool_dir>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "directory for spooled bodies, writable by the httpd user (default: " CMI_DEFAULT_SPOOL_DIR ")"),
    AP_INIT_TAKE1("CMIContentReplayCache", as_cmd(httpd::set_replay_cache<cmi_content_module, &ServerConfig::replay_cache>), nullptr, RSRC_CONF,
                  "socache provider[:args] remembering RFC 9421 nonces (default shmcb)"),
    AP_INIT_TAKE1("CMIContentSignerIdentity", httpd::handler<set_signer_identity>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "ap_expr string giving a CMS signer's identity from its SIGNER_* variables "
                  "(default %{SIGNER_S_DN_CN}); RFC 9421 signers are their keyid"),
    AP_INIT_TAKE1("CMIContentSignatureMaxAge", httpd::handler<set_signature_max_age>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "seconds a signature is accepted after its created time (RFC 9421) or signingTime (CMS), "
                  "and an accepted CMS signature is bound to its target (default 300)"),
    AP_INIT_ITERATE("CMIContentSignerEKU", httpd::handler<add_signer_eku>(), nullptr, RSRC_CONF | ACCESS_CONF,
                    "extended key usages (OIDs or names such as clientAuth) that may sign content besides "
                    "emailProtection, codeSigning, documentSigning and anyExtendedKeyUsage"),
    AP_INIT_TAKE1("CMIContentCRL", httpd::handler<set_crl>(), nullptr, RSRC_CONF | ACCESS_CONF,
                  "PEM file of CRLs: content signer certificates are checked against their issuer's CRL"),
    AP_INIT_FLAG("CMIContentCopyWithin", as_cmd(httpd::set_flag<&DirConfig::copy_within>), nullptr, RSRC_CONF | ACCESS_CONF,
                 "On: WebDAV COPY/MOVE within this validated tree is allowed (default Off: refused)"),
    AP_INIT_ITERATE("CMIContentExtensionMethods", httpd::handler<add_extension_method>(), nullptr, RSRC_CONF | ACCESS_CONF,
                    "methods beyond HTTP/WebDAV's (e.g. PATCH) let into a validated location, bodies validated "
                    "(default none: refused with 405)"),
    CMI_MANIFEST_DIRECTIVES,
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr},
};

std::vector<DigestAlg> digest_algs(const DirConfig& c) {
    const unsigned bits = c.digest_algs ? c.digest_algs : kAlgSha256 | kAlgSha512;
    std::vector<DigestAlg> out;
    if (bits & kAlgSha256) out.push_back(DigestAlg::sha256);
    if (bits & kAlgSha512) out.push_back(DigestAlg::sha512);
    return out;
}

void merge_into(DirConfig& c, const DirConfig& base, const DirConfig& add, apr_pool_t*) {
    using D = DirConfig;
    httpd::inherit_fields(c, base, add, &D::validation, &D::formats, &D::digest_algs, &D::anchors,
                          &D::signer_keys_dir, &D::bind_signer, &D::spool, &D::spool_dir, &D::signature_max_age,
                          &D::signer_identity, &D::signer_purposes, &D::crl, &D::copy_within, &D::extension_methods);
    c.manifest = merge_manifest_config(base.manifest, add.manifest);
    c.validation_scope = add.validation != Validation::unset ? add.validation_scope : base.validation_scope;
}

void merge_into(ServerConfig& c, const ServerConfig& base, const ServerConfig& add, apr_pool_t* p) {
    c.replay_cache = httpd::inherit(base.replay_cache, add.replay_cache);
    if (base.snapshot_dirs && add.snapshot_dirs) c.snapshot_dirs = apr_array_append(p, base.snapshot_dirs, add.snapshot_dirs);
    else c.snapshot_dirs = httpd::inherit(base.snapshot_dirs, add.snapshot_dirs);
}

void note_snapshot_dir(server_rec* s, apr_pool_t* pconf, const char* dir) {
    ServerConfig& c = server_config(s);
    if (!c.snapshot_dirs) c.snapshot_dirs = apr_array_make(pconf, 2, sizeof(const char*));
    APR_ARRAY_PUSH(c.snapshot_dirs, const char*) = dir;
}

}  // namespace cmi::content
