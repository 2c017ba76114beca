// A location's effective settings are merged at request time from the server
// defaults, the matching <Directory>/<Files> sections and then the matching
// <Location> sections. This check works on the sections as written: for a
// section S it merges the server defaults and every section of S's kind whose
// path encloses S's path (its "chain"); sections whose reach cannot be known
// here (the other kind, regex and wildcard sections, <Files>) may supply a
// missing setting, so they only ever silence an error. A refusal therefore
// means: some request under S is certain to fail closed.
#include "mod_cmi_content/config_check.hpp"

#include "httpd/barrier.hpp"

#include "mod_cmi_content/content_config.hpp"

#include <http_core.h>
#include <unixd.h>

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace cmi::content {
namespace {

struct Section {
    std::string name;  // "<Location /x>", for messages
    const char* path = nullptr;
    bool exact = false;  // a plain path (not regex, not wildcard)
    bool location = false;
    const DirConfig* cfg = nullptr;
};

struct Effective {
    Validation validation = Validation::unset;
    unsigned formats = 0;
    bool anchors = false;
    bool keys = false;
    httpd::Tri decoupled = httpd::Tri::unset;  // CMIDecoupledManifest
    bool staging = false;                       // CMIStagingRoot
    const char* staging_root = nullptr;         // the innermost of the chain
    const char* snapshot_dir = nullptr;         // CMIStagingSnapshotDir, innermost
    httpd::Tri spool = httpd::Tri::unset;       // CMIContentSpool
    const char* spool_dir = nullptr;            // CMIContentSpoolDir
};

void apply(Effective& e, const DirConfig& c) {
    if (c.validation != Validation::unset) e.validation = c.validation;
    if (c.formats) e.formats = c.formats;
    e.anchors = e.anchors || c.anchors;
    e.keys = e.keys || c.signer_keys_dir;
    if (c.manifest.enabled != httpd::Tri::unset) e.decoupled = c.manifest.enabled;
    e.staging = e.staging || c.manifest.staging_root;
    if (c.manifest.staging_root) e.staging_root = c.manifest.staging_root;
    if (c.manifest.snapshot_dir) e.snapshot_dir = c.manifest.snapshot_dir;
    if (c.spool != httpd::Tri::unset) e.spool = c.spool;
    if (c.spool_dir) e.spool_dir = c.spool_dir;
}

// `inner` is `outer` or below it, symbolic links resolved.
bool inside(const char* inner, const char* outer) {
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(inner, a) || !realpath(outer, b)) return false;
    const size_t n = std::strlen(b);
    return std::strncmp(a, b, n) == 0 && (a[n] == '/' || a[n] == 0 || (n == 1 && b[0] == '/'));
}

// Whether the httpd children (User/Group, or this user when not started as root)
// can create files in `dir`, by its mode bits: ACLs and supplementary groups are not
// seen, so a "no" is only a warning.
bool looks_writable_by_httpd(const char* dir, const struct stat& st) {
    if (geteuid() != 0) return access(dir, W_OK | X_OK) == 0;
    const uid_t user = ap_unixd_config.user_id;
    if (user == 0) return true;
    if (st.st_uid == user) return (st.st_mode & (S_IWUSR | S_IXUSR)) == (S_IWUSR | S_IXUSR);
    if (st.st_gid == ap_unixd_config.group_id) return (st.st_mode & (S_IWGRP | S_IXGRP)) == (S_IWGRP | S_IXGRP);
    return (st.st_mode & (S_IWOTH | S_IXOTH)) == (S_IWOTH | S_IXOTH);
}

// A directory of httpd's own state that the children write to (spool, snapshots):
// it must exist — a directive checks its own argument, nothing checks the
// compiled-in default — and be writable by the children, or every request
// using it fails with 500.
struct StateDir {
    const char* setting;    // "CMIContentSpool On"
    const char* directive;  // "CMIContentSpoolDir"
    const char* noun;       // "spool"
    const char* failing;    // "spooled requests"
    const char* missing_id;   // CMILOGNO of "does not exist"
    const char* writable_id;  // CMILOGNO of "does not look writable"
};

void check_state_dir(const StateDir& d, const std::string& where, const char* configured, const char* fallback,
                     std::set<std::string>& problems, std::set<std::string>& warnings) {
    const std::string applies = std::string(d.setting) + " applies to " + where;
    const char* dir = configured ? configured : fallback;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        if (!configured)
            problems.insert(d.missing_id + applies + ", but no " + d.directive + " applies there and the default " + d.noun +
                            " directory " + dir + " does not exist: create it, writable by the httpd user only "
                            "(install -d -m 0700 -o www-data -g www-data " + dir + "), or set " + d.directive);
        return;
    }
    if (!looks_writable_by_httpd(dir, st))
        warnings.insert(d.writable_id + applies + ", but its " + d.noun + " directory " + dir +
                        " does not look writable by the httpd user (by its owner, group and mode): " + d.failing +
                        " will fail with 500 until it is (chown www-data " + dir + ")");
}

