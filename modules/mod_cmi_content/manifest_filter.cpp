#include "mod_cmi_content/manifest_filter.hpp"

#include "httpd/barrier.hpp"
#include "httpd/notes.hpp"
#include "httpd/pool_object.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/transaction.hpp"
#include "libcmi/manifest_verify.hpp"
#include "libcmi/manifest_xmldsig.hpp"
#include "mod_cmi_content/body_guard.hpp"
#include "mod_cmi_content/body_read.hpp"
#include "mod_cmi_content/body_replay.hpp"
#include "mod_cmi_content/evidence_notes.hpp"
#include "mod_cmi_content/request_state.hpp"
#include "mod_cmi_content/signer_identity.hpp"
#include "mod_cmi_content/snapshot_release.hpp"

#include <libxml/parser.h>

#include <set>
#include <stdexcept>
#include <string>

namespace cmi::content {
namespace {

constexpr const char* kReplayFilterName = "CMI_CONTENT_MANIFEST";

struct ManifestBody {
    std::string data;
};

const char* cmi_user(request_rec* r) {
    const char* u = apr_table_get(r->notes, httpd::kUserKey);
    return u ? u : r->user;
}

int refuse_invalid(request_rec* r, const char* code, const std::string& detail, const std::string& ext = {}) {
    publish(r, httpd::kContentValidationKey, "invalid");
    return httpd::refuse(r, cmi_content_module, code, detail, ext);
}

// Reads the whole manifest through the parser, keeping its bytes for the
// handler. A refusal status, or OK with the parsed document.
int read_manifest(request_rec* r, ManifestReader& reader, ManifestBody& body, StreamingDigest& digest) {
    return read_body(r, [&](const char* data, apr_size_t len) {
        reader.feed(data, len);  // throws at the limit, before the copy grows
        body.data.append(data, len);
        digest.update(data, len);
    });
}

std::string signers_of(const ManifestVerdict& v) {
    if (v.signed_manifest) return v.manifest_signer;
    std::set<std::string> seen;
    std::string out;
    for (const auto& i : v.items)
        if (!i.signer.empty() && seen.insert(i.signer).second) out += (out.empty() ? "" : ", ") + i.signer;
    return out;
}

// The full list goes to r->notes (mod_cmi_audit records it). A CGI gets it through
// execve, which refuses any one environment string over 128 KiB: above kEnvItemsMax
// the environment carries only ids and results, and above that nothing.
constexpr size_t kEnvItemsMax = 64 * 1024;

void publish_items(request_rec* r, const ManifestVerdict& v, TransactionDir* tx) {
    const std::string full = items_structured_field(v);
    const char* value = apr_pstrmemdup(r->pool, full.data(), full.size());
    apr_table_setn(r->notes, httpd::kContentItemsKey, value);
    // The whole list, whatever its size, for the handler that may read it.
    if (tx) publish(r, httpd::kContentItemsFileKey, tx->write("items", full + "\n"));
    if (full.size() <= kEnvItemsMax) {
        apr_table_setn(r->subprocess_env, httpd::kContentItemsKey, value);
        return;
    }
    const std::string compact = items_structured_field(v, true);
    if (compact.size() <= kEnvItemsMax)
        apr_table_setn(r->subprocess_env, httpd::kContentItemsKey, apr_pstrmemdup(r->pool, compact.data(), compact.size()));
    else
        apr_table_unset(r->subprocess_env, httpd::kContentItemsKey);
}

// The per-transaction directory of snapshots. What the handler did not take is
// released when its response ends (snapshot_release.hpp), at the latest with
// the request pool.
TransactionDir* open_transaction_dir(request_rec* r, const ManifestConfig& mc) {
    auto* tx = httpd::pool_new<TransactionDir>(r->pool, snapshot_dir(mc), httpd::transaction_id(r), snapshot_mode(mc));
    release_snapshots_at_end_of_response(r, *tx);
    return tx;
}

// Transaction directories left by a child that died (its lock is free): every
// child sweeps the snapshot directories it may use when it starts.
void sweep_snapshot_dirs(apr_pool_t*, server_rec* main) {
    std::set<std::string> bases{kDefaultSnapshotDir};
    for (server_rec* s = main; s; s = s->next)
        if (const apr_array_header_t* dirs = server_config(s).snapshot_dirs)
            for (int i = 0; i < dirs->nelts; ++i) bases.insert(APR_ARRAY_IDX(dirs, i, const char*));
    for (const std::string& base : bases) {
        try {  // one unreadable directory does not keep the others from being swept
            if (const unsigned n = sweep_transaction_dirs(base, 60))
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, main,
                             "removed %u snapshot director%s left in %s by an ended process", n, n == 1 ? "y" : "ies",
                             base.c_str());
        } catch (const std::exception& e) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main,
                         CMILOGNO(30001) "cannot sweep snapshot directories in %s: %s", base.c_str(), e.what());
        }
    }
}

