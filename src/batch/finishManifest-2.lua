--[[
  Records that the manifest of a batch's end number ARGV[2] is written, and takes the batch off the
  due list, unless it ended again meanwhile (a job joined and ended after the manifest was read):
  that newer end needs its manifest too. A batch opened again and not yet ended is taken off the
  list: its next end puts it back.

  Input:
    KEYS[1] the batch's record HASH
    KEYS[2] the queue's ending ZSET
    ARGV[1] batch id, ARGV[2] the end it was written for
    ARGV[3] the manifest's S3 key, or '' when none was written (the batch was open again)

  Output: 1 when the batch is off the due list, 0 when a newer end is due (write again)
]]
if ARGV[3] ~= '' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'manifestKey', ARGV[3], 'manifestAt', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), 'manifestEnds', ARGV[2])
end
local ended = redis.call('HGET', KEYS[1], 'endedAt')
if ended and redis.call('HGET', KEYS[1], 'ends') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
