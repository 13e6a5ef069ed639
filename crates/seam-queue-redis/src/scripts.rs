//! The Lua scripts that make each multi-step change atomic on the server.

use std::sync::LazyLock;

use redis::Script;

/// KEYS: the streams of the routed queues. ARGV: max length, data.
/// Refuses with `SEAMFULL <key>` when a stream is at its cap; else `XADD`s to every stream.
pub(crate) static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cap = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  if redis.call('XLEN', key) >= cap then
    return redis.error_reply('SEAMFULL ' .. key)
  end
end
for _, key in ipairs(KEYS) do
  redis.call('XADD', key, 'MAXLEN', '~', cap, '*', 'data', ARGV[2])
end
return #KEYS
",
    )
});

/// KEYS: delayed set, stream. ARGV: now (ms), batch size.
/// Moves the retries that are due back into the stream; answers how many.
pub(crate) static PROMOTE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'data', member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
",
    )
});

/// KEYS: stream. ARGV: group, consumer, visibility timeout (ms).
/// Claims the oldest entry idle for longer than the visibility timeout; answers
/// `{id, data, delivery count}` or nil.
pub(crate) static RECLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local idle = tonumber(ARGV[3])
for _ = 1, 10 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', idle, '-', '+', 1)
  if #pending == 0 then
    return false
  end
  local id = pending[1][1]
  local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], idle, id)
  local entry = claimed[1]
  if entry and entry[2] then
    local data = ''
    for i = 1, #entry[2], 2 do
      if entry[2][i] == 'data' then data = entry[2][i + 1] end
    end
    local now = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    return {id, data, now[1][4]}
  end
  -- The entry was deleted without an ack: drop it from the pending list and look again.
  redis.call('XACK', KEYS[1], ARGV[1], id)
end
return false
",
    )
});

/// KEYS: stream, target (delayed set or dead-letter stream; unused for an ack),
/// dead-letter index. ARGV: group, consumer, entry id, expected delivery count, action
/// (`ack`, `retry`, `dead`), due time (ms), data, dead-letter id, queue.
/// Answers 1 when settled, 0 when this delivery no longer owns the entry.
pub(crate) static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] or tostring(pending[1][4]) ~= ARGV[4] then
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if ARGV[5] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[6], ARGV[7])
elseif ARGV[5] == 'dead' then
  local entry = redis.call('XADD', KEYS[2], '*', 'id', ARGV[8], 'data', ARGV[7])
  redis.call('HSET', KEYS[3], ARGV[8], ARGV[9] .. '|' .. entry)
end
return 1
",
    )
});

/// KEYS: dead-letter index, dead-letter stream, queue stream. ARGV: dead-letter id,
/// dead-letter entry id, data. Moves the dead letter back exactly once: answers 1, or 0
/// when it was already replayed or purged.
pub(crate) static REPLAY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('XDEL', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[3], '*', 'data', ARGV[3])
return 1
",
    )
});

/// KEYS: dead-letter stream, dead-letter index. ARGV: batch size.
/// Deletes up to a batch of dead letters; answers how many.
pub(crate) static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then redis.call('HDEL', KEYS[2], fields[i + 1]) end
  end
  redis.call('XDEL', KEYS[1], entry[1])
end
return #entries
",
    )
});

/// KEYS: the dedupe key, then the streams of the routed queues. ARGV: ttl (ms), max
/// length, data. Answers 0 when the key exists (a duplicate: nothing written); else
/// refuses with `SEAMFULL <key>` when a stream is at its cap (nothing written), else
/// sets the key with `PX ttl` and `XADD`s to every stream, answering 1.
pub(crate) static PUBLISH_UNIQUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local cap = tonumber(ARGV[2])
for i = 2, #KEYS do
  if redis.call('XLEN', KEYS[i]) >= cap then
    return redis.error_reply('SEAMFULL ' .. KEYS[i])
  end
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX')
for i = 2, #KEYS do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', cap, '*', 'data', ARGV[3])
end
return 1
",
    )
});
