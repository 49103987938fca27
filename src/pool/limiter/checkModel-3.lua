--[[
  Lets a job through to a create for its model, unless the model is paused fleet-wide. While KIE
  has it paused, one job at a time is let through as the probe (at most one per probe period, the
  probe key's lifetime); every other job registers as the model's waiter, to be woken on resume.
  A model an operator paused is never probed.

  Input:
    KEYS[1] paused HASH of the model: reason, since, by ('kie' | 'operator')
    KEYS[2] probe STRING of the model: the member probing; expires after one probe period
    KEYS[3] waiters ZSET of the model: member -> registration time
    ARGV[1] member (queue/jobId)
    ARGV[2] probe period in ms
    ARGV[3] now in ms, or '' for the Redis server's time

  Output:
    {'open'}                               not paused
    {'probe'}                              paused by KIE; this job sends the create that tells whether it is back
    {'paused', reason, probeInMs}          ms until the next probe may start (-1: an operator's pause,
                                           never probed)
]]
--- @include "_clock"

local pausedKey, probeKey, waitersKey = KEYS[1], KEYS[2], KEYS[3]
local member = ARGV[1]
local now = clockMs(ARGV[3])

if redis.call('EXISTS', pausedKey) == 0 then
  redis.call('ZREM', waitersKey, member)
  return {'open'}
end
local reason = redis.call('HGET', pausedKey, 'reason') or ''
if redis.call('HGET', pausedKey, 'by') ~= 'operator' then
  -- The prober keeps its turn across the short waits of its own submit (a request turn).
  if redis.call('GET', probeKey) == member or redis.call('SET', probeKey, member, 'PX', ARGV[2], 'NX') then
    redis.call('ZREM', waitersKey, member)
    return {'probe'}
  end
end
redis.call('ZADD', waitersKey, 'NX', now, member)
if redis.call('HGET', pausedKey, 'by') == 'operator' then return {'paused', reason, -1} end
return {'paused', reason, redis.call('PTTL', probeKey)}
