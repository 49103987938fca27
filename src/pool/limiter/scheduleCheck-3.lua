--[[
  Schedules the next status check of a job's task: `delayMs` from now. Only a task that still
  holds its slot is checked; its lease is renewed while it is seen generating. The first call
  also records when the task was submitted, so claimCheck can check the oldest task first. A check
  a callback hurried (score 0) stays hurried: the callback came while the task was being checked,
  and the answer on its way may predate the completion.

  Input:
    KEYS[1] checks ZSET of the account: member -> when the next check is due (ms)
    KEYS[2] started ZSET of the account: member -> submit time (ms)
    KEYS[3] slots ZSET of the account
    ARGV[1] member (the job's slot member)
    ARGV[2] delay in ms until the check is due
    ARGV[3] slot lease in ms
    ARGV[4] now in ms, or '' for the Redis server's time

  Output: 1 when scheduled, 0 when the task holds no slot any more
]]
--- @include "_clock"

local now = clockMs(ARGV[4])
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= '0' then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) end
redis.call('ZADD', KEYS[2], 'NX', now, ARGV[1])
redis.call('ZADD', KEYS[3], 'XX', now + tonumber(ARGV[3]), ARGV[1])
return 1
