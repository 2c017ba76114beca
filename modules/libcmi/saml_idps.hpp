// Trusted SAML identity providers: entity ids and their signing keys, read
// from SAML 2.0 metadata. Needs lasso_init() first.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

typedef struct _LassoKey LassoKey;

namespace cmi::saml {

class TrustedIdps {
public:
    TrustedIdps() = default;
    ~TrustedIdps();
    TrustedIdps(const TrustedIdps&) = delete;
    TrustedIdps& operator=(const TrustedIdps&) = delete;

    // Adds every IdP (IDPSSODescriptor) of an EntityDescriptor or
    // EntitiesDescriptor file with its signing certificates. Throws
    // std::runtime_error saying what is wrong with the file.
    void load_metadata(const std::string& path);

    // nullptr for an unknown entity id.
    const std::vector<LassoKey*>* keys_for(std::string_view entity_id) const;
    bool empty() const { return idps_.empty(); }

private:
    std::map<std::string, std::vector<LassoKey*>, std::less<>> idps_;
};

}  // namespace cmi::saml
