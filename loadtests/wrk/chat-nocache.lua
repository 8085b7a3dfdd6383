-- chat.lua's request with the cache bypassed (x-octomesh-cache: off): every request goes upstream.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-octomesh-cache"] = "off"
wrk.body = '{"model":"sim-small","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Give me three short tips for writing clear error messages."}]}'
