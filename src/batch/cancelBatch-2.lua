--[[
  Marks a batch as being cancelled. From this step on, moveBatchJob refuses every move to
  'submitted' in it: a job that has not passed the submit gate never will. Jobs past it finish.
  A batch with nothing pending ends at once.

  Input:
    KEYS[1] the batch's record HASH
    KEYS[2] the queue's ending ZSET
    ARGV[1] batch id
    ARGV[2] manifest claim lease in ms (for the caller, when this ends the batch)

  Output: { outcome, ended, ends }
    outcome: 'cancelling' | 'already' (cancelling or cancelled before) | 'finished' | 'none' (no such batch)
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return { 'none', 0, 0 } end
local ends = tonumber(redis.call('HGET', KEYS[1], 'ends') or '0')
if state == 'cancelling' or state == 'cancelled' then return { 'already', 0, ends } end
if state == 'finished' then return { 'finished', 0, ends } end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'state', 'cancelling', 'cancelledAt', now, 'updatedAt', now)
local pending = tonumber(redis.call('HGET', KEYS[1], 'waiting') or '0') + tonumber(redis.call('HGET', KEYS[1], 'submitted') or '0')
if pending > 0 then return { 'cancelling', 0, ends } end
redis.call('HSET', KEYS[1], 'state', 'cancelled', 'endedAt', now)
ends = redis.call('HINCRBY', KEYS[1], 'ends', 1)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
return { 'cancelling', 1, ends }
