-- Lua workload of adjustable length for the jitlink-reopt benchmark.
-- Usage: lua_driver bench.lua N
-- Recursion, numeric loops, table building and sorting with a Lua
-- comparator, string building and pattern matching, closures; prints a
-- checksum.
local n = tonumber(arg[1]) or 10

local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end

local function sieve(limit)
  local comp, count = {}, 0
  for i = 2, limit do
    if not comp[i] then
      count = count + 1
      for j = i * i, limit, i do comp[j] = true end
    end
  end
  return count
end

local function tables(k)
  local t = {}
  for i = 1, k do t[i] = { id = i, key = (i * 7919) % 1009 } end
  table.sort(t, function(a, b) if a.key ~= b.key then return a.key < b.key end return a.id < b.id end)
  local s = 0
  for i = 1, #t, 10 do s = s + t[i].id end
  return s
end

local function strings(k)
  local parts = {}
  for i = 1, k do parts[#parts + 1] = string.format("%d:%x", i, i * 31) end
  local text = table.concat(parts, ",")
  local c = 0
  for a, b in text:gmatch("(%d+):(%x+)") do c = c + #a + #b end
  return c + #text:gsub("1", "one")
end

local function closures(k)
  local acc = 0
  local function make(i) return function(x) return x + i end end
  for i = 1, k do acc = make(i)(acc) % 1000003 end
  return acc
end

local check = 0
for round = 1, n do
  check = (check * 31 + fib(20) + sieve(20000) + tables(2000) + strings(2000) + closures(20000) + round) % 1000000007
end
print("rounds", n, "checksum", check)
