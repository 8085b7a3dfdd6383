#!/usr/bin/env python3
"""How long a key revoked on one replica stays usable on another.

Starts redis-server, the native simulator and two native gateways sharing that Redis (each in its own
working directory), then N times: makes a key on A, waits until B accepts it, revokes it on A, and
polls B over one kept-alive connection until B refuses it. Prints the times from A's answer to the
revocation to B's first refusal (and from A's answer to the creation to B's first acceptance).

    python3 loadtests/tenancy/propagation.py [--runs 200] [--bin artifacts/native/octomesh]
"""
import argparse, hashlib, http.client, json, os, re, shutil, socket, statistics, subprocess, tempfile, time

ADMIN = "admin-propagation"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, cwd):
    process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        found = re.search(r"listening on (http://[0-9.:]+)", line)
        if found:
            return process, found.group(1)
    raise SystemExit(f"{args} did not start")


def call(connection, method, path, body=None, key=ADMIN):
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--bin", default="artifacts/native/octomesh")
    options = parser.parse_args()
    binary = os.path.abspath(options.bin)
    work = tempfile.mkdtemp(prefix="octomesh-propagation-")
    processes = []
    try:
        redis_port = free_port()
        processes.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                          stdout=subprocess.DEVNULL))
        time.sleep(0.3)
        sim, sim_url = start([binary, "sim", "--urls", "http://127.0.0.1:0"], work)
        processes.append(sim)
        config = os.path.join(work, "octomesh.json")
        with open(config, "w") as f:
            json.dump({"providers": {"sim": {"kind": "openai-compatible", "baseUrl": f"{sim_url}/v1"}}, "models": {"*": {"provider": "sim"}},
                       "adminKeys": [{"name": "ops", "sha256": hashlib.sha256(ADMIN.encode()).hexdigest()}],
                       "workspaces": [{"name": "team"}], "redis": {"address": f"127.0.0.1:{redis_port}"}}, f)
        urls = []
        for name in ("a", "b"):
            os.mkdir(os.path.join(work, name))
            process, url = start([binary, "serve", "--config", config, "--urls", "http://127.0.0.1:0", "--log-level", "Warning"], os.path.join(work, name))
            processes.append(process)
            urls.append(url)
        a, b = (http.client.HTTPConnection(u.removeprefix("http://")) for u in urls)
        chat = {"model": "sim-small", "max_tokens": 1, "messages": [{"role": "user", "content": "hi"}]}
        created, revoked = [], []
        for _ in range(options.runs):
            status, body = call(a, "POST", "/admin/keys", {"name": "probe", "workspace": "team"})
            assert status == 201, body
            key = json.loads(body)
            start_time = time.perf_counter()
            while call(b, "POST", "/v1/chat/completions", chat, key["key"])[0] != 200:
                pass
            created.append(time.perf_counter() - start_time)
            status, _ = call(a, "DELETE", f"/admin/keys/{key['id']}")
            assert status == 200
            start_time = time.perf_counter()
            while call(b, "POST", "/v1/chat/completions", chat, key["key"])[0] != 401:
                pass
            revoked.append(time.perf_counter() - start_time)

        def summary(times):
            ms = sorted(t * 1000 for t in times)
            return f"p50 {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.2f} ms, max {ms[-1]:.2f} ms"

        print(f"{options.runs} keys: usable on the other replica after {summary(created)}")
        print(f"{options.runs} revocations: refused by the other replica after {summary(revoked)}")
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