// Decoupled Upload: every manifest item needs a staged file and a signature
// that chains to the trust anchors; its snapshots a directory out of reach.
void check_manifest(const std::string& where, const Effective& chain, const Effective& maybe,
                    std::set<std::string>& problems, std::set<std::string>& warnings) {
    if (chain.decoupled != httpd::Tri::on) return;
    const char* snapshots = chain.snapshot_dir ? chain.snapshot_dir : kDefaultSnapshotDir;
    if (chain.staging_root && inside(snapshots, chain.staging_root))
        problems.insert(CMILOGNO(30004) "CMIStagingSnapshotDir " + std::string(snapshots) + " applies to " + where +
                        " and is inside its CMIStagingRoot " + chain.staging_root +
                        ": staging writers could reach the snapshots handed to the handler; set "
                        "CMIStagingSnapshotDir to a directory outside every upload area");
    if (chain.snapshot_dir || !maybe.snapshot_dir)  // else another section may supply it
        check_state_dir({"CMIDecoupledManifest On", "CMIStagingSnapshotDir", "snapshot", "manifests", CMILOGNO(30012),
                         CMILOGNO(30013)}, where,
                        chain.snapshot_dir, kDefaultSnapshotDir, problems, warnings);
    if (!chain.staging && !maybe.staging)
        problems.insert(CMILOGNO(30005) "CMIDecoupledManifest On applies to " + where +
                        ", but no CMIStagingRoot applies there, so no manifest item can be found: add "
                        "CMIStagingRoot /path/to/staging to that section or an enclosing one");
    if (!chain.anchors && !maybe.anchors)
        problems.insert(CMILOGNO(30006) "CMIDecoupledManifest On applies to " + where +
                        ", but no CMIContentTrustAnchors applies there, so no manifest signature can be "
                        "verified: add CMIContentTrustAnchors /path/to/content-ca.pem to that section or an "
                        "enclosing one");
}

// Spool mode: the spool directory.
void check_spool(const std::string& where, const Effective& chain, const Effective& maybe,
                 std::set<std::string>& problems, std::set<std::string>& warnings) {
    if (chain.spool != httpd::Tri::on || maybe.spool != httpd::Tri::unset) return;
    if (!chain.spool_dir && maybe.spool_dir) return;  // another section may supply it
    check_state_dir({"CMIContentSpool On", "CMIContentSpoolDir", "spool", "spooled requests", CMILOGNO(30007),
                     CMILOGNO(30008)}, where, chain.spool_dir,
                    kDefaultSpoolDir, problems, warnings);
}

void collect(std::vector<Section>& out, const apr_array_header_t* arr, bool location) {
    if (!arr) return;
    auto** elts = reinterpret_cast<ap_conf_vector_t**>(arr->elts);
    for (int i = 0; i < arr->nelts; ++i) {
        const auto* core = static_cast<const core_dir_config*>(ap_get_core_module_config(elts[i]));
        const auto* dc = static_cast<const DirConfig*>(ap_get_module_config(elts[i], &cmi_content_module));
        if (!core || !dc) continue;
        Section s;
        s.path = core->d ? core->d : "";
        s.exact = !core->r && !core->d_is_fnmatch;
        s.location = location;
        s.name = std::string(location ? "<Location" : "<Directory") + (core->r ? "Match " : " ") + s.path + ">";
        s.cfg = dc;
        out.push_back(std::move(s));
    }
}

bool encloses(const Section& outer, const Section& inner) {
    return outer.exact && std::strncmp(inner.path, outer.path, std::strlen(outer.path)) == 0;
}

