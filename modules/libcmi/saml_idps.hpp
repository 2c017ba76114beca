// Trusted SAML identity providers: entity ids, signing keys and the scopes of
// their users, read from SAML 2.0 metadata. Needs lasso_init() first.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

typedef struct _LassoKey LassoKey;

namespace cmi::saml {

struct TrustedIdp {
    std::vector<LassoKey*> keys;
    // shibmd:Scope values (literal ones) of its metadata: the user names it may
    // assert end in "@" and one of them.
    std::vector<std::string> scopes;
    std::string alias;   // its users are named name@alias; "" none
    std::string source;  // the metadata file
};

class TrustedIdps {
public:
    TrustedIdps() = default;
    ~TrustedIdps();
    TrustedIdps(const TrustedIdps&) = delete;
    TrustedIdps& operator=(const TrustedIdps&) = delete;

    // Adds every IdP (IDPSSODescriptor) of an EntityDescriptor or
    // EntitiesDescriptor file with its signing certificates and scopes; with
    // an `alias`, the file must describe one IdP, whose users become
    // name@alias. Returns remarks for the log (scopes not honoured). Throws
    // std::runtime_error saying what is wrong: a file that cannot be used, an
    // entity id already trusted here (two descriptions would merge their keys).
    std::vector<std::string> load_metadata(const std::string& path, const std::string& alias = "");

    // nullptr for an unknown entity id.
    const TrustedIdp* find(std::string_view entity_id) const;
    const std::vector<LassoKey*>* keys_for(std::string_view entity_id) const;
    bool empty() const { return idps_.empty(); }
    std::size_t size() const { return idps_.size(); }
    // With several IdPs: those whose users are neither scoped nor aliased, so
    // that they could name another IdP's users. Empty with one IdP.
    std::vector<std::string> ambiguous() const;

private:
    std::map<std::string, TrustedIdp, std::less<>> idps_;
};

// The user name `user` as the IdP may assert it: for an IdP with scopes it
// must be name@scope with one of them, and an alias is appended. "" and
// `error` set if the IdP may not assert it.
std::string scoped_user(const TrustedIdp& idp, const std::string& user, std::string& error);

}  // namespace cmi::saml
