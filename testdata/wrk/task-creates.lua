-- Durable one-shot task creates for wrk, due in 2099 so they never fire:
--   TOKEN=$(alice token) wrk -t 2 -c 64 -d 10s --latency -s testdata/wrk/task-creates.lua http://127.0.0.1:7331
-- against a bot with rate_limit_per_minute: 0. Each thread spreads its
-- requests over 32 conversations in turn, and moves to 32 fresh ones every
-- 6,400 requests (200 tasks each).
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  n = 0
  token = os.getenv("TOKEN")
end
function request()
  n = n + 1
  local body = '{"scope_type":"chat","scope_id":"oc_wrk_' .. id .. '_' .. (n % 32) .. '_' .. math.floor(n / 6400) ..
    '","action":"send_text","text":"load","run_at":"2099-01-01T00:00:00Z"}'
  return wrk.format("POST", "/api/v1/automation/tasks", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
function response(status, headers, body)
  if status >= 300 then io.write(status .. " " .. body .. "\n") end
end
