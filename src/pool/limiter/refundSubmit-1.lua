--[[
  Gives back the quota unit of a submit that created no task: the job's latest unit.

  Input:
    KEYS[1] submits ZSET of the account
    ARGV[1] jobId

  Output: 1 if a unit was given back, 0 if the job had none in the window
]]

--- @include "_quota"

local latest = latestSubmitOf(KEYS[1], ARGV[1])
if latest == nil then return 0 end
return redis.call('ZREM', KEYS[1], latest)
