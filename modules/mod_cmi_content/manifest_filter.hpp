// Decoupled Upload in httpd: the manifest (a small XML body, at most
// CMIManifestMaxSize bytes) is read and parsed as it arrives in fixups, every
// item is validated against its staged content, and only then is the
// unchanged manifest handed to the handler (a replay input filter).
#pragma once
#include "httpd/httpd_includes.hpp"
#include "mod_cmi_content/content_config.hpp"

namespace cmi::content {

void register_manifest_filter();

// child_init: libxml2 and xmlsec1 (unless lasso did it) before any thread runs.
void init_manifest_libraries();

// Returns DECLINED to let the handler run, or the refusal status.
int validate_manifest(request_rec* r, const DirConfig& dc);

}  // namespace cmi::content
