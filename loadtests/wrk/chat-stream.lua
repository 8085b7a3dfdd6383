-- A streamed chat completion: about 30 SSE events per response.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"sim-small","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Give me three short tips for writing clear error messages."}]}'
