--[[
  Pauses a model fleet-wide (not an account: other models keep rendering). The first pause keeps
  its reason and time. A pause by KIE's answer parks the job that got it as a waiter and starts the
  probe clock, so no create for the model leaves before a whole probe period has passed (a probe
  already running keeps its own clock and its job). An operator's pause is never probed.

  Input:
    KEYS[1] paused HASH of the model: reason, since, by
    KEYS[2] probe STRING of the model
    KEYS[3] waiters ZSET of the model
    ARGV[1] reason
    ARGV[2] by: 'kie' | 'operator'
    ARGV[3] member whose create got the answer ('' for an operator)
    ARGV[4] probe period in ms
    ARGV[5] now in ms, or '' for the Redis server's time

  Output: {newlyPaused (1 | 0), ms until the next probe may start (-1 for an operator's pause)}
]]
--- @include "_clock"

local pausedKey, probeKey, waitersKey = KEYS[1], KEYS[2], KEYS[3]
local by, member = ARGV[2], ARGV[3]
local now = clockMs(ARGV[5])

local new = 0
if redis.call('EXISTS', pausedKey) == 0 then
  redis.call('HSET', pausedKey, 'reason', ARGV[1], 'since', now, 'by', by)
  new = 1
elseif by == 'operator' then
  redis.call('HSET', pausedKey, 'reason', ARGV[1], 'by', by)
end
if by == 'operator' then
  redis.call('DEL', probeKey)
  return {new, -1}
end
redis.call('SET', probeKey, member, 'PX', ARGV[4], 'NX')
redis.call('ZADD', waitersKey, 'NX', now, member)
return {new, redis.call('PTTL', probeKey)}
