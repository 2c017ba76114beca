// What the log writer reports, on server-status and in the error log.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "libcmi/audit_writer.hpp"

namespace cmi::httpd {
class StatusCounters;
}

namespace cmi::audit {

class ModuleEvents : public WriterEvents {
public:
    ModuleEvents(server_rec* s, const char* path) : server_(s), path_(path) {}
    void written(SlotKind, std::uint32_t count) override;
    void failed(SlotKind, std::uint32_t count) override;
    void synced(std::int64_t ns, std::uint32_t records) override;
    void not_recorded(SlotKind kind, const std::string& record, const std::string& why) override;
    void message(int level, const char* id, const std::string& text) override;

private:
    httpd::StatusCounters* counters();

    server_rec* server_;
    const char* path_;
    // The module's table, looked up once (a lookup formats its key and
    // searches the pool's userdata: ~1k instructions per batch).
    httpd::StatusCounters* counters_ = nullptr;
    bool looked_up_ = false;
};

// "[CMI-Transaction-ID x]" for a record's line ("-" when it has none).
std::string txid_of_line(const std::string& line);

}  // namespace cmi::audit
