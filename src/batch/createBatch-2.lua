--[[
  Creates a batch's record, unless there is one (made by an earlier create, or by a job joining).

  Input:
    KEYS[1] the batch's record HASH
    KEYS[2] the queue's batch index ZSET
    ARGV[1] batch id, ARGV[2] queue, ARGV[3] tenant
    ARGV[4] budget in micro-USD, or '' for none
    ARGV[5] notifyUrl, or ''

  Output: 1 if created, 0 if the batch existed (nothing changed)
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'queue', ARGV[2], 'tenant', ARGV[3], 'state', 'open', 'createdAt', now, 'updatedAt', now, 'ends', 0)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'budgetMicroUsd', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'notifyUrl', ARGV[5]) end
redis.call('ZADD', KEYS[2], 'NX', now, ARGV[1])
return 1
