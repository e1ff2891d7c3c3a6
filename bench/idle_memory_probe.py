import asyncio, sys, time, uuid, tempfile, tracemalloc, gc, os
sys.path.insert(0, "tests"); sys.path.insert(0, "bench")
from pathlib import Path
import world, psutil
from sioclient import SioClient
from medtalk.core.auth import Role
N = int(sys.argv[2]); ws = sys.argv[1]
options = {"ws": ws}
if ws == "serve":  # what `medtalk serve` runs
    from medtalk.realtime.websocket_protocol import SERVE_OPTIONS
    options = SERVE_OPTIONS
async def hold(server, n):
    clients = []
    tokens = [server.token(uuid.uuid4(), "P", Role.PATIENT) for _ in range(50)]
    for i in range(n):
        c = SioClient(server.base_url, "/ws/chat", tokens[i % 50], lambda *_: None, source=f"127.0.0.{2 + i // 20000}")
        clients.append(c)
    sem = asyncio.Semaphore(50)
    async def one(c):
        async with sem: await c.connect()
    await asyncio.gather(*(one(c) for c in clients))
    return clients
import threading
with tempfile.TemporaryDirectory() as tmp:
    with world.start_server(Path(tmp), "", backend="sqlite", max_sockets_per_user=0, uvicorn_options=options) as server:
        # The client runs in another process so only the server is measured.
        import multiprocessing as mp
        gc.collect()
        TRACE = os.environ.get("TRACE") == "1"
        if TRACE: tracemalloc.start(6)
        s1 = tracemalloc.take_snapshot() if TRACE else None
        rss1 = psutil.Process().memory_info().rss
        ready = mp.Event(); done = mp.Event()
        def child():
            async def main():
                cs = await hold(server, N); ready.set()
                while not done.is_set(): await asyncio.sleep(0.2)
            asyncio.run(main())
        p = mp.Process(target=child); p.start()
        ready.wait(600); time.sleep(2); gc.collect()
        rss2 = psutil.Process().memory_info().rss
        print(f"ws={sys.argv[1]} N={N} rss per socket {(rss2-rss1)/N/1024:.1f} KB")
        s2 = tracemalloc.take_snapshot() if TRACE else None
        if TRACE:
            diff = s2.compare_to(s1, "lineno")
            print(f"traced total {sum(d.size_diff for d in diff)/N:.0f} B/socket")
            for st in diff[:40]:
                print(f"{st.size_diff/N:8.0f} B/socket {st.count_diff/N:5.1f} blocks  {st.traceback[0].filename.split('site-packages/')[-1]}:{st.traceback[0].lineno}")
            for st in s2.compare_to(s1, "traceback")[:int(os.environ.get("DEEP", "0"))]:
                print(f"--- {st.size_diff/N:8.0f} B/socket")
                for fr in st.traceback: print("     ", fr.filename.split('site-packages/')[-1], fr.lineno)
        done.set(); p.join(30)
