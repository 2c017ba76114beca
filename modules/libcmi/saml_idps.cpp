#include "libcmi/saml_idps.hpp"

#include "libcmi/saml_xml.hpp"

#include <fstream>
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
    for (auto& [id, keys] : idps_)
        for (LassoKey* k : keys) g_object_unref(k);
}

const std::vector<LassoKey*>* TrustedIdps::keys_for(std::string_view entity_id) const {
    auto it = idps_.find(entity_id);
    return it == idps_.end() ? nullptr : &it->second;
}

void TrustedIdps::load_metadata(const std::string& path) {
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
    int added = 0;
    for (xmlNode* e : entities) {
        const auto entity_id = attr(e, "entityID");
        auto idp = children(e, kMdNs, "IDPSSODescriptor");
        if (!entity_id || entity_id->empty() || idp.empty()) continue;
        std::vector<LassoKey*> keys;
        for (xmlNode* d : idp) {
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
        auto& slot = idps_[*entity_id];
        slot.insert(slot.end(), keys.begin(), keys.end());
        ++added;
    }
    if (!added) throw std::runtime_error(path + " describes no identity provider (md:IDPSSODescriptor)");
}

}  // namespace cmi::saml
