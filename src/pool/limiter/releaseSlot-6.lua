--[[
  Frees a job's slot (its task was seen finished, or its submit created nothing) and wakes as
  many waiters as the account has free slots. Releasing a slot that is already gone only wakes.

  Input:
    KEYS[1] slots ZSET of the account
    KEYS[2] tasks HASH of the account
    KEYS[3] paused STRING of the account
    KEYS[4] waiters ZSET (pool-wide)
    KEYS[5] checks ZSET of the account (a finished task needs no more status checks)
    KEYS[6] started ZSET of the account
    ARGV[1] jobId
    ARGV[2] maxConcurrent of the account
    ARGV[3] now in ms, or '' for the Redis server's time

  Output: jobIds of the woken waiters, oldest first
]]
--- @include "_clock"
--- @include "_slots"

dropExpiredSlots(KEYS[1], KEYS[2], clockMs(ARGV[3]))
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
return wakeWaiters(KEYS[4], KEYS[1], KEYS[3], tonumber(ARGV[2]))
