// A local replay table kept in a file that every process of httpd maps
// (MAP_SHARED): entries written by any child are in the file's pages at once,
// so the table outlives graceful and plain restarts, stops, and a crash of
// the whole process tree, for as long as the file itself does (a tmpfs such as
// /run is emptied by a reboot). Opened by httpd's parent, as root, before any
// child exists.
#pragma once
#include "libcmi/replay_table.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cmi::replay {

struct TableFile {
    enum class Opened {
        created,   // there was no file: a new, empty table
        reopened,  // the table of an earlier httpd, as it was
        resized,   // an earlier table of another size: its live entries moved into a new file
        replaced,  // the file was not a usable table: a new one that refuses items made before now
    };
    void* base = nullptr;
    std::size_t bytes = 0;
    Opened how = Opened::created;
    Table::Restored moved;  // resized: what the old table passed on
    std::string why;        // replaced: what was wrong with the old file
    std::int64_t unknown_before = 0;  // created, replaced: when the new table's memory begins
};

// Opens (or makes) the table of `label` at `path` with geometry `g`. The file
// is made 0600 and never through a symbolic link; an existing one must be a
// regular file owned by this user and writable by nobody else. A new or
// rewritten table is written beside it and renamed into place, so a crash
// meanwhile leaves the old file. Throws std::runtime_error naming the
// problem, e.g. a file that holds another cache's table.
//
// A start must not re-open a replay window. A missing file is a first start
// only if no table was ever kept there: `<path>.kept`, made beside the first
// table and left in place, says one was. Then the file was lost (deleted, or
// its directory emptied) and the new table refuses items made before now, as
// for a damaged one. Without it, the new table refuses items made before the
// system started: what a reboot that empties a tmpfs such as /run loses (both
// files) could only have been used before then.
TableFile open_table_file(const std::string& path, std::string_view label, const Geometry& g, std::uint32_t quota,
                          const unsigned char (&random)[36], std::int64_t now);

// Writes the table's pages to the file's storage (at a stop).
void sync_table_file(void* base, std::size_t bytes);

}  // namespace cmi::replay
