#include <hiredis/adapters/libuv.h>
#include "chiredis.h"

int concord_redis_attach(redisAsyncContext *context, void *uv_loop) {
    return redisLibuvAttach(context, (uv_loop_t *)uv_loop);
}