void check(const std::string& where, const Effective& chain, const Effective& maybe, bool maybe_formats,
           std::set<std::string>& problems) {
    if (chain.validation != Validation::optional && chain.validation != Validation::required) return;
    if (maybe_formats) return;  // another section may narrow the formats: cannot tell
    const std::string mode = chain.validation == Validation::required ? "Required" : "Optional";
    const bool anchors = chain.anchors || maybe.anchors, keys = chain.keys || maybe.keys;
    if (!chain.formats) {  // the default: every format whose keys are configured
        if (!anchors && !keys)
            problems.insert(CMILOGNO(30009) "CMIContentValidation " + mode + " applies to " + where +
                            ", but neither CMIContentTrustAnchors nor CMIContentSignerKeys applies there, so no "
                            "signature can be verified: add CMIContentTrustAnchors /path/to/content-ca.pem (CMS "
                            "signers) and/or CMIContentSignerKeys /path/to/signer-keys (RFC 9421 signers) to that "
                            "section or an enclosing one");
        return;
    }
    const unsigned fmts = chain.formats;
    if ((fmts & kFormatCms) && !anchors)
        problems.insert(CMILOGNO(30010) "CMIContentValidation " + mode + " applies to " + where +
                        " and CMIContentFormats lists cms, but no CMIContentTrustAnchors applies there: add "
                        "CMIContentTrustAnchors /path/to/content-ca.pem to that section (or an enclosing one), "
                        "or accept only RFC 9421 signatures with CMIContentFormats http-signature");
    if ((fmts & kFormatHttpSignature) && !keys)
        problems.insert(CMILOGNO(30011) "CMIContentValidation " + mode + " applies to " + where +
                        " and CMIContentFormats lists http-signature, but no CMIContentSignerKeys applies there: add "
                        "CMIContentSignerKeys /path/to/signer-keys to that section (or an enclosing one), "
                        "or accept only CMS signatures with CMIContentFormats cms");
}

void check_server(server_rec* s, std::set<std::string>& problems, std::set<std::string>& warnings) {
    const auto* defaults = static_cast<const DirConfig*>(ap_get_module_config(s->lookup_defaults, &cmi_content_module));
    const auto* sconf = static_cast<const core_server_config*>(ap_get_core_module_config(s->module_config));
    const auto* dconf = static_cast<const core_dir_config*>(ap_get_core_module_config(s->lookup_defaults));
    std::vector<Section> all;
    collect(all, sconf->sec_dir, false);
    collect(all, sconf->sec_url, true);
    std::vector<Section> files;
    collect(files, dconf ? dconf->sec_file : nullptr, false);
    for (auto& f : files) f.exact = false;  // <Files> match names, not paths: reach unknown
    all.insert(all.end(), files.begin(), files.end());

    Effective base;
    if (defaults) apply(base, *defaults);

    // The server defaults reach every URL: like a <Location />, which only
    // <Location /> itself, <Directory>, <Files> and regex sections can complete.
    Section server_wide;
    server_wide.name = "the server configuration";
    server_wide.path = "/";
    server_wide.exact = true;
    server_wide.location = true;
    std::vector<const Section*> subjects{&server_wide};
    for (const auto& sec : all)
        if (sec.exact) subjects.push_back(&sec);

    for (const Section* subject : subjects) {
        const Section& sec = *subject;
        Effective chain = base;
        Effective maybe;
        bool maybe_formats = false;
        for (const auto& t : all) {
            if (t.location == sec.location && encloses(t, sec)) {
                apply(chain, *t.cfg);
            } else if (t.location != sec.location || !t.exact) {
                apply(maybe, *t.cfg);
                maybe_formats = maybe_formats || t.cfg->formats;
            }
        }
        check(sec.name, chain, maybe, maybe_formats, problems);
        check_manifest(sec.name, chain, maybe, problems, warnings);
        check_spool(sec.name, chain, maybe, problems, warnings);
    }
}

extern "C" int check_config(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* main) {
    return httpd::server_barrier(main, cmi_content_module, "check_config", [=] {
        std::set<std::string> problems, warnings;
        for (server_rec* s = main; s; s = s->next) check_server(s, problems, warnings);
        // Each message carries its own id (CMILOGNO above).
        for (const auto& w : warnings) ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main, "%s", w.c_str());
        for (const auto& p : problems) ap_log_error(APLOG_MARK, APLOG_CRIT, 0, main, "%s", p.c_str());
        return problems.empty() ? OK : HTTP_INTERNAL_SERVER_ERROR;
    });
}

}  // namespace

void register_config_check() { ap_hook_check_config(check_config, nullptr, nullptr, APR_HOOK_MIDDLE); }

}  // namespace cmi::content
