#include "mod_cmi_audit/writer_events.hpp"

#include "httpd/status_counters.hpp"
#include "mod_cmi_audit/audit_config.hpp"

namespace cmi::audit {
httpd::StatusCounters* ModuleEvents::counters() {
    if (!looked_up_) {
        counters_ = httpd::StatusCounters::find(server_, cmi_audit_module);
        looked_up_ = true;
    }
    return counters_;
}

std::string txid_of_line(const std::string& line) {
    static const std::string key = "\"txid\":\"";
    const auto at = line.find(key);
    if (at == std::string::npos) return "-";
    const auto end = line.find('"', at + key.size());
    return end == std::string::npos ? "-" : line.substr(at + key.size(), end - at - key.size());
}

void ModuleEvents::written(SlotKind, std::uint32_t count) {
    if (auto* c = counters()) c->add("records.written", count);
}

void ModuleEvents::failed(SlotKind, std::uint32_t count) {
    if (auto* c = counters()) c->add("records.failed", count);
}

void ModuleEvents::synced(std::int64_t ns, std::uint32_t records) {
    auto* c = counters();
    if (!c) return;
    const auto us = static_cast<std::uint64_t>(ns > 0 ? ns / 1000 : 0);
    c->add("fdatasyncs");
    c->add("fdatasync_us.total", us);
    c->raise("fdatasync_us.max", us);
    c->add("fdatasync_begins", records);
}

void ModuleEvents::not_recorded(SlotKind kind, const std::string& record, const std::string& why) {
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, server_,
                 CMILOGNO(40003) "audit log %s: %s record NOT recorded (%s) [CMI-Transaction-ID %s]: %s", path_,
                 kind == SlotKind::begin ? "begin" : "end", why.c_str(), txid_of_line(record).c_str(), record.c_str());
}

// The writer's messages carry their ids (libcmi/audit_writer.cpp).
void ModuleEvents::message(int level, const char* id, const std::string& text) {
    if (level == APLOG_ALERT)  // the writer's alerts are discontinuities
        if (auto* c = counters()) c->add("discontinuities");
    ap_log_error(APLOG_MARK, level, 0, server_, "%saudit log %s: %s", id, path_, text.c_str());
}

}  // namespace cmi::audit
