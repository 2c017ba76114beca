// The cmi-audit commands. Each returns the exit status: 0 OK, 1 the check
// failed (the first line of output says why), 2 usage or I/O error (thrown
// as std::runtime_error and reported by main).
#pragma once
#include <string>
#include <vector>

namespace cmi {
class SignatureVerifier;
}

namespace cmi::audit_tool {

int verify(const std::vector<std::string>& files, const SignatureVerifier* key);
int show(const std::string& txid, const std::vector<std::string>& files);
int receipt(const SignatureVerifier& key, const std::string& value, const std::vector<std::string>& files);

}  // namespace cmi::audit_tool
