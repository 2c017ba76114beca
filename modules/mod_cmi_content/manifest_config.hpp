// Decoupled Upload directives (docs/architecture.md §Directives): which locations take manifests,
// where staged content lives, and how a deployment's schema maps to items.
#pragma once
#include "httpd/directive.hpp"
#include "httpd/httpd_includes.hpp"
#include "libcmi/manifest.hpp"
#include "libcmi/staged_snapshot.hpp"

namespace cmi::content {

struct DirConfig;

struct ManifestConfig {
    httpd::Tri enabled = httpd::Tri::unset;   // CMIDecoupledManifest
    const char* staging_root = nullptr;       // CMIStagingRoot
    httpd::Tri per_user = httpd::Tri::unset;  // CMIStagingPerUser
    apr_off_t max_size = -1;                  // CMIManifestMaxSize
    apr_array_header_t* namespaces = nullptr; // CMIManifestNamespace: const char* prefix, uri pairs
    const char* item_path = nullptr;          // CMIManifestItemPath
    const char* id_path = nullptr;            // CMIManifestIdPath
    const char* location_path = nullptr;      // CMIManifestLocationPath
    const char* digest_path = nullptr;        // CMIManifestDigestPath
    const char* signed_hash_path = nullptr;   // CMIManifestSignedHashPath
    apr_array_header_t* metadata = nullptr;   // CMIManifestMetadataPath: const char* XPaths
    signed char snapshot = -1;                // CMIStagingSnapshot: -1 unset, else SnapshotMode
    const char* snapshot_dir = nullptr;       // CMIStagingSnapshotDir
    long max_items = -1;                      // CMIManifestMaxItems
    apr_off_t max_bytes = -1;                 // CMIManifestMaxBytes
    int max_keyinfo_certificates = -1;        // CMIManifestMaxKeyInfoCertificates
};

inline constexpr apr_off_t kDefaultManifestMaxSize = 1048576;
inline constexpr long kDefaultManifestMaxItems = 10000;
inline constexpr apr_off_t kDefaultManifestMaxBytes = apr_off_t{32} << 30;
inline constexpr int kDefaultMaxKeyInfoCertificates = 4;

ManifestConfig merge_manifest_config(const ManifestConfig& base, const ManifestConfig& add);
inline bool decoupled(const ManifestConfig& c) { return c.enabled == httpd::Tri::on; }
inline bool staging_per_user(const ManifestConfig& c) { return c.per_user == httpd::Tri::on; }
// The default CMIStagingSnapshotDir, set by the build (configure
// --with-snapshot-dir; LOCALSTATEDIR/lib/cmi/snapshots): httpd's own state, not
// the system temporary directory, which is often a tmpfs where Copy snapshots
// would sit in RAM.
#ifndef CMI_DEFAULT_SNAPSHOT_DIR
#error "CMI_DEFAULT_SNAPSHOT_DIR comes from the build (Makefile.am, configure --with-snapshot-dir)"
#endif
inline constexpr const char* kDefaultSnapshotDir = CMI_DEFAULT_SNAPSHOT_DIR;
inline const char* snapshot_dir(const ManifestConfig& c) { return c.snapshot_dir ? c.snapshot_dir : kDefaultSnapshotDir; }
inline apr_off_t manifest_max_size(const ManifestConfig& c) {
    return c.max_size > 0 ? c.max_size : kDefaultManifestMaxSize;
}
inline SnapshotMode snapshot_mode(const ManifestConfig& c) {
    return c.snapshot < 0 ? SnapshotMode::move : static_cast<SnapshotMode>(c.snapshot);
}
inline long manifest_max_items(const ManifestConfig& c) { return c.max_items > 0 ? c.max_items : kDefaultManifestMaxItems; }
inline apr_off_t manifest_max_bytes(const ManifestConfig& c) {
    return c.max_bytes > 0 ? c.max_bytes : kDefaultManifestMaxBytes;
}
inline int max_keyinfo_certificates(const ManifestConfig& c) {
    return c.max_keyinfo_certificates > 0 ? c.max_keyinfo_certificates : kDefaultMaxKeyInfoCertificates;
}
// The XPath settings over the defaults of docs/architecture.md §Content formats (prefix m stays bound
// unless CMIManifestNamespace rebinds it).
ManifestPaths manifest_paths(const ManifestConfig& c);

const char* set_staging_root(cmd_parms* cmd, DirConfig& d, const char* arg);
const char* set_manifest_max_size(cmd_parms* cmd, DirConfig& d, const char* arg);
const char* add_manifest_namespace(cmd_parms* cmd, DirConfig& d, const char* prefix, const char* uri);
const char* set_manifest_path(cmd_parms* cmd, DirConfig& d, const char* arg);
const char* add_manifest_metadata(cmd_parms* cmd, DirConfig& d, const char* arg);
const char* set_snapshot_mode(cmd_parms* cmd, DirConfig& d, const char* arg);
const char* set_snapshot_dir(cmd_parms* cmd, DirConfig& d, const char* arg);
const char* set_manifest_limit(cmd_parms* cmd, DirConfig& d, const char* arg);

}  // namespace cmi::content

