// lasso, in the include order that compiles as C++ (BUILD-NOTES): glib,
// libxml2 and xmlsec first, so lasso.h's own extern "C" does not wrap
// ICU's C++ headers.
#pragma once
#include <glib.h>
#include <glib-object.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <xmlsec/xmlsec.h>
#include <lasso/lasso.h>
