--[[
  Jobs join their batch as waiting, many in one step (a producer's chunk), creating the batch's
  record if there is none. A job the batch knows keeps its state (idempotent: a resumed enqueue
  joins the jobs that existed too). Joining an ended batch opens it again, as in moveBatchJob.

  Input:
    KEYS[1] the batch's record HASH
    KEYS[2] its jobs HASH
    KEYS[3] the queue's batch index ZSET
    ARGV[1] batch id, ARGV[2] queue, ARGV[3] tenant (for a record created here)
    ARGV[4..] job ids

  Output: how many jobs joined now
]]
local record, jobs = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HGET', record, 'state')
if not state then
  state = 'open'
  redis.call('HSET', record, 'id', ARGV[1], 'queue', ARGV[2], 'tenant', ARGV[3], 'state', state, 'createdAt', now, 'ends', 0)
  redis.call('ZADD', KEYS[3], 'NX', now, ARGV[1])
end
local joined = 0
for i = 4, #ARGV do
  if redis.call('HEXISTS', jobs, ARGV[i]) == 0 then
    local seq = redis.call('HINCRBY', record, 'joined', 1)
    redis.call('HSET', jobs, ARGV[i], 'waiting|' .. seq .. '|0|0')
    joined = joined + 1
  end
end
if joined > 0 then
  redis.call('HINCRBY', record, 'waiting', joined)
  if state == 'finished' then state = 'open' elseif state == 'cancelled' then state = 'cancelling' end
  redis.call('HSET', record, 'state', state, 'updatedAt', now)
  redis.call('HDEL', record, 'endedAt')
end
return joined
