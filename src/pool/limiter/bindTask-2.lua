--[[
  Records the KIE taskId on a job's slot and renews its lease: from now on the slot belongs to
  the task. The slot is set even if it was lost meanwhile (lease ran out): the task exists and
  generates, so it must be counted.

  Input:
    KEYS[1] slots ZSET of the account
    KEYS[2] tasks HASH of the account
    ARGV[1] jobId
    ARGV[2] taskId
    ARGV[3] slot lease in ms
    ARGV[4] now in ms, or '' for the Redis server's time
]]
--- @include "_clock"

redis.call('ZADD', KEYS[1], clockMs(ARGV[4]) + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
