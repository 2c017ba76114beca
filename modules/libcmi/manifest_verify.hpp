// Decoupled Upload: every item of a manifest against its staged content.
// An item passes when its staged file (opened strictly inside the staging
// root) streams to the digest that something trusted vouches for: its own
// detached CMS signed hash, or its <Digest> under a verified XML-DSig over
// the whole manifest. Every item is checked and reported, pass or fail.
#pragma once
#include "libcmi/manifest.hpp"
#include "libcmi/signer_policy.hpp"
#include "libcmi/signer_vars.hpp"
#include "libcmi/staged_snapshot.hpp"

#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace cmi {

struct ManifestPolicy {
    const TrustAnchors* anchors = nullptr;  // CMIContentTrustAnchors (required for any signature)
    const KeyPurposes* signer_purposes = nullptr;  // CMIContentSignerEKU
    const RevocationList* crls = nullptr;          // CMIContentCRL
    std::vector<DigestAlg> accepted{DigestAlg::sha256, DigestAlg::sha512};
    std::string root;                       // CMIStagingRoot
    std::string subdir;                     // CMIStagingPerUser: the CMI user, else ""
    bool bind_signer = false;               // CMIContentBindSigner
    std::string user;                       // the CMI user (for bind_signer)
    // CMIContentSignerIdentity: the signer's identity from its SIGNER_* variables;
    // empty: the certificate's subject CN (the directive's default).
    std::function<std::string(const SignerVars&)> identity;
    std::time_t at = 0;                     // tests: the verification time
    // Verified items become snapshots here (mod_cmi_content); null: read in place.
    TransactionDir* snapshots = nullptr;
    size_t max_items = 10000;                        // CMIManifestMaxItems
    unsigned long long max_bytes = 32ULL << 30;      // CMIManifestMaxBytes: staged bytes read per manifest
    size_t max_keyinfo_certificates = 4;             // CMIManifestMaxKeyInfoCertificates
};

struct ItemResult {
    std::string id;
    std::string location;
    const char* code = nullptr;  // nullptr: valid; else a problem code (docs/architecture.md §Problem types)
    std::string detail;
    DigestAlg alg = DigestAlg::sha256;  // of `digest`
    std::string digest;                 // the staged file's digest (raw), when it was read
    unsigned long long bytes = 0;
    std::string signer;                 // CN that vouched for the item
    std::string path;                   // its snapshot (absolute), when one was taken
    std::string signed_hash;            // its SignedHash (DER) once verified: evidence of origin
};

struct ManifestVerdict {
    size_t files_read = 0;                // distinct staged files (each read once)
    unsigned long long bytes_read = 0;    // their sizes
    bool signed_manifest = false;
    std::string manifest_signer;  // CN of the XML-DSig signer
    std::vector<ItemResult> items;
    const ItemResult* first_failure() const {
        for (const auto& i : items)
            if (i.code) return &i;
        return nullptr;
    }
};

// Throws ValidationError for the manifest as a whole (malformed, a bad or
// untrusted manifest signature, signer-not-bound on it, more items than
// max_items: too-large); item failures are reported in the verdict. Each
// distinct staged file is read once; with `snapshots`, as the snapshot the
// handler gets (ItemResult::path) while no item has failed — on a refusal the
// caller puts moved files back (TransactionDir::restore_moved). std::logic_error when a signature needs anchors
// that are not configured.
ManifestVerdict verify_manifest(ManifestDoc& doc, const ManifestPaths& paths, const ManifestPolicy& policy);

// CMI_CONTENT_ITEMS (docs/architecture.md §Notes contract): an RFC 8941 List, one String per item id with
// parameters result (valid or the problem code), location, for items whose
// content was read alg and digest (Byte Sequence), and path (the snapshot), e.g.
//   "song-1";result=valid;location="a/s.mp3";alg=sha-256;digest=:…:;path="/…/1"
// An id, location or path that is not printable ASCII is an RFC 9651 Display
// String (%"…", UTF-8 percent-encoded).
// `compact`: only the id and result parameters, e.g. "song-1";result=valid
std::string items_structured_field(const ManifestVerdict& v, bool compact = false);

// The problem document's `items` extension: {"items":[{"id","result","code","detail"},…]}.
std::string items_problem_extension(const ManifestVerdict& v);

}  // namespace cmi
