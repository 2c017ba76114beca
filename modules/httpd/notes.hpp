// The keys modules share through r->notes / r->subprocess_env (docs/architecture.md §Notes contract).
#pragma once
#include <string_view>

namespace cmi::httpd {

inline constexpr const char* kTransactionIdKey = "CMI_TRANSACTION_ID";
inline constexpr const char* kTransactionIdHeader = "CMI-Transaction-ID";
inline constexpr const char* kClientTransactionIdHeader = "CMI-Client-Transaction-ID";
inline constexpr const char* kRefusalKey = "CMI_REFUSAL";

inline constexpr const char* kUserKey = "CMI_USER";
inline constexpr const char* kAuthMechKey = "CMI_AUTH_MECH";
inline constexpr const char* kAuthIssuerKey = "CMI_AUTH_ISSUER";
// What mod_cmi_content publishes, in r->notes and r->subprocess_env.
inline constexpr const char* kContentValidationKey = "CMI_CONTENT_VALIDATION";  // valid|invalid|absent
inline constexpr const char* kContentFormatKey = "CMI_CONTENT_FORMAT";          // cms|http-signature|manifest
inline constexpr const char* kContentDigestKey = "CMI_CONTENT_DIGEST";          // RFC 9530 member form
inline constexpr const char* kContentSignerKey = "CMI_CONTENT_SIGNER";          // CN or keyid
inline constexpr const char* kContentItemsKey = "CMI_CONTENT_ITEMS";            // RFC 8941 List (Decoupled Upload)
inline constexpr const char* kContentItemsFileKey = "CMI_CONTENT_ITEMS_FILE";   // a file holding the whole list

}  // namespace cmi::httpd

namespace cmi::httpd {

// Who the client is (mod_cmi_auth), beyond CMI_USER / CMI_AUTH_MECH / CMI_AUTH_ISSUER above.
inline constexpr const char* kSamlNameIdKey = "CMI_SAML_NAMEID";
inline constexpr const char* kSamlAssertionIdKey = "CMI_SAML_ASSERTION_ID";
inline constexpr const char* kSamlAttrPrefix = "CMI_SAML_ATTR_";

}  // namespace cmi::httpd

namespace cmi::httpd {

// Evidence of origin (issue 15.3): the provider's own signature, handed by
// mod_cmi_content to mod_cmi_audit, which keeps it in its evidence store and
// names it in the begin record. In r->notes only (never the environment: a
// handler has no use for it). Set only once the signature has verified.
inline constexpr const char* kEvidenceCmsKey = "CMI_EVIDENCE_CMS";  // base64 DER SignedData (CMI-Content-Signature)
inline constexpr const char* kEvidenceHttpSigBaseKey = "CMI_EVIDENCE_HTTPSIG_BASE";  // base64 signature base, redacted
inline constexpr const char* kEvidenceHttpSigKey = "CMI_EVIDENCE_HTTPSIG_SIGNATURE";  // base64 raw signature
inline constexpr const char* kEvidenceHttpSigKeyIdKey = "CMI_EVIDENCE_HTTPSIG_KEYID";   // the keyid
inline constexpr const char* kEvidenceHttpSigPublicKeyKey = "CMI_EVIDENCE_HTTPSIG_PUBLIC_KEY";  // base64 DER SPKI
inline constexpr const char* kEvidenceManifestKey = "CMI_EVIDENCE_MANIFEST";  // base64 XML-DSig-signed manifest as received
inline constexpr const char* kEvidenceItemsKey = "CMI_EVIDENCE_ITEMS";  // JSON, libcmi/origin_evidence.hpp
inline constexpr std::string_view kEvidencePrefix = "CMI_EVIDENCE_";  // every kEvidence*Key starts with it

}  // namespace cmi::httpd
