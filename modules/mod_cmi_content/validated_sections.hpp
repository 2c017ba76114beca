// Where content validation is switched on, as far as the configuration tells.
// A WebDAV COPY (Depth infinity) or MOVE of a collection writes members below
// its Destination, where mod_dav looks nothing up: mod_dav's one Destination
// lookup sees only the top. A section that validates somewhere below it, or
// may (its reach cannot be known from the configuration), refuses such a copy.
#pragma once
#include "httpd/httpd_includes.hpp"

#include <optional>
#include <string>

namespace cmi::content {

// A section of r's server that switches validation on and may apply at or below
// the URL path `uri` or the file `filename`: a <Location>/<Directory> at or
// below them, a <Files>/<If> inside a section that reaches them, or a section
// whose reach cannot be known (regex, wildcard, <Files>/<If> at server level).
// Its name for messages ("<Location /x/>"), or nullopt.
std::optional<std::string> validated_section_within(request_rec* r, const char* uri, const char* filename);

}  // namespace cmi::content
