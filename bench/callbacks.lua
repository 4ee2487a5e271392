-- SPDX-License-Identifier: ISC
-- wrk script: cycle through pre-encrypted callbacks, count non-200s.
local reqs = {}
local idx = 0
local bad = 0

function init(args)
  local file = args[1] or "callbacks.txt"
  for line in io.lines(file) do
    local target, body = line:match("^([^\t]+)\t(.*)$")
    reqs[#reqs + 1] = wrk.format("POST", target,
      { ["Content-Type"] = "text/xml" }, body)
  end
  -- Spread the threads over the list.
  idx = math.random(#reqs)
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("non2xx_or_errors %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
