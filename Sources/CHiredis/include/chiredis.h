// Debian's hiredis (libhiredis-dev, 0.14): the asynchronous API, and its libuv adapter behind one
// function, so that Swift sees hiredis's types without a second copy of libuv's.
#ifndef CHIREDIS_H
#define CHIREDIS_H

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

/// Attaches `context` to the libuv loop `uv_loop` (a `uv_loop_t *`): its I/O then runs on that
/// loop's thread. REDIS_OK or REDIS_ERR.
int concord_redis_attach(redisAsyncContext *context, void *uv_loop);

#endif
