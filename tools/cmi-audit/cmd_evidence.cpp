#include "commands.hpp"
#include "evidence_export.hpp"
#include "read_chain.hpp"

#include "libcmi/signer.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <vector>

namespace cmi::audit_tool {
namespace {

int fail(const std::string& why) {
    std::cout << "FAIL: " << why << "\n";
    return 1;
}

bool names(const nlohmann::json& rec, const std::string& txid) {
    for (const char* key : {"txid", "client_txid"}) {
        const auto it = rec.find(key);
        if (it != rec.end() && it->is_string() && it->get<std::string>() == txid) return true;
    }
    return false;
}

void make_dirs(const std::string& dir) {
    for (std::size_t at = 1; at != std::string::npos;) {
        at = dir.find('/', at + 1);
        const std::string part = dir.substr(0, at);
        if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            throw std::runtime_error("cannot create " + part + ": " + std::strerror(errno));
    }
}

std::string file_of(const std::string& where) { return where.substr(0, where.rfind(':')); }

}  // namespace

int evidence(const EvidenceArgs& a) {
    // TXID is a txid, or else a client_txid — which any client may choose, so
    // it may name several operations (another provider's too): then it is
    // refused, never resolved to the first. The end record is the one of the
    // chosen begin record's txid.
    struct Candidate {
        nlohmann::json begin;
        std::string where;
        nlohmann::json end;
    };
    std::vector<Candidate> by_txid, by_client;
    audit::ChainVerifier chain;
    chain.require_checkpoints(a.key);
    chain.observe([&](std::uint64_t, std::string_view line, const std::string& where) {
        for (auto* list : {&by_txid, &by_client})
            for (auto& c : *list)
                if (c.end.is_null() && line.find(c.begin["txid"].get<std::string>()) != std::string_view::npos) {
                    auto j = nlohmann::json::parse(line, nullptr, false);
                    if (j.is_object() && j["ev"] == "end" && j["txid"] == c.begin["txid"]) c.end = std::move(j);
                }
        if (line.find(a.txid) == std::string_view::npos) return;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !names(j, a.txid) || j["ev"] != "begin" || !j["txid"].is_string())
            return;
        auto& list = j["txid"] == a.txid ? by_txid : by_client;
        list.push_back(Candidate{std::move(j), where, nullptr});
    });
    const ChainRead read = read_chain(a.files, chain);
    if (!read.ok) return fail("the log does not verify: " + read.failure);
    if (a.key && chain.checkpoints() == 0) return fail("no signed checkpoint in the log");
    const std::vector<Candidate>& found = by_txid.empty() ? by_client : by_txid;
    if (found.empty()) return fail("the log holds no begin record of " + a.txid);
    if (found.size() > 1) {
        std::string which;
        for (const auto& c : found) which += " " + c.begin["txid"].get<std::string>() + " (" + c.where + ")";
        return fail(std::to_string(found.size()) + " operations carry " + a.txid +
                    (by_txid.empty() ? " as their CMI-Client-Transaction-ID, which clients choose" : "") +
                    ": give the txid of the one you mean:" + which);
    }
    const nlohmann::json& begin = found.front().begin;
    const nlohmann::json& end = found.front().end;
    const std::string& begin_where = found.front().where;
    const auto files = evidence_of(begin);
    if (!files) return fail("the evidence field of " + begin_where + " is malformed");
    if (files->empty())
        return fail("the begin record of " + a.txid + " (" + begin_where + ") names no evidence of origin");

    const std::string store_dir = a.store.empty() ? audit::default_evidence_dir(file_of(begin_where)) : a.store;
    make_dirs(a.out_dir);
    EvidenceContext ctx;
    ctx.txid = begin["txid"].get<std::string>();
    ctx.out_dir = a.out_dir;
    if (end.is_object() && end["request"].is_object() && end["request"]["digest"].is_string())
        ctx.digest = end["request"]["digest"].get<std::string>();
    std::ostringstream how;
    try {
        export_evidence(audit::EvidenceStore(store_dir), *files, ctx, how);
    } catch (const std::runtime_error& e) {
        return fail(e.what());
    }
    std::cout << "OK evidence of origin of " << ctx.txid << " (begin record seq " << begin["seq"] << ", "
              << begin_where << "; chain verified" << (a.key ? " with its checkpoints" : "") << "), from "
              << store_dir << ":\n"
              << how.str();
    return 0;
}

}  // namespace cmi::audit_tool
