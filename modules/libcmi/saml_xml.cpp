#include "libcmi/saml_xml.hpp"

#include <cstring>

namespace cmi::saml {
namespace {

extern "C" void quiet(void*, xmlErrorPtr) noexcept {}

}  // namespace

DocPtr parse_strict(const char* data, std::size_t len) {
    if (len > static_cast<std::size_t>(INT32_MAX)) return nullptr;
    // The structured error handler is per thread in libxml2: keep parse
    // errors of hostile input out of httpd's stderr.
    xmlSetStructuredErrorFunc(nullptr, quiet);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) return nullptr;
    DocPtr doc(xmlCtxtReadMemory(ctxt, data, static_cast<int>(len), "saml.xml", nullptr,
                                 XML_PARSE_NONET | XML_PARSE_NOCDATA));
    const bool well_formed = ctxt->wellFormed;
    xmlFreeParserCtxt(ctxt);
    xmlSetStructuredErrorFunc(nullptr, nullptr);
    if (!doc || !well_formed) return nullptr;
    if (doc->intSubset || doc->extSubset) return nullptr;  // no DOCTYPE, so no entities
    return doc;
}

bool is(const xmlNode* n, const char* ns, const char* name) {
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           !std::strcmp(reinterpret_cast<const char*>(n->ns->href), ns) &&
           !std::strcmp(reinterpret_cast<const char*>(n->name), name);
}

std::vector<xmlNode*> children(const xmlNode* n, const char* ns, const char* name) {
    std::vector<xmlNode*> out;
    for (xmlNode* c = n ? n->children : nullptr; c; c = c->next)
        if (is(c, ns, name)) out.push_back(c);
    return out;
}

xmlNode* only_child(const xmlNode* n, const char* ns, const char* name) {
    auto v = children(n, ns, name);
    return v.size() == 1 ? v[0] : nullptr;
}

std::optional<std::string> attr(const xmlNode* n, const char* name) {
    // Unqualified attributes only: a namespaced look-alike is not the attribute.
    xmlAttr* a = xmlHasNsProp(const_cast<xmlNode*>(n), reinterpret_cast<const xmlChar*>(name), nullptr);
    if (!a || a->type != XML_ATTRIBUTE_NODE) return std::nullopt;
    xmlChar* v = xmlNodeGetContent(reinterpret_cast<xmlNode*>(a));
    if (!v) return std::string();
    std::string s(reinterpret_cast<const char*>(v));
    xmlFree(v);
    return s;
}

std::optional<std::string> plain_text(const xmlNode* n) {
    if (!n) return std::nullopt;
    const xmlNode* c = n->children;
    if (!c) return std::string();
    if (c->next || c->type != XML_TEXT_NODE) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(c->content ? c->content : reinterpret_cast<const xmlChar*>("")));
}

}  // namespace cmi::saml
