--[[
  Moves one job of a batch to a state, joining it first if the batch does not know it yet (a job a
  foreign backend added with a stock BullMQ client joins on its first run), and creating the
  batch's record if there is none. Every move is idempotent, so a run retried after a crash, or the
  worker's completed/failed handlers seeing what a step recorded already, count nothing twice.

  Moves: waiting -> submitted -> stored | failed | cancelled; failed -> submitted | stored (a run
  retried after a crash between recording and failing); stored and cancelled are final. Anything
  else answers 'same' and changes nothing.

  With KEYS[6] and KEYS[7], the move is also the submit gate: the job's data is written in the
  same step, only while ARGV[12] holds the job's lock, and a move to 'submitted' in a batch being
  cancelled is refused, so no job of a cancelled batch ever sends a create request.

  Input:
    KEYS[1] the batch's record HASH
    KEYS[2] its jobs HASH (jobId -> "state|seq|reservedMicroUsd|spentMicroUsd")
    KEYS[3] its manifest lines HASH
    KEYS[4] the queue's ending ZSET (batchId -> manifest claim expiry)
    KEYS[5] the queue's batch index ZSET
    KEYS[6] optional: the BullMQ job's hash
    KEYS[7] optional: the BullMQ job's lock
    ARGV[1] jobId
    ARGV[2] to: waiting | submitted | stored | failed | cancelled
    ARGV[3] batch id, ARGV[4] queue, ARGV[5] tenant (for a record created here)
    ARGV[6] price in micro-USD (reserved on the move to submitted, unless reserved already)
    ARGV[7] spent in micro-USD (on the move to stored or failed: what the job's tasks cost)
    ARGV[8] seconds rendered, ARGV[9] bytes stored (on the move to stored)
    ARGV[10] the job's manifest line (JSON) or ''
    ARGV[11] manifest claim lease in ms (for the caller whose move ends the batch)
    ARGV[12] the run's lock token, ARGV[13] the job's data as JSON (with KEYS[6] and KEYS[7])

  Output: { outcome, ended, ends }
    outcome: 'moved' | 'same' | 'cancelled' (refused: the batch is being cancelled) | 'lost' (lock)
    ended: 1 when this move ended the batch (the caller holds its manifest claim), else 0
    ends: how many times the batch has ended
]]
local record, jobs, lines, ending = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local jobId, to = ARGV[1], ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

if KEYS[7] and redis.call('GET', KEYS[7]) ~= ARGV[12] then return { 'lost', 0, 0 } end
local state = redis.call('HGET', record, 'state')
if to == 'submitted' and (state == 'cancelling' or state == 'cancelled') then return { 'cancelled', 0, 0 } end
if KEYS[6] then redis.call('HSET', KEYS[6], 'data', ARGV[13]) end

if not state then
  state = 'open'
  redis.call('HSET', record, 'id', ARGV[3], 'queue', ARGV[4], 'tenant', ARGV[5], 'state', state, 'createdAt', now, 'ends', 0)
  redis.call('ZADD', KEYS[5], 'NX', now, ARGV[3])
end

local current = redis.call('HGET', jobs, jobId)
local from, seq, reserved, spent
if current then
  local f, s, r, p = string.match(current, '^(%a+)|(%d+)|(%d+)|(%d+)$')
  from, seq, reserved, spent = f, s, tonumber(r), tonumber(p)
else
  seq = redis.call('HINCRBY', record, 'joined', 1)
  reserved, spent = 0, 0
  redis.call('HINCRBY', record, 'waiting', 1)
  from = 'waiting'
  -- A job joining an ended batch opens it again: its manifest is rewritten when it ends anew.
  if state == 'finished' then state = 'open' elseif state == 'cancelled' then state = 'cancelling' end
  redis.call('HSET', record, 'state', state)
  redis.call('HDEL', record, 'endedAt')
end

local allowed = (from == 'waiting' and to ~= 'waiting')
  or (from == 'submitted' and (to == 'stored' or to == 'failed' or to == 'cancelled'))
  or (from == 'failed' and (to == 'submitted' or to == 'stored'))
if not allowed then
  if not current then
    redis.call('HSET', jobs, jobId, from .. '|' .. seq .. '|0|0')
    redis.call('HSET', record, 'updatedAt', now)
    return { 'moved', 0, tonumber(redis.call('HGET', record, 'ends')) }
  end
  return { 'same', 0, tonumber(redis.call('HGET', record, 'ends')) }
end

redis.call('HINCRBY', record, from, -1)
redis.call('HINCRBY', record, to, 1)
if to == 'submitted' then
  if reserved == 0 then
    reserved = tonumber(ARGV[6])
    redis.call('HINCRBY', record, 'reservedMicroUsd', reserved)
  end
else
  -- The job has ended: its reservation turns into what it spent (a failed run's spend is replaced).
  -- (0 - x, not -x: Lua's -0 reaches Redis as "-0", which HINCRBY refuses.)
  if reserved ~= 0 then redis.call('HINCRBY', record, 'reservedMicroUsd', 0 - reserved) end
  reserved = 0
  local cost = tonumber(ARGV[7])
  redis.call('HINCRBY', record, 'spentMicroUsd', cost - spent)
  spent = cost
  if to == 'stored' then
    redis.call('HINCRBYFLOAT', record, 'secondsRendered', ARGV[8])
    redis.call('HINCRBY', record, 'bytesStored', ARGV[9])
  end
  if ARGV[10] ~= '' then redis.call('HSET', lines, jobId, ARGV[10]) end
end
redis.call('HSET', jobs, jobId, to .. '|' .. seq .. '|' .. reserved .. '|' .. spent)
redis.call('HSET', record, 'updatedAt', now)

local pending = tonumber(redis.call('HGET', record, 'waiting') or '0') + tonumber(redis.call('HGET', record, 'submitted') or '0')
if pending == 0 and (state == 'open' or state == 'cancelling') then
  redis.call('HSET', record, 'state', state == 'open' and 'finished' or 'cancelled', 'endedAt', now)
  local ends = redis.call('HINCRBY', record, 'ends', 1)
  redis.call('ZADD', ending, now + tonumber(ARGV[11]), ARGV[3])
  return { 'moved', 1, ends }
end
return { 'moved', 0, tonumber(redis.call('HGET', record, 'ends')) }
