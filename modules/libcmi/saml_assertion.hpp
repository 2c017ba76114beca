// Validation of a SAML 2.0 assertion presented as a bearer or holder-of-key
// credential: a signed Assertion, or a Response whose Response or Assertion
// is signed by a trusted IdP. The element whose signature verified is the
// element whose contents are used (no signature wrapping).
#pragma once
#include "libcmi/saml_idps.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cmi::saml {

struct Policy {
    std::string sp_entity_id;             // the required Audience
    std::vector<std::string> recipients;  // accepted Recipient / Destination values
    bool recipient_required = false;      // a bearer confirmation must name one of them
    std::int64_t now = 0;                 // seconds since the epoch
    std::int64_t skew = 60;
    bool holder_of_key = false;
    std::string client_cert_der;          // the TLS client certificate, for holder_of_key
    std::string user_attribute = "NameID";
};

// A SubjectConfirmation of the required method that held when the document was validated.
struct Confirmation {
    std::optional<std::string> recipient;
    std::int64_t not_on_or_after = 0;
    bool has_expiry = false;
};

struct Identity {
    std::string user, name_id, assertion_id, issuer;
    std::vector<std::pair<std::string, std::string>> attributes;  // (Name or FriendlyName, value)
    std::int64_t issue_instant = 0;    // seconds since the epoch
    // After bind_to_request: the earliest expiry of the assertion and the
    // confirmation that fits the request; before: the latest any could have.
    std::int64_t not_on_or_after = 0;
    std::int64_t conditions_expiry = 0;  // the Conditions' NotOnOrAfter
    bool has_conditions_expiry = false;
    std::vector<Confirmation> confirmations;
    std::optional<std::string> destination;  // a Response's Destination
    bool one_time_use = false;         // <OneTimeUse/> in the Conditions
};

struct Result {
    bool ok = false;
    std::string error;  // why not, for the log and the client; never assertion content
    Identity identity;
};

inline constexpr std::size_t kMaxDocumentBytes = 256 * 1024;

// Everything that depends on the document, the trusted IdPs and the parts of
// the policy that are configuration (audience, holder-of-key, user attribute,
// skew) — not on the request's URL.
Result validate_document(std::string_view xml, const TrustedIdps& idps, const Policy& policy);

// What depends on the request: a Response's Destination and a confirmation's
// Recipient among policy.recipients (required with recipient_required), and
// that confirmation still valid at policy.now. "" if it fits, else why not.
std::string bind_to_request(Identity& id, const Policy& policy);

// validate_document, then bind_to_request.
Result validate(std::string_view xml, const TrustedIdps& idps, const Policy& policy);

}  // namespace cmi::saml
