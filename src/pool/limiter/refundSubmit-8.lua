--[[
  Gives back what a submit that created no task took: the job's latest quota unit, and its open
  reservation (the charge leaves the daily and tenant totals, the batch's reserved money goes
  back). Money coming back wakes the jobs waiting for a budget.

  Input:
    KEYS[1] submits ZSET of the account
    KEYS[2..5] spend: charges ZSET, amounts HASH, totals HASH, reserved HASH (_spend.lua)
    KEYS[6], KEYS[7] the job's batch record HASH and jobs HASH (any unused key when none)
    KEYS[8] budget waiters ZSET
    ARGV[1] jobId

  Output: {1 if a quota unit was given back else 0, {budget waiters to wake}}
]]

--- @include "_quota"
--- @include "_spend"

local s = { charges = KEYS[2], amounts = KEYS[3], totals = KEYS[4], reserved = KEYS[5] }
local jobId = ARGV[1]
local unit = 0
local latest = latestSubmitOf(KEYS[1], jobId)
if latest ~= nil then unit = redis.call('ZREM', KEYS[1], latest) end

local wake = {}
local open = readReservation(s, jobId)
if open then
  redis.call('HDEL', s.reserved, jobId)
  local micro = dropCharge(s, open.c)
  settleInBatch(KEYS[6], KEYS[7], open.b, 'refund')
  if micro > 0 then
    wake = redis.call('ZRANGE', KEYS[8], 0, -1)
    redis.call('DEL', KEYS[8])
  end
end
return { unit, wake }
