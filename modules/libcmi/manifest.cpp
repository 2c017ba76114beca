#include "libcmi/manifest.hpp"

#include "libcmi/base64.hpp"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <algorithm>
#include <new>
#include <set>
#include <stdexcept>

namespace cmi {

struct ManifestReader::State {
    const ManifestLimits* limits = nullptr;
    unsigned depth = 0;
    unsigned nodes = 0;
    std::string refusal;      // our own reason to stop (DOCTYPE, depth, nodes)
    std::string first_error;  // libxml2's first error message
    bool out_of_memory = false;  // a callback could not allocate: stopped
    startElementNsSAX2Func start = nullptr;
    endElementNsSAX2Func end = nullptr;
};

namespace {

[[noreturn]] void malformed(const std::string& why) { throw ValidationError("manifest-malformed", "manifest: " + why); }

ManifestReader::State* state_of(void* ctx) {
    return static_cast<ManifestReader::State*>(static_cast<xmlParserCtxtPtr>(ctx)->_private);
}

void stop(void* ctx, const std::string& why) {
    auto* st = state_of(ctx);
    if (st->refusal.empty()) st->refusal = why;
    xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
}

// libxml2 calls the SAX callbacks from C: nothing may unwind through it. What
// can throw there (an allocation for a message) stops the parser instead, and
// ManifestReader::check() reports it.
template <class F>
void sax_barrier(void* ctx, F&& body) noexcept {
    try {
        body();
    } catch (...) {
        state_of(ctx)->out_of_memory = true;
        xmlStopParser(static_cast<xmlParserCtxtPtr>(ctx));
    }
}

extern "C" void on_start(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri,
                         int nb_namespaces, const xmlChar** namespaces, int nb_attributes, int nb_defaulted,
                         const xmlChar** attributes) noexcept {
    sax_barrier(ctx, [&] {
        auto* st = state_of(ctx);
        if (!st->refusal.empty()) return;
        if (++st->depth > st->limits->max_depth)
            return stop(ctx, "elements are nested deeper than " + std::to_string(st->limits->max_depth) + " levels");
        st->nodes += 1 + static_cast<unsigned>(nb_attributes > 0 ? nb_attributes : 0);
        if (st->nodes > st->limits->max_nodes)
            return stop(ctx, "more than " + std::to_string(st->limits->max_nodes) + " elements and attributes");
        st->start(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes, nb_defaulted, attributes);
    });
}

extern "C" void on_end(void* ctx, const xmlChar* localname, const xmlChar* prefix, const xmlChar* uri) noexcept {
    auto* st = state_of(ctx);
    if (st->depth) --st->depth;
    if (st->refusal.empty()) st->end(ctx, localname, prefix, uri);
}

// A DOCTYPE (and with it every entity and external subset) is refused.
extern "C" void on_doctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) noexcept {
    sax_barrier(ctx, [ctx] { stop(ctx, "a DOCTYPE is not allowed (no DTD, no entities)"); });
}

extern "C" void on_entity_decl(void* ctx, const xmlChar*, int, const xmlChar*, const xmlChar*, xmlChar*) noexcept {
    sax_barrier(ctx, [ctx] { stop(ctx, "entity declarations are not allowed"); });
}

extern "C" xmlEntityPtr on_get_entity(void* ctx, const xmlChar* name) noexcept {
    // Only the five predefined entities exist (libxml2 resolves those itself).
    if (xmlEntityPtr e = xmlGetPredefinedEntity(name)) return e;
    sax_barrier(ctx, [ctx] { stop(ctx, "entity references are not allowed"); });
    return nullptr;
}

extern "C" void on_error(void* ctx, xmlErrorPtr err) noexcept {
    if (!ctx || !err || err->level < XML_ERR_ERROR) return;
    sax_barrier(ctx, [ctx, err] {
        auto* st = state_of(ctx);
        if (st->first_error.empty() && err->message) {
            std::string m = err->message;
            while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
            st->first_error = m + " (line " + std::to_string(err->line) + ")";
        }
    });
}

// libxml2 reports some errors (encoding, I/O) through the thread's generic
// handler rather than the parser's: silence it while our parser runs, and
// put back whatever another module in the same thread had set.
extern "C" void quiet_generic_error(void*, const char*, ...) noexcept {}

class QuietGenericErrors {
public:
    QuietGenericErrors() : func_(xmlGenericError), ctx_(xmlGenericErrorContext) {
        xmlSetGenericErrorFunc(nullptr, quiet_generic_error);
    }
    ~QuietGenericErrors() { xmlSetGenericErrorFunc(ctx_, func_); }
    QuietGenericErrors(const QuietGenericErrors&) = delete;
    QuietGenericErrors& operator=(const QuietGenericErrors&) = delete;

private:
    xmlGenericErrorFunc func_;
    void* ctx_;
};

std::string strip_space(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
    return out;
}

struct XPathCtxFree {
    void operator()(xmlXPathContextPtr c) const { xmlXPathFreeContext(c); }
};
struct XPathObjFree {
    void operator()(xmlXPathObjectPtr o) const { xmlXPathFreeObject(o); }
};
using XPathObj = std::unique_ptr<xmlXPathObject, XPathObjFree>;

// XPath errors become exceptions, not lines on stderr.
extern "C" void quiet_xpath_error(void*, xmlErrorPtr) noexcept {}

XPathObj eval(xmlXPathContextPtr ctx, const std::string& expr, xmlNodePtr at) {
    ctx->node = at;
    XPathObj o(xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expr.c_str()), ctx));
    if (!o) throw std::runtime_error("manifest XPath '" + expr + "' cannot be evaluated");
    if (o->type != XPATH_NODESET) throw std::runtime_error("manifest XPath '" + expr + "' does not select nodes");
    return o;
}

