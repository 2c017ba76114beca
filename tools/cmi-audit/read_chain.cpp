#include "read_chain.hpp"

#include "log_input.hpp"

namespace cmi::audit_tool {

ChainRead read_chain(const std::vector<std::string>& files, audit::ChainVerifier& verifier) {
    OpenedLogs opened = open_logs(files);
    report_skipped(opened);
    std::vector<std::pair<std::istream*, std::string>> inputs;
    for (const auto& log : opened.logs) inputs.emplace_back(&log->stream(), log->name());
    ChainRead out;
    if (inputs.empty()) {
        out.failure = "no log among the files (only chain head files)";
        return out;
    }
    out.ok = verifier.feed_streams(inputs);
    if (out.ok) return out;
    const audit::VerifyError& e = *verifier.error();
    out.failure = e.where + ": ";
    if (e.seq) out.failure += "seq " + std::to_string(*e.seq) + ": ";
    out.failure += e.reason;
    for (const auto& log : opened.logs)
        if (!log->error().empty() && e.where.compare(0, log->name().size() + 1, log->name() + ":") == 0)
            out.failure += ": " + log->error();
    return out;
}

}  // namespace cmi::audit_tool
