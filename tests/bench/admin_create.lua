-- wrk script: every request creates a new service (unique name per thread and request)
local threads = {}
local n = 0

function setup(thread)
    n = n + 1
    thread:set("tid", n)
    table.insert(threads, thread)
end

function init(args)
    -- names must not repeat across runs: seed from the clock and the thread
    math.randomseed(os.time() * 100 + tid)
    counter = 0
    prefix = string.format("b%d-%d", tid, math.random(1, 1000000000))
end

request = function()
    counter = counter + 1
    local body = string.format('{"name":"%s-%d","url":"http://127.0.0.1:9/x","tags":["bench"]}',
        prefix, counter)
    return wrk.format("POST", "/services", {["Content-Type"] = "application/json"}, body)
end
