#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift cannot import:
// this hands it over as a value. It tells SQLite to copy a bound buffer before the call returns.
static inline sqlite3_destructor_type concord_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}
