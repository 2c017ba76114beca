#include "mod_cmi_tls/tls_policy.hpp"

#include "libcmi/forwarded.hpp"
#include "libcmi/tls_version.hpp"

namespace cmi::tls {
namespace {

bool peer_is_trusted(const conn_rec* c, const ServerConfig& sc) {
    if (!sc.trusted_proxies) return false;
    // The TCP peer, never the client address a header claims.
    for (int i = 0; i < sc.trusted_proxies->nelts; ++i) {
        auto* subnet = APR_ARRAY_IDX(sc.trusted_proxies, i, apr_ipsubnet_t*);
        if (apr_ipsubnet_test(subnet, c->client_addr)) return true;
    }
    return false;
}

bool proxy_says_https(request_rec* r, const ServerConfig& sc) {
    if (forwarded_header(sc) == ForwardedHeader::forwarded) {
        const char* v = apr_table_get(r->headers_in, "Forwarded");
        const auto proto = v ? last_forwarded_proto(v) : std::nullopt;
        return proto && *proto == "https";
    }
    const char* v = apr_table_get(r->headers_in, "X-Forwarded-Proto");
    const auto proto = v ? last_x_forwarded_proto(v) : std::nullopt;
    return proto && *proto == "https";
}

}  // namespace

Transport classify(request_rec* r, const ServerConfig& sc) {
    Transport t;
    if (ap_ssl_conn_is_ssl(r->connection)) {
        t.tls = true;
        t.protocol = ap_ssl_var_lookup(r->pool, r->server, r->connection, r, "SSL_PROTOCOL");
        t.rank = t.protocol ? tls_version_rank(t.protocol) : 0;
        return t;
    }
    if (peer_is_trusted(r->connection, sc) && proxy_says_https(r, sc)) {
        t.tls = true;
        t.offloaded = true;
    }
    return t;
}

}  // namespace cmi::tls
