--[[
  KIE answered an interval 429 although the limiter kept its rates: arrivals jittered more than the
  margin covers. The account's extra margin grows, fleet-wide, and shrinks back slowly (the rate's
  additive increase and multiplicative decrease, as TCP does): doubled (at least `step`, at most
  `cap`), kept for `keep` ms, then `decay` ms less per ms until it is gone. 429s within `hold` of
  the last widening answer requests sent before it took effect, and widen nothing more.

  Input:
    KEYS[1] turn HASH of the account
    ARGV[1] step: the least extra margin a 429 leaves (ms)
    ARGV[2] cap: the most extra margin (ms)
    ARGV[3] hold: ms after a widening in which further 429s count as the same one
    ARGV[4] keep: ms the widened margin stays before it narrows
    ARGV[5] decay: ms of extra margin given back per ms
    ARGV[6] now in ms, or '' for the Redis server's time

  Output: the extra margin now (ms)
]]
--- @include "_clock"
--- @include "_turn"

local now = clockMs(ARGV[6])
local f = redis.call('HMGET', KEYS[1], 'extra', 'narrowAt', 'extraDecay', 'extraAt')
local current = extraMargin(tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), now)
local lastAt = tonumber(f[4])
if current > 0 and lastAt and now - lastAt < tonumber(ARGV[3]) then return current end
local widened = math.min(tonumber(ARGV[2]), math.max(tonumber(ARGV[1]), current * 2))
redis.call('HSET', KEYS[1], 'extra', widened, 'extraAt', now, 'narrowAt', now + tonumber(ARGV[4]), 'extraDecay', ARGV[5])
return widened