extern "C" void sweep_snapshots(apr_pool_t* p, server_rec* main) {
    httpd::server_barrier(main, cmi_content_module, "child_init", [=] { sweep_snapshot_dirs(p, main); });
}

}  // namespace

void register_manifest_filter() {
    register_read_ahead_filter(kReplayFilterName);
    ap_hook_child_init(sweep_snapshots, nullptr, nullptr, APR_HOOK_MIDDLE);
    register_snapshot_release();
}

void init_manifest_libraries() {
    xmlInitParser();
    xmldsig_init();
}

int validate_manifest(request_rec* r, const DirConfig& dc) {
    const ManifestConfig& mc = dc.manifest;
    if (!mc.staging_root)
        throw std::logic_error("CMIDecoupledManifest On needs CMIStagingRoot for this location");
    publish(r, httpd::kContentFormatKey, "manifest");
    const apr_off_t max = manifest_max_size(mc);
    apr_off_t declared = 0;
    const char* length = apr_table_get(r->headers_in, "Content-Length");
    if (length && ap_parse_strict_length(&declared, length) && declared > max)
        return refuse_invalid(r, "too-large", "The manifest exceeds CMIManifestMaxSize (" +
                                                  std::to_string(static_cast<long long>(max)) + " bytes).");

    ManifestLimits limits;
    limits.max_size = static_cast<size_t>(max);
    auto* body = httpd::pool_new<ManifestBody>(r->pool);
    body->data.reserve(static_cast<size_t>(declared > 0 ? declared : 0));
    StreamingDigest digest(DigestAlg::sha256);
    ManifestVerdict verdict;
    TransactionDir* tx = nullptr;
    try {
        ManifestReader reader(limits);
        if (const int st = read_manifest(r, reader, *body, digest); st != OK) return st;
        std::unique_ptr<ManifestDoc> doc = reader.finish();
        publish(r, httpd::kContentDigestKey, content_digest_member(DigestAlg::sha256, digest.finish()));

        ManifestPolicy policy;
        policy.max_items = static_cast<size_t>(manifest_max_items(mc));
        policy.max_bytes = static_cast<unsigned long long>(manifest_max_bytes(mc));
        policy.max_keyinfo_certificates = static_cast<size_t>(max_keyinfo_certificates(mc));
        policy.anchors = dc.anchors;
        policy.signer_purposes = dc.signer_purposes;
        policy.crls = dc.crl;
        policy.accepted = digest_algs(dc);
        policy.root = mc.staging_root;
        const char* user = cmi_user(r);
        policy.bind_signer = binds_signer(dc);
        policy.user = user ? user : "";
        if (const ap_expr_info_t* expr = dc.signer_identity)
            policy.identity = [r, expr](const SignerVars& vars) { return signer_identity(r, expr, vars); };
        if (staging_per_user(mc)) {
            if (!user) return refuse_invalid(r, "forbidden", "CMIStagingPerUser: staged content belongs to an authenticated user.");
            policy.subdir = user;
        }
        policy.snapshots = tx = open_transaction_dir(r, mc);
        verdict = verify_manifest(*doc, manifest_paths(mc), policy);
    } catch (const ValidationError& e) {
        if (tx) tx->restore_moved();
        return refuse_invalid(r, e.code, e.what());
    }

    const std::string read = "manifest of " + std::to_string(verdict.items.size()) + " items: " +
                             std::to_string(verdict.files_read) + " distinct staged files read, " +
                             std::to_string(verdict.bytes_read) + " bytes, snapshots in " + tx->path();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s", read.c_str());
    const ItemResult* failed = verdict.first_failure();
    if (failed) tx->restore_moved();  // the staged files stay where they were for a corrected manifest
    publish_items(r, verdict, failed ? nullptr : tx);
    const std::string signer = signers_of(verdict);
    if (!signer.empty()) publish(r, httpd::kContentSignerKey, signer);
    if (const ItemResult* bad = failed) {
        size_t failed = 0;
        for (const auto& i : verdict.items) failed += i.code ? 1 : 0;
        return refuse_invalid(r, bad->code,
                              std::to_string(failed) + " of " + std::to_string(verdict.items.size()) +
                                  " content items failed validation; first: " + bad->detail,
                              items_problem_extension(verdict));
    }
    publish(r, httpd::kContentValidationKey, "valid");
    publish_manifest_evidence(r, verdict.signed_manifest ? std::string_view(body->data) : std::string_view(), verdict);

    // The handler sees the manifest as it was sent. The string lives in the request
    // pool, as long as any bucket made from it.
    apr_bucket_brigade* replay = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (!body->data.empty())
        APR_BRIGADE_INSERT_TAIL(replay, apr_bucket_immortal_create(body->data.data(), body->data.size(),
                                                                   r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(replay, apr_bucket_eos_create(r->connection->bucket_alloc));
    replay_to_handler(r, kReplayFilterName, replay, static_cast<apr_off_t>(body->data.size()));
    return DECLINED;
}

}  // namespace cmi::content
