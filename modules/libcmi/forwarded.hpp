// The protocol a TLS-offloading proxy reports for the client's connection.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace cmi {

// X-Forwarded-Proto: a comma-separated list, one entry per proxy hop; the last
// one was added by the proxy nearest to us. Lower-cased, or nullopt if empty.
std::optional<std::string> last_x_forwarded_proto(std::string_view value);

// RFC 7239 Forwarded: the "proto" parameter of the last forwarded-element.
// nullopt if the last element has no proto or the header does not parse.
std::optional<std::string> last_forwarded_proto(std::string_view value);

}  // namespace cmi
