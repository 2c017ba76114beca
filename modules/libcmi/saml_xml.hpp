// Small libxml2 helpers for SAML documents: namespaced children, and text
// content that refuses anything but one plain text node (so a comment
// injected into "admin<!---->@x" can never read as "admin@x").
#pragma once
#include "libcmi/lasso_includes.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cmi::saml {

inline constexpr const char* kSamlNs = "urn:oasis:names:tc:SAML:2.0:assertion";
inline constexpr const char* kSamlpNs = "urn:oasis:names:tc:SAML:2.0:protocol";
inline constexpr const char* kMdNs = "urn:oasis:names:tc:SAML:2.0:metadata";
inline constexpr const char* kDsNs = "http://www.w3.org/2000/09/xmldsig#";

struct DocFree {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocFree>;

// Parses without network access, DTD loading or entity substitution; refuses
// documents with a DOCTYPE. nullptr if not well-formed (libxml2 stays quiet).
DocPtr parse_strict(const char* data, std::size_t len);

bool is(const xmlNode* n, const char* ns, const char* name);
std::vector<xmlNode*> children(const xmlNode* n, const char* ns, const char* name);
xmlNode* only_child(const xmlNode* n, const char* ns, const char* name);  // nullptr unless exactly one

std::optional<std::string> attr(const xmlNode* n, const char* name);
// The content of an element whose only child is one text node ("" if empty);
// nullopt for comments, processing instructions, entities or child elements.
std::optional<std::string> plain_text(const xmlNode* n);

}  // namespace cmi::saml
