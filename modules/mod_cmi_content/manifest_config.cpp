#include "mod_cmi_content/manifest_config.hpp"

#include "httpd/barrier.hpp"
#include "mod_cmi_content/content_config.hpp"

#include <apr_strings.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace cmi::content {
namespace {

struct NsBinding {
    const char* prefix;
    const char* uri;
};


bool is_ncname(const char* s) {
    if (!*s || !(apr_isalpha(*s) || *s == '_')) return false;
    for (; *s; ++s)
        if (!(apr_isalnum(*s) || *s == '_' || *s == '-' || *s == '.')) return false;
    return true;
}

}  // namespace

ManifestConfig merge_manifest_config(const ManifestConfig& base, const ManifestConfig& add) {
    using M = ManifestConfig;
    ManifestConfig c;
    httpd::inherit_fields(c, base, add, &M::enabled, &M::staging_root, &M::per_user, &M::max_size, &M::namespaces,
                          &M::item_path, &M::id_path, &M::location_path, &M::digest_path, &M::signed_hash_path,
                          &M::metadata, &M::snapshot_dir, &M::max_items, &M::max_bytes, &M::max_keyinfo_certificates);
    c.snapshot = add.snapshot >= 0 ? add.snapshot : base.snapshot;  // 0 is a mode (move)
    return c;
}

ManifestPaths manifest_paths(const ManifestConfig& c) {
    ManifestPaths p = default_manifest_paths();
    if (c.namespaces) {
        const auto* ns = reinterpret_cast<const NsBinding*>(c.namespaces->elts);
        for (int i = 0; i < c.namespaces->nelts; ++i) {
            bool rebound = false;
            for (auto& [prefix, uri] : p.namespaces)
                if (prefix == ns[i].prefix) {
                    uri = ns[i].uri;
                    rebound = true;
                }
            if (!rebound) p.namespaces.emplace_back(ns[i].prefix, ns[i].uri);
        }
    }
    if (c.item_path) p.item = c.item_path;
    if (c.id_path) p.id = c.id_path;
    if (c.location_path) p.location = c.location_path;
    if (c.digest_path) p.digest = c.digest_path;
    if (c.signed_hash_path) p.signed_hash = c.signed_hash_path;
    if (c.metadata)
        for (int i = 0; i < c.metadata->nelts; ++i) p.metadata.emplace_back(APR_ARRAY_IDX(c.metadata, i, const char*));
    return p;
}

const char* set_staging_root(cmd_parms* cmd, DirConfig& d, const char* arg) {
    d.manifest.staging_root = directory_arg(cmd, arg, "under which content is staged");
    return nullptr;
}

const char* set_manifest_max_size(cmd_parms*, DirConfig& d, const char* arg) {
    d.manifest.max_size =
        static_cast<apr_off_t>(httpd::number_arg(arg, 1, 64 * 1048576, "a size; give bytes between 1 and 67108864"));
    return nullptr;
}

const char* add_manifest_namespace(cmd_parms* cmd, DirConfig& d, const char* prefix, const char* uri) {
    if (!is_ncname(prefix)) throw std::invalid_argument(std::string("'") + prefix + "' is not a namespace prefix");
    if (!*uri) throw std::invalid_argument("the namespace URI is empty");
    ManifestConfig& c = d.manifest;
    if (!c.namespaces) c.namespaces = apr_array_make(cmd->pool, 2, sizeof(NsBinding));
    *static_cast<NsBinding*>(apr_array_push(c.namespaces)) = {apr_pstrdup(cmd->pool, prefix),
                                                              apr_pstrdup(cmd->pool, uri)};
    return nullptr;
}

const char* set_manifest_path(cmd_parms* cmd, DirConfig& d, const char* arg) {
    if (const std::string err = xpath_syntax_error(arg); !err.empty()) throw std::invalid_argument(err);
    ManifestConfig& c = d.manifest;
    const std::string which = static_cast<const char*>(cmd->info);
    const char* v = apr_pstrdup(cmd->pool, arg);
    if (which == "item") c.item_path = v;
    else if (which == "id") c.id_path = v;
    else if (which == "location") c.location_path = v;
    else if (which == "digest") c.digest_path = v;
    else c.signed_hash_path = v;
    return nullptr;
}

const char* add_manifest_metadata(cmd_parms* cmd, DirConfig& d, const char* arg) {
    if (const std::string err = xpath_syntax_error(arg); !err.empty()) throw std::invalid_argument(err);
    ManifestConfig& c = d.manifest;
    if (!c.metadata) c.metadata = apr_array_make(cmd->pool, 2, sizeof(const char*));
    APR_ARRAY_PUSH(c.metadata, const char*) = apr_pstrdup(cmd->pool, arg);
    return nullptr;
}

const char* set_snapshot_mode(cmd_parms*, DirConfig& d, const char* arg) {
    if (!strcasecmp(arg, "Move")) d.manifest.snapshot = static_cast<signed char>(SnapshotMode::move);
    else if (!strcasecmp(arg, "Copy")) d.manifest.snapshot = static_cast<signed char>(SnapshotMode::copy);
    else throw std::invalid_argument(std::string("'") + arg + "' is not a snapshot mode; use Move or Copy");
    return nullptr;
}

const char* set_snapshot_dir(cmd_parms* cmd, DirConfig& d, const char* arg) {
    const char* path =
        directory_arg(cmd, arg, "writable by the httpd user and reachable through no upload location");
    d.manifest.snapshot_dir = path;
    note_snapshot_dir(cmd->server, cmd->pool, path);
    return nullptr;
}

// CMIManifestMaxItems, CMIManifestMaxBytes (K/M/G/T: binary multiples), CMIManifestMaxKeyInfoCertificates.
const char* set_manifest_limit(cmd_parms* cmd, DirConfig& d, const char* arg) {
    const std::string which = static_cast<const char*>(cmd->info);
    char* end = nullptr;
    apr_int64_t n = apr_strtoi64(arg, &end, 10);
    if (which == "bytes" && *arg && end && *end && !end[1]) {
        const char* units = "KMGT";
        if (const char* u = std::strchr(units, apr_toupper(*end))) {
            for (const char* x = units; x <= u; ++x) n = n > (APR_INT64_MAX >> 10) ? -1 : n * 1024;
            ++end;
        }
    }
    const apr_int64_t most = which == "items" ? 10000000 : which == "certificates" ? 64 : APR_INT64_MAX;
    if (!*arg || *end || n < 1 || n > most)
        throw std::invalid_argument(std::string("'") + arg + "' is not a limit; give a number from 1 to " +
                                    std::to_string(static_cast<long long>(most)) +
                                    (which == "bytes" ? " (bytes, or with a K, M, G or T suffix)" : ""));
    ManifestConfig& c = d.manifest;
    if (which == "items") c.max_items = static_cast<long>(n);
    else if (which == "bytes") c.max_bytes = static_cast<apr_off_t>(n);
    else c.max_keyinfo_certificates = static_cast<int>(n);
    return nullptr;
}

}  // namespace cmi::content
