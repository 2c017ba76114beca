#include "mod_cmi_content/request_target.hpp"

#include "httpd/barrier.hpp"
#include "httpd/request_chain.hpp"
#include "mod_cmi_content/content_config.hpp"

#include <apr_strings.h>

#include <set>

namespace cmi::content {
namespace {

std::string lower(const char* s) {
    std::string out = s ? s : "";
    for (char& c : out) c = static_cast<char>(apr_tolower(c));
    return out;
}

bool several_host_names(server_rec* main) {
    std::set<std::string> names;
    for (server_rec* s = main; s; s = s->next) {
        if (s->wild_names && s->wild_names->nelts > 0) return true;
        if (s->server_hostname) names.insert(lower(s->server_hostname));
        if (s->names)
            for (int i = 0; i < s->names->nelts; ++i) names.insert(lower(APR_ARRAY_IDX(s->names, i, const char*)));
    }
    return names.size() > 1;
}

extern "C" int host_names_post_config(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* main) {
    return httpd::server_barrier(main, cmi_content_module, "post_config", [main] {
        const bool several = several_host_names(main);
        for (server_rec* s = main; s; s = s->next) server_config(s).several_hosts = several;
        return OK;
    });
}

}  // namespace

std::string canonical_target(request_rec* r) {
    r = httpd::first_request(r);
    const char* host = r->hostname ? r->hostname : r->server->server_hostname;
    const apr_port_t port = r->connection->local_addr ? r->connection->local_addr->port : ap_get_server_port(r);
    std::string t = std::string(r->method) + " " + ap_http_scheme(r) + "://" + lower(host) + ":" + std::to_string(port);
    t += r->uri ? r->uri : "";
    if (r->args) t += std::string("?") + r->args;
    return t;
}

void register_host_names_hook() {
    ap_hook_post_config(host_names_post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace cmi::content
