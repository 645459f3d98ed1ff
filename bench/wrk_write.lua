-- wrk script: POST 1000-point line-protocol bodies to /write?db=bench. Every point is unique
-- but the series are not (1000 hosts): each request gets its own timestamps, built by putting a
-- per-thread, per-request 10-digit prefix in front of a 9-digit per-line suffix.
local template
local counter = 0
local thread_id = 0
local path = "/write?db=bench"

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  if args[1] then path = args[1] end
  local t = {}
  for i = 1, 1000 do
    t[#t + 1] = string.format(
      "cpu,host=host%04d,region=eu-west usage_idle=%d.5,usage_user=1.25,count=%di @%09d\n",
      i, i, i, i)
  end
  template = table.concat(t)
end

function request()
  counter = counter + 1
  local prefix = string.format("1%d%08d", (tid or 0) % 10, counter % 100000000)
  local body = string.gsub(template, "@", prefix)
  return wrk.format("POST", path, nil, body)
end
