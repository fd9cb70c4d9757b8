-- wrk against etcd's v3 JSON gateway (bench/load_generator.py):
-- `wrk -s etcd.lua URL -- MODE READ_KEY SERIALIZABLE VALUE PREFIX`, keys and value in base64.
-- MODE "write": every request puts VALUE under a new key (PREFIX then a counter). "read": every
-- request is a range read of READ_KEY, serializable when SERIALIZABLE is "true" (etcd's local read),
-- linearizable otherwise. "mix": every tenth request writes, the other nine read.
local mode, read_body, value, prefix
local sent = 0
local json = { ["Content-Type"] = "application/json" }
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Base64 of a string whose length is a multiple of 3 (no padding needed).
local function base64(text)
  local out = {}
  for i = 1, #text, 3 do
    local a, b, c = text:byte(i, i + 2)
    local v = a * 65536 + b * 256 + c
    for shift = 18, 0, -6 do
      local k = math.floor(v / 2 ^ shift) % 64 + 1
      out[#out + 1] = alphabet:sub(k, k)
    end
  end
  return table.concat(out)
end

function init(args)
  mode, value, prefix = args[1], args[4], args[5]
  local serializable = args[3] == "true" and ',"serializable":true' or ""
  read_body = '{"key":"' .. args[2] .. '"' .. serializable .. "}"
end

function request()
  sent = sent + 1
  if mode == "write" or (mode == "mix" and sent % 10 == 0) then
    local key = prefix .. base64(string.format("%09d", sent))
    return wrk.format("POST", "/v3/kv/put", json, '{"key":"' .. key .. '","value":"' .. value .. '"}')
  end
  return wrk.format("POST", "/v3/kv/range", json, read_body)
end
