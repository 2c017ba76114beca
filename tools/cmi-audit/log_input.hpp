// The files cmi-audit is given, as streams of log lines: plain or
// gzip-compressed (logrotate's `compress`), told apart by their first bytes,
// not their names. The chain head file the httpd parent keeps next to the log
// (`<log>.head`, and `<log>.head.XXXXXX` while it is written) is recognised by
// its first line and its name and left out, so a shell glob such as
// `cmi-audit.log*` can be given as it is; a head's text under another name is refused.
#pragma once
#include <istream>
#include <memory>
#include <string>
#include <vector>

namespace cmi::audit_tool {

class LogInput {
public:
    virtual ~LogInput() = default;
    virtual std::istream& stream() = 0;
    // After a read error (a truncated or corrupt gzip file): why; else empty.
    virtual std::string error() const = 0;
    const std::string& name() const { return name_; }

protected:
    explicit LogInput(std::string name) : name_(std::move(name)) {}

private:
    std::string name_;
};

struct OpenedLogs {
    std::vector<std::unique_ptr<LogInput>> logs;
    std::vector<std::string> skipped;  // head files: not logs
};

// Opens each file. Throws std::runtime_error naming the file when one cannot
// be opened or is compressed in a format other than gzip (xz, bzip2, zstd).
OpenedLogs open_logs(const std::vector<std::string>& files);

// Says on stderr which files were left out and why.
void report_skipped(const OpenedLogs& opened);

}  // namespace cmi::audit_tool