int count(const XPathObj& o) { return o->nodesetval ? o->nodesetval->nodeNr : 0; }

std::string content(xmlNodePtr n) {
    xmlChar* c = xmlNodeGetContent(n);
    std::string s = c ? reinterpret_cast<const char*>(c) : "";
    xmlFree(c);
    return s;
}

std::optional<std::string> attribute(xmlNodePtr n, const char* name) {
    if (n->type != XML_ELEMENT_NODE) return std::nullopt;
    xmlChar* v = xmlGetNoNsProp(n, reinterpret_cast<const xmlChar*>(name));
    if (!v) return std::nullopt;
    std::string s = reinterpret_cast<const char*>(v);
    xmlFree(v);
    return s;
}

// One reading only: an element whose text is a value must hold exactly one
// text node. A comment, processing instruction, CDATA section or element
// inside would let another parser read a different value
// ("song<!-- -->.mp3" is "song" to a reader that takes the first text node).
std::string text_value(xmlNodePtr n, const std::string& item, const char* what) {
    if (n->type == XML_ELEMENT_NODE) {
        const xmlNode* c = n->children;
        if (c && (c->type != XML_TEXT_NODE || c->next))
            malformed(item + ": its " + what + " must be text only (no comment, processing instruction, CDATA "
                                              "section or element inside)");
    }
    return content(n);
}

// The element of a selected node (an attribute's or a text node's parent).
xmlNodePtr element_of(xmlNodePtr n) {
    return n && n->type != XML_ELEMENT_NODE ? n->parent : n;
}

void mark_up_to(xmlNodePtr from, const xmlNode* stop, std::set<const xmlNode*>& read) {
    for (xmlNodePtr n = element_of(from); n && n->type == XML_ELEMENT_NODE; n = n->parent) {
        if (!read.insert(n).second || n == stop) break;
    }
}

bool in_namespaces(const xmlNode* n, const ManifestPaths& paths) {
    if (!n->ns || !n->ns->href) return false;
    for (const auto& [prefix, uri] : paths.namespaces)
        if (uri == reinterpret_cast<const char*>(n->ns->href)) return true;
    return false;
}

struct ReadElements {
    std::set<const xmlNode*> nodes;
    std::set<std::string> names;  // their local names
};

std::string described(const xmlNode* n) {
    return std::string("the element ") + reinterpret_cast<const char*>(n->name) + " (" +
           (n->ns && n->ns->href ? reinterpret_cast<const char*>(n->ns->href) : "no namespace") + ", line " +
           std::to_string(xmlGetLineNo(n)) + ")";
}

// Every element of a manifest namespace is read by the validator (an item, a
// value, or on the way to one) or declared metadata (with what it holds):
// nothing else reaches the handler unchecked. Nor may an unread element carry
// the local name of one that is read, in another namespace or none (a reader
// that ignores namespaces takes <Location xmlns="urn:x">, or <Location> beside
// <m:Location>, for the item's) or inside metadata (an <m:ContentItem> in a
// declared <m:Title> is a second item to a reader of //m:ContentItem).
void refuse_unread(const xmlNode* n, const ManifestPaths& paths, const ReadElements& read,
                   const std::set<const xmlNode*>& metadata, bool in_metadata = false) {
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) continue;
        const bool declared = metadata.count(n) != 0;
        if (!declared && !read.nodes.count(n)) {
            if (!in_metadata && in_namespaces(n, paths))
                malformed(described(n) + " is not read by the validator; declare it with CMIManifestMetadataPath "
                                         "if the handler may read it unvalidated");
            if (read.names.count(reinterpret_cast<const char*>(n->name)))
                malformed(described(n) + " is not read by the validator but has the name of a manifest element "
                                         "that is: a reader could take it for one");
        }
        refuse_unread(n->children, paths, read, metadata, in_metadata || declared);
    }
}

