-- Goal create + complete in fresh conversations, for wrk:
--   TOKEN=$(alice token) wrk -t 2 -c 64 -d 10s --latency -s testdata/wrk/goal-cycle.lua http://127.0.0.1:7331
-- against a bot with rate_limit_per_minute: 0. Each thread alternates
-- creating a goal in a fresh conversation and completing the goal it
-- created `lag` cycles earlier, long since acknowledged, so the order of
-- a thread's connections does not matter. (The first 2 x lag requests of
-- a thread are all creates.) wrk calls request() once more while it
-- starts, which shifts one thread by one: expect a single 404.
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  n = 0
  lag = 2000
  token = os.getenv("TOKEN")
end
local function req(path, conv, body)
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["X-Alice-Receive-Id-Type"] = "chat_id",
    ["X-Alice-Receive-Id"] = "oc_wrk_" .. id .. "_" .. conv,
    ["Content-Type"] = "application/json",
  }, body)
end
function request()
  n = n + 1
  local cycle = math.floor((n + 1) / 2)
  if n % 2 == 1 or cycle <= lag then
    return req("/api/v1/goal", n, '{"description":"cycle"}')
  end
  return req("/api/v1/goal/complete", 2 * (cycle - lag) - 1, "")
end
function response(status, headers, body)
  if status >= 300 then io.write(status .. " " .. body .. "\n") end
end
