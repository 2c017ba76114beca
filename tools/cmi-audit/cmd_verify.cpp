#include "commands.hpp"
#include "evidence_export.hpp"
#include "log_input.hpp"
#include "read_chain.hpp"

#include "libcmi/evidence_store.hpp"
#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <map>
#include <stdexcept>

namespace cmi::audit_tool {
namespace {

std::string file_of(const std::string& where) { return where.substr(0, where.rfind(':')); }

// The lines of FILE (plain or gzip) by their seq: what was shipped off the
// host. Two different lines for one seq (the log was rewritten between two
// shipments) go to `conflict`.
std::map<std::uint64_t, std::string> read_shipped(const std::string& file, std::string& conflict) {
    OpenedLogs opened = open_logs({file});
    std::map<std::uint64_t, std::string> out;
    for (const auto& in : opened.logs) {
        std::string line;
        for (std::size_t n = 1; std::getline(in->stream(), line); ++n) {
            if (line.empty()) continue;
            const auto j = nlohmann::json::parse(line, nullptr, false);
            const auto seq = j.is_object() ? j.find("seq") : j.end();
            if (j.is_discarded() || !j.is_object() || seq == j.end() || !seq->is_number_unsigned())
                throw std::runtime_error(file + ":" + std::to_string(n) + " is not an audit record");
            const auto [it, added] = out.emplace(seq->get<std::uint64_t>(), line);
            if (!added && it->second != line && conflict.empty())
                conflict = file + ":" + std::to_string(n) + ": seq " + std::to_string(it->first) +
                           " was shipped twice, as two different lines (the log was rewritten between them)";
        }
        if (in->stream().bad()) throw std::runtime_error("cannot read " + file + ": " + in->error());
    }
    return out;
}

// What --evidence and --shipped find while the chain is read; the first
// problem wins.
class Extra {
public:
    explicit Extra(const VerifyOptions& o) : o_(o) {
        if (!o.shipped.empty()) shipped_ = read_shipped(o.shipped, failure_);
    }

    void see(std::uint64_t seq, std::string_view line, const std::string& where) {
        if (!failure_.empty()) return;
        if (const auto it = shipped_.find(seq); it != shipped_.end()) {
            if (line != it->second)
                failure_ = where + ": seq " + std::to_string(seq) + ": not the line shipped off the host in " +
                           o_.shipped + " (rewritten)";
            shipped_.erase(it);
            ++shipped_seen_;
        }
        if (o_.evidence && line.find("\"ev\":\"begin\"") != std::string_view::npos &&
            line.find("\"evidence\":[") != std::string_view::npos)
            check(seq, line, where);
    }

    // After the chain: shipped lines the logs do not reach.
    std::string finish(std::uint64_t last_seq) {
        if (failure_.empty() && !shipped_.empty())
            failure_ = "seq " + std::to_string(shipped_.begin()->first) + " was shipped off the host in " + o_.shipped +
                       " but the logs " +
                       (shipped_.begin()->first > last_seq ? "end at seq " + std::to_string(last_seq) +
                                                                 " (records removed from the end, or a file left out)"
                                                           : "do not hold it");
        return failure_;
    }
    std::size_t evidence_files() const { return files_; }
    std::size_t shipped_seen() const { return shipped_seen_; }

private:
    void check(std::uint64_t seq, std::string_view line, const std::string& where) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        const auto files = j.is_object() ? evidence_of(j) : std::nullopt;
        if (!files) {
            failure_ = where + ": seq " + std::to_string(seq) + ": the evidence field is malformed";
            return;
        }
        const std::string dir = o_.store.empty() ? audit::default_evidence_dir(file_of(where)) : o_.store;
        try {
            files_ += check_evidence(audit::EvidenceStore(dir), *files);
        } catch (const std::runtime_error& e) {
            failure_ = where + ": seq " + std::to_string(seq) + ": " + e.what();
        }
    }

    const VerifyOptions& o_;
    std::map<std::uint64_t, std::string> shipped_;
    std::size_t shipped_seen_ = 0, files_ = 0;
    std::string failure_;
};

}  // namespace

int verify(const std::vector<std::string>& files, const VerifyOptions& o) {
    audit::ChainVerifier v;
    v.require_checkpoints(o.key);
    Extra extra(o);
    v.observe([&](std::uint64_t seq, std::string_view line, const std::string& where) { extra.see(seq, line, where); });
    const ChainRead read = read_chain(files, v);
    if (!read.ok) {
        std::cout << "FAIL " << read.failure << "\n";
        return 1;
    }
    if (v.records() == 0) {
        std::cout << "FAIL: no records\n";
        return 1;
    }
    if (const std::string failure = extra.finish(v.head().seq); !failure.empty()) {
        std::cout << "FAIL " << failure << "\n";
        return 1;
    }
    if (o.key && v.checkpoints() == 0) {
        std::cout << "FAIL: no signed checkpoint in the log\n";
        return 1;
    }
    std::cout << "OK " << v.records() << " records, last seq " << v.head().seq << ", head " << v.head().hash;
    if (o.key)
        std::cout << "; " << v.checkpoints() << " checkpoints verified, last at seq " << v.last_checkpoint_seq() << ", "
                  << (v.head().seq - v.last_checkpoint_seq()) << " records after it not covered";
    if (v.first_seq() > 1)
        std::cout << "; the chain starts at seq " << v.first_seq() << ": records before it are in files not given";
    for (const auto& [from, to] : v.unconfirmed())
        std::cout << "; seq " << from << " to " << to
                  << " are confirmed by no signature of the node (found after httpd was killed: only as "
                     "trustworthy as the file)";
    if (o.evidence) std::cout << "; " << extra.evidence_files() << " evidence files as recorded";
    if (!o.shipped.empty()) std::cout << "; " << extra.shipped_seen() << " shipped lines found as shipped";
    std::cout << "\n";
    return 0;
}

}  // namespace cmi::audit_tool
