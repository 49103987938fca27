--[[
  A request whose turn was granted is leaving now: the next grant waits one spacing from now, not
  only from the grant. KIE judges the interval when requests arrive, and a worker whose event loop
  stalled between its grant and its send would otherwise arrive late, too close to the next
  worker's request. Never moves the next grant earlier.

  Input:
    KEYS[1] turn HASH of the account
    ARGV[1] spacing: ms between two grants (minIntervalMs + intervalMarginMs)
    ARGV[2] now in ms, or '' for the Redis server's time

  Output: the next grant's earliest time
]]
--- @include "_clock"

local fenced = clockMs(ARGV[2]) + tonumber(ARGV[1])
local nextAt = tonumber(redis.call('HGET', KEYS[1], 'next')) or 0
if fenced > nextAt then
  redis.call('HSET', KEYS[1], 'next', fenced)
  return fenced
end
return nextAt
