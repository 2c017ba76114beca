#include "libcmi/manifest_verify.hpp"

#include "libcmi/cms_signature.hpp"
#include "libcmi/manifest_xmldsig.hpp"
#include "libcmi/staged_reads.hpp"
#include "libcmi/structured_field.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>

namespace cmi {
namespace {

SignerPolicy anchors_of(const ManifestPolicy& p) {
    if (!p.anchors)
        throw std::logic_error("CMIContentTrustAnchors is not set for this location; manifest signatures cannot be verified");
    return SignerPolicy(*p.anchors, p.signer_purposes, p.crls);
}

// The CMS verifier speaks of the self-contained header; here it is an item's SignedHash.
std::string item_detail(const std::string& id, const std::string& what) {
    static const std::string header = "CMI-Content-Signature: ";
    std::string w = what;
    if (w.compare(0, header.size(), header) == 0) w = "SignedHash: " + w.substr(header.size());
    return "item '" + id + "': " + w;
}

// The identity CMIContentBindSigner compares with the CMI user.
std::string identity_of(const ManifestPolicy& p, const std::string& cn, const SignerVars& vars) {
    return p.identity ? p.identity(vars) : cn;
}

// What vouches for one item, found before any staged file is read.
struct Vouched {
    CmsExpectation cms{};
    std::vector<DigestAlg> algs;  // the digests its staged file must be read under
};

// The cheap checks first: a bad signature costs no file read. The CMS
// signer cache is shared by the items of one manifest.
Vouched vouch(const ManifestItem& item, const ManifestVerdict& v, const ManifestPolicy& p, CmsSignerCache& signers,
              ItemResult& r) {
    const bool dsig_digest = item.digest_alg && v.signed_manifest;
    if (item.signed_hash.empty() && !dsig_digest)
        throw ValidationError("signature-required",
                              item.digest_alg ? "its Digest is not covered by a manifest signature and it has no SignedHash"
                                              : "it has neither a SignedHash nor a signed Digest");
    Vouched out;
    if (!item.signed_hash.empty()) {
        out.cms = verify_cms_signature(item.signed_hash, anchors_of(p), p.accepted, p.at, &signers);
        if (p.bind_signer && identity_of(p, out.cms.signer_cn, out.cms.signer_vars) != p.user)
            throw ValidationError("signer-not-bound", "the SignedHash signer '" + out.cms.signer_cn +
                                                          "' is not the authenticated user");
        r.signer = out.cms.signer_cn;
        r.signed_hash = item.signed_hash;
    } else {
        r.signer = v.manifest_signer;
    }
    if (item.digest_alg) out.algs.push_back(*item.digest_alg);
    if (!item.signed_hash.empty()) out.algs.push_back(out.cms.alg);
    return out;
}

void compare(const ManifestItem& item, const Vouched& w, const StagedRead& s, ItemResult& r) {
    r.bytes = s.bytes;
    r.alg = w.algs.front();
    r.digest = *s.find(r.alg);
    r.path = s.path;
    if (item.digest_alg && !digest_equal(item.digest, *s.find(*item.digest_alg)))
        throw ValidationError("digest-mismatch", "the staged content does not match its Digest");
    if (!item.signed_hash.empty() && !digest_equal(w.cms.message_digest, *s.find(w.cms.alg)))
        throw ValidationError("digest-mismatch", "the staged content does not match its SignedHash");
}

void record_failure(const ManifestItem& item, const ValidationError& e, ItemResult& r) {
    r.code = e.code;
    r.detail = item_detail(item.id, e.what());
}

}  // namespace

ManifestVerdict verify_manifest(ManifestDoc& doc, const ManifestPaths& paths, const ManifestPolicy& policy) {
    ManifestVerdict v;
    if (manifest_has_signature(doc)) {
        const ManifestSignature s =
            verify_manifest_signature(doc, anchors_of(policy), policy.at, policy.max_keyinfo_certificates);
        if (policy.bind_signer && identity_of(policy, s.signer_cn, s.signer_vars) != policy.user)
            throw ValidationError("signer-not-bound",
                                  "the manifest signer '" + s.signer_cn + "' is not the authenticated user");
        v.signed_manifest = true;
        v.manifest_signer = s.signer_cn;
    }
    const std::vector<ManifestItem> items = manifest_items(doc, paths, policy.accepted);
    if (items.size() > policy.max_items)
        throw ValidationError("too-large", "the manifest names " + std::to_string(items.size()) +
                                               " items; at most " + std::to_string(policy.max_items) +
                                               " are accepted (CMIManifestMaxItems)");
    v.items.resize(items.size());

    // 1. What vouches for each item.
    CmsSignerCache signers;
    std::vector<Vouched> vouched(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        v.items[i].id = items[i].id;
        v.items[i].location = items[i].location;
        try {
            vouched[i] = vouch(items[i], v, policy, signers, v.items[i]);
        } catch (const ValidationError& e) {
            record_failure(items[i], e, v.items[i]);
        }
    }

    // 2. Each distinct staged file read once, under every algorithm its items
    // need; snapshots for the handler only while every item is still valid.
    std::map<std::string, std::vector<DigestAlg>> algs;
    for (size_t i = 0; i < items.size(); ++i)
        if (!v.items[i].code)
            for (DigestAlg a : vouched[i].algs) {
                auto& list = algs[items[i].location];
                if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
            }
    StagedReads reads(policy.root, policy.subdir, v.first_failure() ? nullptr : policy.snapshots, policy.max_bytes);
    for (size_t i = 0; i < items.size(); ++i) {
        if (v.items[i].code) continue;
        try {
            compare(items[i], vouched[i], reads.read(items[i].location, algs[items[i].location]), v.items[i]);
        } catch (const ValidationError& e) {
            record_failure(items[i], e, v.items[i]);
            reads.stop_snapshots();
        }
    }
    v.files_read = reads.files();
    v.bytes_read = reads.bytes();
    return v;
}

namespace {
// sf Strings are printable ASCII only: other text (UTF-8 from the manifest)
// travels intact as an RFC 9651 Display String, %"f%c3%bc.mp3".
sf::BareItem text_item(const std::string& s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return sf::DisplayString{s};
    return sf::String{s};
}
}  // namespace

std::string items_structured_field(const ManifestVerdict& v, bool compact) {
    sf::List list;
    for (const ItemResult& i : v.items) {
        sf::Item item{text_item(i.id), {}};
        item.params.emplace_back("result", sf::Token{i.code ? i.code : "valid"});
        if (compact) {
            list.emplace_back(std::move(item));
            continue;
        }
        item.params.emplace_back("location", text_item(i.location));
        if (!i.digest.empty()) {
            item.params.emplace_back("alg", sf::Token{digest_alg_name(i.alg)});
            item.params.emplace_back("digest", sf::ByteSeq{i.digest});
        }
        if (!i.path.empty()) item.params.emplace_back("path", text_item(i.path));
        list.emplace_back(std::move(item));
    }
    return sf::serialize(list);
}

std::string items_problem_extension(const ManifestVerdict& v) {
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const ItemResult& i : v.items) {
        nlohmann::ordered_json e;
        e["id"] = i.id;
        e["result"] = i.code ? "invalid" : "valid";
        if (i.code) {
            e["code"] = i.code;
            e["detail"] = i.detail;
        }
        items.push_back(std::move(e));
    }
    nlohmann::ordered_json doc;
    doc["items"] = std::move(items);
    return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cmi
