-- wrk against todonode (bench/load_generator.py): `wrk -s todonode.lua URL -- MODE READ_PATH`.
-- MODE "write": every request creates a task. "read": every request is GET READ_PATH.
-- "mix": every tenth request creates a task, the other nine read.
local mode, read_path
local sent = 0
local json = { ["Content-Type"] = "application/json" }

function init(args)
  mode, read_path = args[1], args[2]
end

function request()
  sent = sent + 1
  if mode == "write" or (mode == "mix" and sent % 10 == 0) then
    return wrk.format("POST", "/tasks", json, '{"title":"wrk ' .. sent .. '"}')
  end
  return wrk.format("GET", read_path)
end
