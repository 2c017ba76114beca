// Printable identities of certificates (signer names for notes and binding).
#pragma once
#include <openssl/types.h>

#include <string>

namespace cmi {

std::string subject_cn(const X509* cert);  // UTF-8, "" when there is none
std::string subject_dn(const X509* cert);  // RFC 2253

std::string rfc2253(const X509_NAME* name);   // as mod_ssl prints a DN
std::string utf8_of(const ASN1_STRING* s);    // "" when it cannot be converted

}  // namespace cmi
