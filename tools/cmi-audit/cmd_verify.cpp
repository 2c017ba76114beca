#include "commands.hpp"
#include "read_chain.hpp"

#include "libcmi/signer.hpp"

#include <iostream>

namespace cmi::audit_tool {

int verify(const std::vector<std::string>& files, const SignatureVerifier* key) {
    audit::ChainVerifier v;
    v.require_checkpoints(key);
    const ChainRead read = read_chain(files, v);
    if (!read.ok) {
        std::cout << "FAIL " << read.failure << "\n";
        return 1;
    }
    if (v.records() == 0) {
        std::cout << "FAIL: no records\n";
        return 1;
    }
    if (key && v.checkpoints() == 0) {
        std::cout << "FAIL: no signed checkpoint in the log\n";
        return 1;
    }
    std::cout << "OK " << v.records() << " records, last seq " << v.head().seq << ", head " << v.head().hash;
    if (key)
        std::cout << "; " << v.checkpoints() << " checkpoints verified, last at seq " << v.last_checkpoint_seq() << ", "
                  << (v.head().seq - v.last_checkpoint_seq()) << " records after it not covered";
    std::cout << "\n";
    return 0;
}

}  // namespace cmi::audit_tool
