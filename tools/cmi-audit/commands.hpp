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

struct VerifyOptions {
    const SignatureVerifier* key = nullptr;  // checkpoints must verify with it
    bool evidence = false;                   // every evidence file a begin record names is in the store
    std::string store;                       // "" : cmi-evidence beside each log file
    std::string shipped;                     // lines kept off the host: each must be in the logs as shipped
};
int verify(const std::vector<std::string>& files, const VerifyOptions& options);
int show(const std::string& txid, const std::vector<std::string>& files);
int receipt(const SignatureVerifier& key, const std::string& value, const std::vector<std::string>& files);

struct EvidenceArgs {
    std::string txid;
    std::vector<std::string> files;
    std::string out_dir;
    std::string store;                      // "" : cmi-evidence beside the log holding the record
    const SignatureVerifier* key = nullptr;  // checkpoints verified too, when given
};
int evidence(const EvidenceArgs& args);

}  // namespace cmi::audit_tool
