/// The broker's two scripts. A channel's stream is two keys under its hash tag: `meta` (a hash:
/// `epoch`, `offset`) and `history` (a list of entries `OFFSET AT\nFRAME`, oldest first, its
/// offsets consecutive and ending at `offset`). Events go out on the channel's `events` pub/sub
/// channel as `HEADER\nEPOCH OFFSET AT\nFRAME`.
extension RedisBroker {
    /// Numbers an event, keeps it in the history within its limits, and publishes it: one atomic
    /// step, one round trip. KEYS: meta, history. ARGV: header, a fresh epoch (used when the
    /// stream has none), the frame before and after its offset, now (ms), the most events kept,
    /// the oldest age kept (ms), how long an idle stream's position lives (ms), the pub/sub
    /// channel. Answers `{epoch, offset}`.
    static let publishScript = RedisScript(
        """
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[2]
          redis.call('HSET', KEYS[1], 'epoch', epoch)
          redis.call('DEL', KEYS[2])
        end
        local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
        redis.call('PEXPIRE', KEYS[1], ARGV[8])
        local entry = offset .. ' ' .. ARGV[5] .. '\\n' .. ARGV[3] .. offset .. ARGV[4]
        local maxEvents = tonumber(ARGV[6])
        if maxEvents > 0 then
          redis.call('RPUSH', KEYS[2], entry)
          redis.call('LTRIM', KEYS[2], -maxEvents, -1)
          local oldest = tonumber(ARGV[5]) - tonumber(ARGV[7])
          while true do
            local first = redis.call('LINDEX', KEYS[2], 0)
            if not first then break end
            local at = tonumber(string.match(first, '^%d+ (%-?%d+)'))
            if at >= oldest then break end
            redis.call('LPOP', KEYS[2])
          end
          redis.call('PEXPIRE', KEYS[2], ARGV[7])
        else
          redis.call('DEL', KEYS[2])
        end
        redis.call('PUBLISH', ARGV[9], ARGV[1] .. '\\n' .. epoch .. ' ' .. entry)
        return {epoch, offset}
        """)

    /// A stream's position and kept entries after an offset: what a node needs to start (or
    /// catch up) its copy of the stream. Starts the stream (a fresh epoch, offset 0) when it has
    /// none, so that every subscriber is given a position. KEYS: meta, history. ARGV: header, a
    /// fresh epoch, how long an idle stream's position lives (ms), the offset after which entries
    /// are wanted (-1: all kept), the most entries. Answers `{epoch, offset, {entries}}`.
    static let readScript = RedisScript(
        """
        local epoch = redis.call('HGET', KEYS[1], 'epoch')
        if not epoch then
          epoch = ARGV[2]
          redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
          redis.call('DEL', KEYS[2])
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        local offset = tonumber(redis.call('HGET', KEYS[1], 'offset') or '0')
        local count = redis.call('LLEN', KEYS[2])
        local first = offset - count + 1
        local after = tonumber(ARGV[4])
        local start = 0
        if after >= first then start = after - first + 1 end
        local limit = tonumber(ARGV[5])
        local entries = {}
        if start < count and limit > 0 then
          entries = redis.call('LRANGE', KEYS[2], start, math.min(count - 1, start + limit - 1))
        end
        return {epoch, offset, entries}
        """)
}
