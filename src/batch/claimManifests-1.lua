--[[
  Claims ended batches whose manifest is still unwritten and whose last claim ran out (the worker
  that ended them died before writing it): each is claimed for one lease, so only one worker of
  the fleet writes it at a time.

  Input:
    KEYS[1] the queue's ending ZSET (batchId -> claim expiry)
    ARGV[1] lease in ms
    ARGV[2] at most this many

  Output: the claimed batch ids
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), id) end
return due
