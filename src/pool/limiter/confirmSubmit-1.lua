--[[
  KIE starts a submit's daily window when the request arrives, not when we granted it; the gap
  (persisting the job, the HTTP request) is tens of ms. Once KIE has answered (or the request is
  known to have been sent), the unit's time moves to now, which is later than KIE's arrival, so the
  unit never comes back before KIE's own window lets another submit in.

  Input:
    KEYS[1] submits ZSET of the account
    ARGV[1] jobId
    ARGV[2] now in ms, or '' for the Redis server's time

  Output: 1 if the job's newest unit was moved, 0 if it had none
]]
--- @include "_clock"
--- @include "_quota"

local latest = latestSubmitOf(KEYS[1], ARGV[1])
if latest == nil then return 0 end
redis.call('ZADD', KEYS[1], 'GT', clockMs(ARGV[2]), latest)
return 1
