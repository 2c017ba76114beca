// What the connection a request came over is, as far as CMI policy cares.
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_tls/tls_config.hpp"

namespace cmi::tls {

struct Transport {
    bool tls = false;        // TLS to us, or to a trusted proxy that says so
    bool offloaded = false;  // TLS ended at a trusted proxy: its version is the proxy's business
    int rank = 0;            // tls_version_rank of our own TLS connection
    const char* protocol = nullptr;  // SSL_PROTOCOL, for messages
};

Transport classify(request_rec* r, const ServerConfig& sc);

}  // namespace cmi::tls
