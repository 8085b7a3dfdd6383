-- A non-streamed chat completion, the same every time (the simulator answers it deterministically).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"sim-small","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Give me three short tips for writing clear error messages."}]}'