// Spliced into mod_cmi_content's directive table.
#define CMI_MANIFEST_DIRECTIVES                                                                                       \
    AP_INIT_FLAG("CMIDecoupledManifest", httpd::as_cmd(httpd::set_flag<&DirConfig::manifest, &ManifestConfig::enabled>), nullptr, RSRC_CONF | ACCESS_CONF,    \
                 "On: request bodies here are Decoupled Upload manifests of content staged under CMIStagingRoot"),  \
    AP_INIT_TAKE1("CMIStagingRoot", httpd::handler<set_staging_root>(), nullptr, RSRC_CONF | ACCESS_CONF,               \
                  "directory under which manifest locations resolve (no symlinks, no '..')"),                        \
    AP_INIT_FLAG("CMIStagingPerUser", httpd::as_cmd(httpd::set_flag<&DirConfig::manifest, &ManifestConfig::per_user>), nullptr, RSRC_CONF | ACCESS_CONF,         \
                 "On: a user's manifest locations resolve under CMIStagingRoot/<CMI user>/ (default Off)"),          \
    AP_INIT_TAKE1("CMIManifestMaxSize", httpd::handler<set_manifest_max_size>(), nullptr, RSRC_CONF | ACCESS_CONF,      \
                  "largest manifest accepted, in bytes (default 1048576)"),                                          \
    AP_INIT_TAKE2("CMIManifestNamespace", httpd::handler<add_manifest_namespace>(), nullptr, RSRC_CONF | ACCESS_CONF,   \
                  "prefix URI: a namespace binding for the manifest XPath settings (repeatable)"),                   \
    AP_INIT_TAKE1("CMIManifestItemPath", httpd::handler<set_manifest_path>(), (void*)"item", RSRC_CONF | ACCESS_CONF,  \
                  "XPath selecting the content items (default /m:Manifest/m:ContentItem)"),                          \
    AP_INIT_TAKE1("CMIManifestIdPath", httpd::handler<set_manifest_path>(), (void*)"id", RSRC_CONF | ACCESS_CONF,      \
                  "XPath of an item's id, relative to the item (default @id)"),                                      \
    AP_INIT_TAKE1("CMIManifestLocationPath", httpd::handler<set_manifest_path>(), (void*)"location",                    \
                  RSRC_CONF | ACCESS_CONF, "XPath of an item's staged location, relative to the item (default m:Location)"), \
    AP_INIT_TAKE1("CMIManifestDigestPath", httpd::handler<set_manifest_path>(), (void*)"digest", RSRC_CONF | ACCESS_CONF, \
                  "XPath of an item's digest, relative to the item (default m:Digest)"),                             \
    AP_INIT_TAKE1("CMIManifestSignedHashPath", httpd::handler<set_manifest_path>(), (void*)"signed-hash",              \
                  RSRC_CONF | ACCESS_CONF, "XPath of an item's CMS signed hash, relative to the item (default m:SignedHash)"), \
    AP_INIT_TAKE1("CMIManifestMetadataPath", httpd::handler<add_manifest_metadata>(), nullptr, RSRC_CONF | ACCESS_CONF, \
                  "absolute XPath of manifest elements the handler may read unvalidated (repeatable)"),               \
    AP_INIT_TAKE1("CMIStagingSnapshot", httpd::handler<set_snapshot_mode>(), nullptr, RSRC_CONF | ACCESS_CONF,          \
                  "Move (default) or Copy: how verified staged items become the handler's snapshots"),               \
    AP_INIT_TAKE1("CMIStagingSnapshotDir", httpd::handler<set_snapshot_dir>(), nullptr, RSRC_CONF | ACCESS_CONF,        \
                  "directory for per-transaction snapshot directories (default: " CMI_DEFAULT_SNAPSHOT_DIR ")"),  \
    AP_INIT_TAKE1("CMIManifestMaxItems", httpd::handler<set_manifest_limit>(), (void*)"items", RSRC_CONF | ACCESS_CONF, \
                  "most items one manifest may name (default 10000)"),                                              \
    AP_INIT_TAKE1("CMIManifestMaxBytes", httpd::handler<set_manifest_limit>(), (void*)"bytes", RSRC_CONF | ACCESS_CONF, \
                  "most bytes of staged content one manifest may have read, K/M/G/T suffix allowed (default 32G)"),  \
    AP_INIT_TAKE1("CMIManifestMaxKeyInfoCertificates", httpd::handler<set_manifest_limit>(), (void*)"certificates",    \
                  RSRC_CONF | ACCESS_CONF, "most certificates a manifest signature's KeyInfo may carry (default 4)")
