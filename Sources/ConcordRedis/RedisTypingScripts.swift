/// The Lua scripts of `RedisTypingStore`. Every key of one call belongs to one channel (its hash
/// tag), so each runs as one atomic step on one Redis Cluster slot.
///
/// Keys of a channel: `ty:typists` (typist -> `[user, scope, name]`, JSON), `ty:who` (typist ->
/// the leases holding it, space-separated) and one `ty:lease:LEASE` set per node lease (its
/// typists there, to reap it). A typist is named by `[user, scope]` in JSON.
enum RedisTypingScripts {
    /// Changes one lease's typists in a channel and publishes who started and stopped, in one
    /// message: `[channel, [[kind, typist-json], ...]]`.
    ///
    /// KEYS: typists, who, the lease's set, then (mode `set`) an older lease's set of this node.
    /// ARGV: header, pub/sub channel, channel, mode, the lease, the older lease (or ""), then
    /// - `ops`: `+ typist value` (this lease types), `- typist` (this lease stops: a TTL, the
    ///   user's last connection here), `x typist` (an explicit stop: every lease);
    /// - `set`: `typist value` pairs, the lease's typists from now on (a re-announce);
    /// - `drop`: nothing; the lease's typists all go (a reaped lease).
    static let change = RedisScript(
        """
        local typists, who, mine, me = KEYS[1], KEYS[2], KEYS[3], ARGV[5]
        local before, order = {}, {}
        local function touch(field)
          if before[field] == nil then
            before[field] = redis.call('HGET', typists, field)
            order[#order + 1] = field
          end
        end
        local function holders(field)
          local list = {}
          local text = redis.call('HGET', who, field)
          if text then for lease in string.gmatch(text, '%S+') do list[#list + 1] = lease end end
          return list
        end
        local function save(field, list)
          if #list == 0 then
            redis.call('HDEL', who, field)
            redis.call('HDEL', typists, field)
          else
            redis.call('HSET', who, field, table.concat(list, ' '))
          end
        end
        local function add(field, value, lease, set)
          touch(field)
          local list = holders(field)
          local found = false
          for _, l in ipairs(list) do if l == lease then found = true end end
          if not found then list[#list + 1] = lease end
          if not redis.call('HGET', typists, field) then redis.call('HSET', typists, field, value) end
          save(field, list)
          redis.call('SADD', set, field)
        end
        local function remove(field, lease, set)
          touch(field)
          local list = {}
          for _, l in ipairs(holders(field)) do if l ~= lease then list[#list + 1] = l end end
          save(field, list)
          redis.call('SREM', set, field)
        end
        local function removeAll(set, lease)
          for _, field in ipairs(redis.call('SMEMBERS', set)) do remove(field, lease, set) end
          redis.call('DEL', set)
        end
        local mode = ARGV[4]
        if mode == 'ops' then
          local i = 7
          while i <= #ARGV do
            local op = ARGV[i]
            if op == '+' then
              add(ARGV[i + 1], ARGV[i + 2], me, mine)
              i = i + 3
            elseif op == '-' then
              remove(ARGV[i + 1], me, mine)
              i = i + 2
            else
              touch(ARGV[i + 1])
              save(ARGV[i + 1], {})
              redis.call('SREM', mine, ARGV[i + 1])
              i = i + 2
            end
          end
        elseif mode == 'set' then
          if #KEYS >= 4 then removeAll(KEYS[4], ARGV[6]) end
          local want = {}
          for j = 7, #ARGV, 2 do want[ARGV[j]] = true end
          for _, field in ipairs(redis.call('SMEMBERS', mine)) do
            if not want[field] then remove(field, me, mine) end
          end
          for j = 7, #ARGV, 2 do add(ARGV[j], ARGV[j + 1], me, mine) end
        else
          removeAll(mine, me)
        end
        local changes = {}
        for _, field in ipairs(order) do
          local was, now = before[field], redis.call('HGET', typists, field)
          if was and not now then changes[#changes + 1] = {'stopped', was}
          elseif now and not was then changes[#changes + 1] = {'started', now} end
        end
        if #changes > 0 then
          redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\\n' .. cjson.encode({ARGV[3], changes}))
        end
        return #changes
        """)

    /// Who is typing in a channel, and a marker for `RedisPresenceSnapshots`.
    ///
    /// KEYS: typists. ARGV: header, marks channel, token. Answers the typists' values.
    static let typing = RedisScript(
        """
        local out = redis.call('HVALS', KEYS[1])
        redis.call('PUBLISH', ARGV[2], ARGV[1] .. '\\n' .. ARGV[3])
        return out
        """)
}
