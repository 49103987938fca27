--[[
  The job's task exists (created, or adopted after an ambiguous submit): its open reservation
  becomes spend. The charge stays in the daily and tenant totals until it leaves the window; the
  batch's reserved money moves to spent. Idempotent: without an open reservation, nothing changes.

  Input:
    KEYS[1] reserved HASH (_spend.lua)
    KEYS[2], KEYS[3] the job's batch record HASH and jobs HASH (any unused key when none)
    ARGV[1] jobId

  Output: 1 if a reservation became spend, 0 if there was none
]]
--- @include "_spend"

local s = { reserved = KEYS[1] }
local open = readReservation(s, ARGV[1])
if not open then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
settleInBatch(KEYS[2], KEYS[3], open.b, 'spend')
return 1
