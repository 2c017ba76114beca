// The evidence store (issue 15.3): the providers' own signatures, kept beside
// the operation log as files named by their SHA-256, so that the chained
// begin record only carries each file's hash and size, and anyone can check
// a file years later with sha256sum and openssl.
//
//   <store>/<first two hex digits>/<64 hex digits>
//
// Files are written once (a temporary name, then rename) and never changed;
// the same bytes are stored once. Nothing here knows httpd.
#pragma once
#include <string>
#include <string_view>

namespace cmi::audit {

class EvidenceStore {
public:
    // The store at `dir`. With `dirfd` (an open descriptor of that directory,
    // not owned), every file is reached relative to it: the httpd parent
    // opens it as root, so the children write it without search permission
    // on the directories above (/var/log/apache2 is root:adm 0750).
    explicit EvidenceStore(std::string dir, int dirfd = -1) : dir_(std::move(dir)), dirfd_(dirfd) {}

    const std::string& dir() const { return dir_; }
    // Where the bytes of `sha256_hex` are (or would be) kept; throws
    // std::runtime_error unless it is 64 lower-case hex digits.
    std::string path_of(const std::string& sha256_hex) const;

    // Keeps `bytes` (unless a file with exactly these bytes is there already)
    // and returns their hex SHA-256. With `sync`, the file and its directory
    // entry are on stable storage before it returns. Throws
    // std::runtime_error naming the file and the system error.
    std::string put(std::string_view bytes, bool sync) const;

    // The bytes kept under `sha256_hex`. Throws std::runtime_error when the
    // file is missing or unreadable, or its bytes do not hash to its name.
    std::string get(const std::string& sha256_hex) const;

private:
    // `rel` ("ab/…") as the *at() functions take it, and as messages show it.
    int at() const;
    std::string arg(const std::string& rel) const;
    std::string shown(const std::string& rel) const { return dir_ + "/" + rel; }
    bool read(const std::string& rel, std::string& out) const;
    void sync_dir(const std::string& rel) const;

    std::string dir_;
    int dirfd_;
};

// Where the store of a log lives unless configured: the directory
// `cmi-evidence` next to the log (a name no `<log>*` glob catches).
std::string default_evidence_dir(const std::string& log_path);

}  // namespace cmi::audit
