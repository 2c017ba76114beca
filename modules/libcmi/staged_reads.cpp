#include "libcmi/staged_reads.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>

namespace cmi {
namespace {

[[noreturn]] void over_budget(unsigned long long max) {
    throw ValidationError("too-large", "the staged content named by the manifest exceeds " + std::to_string(max) +
                                           " bytes (CMIManifestMaxBytes)");
}

}  // namespace

const std::string* StagedRead::find(DigestAlg alg) const {
    for (const auto& d : digests)
        if (d.first == alg) return &d.second;
    return nullptr;
}

StagedReads::StagedReads(std::string root, std::string subdir, TransactionDir* snapshots,
                         unsigned long long max_bytes)
    : root_(std::move(root)), subdir_(std::move(subdir)), snapshots_(snapshots), max_bytes_(max_bytes) {}

const StagedRead& StagedReads::read(const std::string& location, const std::vector<DigestAlg>& algs) {
    if (auto at = by_location_.find(location); at != by_location_.end()) return complete(reads_[at->second], algs);
    const StagedEntry entry = open_staged_entry(root_, subdir_, location);
    const StagedFile file = open_staged_file(entry.dir.fd(), entry.name, entry.where);
    struct stat st;
    if (::fstat(file.fd(), &st) != 0) throw std::runtime_error("cannot stat staged '" + entry.where + "'");
    const auto key = std::make_pair(st.st_dev, st.st_ino);
    if (auto at = by_file_.find(key); at != by_file_.end()) {
        by_location_.emplace(location, at->second);
        return complete(reads_[at->second], algs);
    }
    const unsigned long long left = max_bytes_ - total_;
    if (static_cast<unsigned long long>(st.st_size) > left) over_budget(max_bytes_);

    StagedRead r;
    r.location = location;
    StagedDigests d;
    try {
        if (snapshots_) {
            Snapshot s = snapshots_->take(entry, file, {root_, subdir_, location}, algs, left, buffer_);
            r.path = std::move(s.path);
            d = std::move(s.digests);
        } else {
            d = digest_staged(file.fd(), algs, buffer_, left);
        }
    } catch (const ValidationError& e) {
        if (std::string(e.code) == "too-large") over_budget(max_bytes_);  // it grew while it was read
        throw;
    }
    r.bytes = d.bytes;
    r.digests = std::move(d.digests);
    total_ += r.bytes;
    reads_.push_back(std::move(r));
    by_location_.emplace(location, reads_.size() - 1);
    by_file_.emplace(key, reads_.size() - 1);
    return reads_.back();
}

// Another item wants an algorithm the first pass did not compute: one more
// pass, over the snapshot when there is one (it cannot have changed).
StagedRead& StagedReads::complete(StagedRead& r, const std::vector<DigestAlg>& algs) {
    std::vector<DigestAlg> missing;
    for (DigestAlg a : algs)
        if (!r.find(a) && std::find(missing.begin(), missing.end(), a) == missing.end()) missing.push_back(a);
    if (missing.empty()) return r;
    StagedDigests d;
    if (r.path.empty()) {
        d = digest_staged(open_staged(root_, subdir_, r.location).fd(), missing, buffer_);
    } else {
        const StagedFile f(::open(r.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (f.fd() < 0) throw std::runtime_error("cannot reopen the snapshot " + r.path + ": " + std::strerror(errno));
        d = digest_staged(f.fd(), missing, buffer_);
    }
    for (auto& x : d.digests) r.digests.push_back(std::move(x));
    return r;
}

}  // namespace cmi
