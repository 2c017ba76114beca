#include "mod_cmi_audit/request_evidence.hpp"

#include "httpd/request_chain.hpp"
#include "httpd/notes.hpp"
#include "httpd/pool_object.hpp"
#include "libcmi/base64.hpp"
#include "libcmi/evidence_store.hpp"
#include "libcmi/origin_evidence.hpp"
#include "mod_cmi_audit/audit_config.hpp"

#include <unixd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace cmi::audit {
namespace {

const char* note(const request_rec* r, const char* key) { return httpd::chain_note(r, key); }

std::string decoded(const request_rec* r, const char* key) {
    const char* v = note(r, key);
    if (!v) return std::string();
    auto bytes = base64_decode(v);
    if (!bytes) throw std::runtime_error(std::string("the note ") + key + " is not base64");
    return std::move(*bytes);
}

class Keeper {
public:
    Keeper(const EvidenceStore& store, bool sync, std::vector<EvidenceFile>& out)
        : store_(store), sync_(sync), out_(out) {}
    std::string put(std::string_view bytes) const { return store_.put(bytes, sync_); }
    void keep(const char* kind, std::string_view bytes, const char* name = nullptr) {
        if (bytes.empty()) return;
        EvidenceFile f;
        f.kind = kind;
        if (name) f.name = std::string(name);
        f.sha256 = put(bytes);
        f.bytes = bytes.size();
        out_.push_back(std::move(f));
    }

private:
    const EvidenceStore& store_;
    bool sync_;
    std::vector<EvidenceFile>& out_;
};

void keep_manifest_items(const request_rec* r, Keeper& keeper) {
    const char* items_note = note(r, httpd::kEvidenceItemsKey);
    if (!items_note) return;
    const auto items = parse_items_note(items_note);
    if (!items) throw std::runtime_error(std::string("the note ") + httpd::kEvidenceItemsKey + " is malformed");
    std::vector<IndexedItem> index;
    for (const ItemSignature& i : *items) index.push_back({i.id, i.location, keeper.put(i.cms), i.cms.size()});
    keeper.keep("manifest-items", format_items_index(index));
}

extern "C" apr_status_t close_fd(void* fd) noexcept {
    ::close(static_cast<int>(reinterpret_cast<intptr_t>(fd)));
    return APR_SUCCESS;
}

}  // namespace

const EvidenceStore* open_evidence_store(apr_pool_t* pconf, server_rec* s, const ServerConfig& main) {
    const std::string dir = main.evidence_dir ? main.evidence_dir : default_evidence_dir(main.log_path);
    struct stat st {};
    if (stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) throw std::runtime_error("evidence store " + dir + ": " + std::strerror(errno));
        const apr_status_t rv = apr_dir_make_recursive(dir.c_str(), APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE | APR_FPROT_GREAD | APR_FPROT_GEXECUTE, pconf);
        if (rv != APR_SUCCESS) {
            char buf[256];
            throw std::runtime_error("cannot create the evidence store " + dir + ": " + apr_strerror(rv, buf, sizeof buf) +
                                     " (CMIAuditEvidenceStore)");
        }
        chmod(dir.c_str(), 0750);
        // The children write it: it belongs to the User they run as.
        if (geteuid() == 0 && chown(dir.c_str(), ap_unixd_config.user_id, ap_unixd_config.group_id) != 0)
            throw std::runtime_error("cannot give the evidence store " + dir + " to the httpd User: " +
                                     std::strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        throw std::runtime_error("evidence store " + dir + " is not a directory (CMIAuditEvidenceStore)");
    } else if (geteuid() == 0 && st.st_uid != ap_unixd_config.user_id) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     CMILOGNO(40012) "evidence store %s belongs to uid %ld, not to the httpd User (uid %ld): signed "
                                     "uploads fail if the children cannot write to it",
                     dir.c_str(), static_cast<long>(st.st_uid), static_cast<long>(ap_unixd_config.user_id));
    }
    // The children reach the store through this descriptor (see EvidenceStore).
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open the evidence store " + dir + ": " + std::strerror(errno));
    apr_pool_cleanup_register(pconf, reinterpret_cast<void*>(static_cast<intptr_t>(fd)), close_fd, apr_pool_cleanup_null);
    return httpd::pool_new<EvidenceStore>(pconf, dir, fd);
}

std::string keep_evidence(request_rec* r, RecordView& rec, bool has_notes) {
    const ServerConfig& sc = server_config(r->server);
    if (!sc.evidence || !has_notes) return std::string();
    try {
        std::vector<EvidenceFile> files;
        Keeper keeper(*sc.evidence, syncs(sc), files);
        keeper.keep("cms", decoded(r, httpd::kEvidenceCmsKey));
        const char* keyid = note(r, httpd::kEvidenceHttpSigKeyIdKey);
        keeper.keep("http-signature-base", decoded(r, httpd::kEvidenceHttpSigBaseKey));
        keeper.keep("http-signature", decoded(r, httpd::kEvidenceHttpSigKey), keyid);
        keeper.keep("http-signature-key", decoded(r, httpd::kEvidenceHttpSigPublicKeyKey), keyid);
        keeper.keep("manifest", decoded(r, httpd::kEvidenceManifestKey));
        keep_manifest_items(r, keeper);
        if (!files.empty()) rec.evidence = httpd::pool_new<std::vector<EvidenceFile>>(r->pool, std::move(files));
        return std::string();
    } catch (const std::exception& e) {
        return e.what();
    }
}

}  // namespace cmi::audit
