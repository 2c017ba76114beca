#include "httpd/common_hooks.hpp"

#include "httpd/httpd_version.hpp"
#include "httpd/problem_response.hpp"
#include "httpd/reserved_headers.hpp"

namespace cmi::httpd {

void register_common_hooks() {
    register_problem_response();
    register_reserved_header_guard();
    register_httpd_version_check();
}

}  // namespace cmi::httpd
