// <log>.head, kept by the root parent next to the log: read at start-up,
// written atomically (a new file of an unguessable name, then rename) so that
// neither a crash nor a symlink planted in the log directory can make it
// write anything but <log>.head itself.
#pragma once
#include <optional>
#include <string>

namespace cmi::audit {

// The file's content (at most 4 KiB), nullopt if there is none. Throws
// std::runtime_error if it exists but cannot be read, or is not a regular file.
std::optional<std::string> read_head_file(const std::string& path);

// Replaces `path` with `text`, durably. Returns an errno, 0 on success.
int write_head_file(const std::string& path, const std::string& text);

}  // namespace cmi::audit
