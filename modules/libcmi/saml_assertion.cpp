#include "libcmi/saml_assertion.hpp"

#include "libcmi/saml_time.hpp"
#include "libcmi/saml_xml.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <set>

namespace cmi::saml {
namespace {

constexpr const char* kSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success";
constexpr const char* kBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
constexpr const char* kHolderOfKey = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key";
constexpr const char* kEntityFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
constexpr const char* kXmlNs = "http://www.w3.org/XML/1998/namespace";

// Transforms a SAML signature may use (SAML core §5.4.4).
const std::set<std::string> kTransforms = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
};

struct Reject {
    std::string why;
};

[[noreturn]] void reject(std::string why) { throw Reject{std::move(why)}; }

std::string required_text(const xmlNode* n, const char* what) {
    auto t = plain_text(n);
    if (!t) reject(std::string(what) + " is not plain text");
    return *t;
}

// Every ID in the document is unique, and there is no xml:id (which libxml2
// would register as an ID by itself): a Reference can only mean one element.
void check_ids(xmlNode* root) {
    std::set<std::string> seen;
    std::vector<xmlNode*> todo{root};
    while (!todo.empty()) {
        xmlNode* n = todo.back();
        todo.pop_back();
        if (n->type != XML_ELEMENT_NODE) continue;
        for (xmlAttr* a = n->properties; a; a = a->next) {
            if (a->ns && a->ns->href && !std::strcmp(reinterpret_cast<const char*>(a->ns->href), kXmlNs) &&
                !std::strcmp(reinterpret_cast<const char*>(a->name), "id"))
                reject("xml:id attributes are not accepted");
        }
        if (auto id = attr(n, "ID")) {
            if (!seen.insert(*id).second) reject("two elements carry the same ID");
        }
        for (xmlNode* c = n->children; c; c = c->next) todo.push_back(c);
    }
}

int count_elements(xmlNode* root, const char* ns, const char* name) {
    int count = 0;
    std::vector<xmlNode*> todo{root};
    while (!todo.empty()) {
        xmlNode* n = todo.back();
        todo.pop_back();
        if (is(n, ns, name)) ++count;
        for (xmlNode* c = n->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE) todo.push_back(c);
    }
    return count;
}

// The enveloped signature of `node`, checked against the IdP's keys. The one
// Reference must point at `node` itself, with SAML's transforms only.
void verify_signature(xmlNode* node, xmlNode* signature, const std::vector<LassoKey*>& keys, const char* what) {
    const auto id = attr(node, "ID");
    if (!id || id->empty()) reject(std::string(what) + " has no ID");
    xmlNode* signed_info = only_child(signature, kDsNs, "SignedInfo");
    if (!signed_info) reject(std::string(what) + ": malformed signature");
    auto refs = children(signed_info, kDsNs, "Reference");
    if (refs.size() != 1) reject(std::string(what) + ": the signature must have exactly one Reference");
    const auto uri = attr(refs[0], "URI");
    if (!uri || *uri != "#" + *id) reject(std::string(what) + ": the signature does not reference the signed element");
    if (xmlNode* transforms = only_child(refs[0], kDsNs, "Transforms")) {
        for (xmlNode* t : children(transforms, kDsNs, "Transform")) {
            const auto alg = attr(t, "Algorithm");
            if (!alg || !kTransforms.count(*alg)) reject(std::string(what) + ": signature transform not allowed");
            if (t->children && xmlFirstElementChild(t) && *alg != "http://www.w3.org/2001/10/xml-exc-c14n#" &&
                *alg != "http://www.w3.org/2001/10/xml-exc-c14n#WithComments")
                reject(std::string(what) + ": signature transform not allowed");
        }
    }
    for (LassoKey* key : keys) {
        std::string idc = *id;
        if (lasso_key_saml2_xml_verify(key, idc.data(), node) == 0) return;
    }
    reject(std::string(what) + ": the signature does not verify with the IdP's keys");
}

xmlNode* signature_of(xmlNode* node, const char* what) {
    auto sigs = children(node, kDsNs, "Signature");
    if (sigs.size() > 1) reject(std::string(what) + " has more than one signature");
    return sigs.empty() ? nullptr : sigs[0];
}

std::string issuer_of(xmlNode* node, const char* what) {
    xmlNode* issuer = only_child(node, kSamlNs, "Issuer");
    if (!issuer) reject(std::string(what) + " has no single Issuer");
    if (auto fmt = attr(issuer, "Format"); fmt && *fmt != kEntityFormat) reject(std::string(what) + ": Issuer format is not entity");
    std::string s = required_text(issuer, "Issuer");
    if (s.empty()) reject(std::string(what) + ": empty Issuer");
    return s;
}

std::int64_t time_attr(const xmlNode* n, const char* name, bool& present) {
    auto v = attr(n, name);
    present = v.has_value();
    if (!v) return 0;
    auto t = parse_time(*v);
    if (!t) reject(std::string(name) + " is not a valid time");
    return *t;
}

void check_window(const xmlNode* n, const Policy& p, const char* what, std::int64_t& expiry, bool& has_expiry) {
    bool has_before = false, has_after = false;
    const std::int64_t before = time_attr(n, "NotBefore", has_before);
    const std::int64_t after = time_attr(n, "NotOnOrAfter", has_after);
    if (has_before && p.now + p.skew < before) reject(std::string(what) + " is not yet valid");
    if (has_after && p.now - p.skew >= after) reject(std::string(what) + " has expired");
    if (has_after) {
        expiry = has_expiry ? std::min(expiry, after) : after;
        has_expiry = true;
    }
}

std::string der_of_base64(const std::string& b64) {
    std::string clean;
    for (char c : b64)
        if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
    if (clean.empty() || clean.size() % 4) return {};
    std::string out(clean.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
    if (n < 0) return {};
    std::size_t len = static_cast<std::size_t>(n);
    if (clean.size() >= 1 && clean[clean.size() - 1] == '=') --len;
    if (clean.size() >= 2 && clean[clean.size() - 2] == '=') --len;
    out.resize(len);
    return out;
}

bool key_info_matches(const xmlNode* scd, const std::string& client_der) {
    if (client_der.empty()) return false;
    for (xmlNode* ki : children(scd, kDsNs, "KeyInfo"))
        for (xmlNode* xd : children(ki, kDsNs, "X509Data"))
            for (xmlNode* xc : children(xd, kDsNs, "X509Certificate")) {
                auto b64 = plain_text(xc);
                if (!b64) continue;
                const std::string der = der_of_base64(*b64);
                if (der.size() == client_der.size() &&
                    CRYPTO_memcmp(der.data(), client_der.data(), der.size()) == 0)
                    return true;
            }
    return false;
}

// Every SubjectConfirmation of the required method that holds now, whatever
// its Recipient: which one fits the request is bind_to_request's question.
void collect_confirmations(xmlNode* subject, const Policy& p, Identity& id) {
    const char* method = p.holder_of_key ? kHolderOfKey : kBearer;
    std::string last = std::string("no SubjectConfirmation with method ") + method;
    for (xmlNode* sc : children(subject, kSamlNs, "SubjectConfirmation")) {
        if (attr(sc, "Method") != std::optional<std::string>(method)) continue;
        try {
            auto scds = children(sc, kSamlNs, "SubjectConfirmationData");
            if (scds.size() > 1) reject("more than one SubjectConfirmationData");
            xmlNode* scd = scds.empty() ? nullptr : scds[0];
            Confirmation c;
            if (scd) {
                check_window(scd, p, "the subject confirmation", c.not_on_or_after, c.has_expiry);
                c.recipient = attr(scd, "Recipient");
            }
            if (!p.holder_of_key) {
                if (!c.has_expiry) reject("a bearer confirmation needs NotOnOrAfter");
            } else if (!scd || !key_info_matches(scd, p.client_cert_der)) {
                reject("the holder-of-key certificate is not the TLS client certificate");
            }
            id.confirmations.push_back(std::move(c));
        } catch (const Reject& r) {
            last = r.why;
        }
    }
    if (id.confirmations.empty()) reject(last);
}

void attribute_values(xmlNode* statement_parent, Identity& id) {
    for (xmlNode* st : children(statement_parent, kSamlNs, "AttributeStatement")) {
        if (!children(st, kSamlNs, "EncryptedAttribute").empty()) reject("encrypted attributes are not supported");
        for (xmlNode* a : children(st, kSamlNs, "Attribute")) {
            const auto name = attr(a, "Name");
            if (!name || name->empty()) reject("an Attribute has no Name");
            const auto friendly = attr(a, "FriendlyName");
            for (xmlNode* v : children(a, kSamlNs, "AttributeValue")) {
                const std::string value = required_text(v, "an AttributeValue");
                id.attributes.emplace_back(*name, value);
                if (friendly && !friendly->empty() && *friendly != *name) id.attributes.emplace_back(*friendly, value);
            }
        }
    }
}

Identity check_assertion(xmlNode* a, const std::string& issuer, const Policy& p) {
    Identity id;
    id.issuer = issuer;
    if (attr(a, "Version") != std::optional<std::string>("2.0")) reject("the assertion is not SAML 2.0");
    const auto assertion_id = attr(a, "ID");
    if (!assertion_id || assertion_id->empty()) reject("the assertion has no ID");
    id.assertion_id = *assertion_id;
    bool has_instant = false;
    id.issue_instant = time_attr(a, "IssueInstant", has_instant);
    if (!has_instant) reject("the assertion has no IssueInstant");
    if (!children(a, kSamlNs, "Advice").empty()) reject("assertions with Advice are not accepted");

    auto conditions = children(a, kSamlNs, "Conditions");
    if (conditions.size() != 1) reject("the assertion needs exactly one Conditions");
    check_window(conditions[0], p, "the assertion", id.conditions_expiry, id.has_conditions_expiry);
    auto restrictions = children(conditions[0], kSamlNs, "AudienceRestriction");
    if (restrictions.empty()) reject("the assertion has no AudienceRestriction");
    for (xmlNode* r : restrictions) {
        bool ours = false;
        for (xmlNode* aud : children(r, kSamlNs, "Audience"))
            if (plain_text(aud) == std::optional<std::string>(p.sp_entity_id)) ours = true;
        if (!ours) reject("the assertion is for another audience");
    }
    id.one_time_use = !children(conditions[0], kSamlNs, "OneTimeUse").empty();

    xmlNode* subject = only_child(a, kSamlNs, "Subject");
    if (!subject) reject("the assertion needs exactly one Subject");
    if (!children(subject, kSamlNs, "EncryptedID").empty() || !children(subject, kSamlNs, "BaseID").empty())
        reject("only a plain NameID subject is supported");
    auto name_ids = children(subject, kSamlNs, "NameID");
    if (name_ids.size() > 1) reject("more than one NameID");
    if (!name_ids.empty()) id.name_id = required_text(name_ids[0], "NameID");
    collect_confirmations(subject, p, id);
    id.not_on_or_after = id.has_conditions_expiry ? id.conditions_expiry : 0;
    for (const auto& c : id.confirmations)
        if (c.has_expiry) id.not_on_or_after = std::max(id.not_on_or_after, c.not_on_or_after);
    if (!id.not_on_or_after) reject("the assertion states no NotOnOrAfter");

    attribute_values(a, id);
    if (p.user_attribute == "NameID") {
        id.user = id.name_id;
    } else {
        for (const auto& [n, v] : id.attributes)
            if (n == p.user_attribute) {
                id.user = v;
                break;
            }
    }
    if (id.user.empty()) reject("the assertion does not name the user (" + p.user_attribute + ")");
    return id;
}

Identity validate_or_throw(std::string_view xml, const TrustedIdps& idps, const Policy& p) {
    if (xml.size() > kMaxDocumentBytes) reject("the document is too large");
    DocPtr doc = parse_strict(xml.data(), xml.size());
    if (!doc) reject("not well-formed XML, or it has a DOCTYPE");
    xmlNode* root = xmlDocGetRootElement(doc.get());
    check_ids(root);
    if (count_elements(root, kSamlNs, "Assertion") != 1) reject("the document must contain exactly one Assertion");
    if (count_elements(root, kSamlNs, "EncryptedAssertion") != 0) reject("encrypted assertions are not supported");

    xmlNode* assertion = nullptr;
    bool enclosed_by_signed_response = false;
    if (is(root, kSamlpNs, "Response")) {
        if (attr(root, "Version") != std::optional<std::string>("2.0")) reject("the Response is not SAML 2.0");
        xmlNode* status = only_child(root, kSamlpNs, "Status");
        xmlNode* code = status ? only_child(status, kSamlpNs, "StatusCode") : nullptr;
        if (!code || attr(code, "Value") != std::optional<std::string>(kSuccess)) reject("the Response is not a success");
        assertion = only_child(root, kSamlNs, "Assertion");
        if (!assertion) reject("the Assertion must be a child of the Response");
        const std::string assertion_issuer = issuer_of(assertion, "the assertion");
        if (xmlNode* sig = signature_of(root, "the Response")) {
            const std::string issuer = issuer_of(root, "the Response");
            if (issuer != assertion_issuer) reject("the Response and the assertion have different issuers");
            const auto* keys = idps.keys_for(issuer);
            if (!keys) reject("the issuer is not a trusted IdP");
            verify_signature(root, sig, *keys, "the Response");
            enclosed_by_signed_response = true;
        } else if (!children(root, kSamlNs, "Issuer").empty() && issuer_of(root, "the Response") != assertion_issuer) {
            reject("the Response and the assertion have different issuers");
        }
    } else if (is(root, kSamlNs, "Assertion")) {
        assertion = root;
    } else {
        reject("not a SAML 2.0 Assertion or Response");
    }

    const std::string issuer = issuer_of(assertion, "the assertion");
    const auto* keys = idps.keys_for(issuer);
    if (!keys) reject("the issuer is not a trusted IdP");
    if (xmlNode* sig = signature_of(assertion, "the assertion")) verify_signature(assertion, sig, *keys, "the assertion");
    else if (!enclosed_by_signed_response) reject("the assertion is not signed");
    Identity id = check_assertion(assertion, issuer, p);
    if (is(root, kSamlpNs, "Response")) id.destination = attr(root, "Destination");
    // The IdP names its own users only: its scopes, its alias.
    std::string why;
    id.user = scoped_user(*idps.find(issuer), id.user, why);
    if (!why.empty()) reject(why);
    return id;
}

}  // namespace

Result validate_document(std::string_view xml, const TrustedIdps& idps, const Policy& policy) {
    Result r;
    try {
        r.identity = validate_or_throw(xml, idps, policy);
        r.ok = true;
    } catch (const Reject& e) {
        r.error = e.why;
    }
    return r;
}

std::string bind_to_request(Identity& id, const Policy& p) {
    auto listed = [&](const std::string& url) {
        return std::find(p.recipients.begin(), p.recipients.end(), url) != p.recipients.end();
    };
    if (id.destination && !listed(*id.destination)) return "the Response is for another Destination";
    std::string why = "the subject confirmation is for another Recipient";
    for (const auto& c : id.confirmations) {
        if (c.has_expiry && p.now - p.skew >= c.not_on_or_after) {
            why = "the subject confirmation has expired";
            continue;
        }
        if (c.recipient ? !listed(*c.recipient) : (p.recipient_required && !p.holder_of_key)) {
            why = c.recipient ? "the subject confirmation is for another Recipient"
                              : "the subject confirmation names no Recipient, and one is required here";
            continue;
        }
        // Valid until the earliest NotOnOrAfter of the assertion and this confirmation.
        id.not_on_or_after = id.has_conditions_expiry ? id.conditions_expiry : c.not_on_or_after;
        if (c.has_expiry) id.not_on_or_after = std::min(id.not_on_or_after, c.not_on_or_after);
        if (!id.has_conditions_expiry && !c.has_expiry) return "the assertion states no NotOnOrAfter";
        return {};
    }
    return why;
}

Result validate(std::string_view xml, const TrustedIdps& idps, const Policy& policy) {
    Result r = validate_document(xml, idps, policy);
    if (r.ok) {
        r.error = bind_to_request(r.identity, policy);
        r.ok = r.error.empty();
    }
    return r;
}

}  // namespace cmi::saml
