// Decoupled Upload manifests (docs/architecture.md §Content formats): the Content Upload Request body is
// a small XML document naming content staged earlier under the staging root.
// Parsed with libxml2's push parser while the body arrives: no network, no
// DTD (a DOCTYPE is refused, so no entity can be declared or expanded), and
// bounded size, depth and node count. The items are then read with XPath
// expressions a deployment can point at its own schema.
#pragma once
#include "libcmi/digest.hpp"
#include "libcmi/validation_error.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct _xmlDoc;
struct _xmlParserCtxt;

namespace cmi {

inline constexpr const char* kManifestNamespace = "urn:mod-cmi:manifest:1";

struct ManifestLimits {
    size_t max_size = 1048576;  // bytes of XML (CMIManifestMaxSize)
    unsigned max_depth = 32;    // element nesting
    unsigned max_nodes = 100000;  // elements + attributes
};

// XPath 1.0 expressions; `item` is absolute, the others are relative to an item.
struct ManifestPaths {
    std::vector<std::pair<std::string, std::string>> namespaces;  // prefix, URI
    std::string item;
    std::string id;
    std::string location;
    std::string digest;
    std::string signed_hash;
    // Absolute; the elements they select (and what is inside them) may be in a
    // manifest namespace without being read: metadata for the handler.
    std::vector<std::string> metadata;
};

// The schema of docs/architecture.md §Content formats (prefix `m` bound to urn:mod-cmi:manifest:1).
ManifestPaths default_manifest_paths();

// An XPath expression that does not compile; "" when it does.
std::string xpath_syntax_error(const std::string& expr);

struct ManifestItem {
    std::string id;
    std::string location;
    std::optional<DigestAlg> digest_alg;  // set when the item has a <Digest>
    std::string digest;                   // raw bytes
    std::string signed_hash;              // DER of a detached CMS; empty if none
};

// A parsed, well-formed manifest document (owns the libxml2 tree).
class ManifestDoc {
public:
    explicit ManifestDoc(_xmlDoc* doc);
    ~ManifestDoc();
    ManifestDoc(const ManifestDoc&) = delete;
    ManifestDoc& operator=(const ManifestDoc&) = delete;
    _xmlDoc* doc() const { return doc_; }

private:
    _xmlDoc* doc_;
};

// Feeds a manifest as it arrives. feed()/finish() throw ValidationError:
//   too-large           more than limits.max_size bytes
//   manifest-malformed  not well-formed, a DOCTYPE, too deep, too many nodes
class ManifestReader {
public:
    explicit ManifestReader(const ManifestLimits& limits);
    ~ManifestReader();
    ManifestReader(const ManifestReader&) = delete;
    ManifestReader& operator=(const ManifestReader&) = delete;

    void feed(const char* data, size_t len);
    std::unique_ptr<ManifestDoc> finish();

    struct State;

private:
    void check();
    ManifestLimits limits_;
    size_t size_ = 0;
    _xmlParserCtxt* ctxt_ = nullptr;
    std::unique_ptr<State> state_;
};

// Convenience: the whole manifest at once.
std::unique_ptr<ManifestDoc> parse_manifest(std::string_view xml, const ManifestLimits& limits);

// The items. Throws ValidationError("manifest-malformed") for no item, an item
// without exactly one id and one location, more than one digest or signed
// hash, a digest algorithm not in `accepted`, bad base64, a duplicated id, a
// value element holding anything but one text node, or an element in one of
// `paths.namespaces` that is neither read (an item, a value, or on the path to
// one) nor selected by `paths.metadata`.
std::vector<ManifestItem> manifest_items(const ManifestDoc& doc, const ManifestPaths& paths,
                                         const std::vector<DigestAlg>& accepted);

}  // namespace cmi
