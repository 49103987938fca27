--[[
  Gives back the quota unit of a submit that created no task: the job's latest unit.

  Input:
    KEYS[1] submits ZSET of the account
    ARGV[1] jobId

  Output: 1 if a unit was given back, 0 if the job had none in the window
]]

local prefix = ARGV[1] .. ':'
local latest
-- Newest first; the member's tail must be the time, so job "a" never takes a unit of job "a:b".
for _, member in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, #prefix) == prefix and string.match(string.sub(member, #prefix + 1), '^%d+[%.%d]*$') then
    latest = member
    break
  end
end
if latest == nil then return 0 end
return redis.call('ZREM', KEYS[1], latest)
