// Validation of a SAML 2.0 assertion presented as a bearer or holder-of-key
// credential: a signed Assertion, or a Response whose Response or Assertion
// is signed by a trusted IdP. The element whose signature verified is the
// element whose contents are used (no signature wrapping).
#pragma once
#include "libcmi/saml_idps.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmi::saml {

struct Policy {
    std::string sp_entity_id;             // the required Audience
    std::vector<std::string> recipients;  // accepted Recipient / Destination values
    std::int64_t now = 0;                 // seconds since the epoch
    std::int64_t skew = 60;
    bool holder_of_key = false;
    std::string client_cert_der;          // the TLS client certificate, for holder_of_key
    std::string user_attribute = "NameID";
};

struct Identity {
    std::string user, name_id, assertion_id, issuer;
    std::vector<std::pair<std::string, std::string>> attributes;  // (Name or FriendlyName, value)
    std::int64_t issue_instant = 0;    // seconds since the epoch
    std::int64_t not_on_or_after = 0;  // the earliest expiry the assertion states
    bool one_time_use = false;         // <OneTimeUse/> in the Conditions
};

struct Result {
    bool ok = false;
    std::string error;  // why not, for the log and the client; never assertion content
    Identity identity;
};

inline constexpr std::size_t kMaxDocumentBytes = 256 * 1024;

Result validate(std::string_view xml, const TrustedIdps& idps, const Policy& policy);

}  // namespace cmi::saml
