-- wrk request set-up for bench/scenarios/api.py: method, session cookie and
-- CSRF header come from the environment (BENCH_METHOD, BENCH_COOKIE, BENCH_CSRF).
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end
local csrf = os.getenv("BENCH_CSRF")
if csrf and csrf ~= "" then
  wrk.headers["X-CSRF-Token"] = csrf
end
