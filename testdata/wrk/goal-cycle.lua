-- Goal create + complete in fresh conversations, for wrk. Run with one
-- connection per thread, so each thread's requests are in order:
--   TOKEN=$(alice token) wrk -t 64 -c 64 -d 10s --latency -s testdata/wrk/goal-cycle.lua http://127.0.0.1:7331
-- with rate_limit_per_minute: 0. wrk calls request() once more while it
-- starts, so one complete in the run finds no goal and answers 404.
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
  local conv = "oc_wrk_" .. id .. "_" .. math.floor((n + 1) / 2)
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["X-Alice-Receive-Id-Type"] = "chat_id",
    ["X-Alice-Receive-Id"] = conv,
    ["Content-Type"] = "application/json",
  }
  if n % 2 == 1 then
    return wrk.format("POST", "/api/v1/goal", headers, '{"description":"cycle"}')
  end
  return wrk.format("POST", "/api/v1/goal/complete", headers, "")
end
