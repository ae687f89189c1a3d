/// The Lua scripts of `RedisPresenceStore`. Every key of one call belongs to one presence channel
/// (its hash tag), so each runs as one atomic step on one Redis Cluster slot.
///
/// Keys of a channel: `pr:info` (user -> info, JSON), `pr:conns` (user -> holders across the
/// cluster), `pr:since` (user scored by arrival, for "longest present first"), `pr:arrivals` (the
/// arrival counter) and one `pr:lease:LEASE` per node lease (holder -> user).
enum RedisPresenceScripts {
    /// Changes one lease's holders in a channel, then publishes what that changed for each user
    /// touched (join, update, leave), in one message: `[channel, [[kind, user, count, info], ...]]`.
    ///
    /// KEYS: info, conns, since, arrivals, the lease's holders, then (mode `set`) holders of an
    /// older lease of this node to take over. ARGV: header, the pub/sub channel, the presence
    /// channel, the mode, then
    /// - `ops`: `+ holder user info` (enter, setting the info), `- holder`, `u user info`,
    ///   `! user` (report an update even if nothing seems to change: a reconnect took over);
    /// - `set`: `holder user info` triples, the lease's holders from now on (a re-announce);
    /// - `drop`: nothing; the lease's holders all go (a reaped lease).
    static let change = RedisScript(
        """
        local info, conns, since, arrivals, mine = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        local before, order, forced = {}, {}, {}
        local function touch(user)
          if before[user] == nil then
            before[user] = {tonumber(redis.call('HGET', conns, user) or '0'), redis.call('HGET', info, user)}
            order[#order + 1] = user
          end
        end
        local function add(field, user)
          touch(user)
          if redis.call('HSETNX', mine, field, user) == 1 then redis.call('HINCRBY', conns, user, 1) end
        end
        local function drop(hash, field)
          local user = redis.call('HGET', hash, field)
          if user then
            touch(user)
            redis.call('HDEL', hash, field)
            redis.call('HINCRBY', conns, user, -1)
          end
        end
        local function dropAll(hash)
          for _, field in ipairs(redis.call('HKEYS', hash)) do drop(hash, field) end
        end
        local mode, i = ARGV[4], 5
        if mode == 'ops' then
          while i <= #ARGV do
            local op = ARGV[i]
            if op == '+' then
              add(ARGV[i + 1], ARGV[i + 2])
              redis.call('HSET', info, ARGV[i + 2], ARGV[i + 3])
              i = i + 4
            elseif op == '-' then
              drop(mine, ARGV[i + 1])
              i = i + 2
            elseif op == 'u' then
              touch(ARGV[i + 1])
              if before[ARGV[i + 1]][1] > 0 then redis.call('HSET', info, ARGV[i + 1], ARGV[i + 2]) end
              i = i + 3
            else
              touch(ARGV[i + 1])
              forced[ARGV[i + 1]] = true
              i = i + 2
            end
          end
        elseif mode == 'set' then
          for k = 6, #KEYS do dropAll(KEYS[k]) end
          local want = {}
          for j = 5, #ARGV, 3 do want[ARGV[j]] = true end
          for _, field in ipairs(redis.call('HKEYS', mine)) do
            if not want[field] then drop(mine, field) end
          end
          for j = 5, #ARGV, 3 do
            add(ARGV[j], ARGV[j + 1])
            if not redis.call('HGET', info, ARGV[j + 1]) then redis.call('HSET', info, ARGV[j + 1], ARGV[j + 2]) end
          end
        else
          dropAll(mine)
        end
        local changes = {}
        for _, user in ipairs(order) do
          local was, old = before[user][1], before[user][2]
          local count = tonumber(redis.call('HGET', conns, user) or '0')
          if count <= 0 then
            redis.call('HDEL', conns, user)
            redis.call('HDEL', info, user)
            redis.call('ZREM', since, user)
            if was > 0 then changes[#changes + 1] = {'leave', user, 0, old or 'null'} end
          else
            local value = redis.call('HGET', info, user) or 'null'
            if was <= 0 then
              redis.call('ZADD', since, redis.call('INCR', arrivals), user)
              changes[#changes + 1] = {'join', user, count, value}
            elseif count ~= was or value ~= old or forced[user] then
              changes[#changes + 1] = {'update', user, count, value}
            end
          end
        end
        if #changes > 0 then
          redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\\n' .. cjson.encode({ARGV[3], changes}))
        end
        return #changes
        """)

    /// A channel's members, longest present first, and a marker for `RedisPresenceSnapshots`.
    ///
    /// KEYS: info, conns, since. ARGV: header, marks channel, token, limit. Answers
    /// `[total, user, count, info, user, count, info, ...]`.
    static let snapshot = RedisScript(
        """
        local limit = tonumber(ARGV[4])
        local out = {redis.call('ZCARD', KEYS[3])}
        if limit > 0 then
          for _, user in ipairs(redis.call('ZRANGE', KEYS[3], 0, limit - 1)) do
            out[#out + 1] = user
            out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], user) or '0')
            out[#out + 1] = redis.call('HGET', KEYS[1], user) or 'null'
          end
        end
        redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\\n' .. ARGV[3])
        return out
        """)
}