// Zero or one node; more is ambiguous and refused.
xmlNodePtr optional_node(xmlXPathContextPtr ctx, const std::string& expr, xmlNodePtr item, const std::string& id,
                         const char* what) {
    if (expr.empty()) return nullptr;
    XPathObj o = eval(ctx, expr, item);
    if (count(o) > 1) malformed("item '" + id + "' has more than one " + what);
    return count(o) ? o->nodesetval->nodeTab[0] : nullptr;
}

}  // namespace

ManifestPaths default_manifest_paths() {
    ManifestPaths p;
    p.namespaces = {{"m", kManifestNamespace}};
    p.item = "/m:Manifest/m:ContentItem";
    p.id = "@id";
    p.location = "m:Location";
    p.digest = "m:Digest";
    p.signed_hash = "m:SignedHash";
    return p;
}

std::string xpath_syntax_error(const std::string& expr) {
    if (expr.empty()) return "empty expression";
    std::unique_ptr<xmlXPathContext, XPathCtxFree> ctx(xmlXPathNewContext(nullptr));
    if (!ctx) throw std::runtime_error("out of memory");
    ctx->error = quiet_xpath_error;
    xmlXPathCompExprPtr c = xmlXPathCtxtCompile(ctx.get(), reinterpret_cast<const xmlChar*>(expr.c_str()));
    if (!c) return "'" + expr + "' is not an XPath 1.0 expression";
    xmlXPathFreeCompExpr(c);
    return "";
}

ManifestDoc::ManifestDoc(xmlDocPtr doc) : doc_(doc) {}
ManifestDoc::~ManifestDoc() { xmlFreeDoc(doc_); }

ManifestReader::ManifestReader(const ManifestLimits& limits) : limits_(limits), state_(std::make_unique<State>()) {
    xmlInitParser();
    ctxt_ = xmlCreatePushParserCtxt(nullptr, nullptr, nullptr, 0, nullptr);
    if (!ctxt_) throw std::runtime_error("cannot create an XML parser");
    // No network, no DTD loading or validation, no entity substitution, no
    // XInclude; libxml2's own "huge" limits stay in force.
    xmlCtxtUseOptions(ctxt_, XML_PARSE_NONET | XML_PARSE_NOXINCNODE);
    ctxt_->_private = state_.get();
    state_->limits = &limits_;
    xmlSAXHandlerPtr sax = ctxt_->sax;
    state_->start = sax->startElementNs;
    state_->end = sax->endElementNs;
    sax->startElementNs = on_start;
    sax->endElementNs = on_end;
    sax->internalSubset = on_doctype;
    sax->externalSubset = on_doctype;
    sax->entityDecl = on_entity_decl;
    sax->getEntity = on_get_entity;
    sax->getParameterEntity = on_get_entity;
    sax->resolveEntity = nullptr;
    sax->serror = on_error;
    sax->error = nullptr;
    sax->warning = nullptr;
    sax->fatalError = nullptr;
}

ManifestReader::~ManifestReader() {
    if (ctxt_) {
        if (ctxt_->myDoc) xmlFreeDoc(ctxt_->myDoc);
        xmlFreeParserCtxt(ctxt_);
    }
}

void ManifestReader::check() {
    if (state_->out_of_memory) throw std::bad_alloc();
    if (!state_->refusal.empty()) malformed(state_->refusal);
    if (ctxt_->disableSAX || !ctxt_->wellFormed)
        malformed("not well-formed XML" + (state_->first_error.empty() ? "" : ": " + state_->first_error));
}

void ManifestReader::feed(const char* data, size_t len) {
    if (len > limits_.max_size - size_)
        throw ValidationError("too-large", "the manifest exceeds " + std::to_string(limits_.max_size) + " bytes");
    size_ += len;
    QuietGenericErrors quiet;
    // xmlParseChunk takes an int: feed in slices.
    while (len) {
        const int n = static_cast<int>(len > 65536 ? 65536 : len);
        xmlParseChunk(ctxt_, data, n, 0);
        check();
        data += n;
        len -= static_cast<size_t>(n);
    }
}

std::unique_ptr<ManifestDoc> ManifestReader::finish() {
    QuietGenericErrors quiet;
    xmlParseChunk(ctxt_, nullptr, 0, 1);
    check();
    if (!ctxt_->myDoc || !xmlDocGetRootElement(ctxt_->myDoc)) malformed("no root element");
    auto doc = std::make_unique<ManifestDoc>(ctxt_->myDoc);
    ctxt_->myDoc = nullptr;
    return doc;
}

