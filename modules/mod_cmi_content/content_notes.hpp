// The keys mod_cmi_content publishes (docs/architecture.md §Notes contract), in
// r->notes and r->subprocess_env.
#pragma once

namespace cmi::content {

inline constexpr const char* kValidationKey = "CMI_CONTENT_VALIDATION";  // valid|invalid|absent
inline constexpr const char* kFormatKey = "CMI_CONTENT_FORMAT";          // cms|http-signature
inline constexpr const char* kDigestKey = "CMI_CONTENT_DIGEST";          // RFC 9530 member form
inline constexpr const char* kSignerKey = "CMI_CONTENT_SIGNER";          // CN or keyid
inline constexpr const char* kItemsKey = "CMI_CONTENT_ITEMS";            // RFC 8941 List (Decoupled Upload)
inline constexpr const char* kItemsFileKey = "CMI_CONTENT_ITEMS_FILE";   // a file holding the whole list
inline constexpr const char* kUserKey = "CMI_USER";                      // set by mod_cmi_auth

}  // namespace cmi::content
