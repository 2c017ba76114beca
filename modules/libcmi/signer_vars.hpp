// The SIGNER_* variables of a content signer's certificate, named like
// mod_ssl's SSL_CLIENT_* ones, for the CMIContentSignerIdentity expression:
//   SIGNER_S_DN, SIGNER_I_DN                      RFC 2253 subject / issuer DN
//   SIGNER_S_DN_<A>, SIGNER_I_DN_<A>              first <A> attribute; <A>_1, <A>_2 … later ones
//        <A> one of C ST L O OU CN T I G S D UID Email
//   SIGNER_M_SERIAL                               serial number, upper-case hex
//   SIGNER_V_START, SIGNER_V_END                  validity, "Mon DD HH:MM:SS YYYY GMT"
//   SIGNER_SAN_Email_<n>, SIGNER_SAN_DNS_<n>      subjectAltName entries, from 0
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct x509_st;

namespace cmi {

using SignerVars = std::vector<std::pair<std::string, std::string>>;

SignerVars signer_variables(const x509_st* cert);

// A name signer_variables() can produce for some certificate (for parse-time checks).
bool is_signer_variable(std::string_view name) noexcept;

// The value of `name` in vars, or nullptr.
const std::string* find_signer_variable(const SignerVars& vars, std::string_view name) noexcept;

}  // namespace cmi
