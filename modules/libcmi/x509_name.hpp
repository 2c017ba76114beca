// Printable identities of certificates (signer names for notes and binding).
#pragma once
#include <string>

struct x509_st;

namespace cmi {

std::string subject_cn(const x509_st* cert);  // UTF-8, "" when there is none
std::string subject_dn(const x509_st* cert);  // RFC 2253

}  // namespace cmi
