#include "mod_cmi_content/validated_sections.hpp"

#include "mod_cmi_content/content_config.hpp"

#include <http_core.h>

#include <string_view>

namespace cmi::content {
namespace {

// Where a section applies: everything under `path` (whole), somewhere under it
// (a <Files> or <If> inside it), or it cannot be known (path == nullptr).
struct Reach {
    bool location = false;
    const char* path = nullptr;
    bool whole = true;
};

std::string_view trimmed(const char* p) {
    std::string_view s(p ? p : "");
    while (s.size() > 1 && s.back() == '/') s.remove_suffix(1);
    return s;
}

// `path` is `top` or lies below it.
bool under(std::string_view path, std::string_view top) {
    return path.substr(0, top.size()) == top && (path.size() == top.size() || top == "/" || path[top.size()] == '/');
}

std::string name_of(const char* kind, const ap_conf_vector_t* v) {
    const auto* core = static_cast<const core_dir_config*>(ap_get_core_module_config(v));
    if (!core || !core->d) return std::string("<") + kind + ">";
    return std::string("<") + kind + (core->r ? "Match " : " ") + core->d + ">";
}

struct Search {
    std::string_view uri, filename;
    std::optional<std::string> found;

    bool meets(const Reach& at) const {
        if (!at.path) return true;
        const std::string_view dest = at.location ? uri : filename;
        const std::string_view path = trimmed(at.path);
        return under(path, dest) || (!at.whole && under(dest, path));
    }

    void section(const ap_conf_vector_t* v, const Reach& at, const std::string& name) {
        const auto* dc = static_cast<const DirConfig*>(ap_get_module_config(v, &cmi_content_module));
        if (dc && validates(*dc) && meets(at)) {
            found = at.path ? name : name + " (its reach cannot be known from the configuration)";
            return;
        }
        const auto* core = static_cast<const core_dir_config*>(ap_get_core_module_config(v));
        if (!core) return;
        // A <Files> matches names within a <Directory>'s tree; an <If> narrows its section.
        nested(core->sec_file, Reach{false, at.location ? nullptr : at.path, false}, "Files");
        nested(core->sec_if, Reach{at.location, at.path, false}, "If");
    }

    void nested(const apr_array_header_t* arr, const Reach& at, const char* kind) {
        if (!arr) return;
        auto** elts = reinterpret_cast<ap_conf_vector_t**>(arr->elts);
        for (int i = 0; i < arr->nelts && !found; ++i) section(elts[i], at, name_of(kind, elts[i]));
    }

    void top_level(const apr_array_header_t* arr, bool location) {
        if (!arr) return;
        auto** elts = reinterpret_cast<ap_conf_vector_t**>(arr->elts);
        for (int i = 0; i < arr->nelts && !found; ++i) {
            const auto* core = static_cast<const core_dir_config*>(ap_get_core_module_config(elts[i]));
            if (!core || !core->d) continue;
            const bool exact = !core->r && !core->d_is_fnmatch;
            section(elts[i], Reach{location, exact ? core->d : nullptr, true},
                    name_of(location ? "Location" : "Directory", elts[i]));
        }
    }
};

}  // namespace

std::optional<std::string> validated_section_within(request_rec* r, const char* uri, const char* filename) {
    char* u = apr_pstrdup(r->pool, uri ? uri : "");
    ap_no2slash(u);  // as <Location> matching sees it
    Search s{trimmed(u), trimmed(filename), std::nullopt};
    const auto* sconf = static_cast<const core_server_config*>(ap_get_core_module_config(r->server->module_config));
    s.top_level(sconf->sec_url, true);
    s.top_level(sconf->sec_dir, false);
    // Server-level <Files> and <If> (their reach cannot be known).
    if (const auto* dconf = static_cast<const core_dir_config*>(ap_get_core_module_config(r->server->lookup_defaults))) {
        s.nested(dconf->sec_file, Reach{false, nullptr, false}, "Files");
        s.nested(dconf->sec_if, Reach{false, nullptr, false}, "If");
    }
    return s.found;
}

}  // namespace cmi::content
