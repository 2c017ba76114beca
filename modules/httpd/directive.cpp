#include "httpd/directive.hpp"

#include <cstdlib>

namespace cmi::httpd {

const char* text_arg(cmd_parms* cmd, const char* arg, const char* if_empty) {
    if (!*arg) throw std::invalid_argument(if_empty);
    return apr_pstrdup(cmd->pool, arg);
}

long long number_arg(const char* arg, long long min, long long max, const char* what) {
    char* end = nullptr;
    const long long v = std::strtoll(arg, &end, 10);
    if (!*arg || *end || v < min || v > max) throw std::invalid_argument(std::string("'") + arg + "' is not " + what);
    return v;
}

}  // namespace cmi::httpd
