#include "libcmi/saml_idps.hpp"

#include "libcmi/saml_xml.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace cmi::saml {
namespace {

std::string strip_space(const std::string& s) {
    std::string out;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    return out;
}

std::string to_pem(const std::string& b64) {
    std::string pem = "-----BEGIN CERTIFICATE-----\n";
    for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
    return pem + "-----END CERTIFICATE-----\n";
}

}  // namespace

TrustedIdps::~TrustedIdps() {
    for (auto& [id, idp] : idps_)
        for (LassoKey* k : idp.keys) g_object_unref(k);
}

const TrustedIdp* TrustedIdps::find(std::string_view entity_id) const {
    auto it = idps_.find(entity_id);
    return it == idps_.end() ? nullptr : &it->second;
}

const std::vector<LassoKey*>* TrustedIdps::keys_for(std::string_view entity_id) const {
    const TrustedIdp* idp = find(entity_id);
    return idp ? &idp->keys : nullptr;
}

std::vector<std::string> TrustedIdps::ambiguous() const {
    std::vector<std::string> out;
    if (idps_.size() < 2) return out;
    for (const auto& [id, idp] : idps_)
        if (idp.scopes.empty() && idp.alias.empty()) out.push_back(id);
    return out;
}

std::string scoped_user(const TrustedIdp& idp, const std::string& user, std::string& error) {
    if (!idp.scopes.empty()) {
        const auto at = user.rfind('@');
        if (at == std::string::npos || at == 0 || at + 1 == user.size()) {
            error = "the user name is not scoped (name@scope), as the IdP's metadata (shibmd:Scope) requires";
            return {};
        }
        const std::string_view scope(user.data() + at + 1, user.size() - at - 1);
        if (std::find(idp.scopes.begin(), idp.scopes.end(), scope) == idp.scopes.end()) {
            error = "the user name's scope is not one of the IdP's (shibmd:Scope in its metadata)";
            return {};
        }
    }
    return idp.alias.empty() ? user : user + "@" + idp.alias;
}

namespace {

// The IdPs read from one file: released into the set only when the whole
// file is good, else their keys are freed.
struct Pending {
    std::map<std::string, TrustedIdp> idps;
    Pending() = default;
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
    ~Pending() {
        for (auto& [id, idp] : idps)
            for (LassoKey* k : idp.keys) g_object_unref(k);
    }
};

constexpr const char* kShibMdNs = "urn:mace:shibboleth:metadata:1.0";

// shibmd:Scope in md:Extensions of `parent`: literal ones into `scopes`,
// regular expressions counted (not honoured).
void read_scopes(xmlNode* parent, std::vector<std::string>& scopes, int& regexps) {
    for (xmlNode* ext : children(parent, kMdNs, "Extensions"))
        for (xmlNode* sc : children(ext, kShibMdNs, "Scope")) {
            const auto re = attr(sc, "regexp");
            const auto text = plain_text(sc);
            if (!text || text->empty()) continue;
            if (re && (*re == "true" || *re == "1")) {
                ++regexps;
                continue;
            }
            scopes.push_back(*text);
        }
}

}  // namespace

std::vector<std::string> TrustedIdps::load_metadata(const std::string& path, const std::string& alias) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();
    DocPtr doc = parse_strict(text.data(), text.size());
    if (!doc) throw std::runtime_error(path + " is not well-formed XML without a DOCTYPE");

    std::vector<xmlNode*> entities;
    std::vector<xmlNode*> todo{xmlDocGetRootElement(doc.get())};
    while (!todo.empty()) {
        xmlNode* n = todo.back();
        todo.pop_back();
        if (is(n, kMdNs, "EntityDescriptor")) entities.push_back(n);
        else if (is(n, kMdNs, "EntitiesDescriptor"))
            for (xmlNode* c = n->children; c; c = c->next) todo.push_back(c);
    }
    std::vector<std::string> remarks;
    std::set<std::string> entity_ids;
    Pending pending;
    auto& found = pending.idps;
    for (xmlNode* e : entities) {
        const auto entity_id = attr(e, "entityID");
        auto idp_descriptors = children(e, kMdNs, "IDPSSODescriptor");
        if (!entity_id || entity_id->empty() || idp_descriptors.empty()) continue;
        std::vector<LassoKey*> keys;
        for (xmlNode* d : idp_descriptors) {
            for (xmlNode* kd : children(d, kMdNs, "KeyDescriptor")) {
                const auto use = attr(kd, "use");
                if (use && *use != "signing") continue;
                for (xmlNode* ki : children(kd, kDsNs, "KeyInfo"))
                    for (xmlNode* xd : children(ki, kDsNs, "X509Data"))
                        for (xmlNode* xc : children(xd, kDsNs, "X509Certificate")) {
                            const auto b64 = plain_text(xc);
                            const std::string pem = to_pem(strip_space(b64 ? *b64 : ""));
                            LassoKey* key = lasso_key_new_for_signature_from_memory(
                                pem.data(), pem.size(), nullptr, LASSO_SIGNATURE_METHOD_RSA_SHA256, nullptr);
                            if (!key) {
                                for (LassoKey* k : keys) g_object_unref(k);
                                throw std::runtime_error(path + ": a signing certificate of " + *entity_id +
                                                         " cannot be loaded");
                            }
                            keys.push_back(key);
                        }
            }
        }
        if (keys.empty()) throw std::runtime_error(path + ": IdP " + *entity_id + " has no signing certificate");
        TrustedIdp& idp = found[*entity_id + '\n' + std::to_string(found.size())];  // owned from here on
        idp.keys = std::move(keys);
        idp.alias = alias;
        idp.source = path;
        int regexps = 0;
        read_scopes(e, idp.scopes, regexps);
        for (xmlNode* d : idp_descriptors) read_scopes(d, idp.scopes, regexps);
        if (regexps)
            remarks.push_back("IdP " + *entity_id + " in " + path + ": " + std::to_string(regexps) +
                              " shibmd:Scope with regexp=\"true\" not honoured; list its scopes literally");
        // One entity id, one set of keys: a second description (another file,
        // or twice in one) would let either's keys sign for the other.
        const TrustedIdp* before = find(*entity_id);
        if (before || !entity_ids.insert(*entity_id).second)
            throw std::runtime_error("IdP " + *entity_id + " is described twice (" + path +
                                     (before ? " and " + before->source : "") +
                                     "): its keys would merge; keep one description of each IdP per section");
    }
    if (found.empty()) throw std::runtime_error(path + " describes no identity provider (md:IDPSSODescriptor)");
    if (!alias.empty() && found.size() > 1)
        throw std::runtime_error(path + " describes " + std::to_string(found.size()) +
                                 " IdPs: an alias names one; give each IdP its own file and alias");
    for (auto& [key, idp] : found) {
        TrustedIdp& kept = idps_[key.substr(0, key.find('\n'))];
        kept = std::move(idp);
        idp.keys.clear();  // the set owns them now
    }
    return remarks;
}

}  // namespace cmi::saml
