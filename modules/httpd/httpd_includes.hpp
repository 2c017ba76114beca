// The httpd and APR headers every glue file and module uses, in one place.
#pragma once
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>
#include <util_filter.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_uri.h>
#include <apr_network_io.h>

#include "httpd/log.hpp"
