#include "commands.hpp"
#include "log_input.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <stdexcept>

namespace cmi::audit_tool {

int show(const std::string& txid, const std::vector<std::string>& files) {
    OpenedLogs opened = open_logs(files);
    report_skipped(opened);
    int found = 0;
    for (const auto& log : opened.logs) {
        std::string line;
        while (std::getline(log->stream(), line)) {
            if (line.find(txid) == std::string::npos) continue;  // cheap pre-filter
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object()) continue;
            for (const char* key : {"txid", "client_txid"}) {
                const auto it = j.find(key);
                if (it != j.end() && it->is_string() && it->get<std::string>() == txid) {
                    std::cout << line << "\n";
                    ++found;
                    break;
                }
            }
        }
        if (log->stream().bad()) throw std::runtime_error("cannot read " + log->name() + ": " + log->error());
    }
    return found ? 0 : 1;
}

}  // namespace cmi::audit_tool
