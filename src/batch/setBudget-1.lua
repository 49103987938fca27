--[[
  Sets or clears a batch's budget, which the submit grant (acquireSubmit.lua) enforces; the caller
  then wakes the jobs waiting for a budget (budgetWaiters.ts).

  Input:
    KEYS[1] the batch's record HASH
    ARGV[1] budget in micro-USD, or '' to remove it

  Output: 1 if set, 0 if there is no such batch
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local t = redis.call('TIME')
if ARGV[1] == '' then redis.call('HDEL', KEYS[1], 'budgetMicroUsd')
else redis.call('HSET', KEYS[1], 'budgetMicroUsd', ARGV[1]) end
redis.call('HSET', KEYS[1], 'updatedAt', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1
