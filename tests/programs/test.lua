-- End-to-end test script for `jitlink run` (run by lua_driver.c).
-- Output must be fully deterministic: no addresses, no time, and no
-- iteration over hash tables with string keys without sorting first
-- (Lua 5.4 randomises its string hash seed per state).

local function section(name) print("== " .. name) end

section("args")
print("script arg count", #arg)
for i = 1, #arg do print(string.format("arg[%d]=%q", i, arg[i])) end
print("select('#')", select('#', table.unpack(arg)))

section("closures")
local function counter(start, step)
  local n = start
  return function() n = n + step; return n end
end
local c1, c2 = counter(0, 1), counter(100, -7)
for _ = 1, 3 do io.write(c1(), " ", c2(), "; ") end
print()
local adders = {}
for i = 1, 5 do adders[i] = function(x) return x + i end end
print(adders[1](10), adders[3](10), adders[5](10))

section("tables")
local t = {}
for i = 1, 20 do t[i] = i * i end
t.name = "squares"; t[3.0] = "three"; t[-1] = "minus one"; t[true] = "yes"
print(#t, t[3], t[-1], t[true], t.name, t[20])
local keys = {}
for k in pairs({alpha = 1, beta = 2, gamma = 3, delta = 4, epsilon = 5}) do keys[#keys + 1] = k end
table.sort(keys)
print(table.concat(keys, ","))
table.insert(t, 1, 0); table.remove(t, 2)
print(#t, t[1], t[2], t[#t])
print(table.concat({1, 2, 3, "x", 4.5}, "|"), table.concat({}, ","), table.concat({"a", "b", "c"}, "-", 2, 3))
local moved = table.move({1, 2, 3, 4, 5}, 2, 4, 1, {})
print(#moved, table.concat(moved, " "))
print(select("#", table.unpack({1, nil, 3}, 1, 3)), table.pack(1, 2, 3).n)

section("string")
print(string.format("[%d] [%5d] [%-5d] [%05d] [%x] [%X] [%o]", 42, 42, 42, 42, 255, 255, 8))
print(string.format("[%s] [%10s] [%-10s] [%.3s]", "hi", "right", "left", "truncate"))
print(string.format("[%5.2f] [%.3f] [%e] [%g] [%g] [%g] [%g]", 3.14159, -2.5, 12345.678, 0.1, 1e20, 100000, 1e-5))
print(string.format("%q", 'he said "hi"\n\tand left\0!'))
print(string.format("%q %q %q", 42, math.mininteger, 0.5))
print(string.format("%c%c%c %%", 76, 117, 97))
local s = "The quick brown fox jumps over the lazy dog"
print(s:upper(), s:lower():len(), #s, s:sub(5, 9), s:sub(-3), s:sub(-8, -5))
print(s:find("fox"), s:find("o", 15), s:find("xyz"), s:find("l.z", 1, false), s:find(".", 1, true))
print(s:match("(%a+) fox"), s:match("^(%w+)"), s:match("(%a+)$"), s:match("%d"))
print((s:gsub("o", "0")), select(2, s:gsub("%s", "")))
print((s:gsub("(%w+)", "<%1>", 3)))
print((s:gsub("%w+", function(w) return #w > 4 and w:upper() or nil end)))
print((("hello world"):gsub("(%w+) (%w+)", "%2 %1")))
print((("$name is $age"):gsub("%$(%w+)", {name = "lua", age = "30"})))
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w end
print(#words, words[4], words[#words])
for k, v in string.gmatch("a=1, b=22, ccc=333", "(%w+)=(%w+)") do io.write(k, ":", v, " ") end
print()
print(("ab"):rep(5), ("ab"):rep(3, ","), ("x"):rep(0) == "")
print(("ABC"):byte(), ("ABC"):byte(2, 3), string.char(72, 105, 33))
print(("  trim me  "):match("^%s*(.-)%s*$") .. "|", ("%bxy"):len(), ("f(a(b)c)d"):match("%b()"))
print(("hello"):reverse(), ("key = value"):find("(%w+)%s*=%s*(%w+)"))
print(tostring(nil), tostring(true), tostring(12), tostring(1.5), tostring(-0.0), tostring(1e100))

section("arithmetic")
print(7 // 2, -7 // 2, 7 // -2, -7 // -2, 7 % 3, -7 % 3, 7 % -3, -7 % -3)
print(7.0 // 2, -7.5 // 2, 7.5 % 2, -7.5 % 2, 5.3 % -2)
print(2 ^ 10, 2 ^ 0.5, 10 / 4, 3 / 0, -3 / 0, 1 // 0.0)
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger, math.mininteger // -1)
print(math.huge, -math.huge, math.pi, math.floor(3.7), math.floor(-3.7), math.ceil(-3.2), math.ceil(3.2))
print(math.sqrt(2), math.sqrt(144), math.abs(-5), math.max(3, 9, 1), math.min(3.5, -1, 2))
print(math.fmod(7, 3), math.fmod(-7, 3), math.tointeger(3.0), math.tointeger(3.5), math.type(1), math.type(1.0), math.type("1"))
print(math.exp(1), math.log(100, 10), math.log(8, 2), math.sin(0), math.cos(0), math.floor(math.sin(1) * 1e6))
print(1 << 62, 1 << 63, 1 << 64, -1 >> 1, 0xff & 0x0f, 0xf0 | 0x0f, 0xff ~ 0x0f, ~0)
print(3 == 3.0, 1 < 1.5, "10" + 5, "3.5" * 2, 10 .. 20, 2^53 == 2^53 + 1)
local big = 1
for i = 1, 20 do big = big * i end
print("20! =", big, "float 25! =", string.format("%.6g", (function() local f = 1.0 for i = 1, 25 do f = f * i end return f end)()))

section("conversions")
print(tonumber("42"), tonumber("0x1F"), tonumber("  12  "), tonumber("1e3"), tonumber("3.25"), tonumber("abc"), tonumber(""))
print(tonumber("ff", 16), tonumber("777", 8), tonumber("zz", 36), tonumber("101", 2), tonumber("8", 8))
print(math.type(tonumber("10")), math.type(tonumber("10.0")), tostring(10 // 1), tostring(10 / 1))
print(string.format("%d", 3.0), pcall(string.format, "%d", 3.5))
print(#tostring(12345), "0x10" + 0, "1e2" + 0, tostring(2^63), math.tointeger("8"))

section("sort")
local people = {
  {name = "mallory", age = 31}, {name = "alice", age = 30}, {name = "bob", age = 25},
  {name = "carol", age = 35}, {name = "dave", age = 25}, {name = "erin", age = 30},
}
table.sort(people, function(a, b)
  if a.age ~= b.age then return a.age < b.age end
  return a.name < b.name
end)
local out = {}
for i, p in ipairs(people) do out[i] = p.name .. "(" .. p.age .. ")" end
print(table.concat(out, " "))
local nums = {}
local seed = 12345
for i = 1, 200 do seed = (seed * 1103515245 + 12345) % 2147483648; nums[i] = seed % 1000 end
table.sort(nums)
print(nums[1], nums[50], nums[100], nums[200])
table.sort(nums, function(a, b) return a > b end)
print(nums[1], nums[50], nums[100], nums[200])

section("coroutines")
local function range_gen(n)
  return coroutine.wrap(function()
    for i = 1, n do coroutine.yield(i, i * i) end
    return "done"
  end)
end
local g = range_gen(4)
for _ = 1, 5 do io.write(tostring((g())), " ") end
print()
local co = coroutine.create(function(a, b)
  print("co start", a, b)
  local c = coroutine.yield(a + b)
  print("co got", c)
  local d, e = coroutine.yield(c * 2)
  print("co got", d, e)
  return "fin", a * b
end)
print(coroutine.resume(co, 3, 4))
print(coroutine.status(co), coroutine.resume(co, 10))
print(coroutine.resume(co, "x", "y"))
print(coroutine.status(co), coroutine.resume(co))
local co2 = coroutine.create(function() error("boom in coroutine", 0) end)
print(coroutine.resume(co2))
print(coroutine.isyieldable(), coroutine.running() ~= nil)
-- producer/consumer through a generator of primes
local function primes_gen()
  return coroutine.wrap(function()
    local found = {}
    local n = 2
    while true do
      local isp = true
      for _, p in ipairs(found) do
        if p * p > n then break end
        if n % p == 0 then isp = false; break end
      end
      if isp then found[#found + 1] = n; coroutine.yield(n) end
      n = n + 1
    end
  end)
end
local pg, first = primes_gen(), {}
for i = 1, 15 do first[i] = pg() end
print(table.concat(first, " "))

section("errors")
print(pcall(error, "plain message", 0))
local okt, et = pcall(error, {code = 42, msg = "table error"})
print(okt, type(et), et.code, et.msg)
local ok, e = pcall(function() error({code = 7, msg = "deep"}) end)
print(ok, type(e), e.code, e.msg)
ok, e = pcall(function() local x = nil; return x.field end)
print(ok, (e:gsub("^.-:%d+: ", "")))
ok, e = pcall(function() return 1 + {} end)
print(ok, (e:gsub("^.-:%d+: ", "")))
ok, e = pcall(function() error("with position") end)
print(ok, (e:gsub("^.-:%d+: ", "")))
local function nested(n) if n == 0 then error("bottom", 0) end return nested(n - 1) end
print(pcall(nested, 50))
print(xpcall(function() error("handled", 0) end, function(m) return "handler saw: " .. m end))
print(select("#", pcall(function() return 1, 2, 3 end)), pcall(function() return 1, 2, 3 end))
ok, e = pcall(function()
  local ok2, e2 = pcall(error, "inner", 0)
  error("outer after " .. e2, 0)
end)
print(ok, e)
print(pcall(string.rep))
print(pcall(setmetatable, 1, {}))
local closed = {}
do
  local ok3 = pcall(function()
    local res <close> = setmetatable({}, {__close = function() closed[#closed + 1] = "closed" end})
    error("unwinding")
  end)
  print("to-be-closed ran:", ok3, closed[1])
end

section("metatables")
local Vec = {}
Vec.__index = Vec
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
function Vec.__add(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
function Vec.__mul(a, k) return Vec.new(a.x * k, a.y * k) end
function Vec.__eq(a, b) return a.x == b.x and a.y == b.y end
function Vec.__lt(a, b) return a:len2() < b:len2() end
function Vec.__le(a, b) return a:len2() <= b:len2() end
function Vec.__tostring(v) return string.format("(%g, %g)", v.x, v.y) end
function Vec.__len(v) return 2 end
function Vec.__call(v, s) return v.x * s + v.y end
function Vec.__concat(a, b) return tostring(a) .. tostring(b) end
function Vec:len2() return self.x * self.x + self.y * self.y end
local a, b = Vec.new(1, 2), Vec.new(3, 4)
print(tostring(a + b), tostring(a * 3), a == Vec.new(1, 2), a < b, b <= a, #a, a(10), a .. b)
local vs = {Vec.new(5, 5), Vec.new(1, 0), Vec.new(-3, 2), Vec.new(0, 0.5)}
table.sort(vs)
local vsout = {}
for i, v in ipairs(vs) do vsout[i] = tostring(v) end
print(table.concat(vsout, " "))
local defaults = setmetatable({}, {__index = function(_, k) return "default:" .. tostring(k) end})
defaults.present = "here"
print(defaults.present, defaults.missing, defaults[12])
local log = {}
local proxy = setmetatable({}, {__newindex = function(tb, k, v) log[#log + 1] = k; rawset(tb, k, v * 2) end})
proxy.a = 1; proxy.b = 2; proxy.a = 5
print(proxy.a, proxy.b, table.concat(log, ","), rawget(proxy, "c"), rawlen({1, 2}), rawequal(a, a))
local Animal = {}
Animal.__index = Animal
function Animal.new(name) return setmetatable({name = name}, Animal) end
function Animal:speak() return self.name .. " makes a sound" end
local Dog = setmetatable({}, {__index = Animal})
Dog.__index = Dog
function Dog.new(name) return setmetatable(Animal.new(name), Dog) end
function Dog:speak() return self.name .. " barks; " .. Animal.speak(self) end
print(Dog.new("rex"):speak(), getmetatable(Dog.new("x")) == Dog)

section("varargs")
local function va(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  if n == 0 then return 0, "", "(none)" end
  return n, table.concat(parts, ","), select(-1, ...)
end
print(va(1, nil, "three", nil))
print(va())
local function sum(...)
  local s = 0
  for _, v in ipairs({...}) do s = s + v end
  return s
end
print(sum(1, 2, 3, 4, 5), sum(), (function(...) return ... end)(7, 8, 9))
print(string.format("%s-%s-%s", table.unpack({"x", "y", "z"})))

section("goto")
local found
for i = 1, 10 do
  for j = 1, 10 do
    if i * j == 42 then found = i .. "x" .. j; goto done end
  end
end
::done::
print("found", found)
local k = 0
::again::
k = k + 1
if k < 5 then goto again end
print("k", k)
for i = 1, 6 do
  if i % 2 == 0 then goto continue end
  io.write(i, " ")
  ::continue::
end
print()

section("utf8")
local u = "héllo wörld ✓ 日本"
print(#u, utf8.len(u), utf8.char(72, 228, 8364, 0x1F600), utf8.codepoint(u, 2), utf8.offset(u, 3))
local cps = {}
for p, c in utf8.codes("aé✓") do cps[#cps + 1] = p .. ":" .. c end
print(table.concat(cps, " "), utf8.len("\xff"), #utf8.charpattern)

section("compute")
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("fib(25) =", fib(25))
local N = 10000
local sieve = {}
for i = 2, N do sieve[i] = true end
for i = 2, math.floor(math.sqrt(N)) do
  if sieve[i] then for j = i * i, N, i do sieve[j] = false end end
end
local count, last = 0, 0
for i = 2, N do if sieve[i] then count = count + 1; last = i end end
print("primes <= 10000:", count, "largest:", last)
local parts = {}
local str = ""
for i = 1, 10000 do
  parts[#parts + 1] = string.format("%d:%x;", i, i * 7)
  if i % 1000 == 0 then str = str .. tostring(i) end
end
local built = table.concat(parts)
local h = 0
for i = 1, #built do h = (h * 31 + built:byte(i)) % 4294967296 end
print("builder length", #built, "checksum", h, str)
local acc = 0.0
for i = 1, 100000 do acc = acc + 1 / (i * i) end
print(string.format("basel %.12f", acc), string.format("pi approx %.10f", math.sqrt(acc * 6)))
local collected = collectgarbage("count") > 0
collectgarbage(); collectgarbage("collect")
print("gc ok", collected, type(collectgarbage("count")))

section("os/io")
print(os.getenv("JITLINK_SURELY_UNSET_VARIABLE"), type(os.getenv("PATH")) == "string" or os.getenv("PATH") == nil)
io.write("io.write works", " ", 1, " ", 2.5, "\n")
io.stdout:write("stdout:write works\n")
print(string.format("%5.2f|%5.2f|%g|%g", 1 / 3, 100.125, 2 ^ 63, 0 / 0 ~= 0 / 0 and 1 or 0))
print("exiting with status 3")
os.exit(3)
