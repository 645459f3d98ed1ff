-- wrk script: POST 1000-point line-protocol bodies, every point unique (a per-thread, per-request
-- tag value is substituted into a template), to /write?db=bench.
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
      "cpu,host=host%04d,region=eu-west,req=@ usage_idle=%d.5,usage_user=1.25,count=%di %d\n",
      i, i, i, 1700000000000000000 + i * 1000)
  end
  template = table.concat(t)
end

function request()
  counter = counter + 1
  local body = string.gsub(template, "@", tostring(tid or 0) .. "x" .. tostring(counter))
  return wrk.format("POST", path, nil, body)
end
