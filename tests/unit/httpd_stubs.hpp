// Stand-ins for the few httpd functions the glue calls, so the glue can be
// unit-tested without a server. APR itself is the real library.
#pragma once
#include <string>
#include <vector>

namespace stubs {

struct LogLine {
    int module_index;
    int level;
    std::string message;
};

extern std::vector<LogLine> log_lines;
extern std::string custom_response;  // last ap_custom_response text
extern int custom_status;

void reset();

}  // namespace stubs