std::unique_ptr<ManifestDoc> parse_manifest(std::string_view xml, const ManifestLimits& limits) {
    ManifestReader r(limits);
    r.feed(xml.data(), xml.size());
    return r.finish();
}

std::vector<ManifestItem> manifest_items(const ManifestDoc& doc, const ManifestPaths& paths,
                                         const std::vector<DigestAlg>& accepted) {
    std::unique_ptr<xmlXPathContext, XPathCtxFree> ctx(xmlXPathNewContext(doc.doc()));
    if (!ctx) throw std::runtime_error("out of memory");
    ctx->error = quiet_xpath_error;
    for (const auto& [prefix, uri] : paths.namespaces)
        if (xmlXPathRegisterNs(ctx.get(), reinterpret_cast<const xmlChar*>(prefix.c_str()),
                               reinterpret_cast<const xmlChar*>(uri.c_str())) != 0)
            throw std::runtime_error("cannot register the manifest namespace prefix " + prefix);

    XPathObj items = eval(ctx.get(), paths.item, xmlDocGetRootElement(doc.doc()));
    const int n = count(items);
    if (n == 0) malformed("no content item (XPath " + paths.item + ")");
    std::vector<xmlNodePtr> nodes(items->nodesetval->nodeTab, items->nodesetval->nodeTab + n);

    std::vector<ManifestItem> out;
    std::set<std::string> ids;
    std::set<const xmlNode*> read;
    for (int i = 0; i < n; ++i) {
        ManifestItem it;
        xmlNodePtr item = nodes[static_cast<size_t>(i)];
        const std::string pos = "#" + std::to_string(i + 1);
        mark_up_to(item, nullptr, read);

        XPathObj id = eval(ctx.get(), paths.id, item);
        if (count(id) != 1) malformed("item " + pos + " needs exactly one id");
        it.id = text_value(id->nodesetval->nodeTab[0], "item " + pos, "id");
        if (it.id.empty()) malformed("item " + pos + " has an empty id");
        if (!ids.insert(it.id).second) malformed("the item id '" + it.id + "' is used twice");
        mark_up_to(id->nodesetval->nodeTab[0], item, read);
        const std::string named = "item '" + it.id + "'";

        XPathObj loc = eval(ctx.get(), paths.location, item);
        if (count(loc) != 1) malformed(named + " needs exactly one location");
        it.location = text_value(loc->nodesetval->nodeTab[0], named, "location");
        mark_up_to(loc->nodesetval->nodeTab[0], item, read);

        if (xmlNodePtr d = optional_node(ctx.get(), paths.digest, item, it.id, "digest")) {
            mark_up_to(d, item, read);
            const auto name = attribute(d, "algorithm").value_or("sha-256");
            const auto alg = digest_alg_from_name(name);
            if (!alg || std::find(accepted.begin(), accepted.end(), *alg) == accepted.end())
                malformed("item '" + it.id + "': the digest algorithm '" + name + "' is not accepted");
            const auto raw = base64_decode(strip_space(text_value(d, named, "digest")));
            if (!raw || raw->size() != digest_alg_size(*alg))
                malformed("item '" + it.id + "': the digest is not base64 of a " + name + " value");
            it.digest_alg = alg;
            it.digest = *raw;
        }
        if (xmlNodePtr s = optional_node(ctx.get(), paths.signed_hash, item, it.id, "signed hash")) {
            mark_up_to(s, item, read);
            const auto format = attribute(s, "format").value_or("cms");
            if (format != "cms") malformed("item '" + it.id + "': the signed hash format '" + format + "' is not supported (use cms)");
            const auto der = base64_decode(strip_space(text_value(s, named, "signed hash")));
            if (!der || der->empty()) malformed("item '" + it.id + "': the signed hash is not base64 of a DER CMS structure");
            it.signed_hash = *der;
        }
        out.push_back(std::move(it));
    }
    std::set<const xmlNode*> metadata;
    for (const std::string& expr : paths.metadata) {
        XPathObj m = eval(ctx.get(), expr, xmlDocGetRootElement(doc.doc()));
        for (int i = 0; i < count(m); ++i) metadata.insert(element_of(m->nodesetval->nodeTab[i]));
    }
    ReadElements elements{std::move(read), {}};
    for (const xmlNode* e : elements.nodes) elements.names.insert(reinterpret_cast<const char*>(e->name));
    refuse_unread(xmlDocGetRootElement(doc.doc()), paths, elements, metadata);
    return out;
}

}  // namespace cmi
