#include "libcmi/manifest_verify.hpp"

#include "libcmi/cms_signature.hpp"
#include "libcmi/manifest_xmldsig.hpp"
#include "libcmi/staged_digest.hpp"
#include "libcmi/staging_path.hpp"
#include "libcmi/structured_field.hpp"

#include <nlohmann/json.hpp>

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

// What the items of one manifest share: signers already trusted, the read buffer.
struct ItemContext {
    CmsSignerCache signers;
    std::vector<char> buffer;
};

void check_item(const ManifestItem& item, const ManifestVerdict& v, const ManifestPolicy& p, ItemContext& ctx,
                ItemResult& r) {
    const bool dsig_digest = item.digest_alg && v.signed_manifest;
    if (item.signed_hash.empty() && !dsig_digest)
        throw ValidationError("signature-required",
                              item.digest_alg ? "its Digest is not covered by a manifest signature and it has no SignedHash"
                                              : "it has neither a SignedHash nor a signed Digest");
    // The cheap checks first: a bad signature costs no file read.
    CmsExpectation cms{};
    if (!item.signed_hash.empty()) {
        cms = verify_cms_signature(item.signed_hash, anchors_of(p), p.accepted, p.at, &ctx.signers);
        if (p.bind_signer && identity_of(p, cms.signer_cn, cms.signer_vars) != p.user)
            throw ValidationError("signer-not-bound", "the SignedHash signer '" + cms.signer_cn +
                                                          "' is not the authenticated user");
        r.signer = cms.signer_cn;
    } else {
        r.signer = v.manifest_signer;
    }
    StagedFile f = open_staged(p.root, p.subdir, item.location);
    std::vector<DigestAlg> algs;
    if (item.digest_alg) algs.push_back(*item.digest_alg);
    if (!item.signed_hash.empty()) algs.push_back(cms.alg);
    const StagedDigests d = digest_staged(f.fd(), algs, ctx.buffer);
    r.bytes = d.bytes;
    r.alg = algs.front();
    r.digest = *d.find(r.alg);
    if (item.digest_alg && !digest_equal(item.digest, *d.find(*item.digest_alg)))
        throw ValidationError("digest-mismatch", "the staged content does not match its Digest");
    if (!item.signed_hash.empty() && !digest_equal(cms.message_digest, *d.find(cms.alg)))
        throw ValidationError("digest-mismatch", "the staged content does not match its SignedHash");
}

}  // namespace

ManifestVerdict verify_manifest(ManifestDoc& doc, const ManifestPaths& paths, const ManifestPolicy& policy) {
    ManifestVerdict v;
    if (manifest_has_signature(doc)) {
        const ManifestSignature s = verify_manifest_signature(doc, anchors_of(policy), policy.at);
        if (policy.bind_signer && identity_of(policy, s.signer_cn, s.signer_vars) != policy.user)
            throw ValidationError("signer-not-bound",
                                  "the manifest signer '" + s.signer_cn + "' is not the authenticated user");
        v.signed_manifest = true;
        v.manifest_signer = s.signer_cn;
    }
    ItemContext ctx;
    for (const ManifestItem& item : manifest_items(doc, paths, policy.accepted)) {
        ItemResult r;
        r.id = item.id;
        r.location = item.location;
        try {
            check_item(item, v, policy, ctx, r);
        } catch (const ValidationError& e) {
            r.code = e.code;
            r.detail = item_detail(item.id, e.what());
        }
        v.items.push_back(std::move(r));
    }
    return v;
}

namespace {
// sf Strings are printable ASCII only: anything else shows as '?'.
std::string printable(const std::string& s) {
    std::string out = s;
    for (char& c : out)
        if (c < 0x20 || c > 0x7e) c = '?';
    return out;
}
}  // namespace

std::string items_structured_field(const ManifestVerdict& v, bool compact) {
    sf::List list;
    for (const ItemResult& i : v.items) {
        sf::Item item{sf::String{printable(i.id)}, {}};
        item.params.emplace_back("result", sf::Token{i.code ? i.code : "valid"});
        if (compact) {
            list.emplace_back(std::move(item));
            continue;
        }
        item.params.emplace_back("location", sf::String{printable(i.location)});
        if (!i.digest.empty()) {
            item.params.emplace_back("alg", sf::Token{digest_alg_name(i.alg)});
            item.params.emplace_back("digest", sf::ByteSeq{i.digest});
        }
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
