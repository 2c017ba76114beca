// What "the same target" means for a signature bound to one (issue 17): the
// method and the resource the request names, as httpd resolved it.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <string>

namespace cmi::content {

// "METHOD scheme://host:port/path?query" of the request as received: the host as
// httpd matched it (lower case, no port), the port the connection came in on,
// the path decoded and normalised (dot segments, merged slashes), the query as
// sent. Spellings of one resource are one target; anything a handler could tell
// apart (another path, query, host, port, method) is another.
std::string canonical_target(request_rec* r);

// post_config: whether the configuration answers for more than one host name
// (ServerName/ServerAlias of all virtual hosts, or a wildcard alias).
void register_host_names_hook();

}  // namespace cmi::content
