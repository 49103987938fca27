--[[
  Hands the account's next read turn to a status check, if one is due. A check a callback hurried
  (score 0: the task says it is done) goes first, and ahead of a submit that reserved the turn: its
  answer frees the slot that submit is waiting to fill. Of the other due checks it picks the task
  submitted first (the one most likely done, so finished tasks are found soonest and their slots
  refilled), and only when no submit holds the turn (see _turn.lua: a poll yields to a reserved
  turn). Status checks are scheduled here, against the account's pacer, never on per-job timers
  that would fight over turns.

  While callbacks arrive for the account (one came within `quietMs`), they announce finished tasks,
  so the safety-net checks back off: a check is taken only once it has been due `backoffMs`. When
  callbacks stop, due checks are taken as they fall due again.

  The claimed check is pushed `claimMs` into the future, so a poller that dies mid-check only
  delays it; the poller reschedules it (or it is removed with the slot) when the answer comes.

  Input:
    KEYS[1] checks ZSET of the account: member -> when the next check is due (ms)
    KEYS[2] started ZSET of the account: member -> submit time (ms)
    KEYS[3] tasks HASH of the account: member -> taskId
    KEYS[4] turn HASH of the account
    KEYS[5] slots ZSET of the account
    ARGV[1] the account's rates (see _turn.lua)
    ARGV[2] claimMs: how long a claimed check stays claimed
    ARGV[3] how many due checks to compare (bounds the script's work)
    ARGV[4] now in ms, or '' for the Redis server's time
    ARGV[5] quietMs: callbacks count as arriving while the last one is younger than this (0: never)
    ARGV[6] backoffMs: how long past due a safety-net check waits while callbacks arrive

  Output:
    {'check', member, taskId, ageMs}  the turn is taken: send the status request now; ageMs is
                               how long ago the task was submitted (for KIE_TASK_TIMEOUT_MS)
    {'wait', ms}               ask again after ms (the turn or the next due check is later)
    {'idle'}                   no task to check
]]
--- @include "_clock"
--- @include "_turn"

local checks, started, tasks, turn, slots = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = clockMs(ARGV[4])
local t = readTurn(turn, now, parseRates(ARGV[1]))

local earliest = redis.call('ZRANGE', checks, 0, 0, 'WITHSCORES')
if #earliest == 0 then return {'idle'} end
local hurried = tonumber(earliest[2]) == 0
local turnOpens = turnAt(t, now, 'read', false, not hurried)
local flowing = t.callbackAt and now - t.callbackAt < tonumber(ARGV[5] or 0)
local dueBy = now
if not hurried and flowing then dueBy = now - tonumber(ARGV[6]) end
local ready = math.max(turnOpens, tonumber(earliest[2]) + (now - dueBy))
if ready > now then return {'wait', ready - now} end

-- Checks a callback hurried (score 0) go first; then every due one.
local due = redis.call('ZRANGEBYSCORE', checks, 0, 0, 'LIMIT', 0, tonumber(ARGV[3]))
if #due == 0 then due = redis.call('ZRANGEBYSCORE', checks, '-inf', dueBy, 'LIMIT', 0, tonumber(ARGV[3])) end
local chosen, chosenSince, chosenTask
for _, member in ipairs(due) do
  local taskId = redis.call('HGET', tasks, member)
  if not taskId or not redis.call('ZSCORE', slots, member) then
    -- The slot is gone (released, or its lease ran out): nothing left to check.
    redis.call('ZREM', checks, member)
    redis.call('ZREM', started, member)
  else
    local since = tonumber(redis.call('ZSCORE', started, member)) or now
    if chosen == nil or since < chosenSince then
      chosen, chosenSince, chosenTask = member, since, taskId
    end
  end
end
if chosen == nil then return {'wait', math.ceil(unitOf(t, 'read'))} end

redis.call('ZADD', checks, now + tonumber(ARGV[2]), chosen)
grantTurn(t, 'read', now)
return {'check', chosen, chosenTask, now - chosenSince}
