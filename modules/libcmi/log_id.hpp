// Log message ids (modules/httpd/log.hpp explains the scheme): CMILOGNO(n) is
// the string "CMIn: ", which begins the message. Here, without httpd, for the
// parts of libcmi whose messages a module logs (the audit log writer).
#pragma once

#define CMILOGNO(n) "CMI" #n ": "
