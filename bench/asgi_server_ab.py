"""Issue 15: the same app under `medtalk serve` (uvicorn) or granian, PostgreSQL, 50 pairs, python client.

    .venv/bin/pip install granian  # not a dependency: measured, not shipped
    .venv/bin/python bench/asgi_server_ab.py granian 100,500,1000
    .venv/bin/python bench/asgi_server_ab.py uvicorn 100,500,1000
"""
import asyncio, sys, os, subprocess, time
sys.path.insert(0, "bench")
import chatload
from pathlib import Path
import tempfile
rates = [int(r) for r in sys.argv[2].split(",")]
which = sys.argv[1]
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    port = chatload.free_port()
    env = chatload.medtalk_env("postgresql", tmp, port)
    env["MEDTALK_DATABASE_URL"], drop = chatload.create_postgres_database()
    subprocess.run([".venv/bin/medtalk", "migrate"], env=env, check=True, capture_output=True)
    env["MEDTALK_AUTO_MIGRATE"] = "false"
    if which == "granian":
        cmd = [".venv/bin/granian", "--interface", "asgi", "--factory", "medtalk.app:create_app", "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--log-level", "warning", "--no-ws" if False else "--ws"]
    else:
        cmd = [".venv/bin/medtalk", "serve"]
    proc = chatload.spawn(cmd, env, tmp / f"{which}.log")
    server = chatload.Server(which, f"http://127.0.0.1:{port}", [proc], True, [drop])
    server.database = env["MEDTALK_DATABASE_URL"]
    try:
        chatload.wait_ready(server.url, proc, "/healthz")
        async def main():
            rec = chatload.Recorder()
            pairs = await chatload.open_pairs(server, 50, rec)
            await chatload.run_step(server, pairs, 100, 2, rec)
            for r in rates:
                res = await chatload.run_step(server, pairs, r, 4, rec)
                chatload.report_step(which, res)
        asyncio.run(main())
    finally:
        server.stop()
        print(open(tmp / f"{which}.log").read()[-1500:])
