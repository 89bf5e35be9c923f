"""秒杀 admission under a stampede, over the real HTTP API served by gunicorn, on both deployments.

N buyers (threads spread over client processes, released at one instant, one connection each) ask
`POST /api/v1/flash-sales/<id>/admission` for one SKU with U units; the web process is gunicorn with the
Procfile's config (`-c python:web.gunicorn_conf`). Two deployments, one after the other:

- scale-out: PostgreSQL (a scratch database, dropped) + the Redis gate (one Lua script, a key prefix of its own);
- embedded: a SQLite file + the SQL gate (one conditional UPDATE on the sale row).

For each: oversells (admitted units beyond U, or a buyer admitted twice: must be 0), 5xx and transport errors
(must be 0), the time until the last unit was handed out, p50/p99 admission latency as buyers see it (queueing
in the server's backlog included), and answers per second, side by side with

(a) the plain checkout path: the same N buyers `POST /api/v1/checkouts` one unit of an ordinary SKU with U in
    stock (the conditional stock decrement decides; the winners get orders and payments), same server;
(b) the gate's floor: with Redis, `redis-benchmark` running the same Lua script through EVALSHA (a tight
    redis-py loop if redis-benchmark is missing, and the output says so); with SQL, the admission service
    called in a tight single-threaded loop in-process (no HTTP, no auth);
(c) the web tier's own floor: the same buyers signed in reading the sale's status (auth, one row, no write).

Each path runs `--rounds` times, the three alternated in a rotating order (a fresh sale and plain SKU each round);
figures are medians over the rounds, ratios the median of each round's side by side. The report states each of
the issue's goals (admission p99 <= 50 ms, admissions/s >= 0.3x the gate's floor and >= 10x checkout's; oversells
and 5xx 0) measured, met or not, and whether this machine allows it whatever the gate: N buyers released at once
through a web tier answering at most X a second (the most it answered, from (c) or the admission itself) cannot
see a p99 below 0.99*N/X, nor admissions/s above X.

    .venv/bin/python -m bench.flashsale [--buyers 2000] [--units 100] [--client-procs 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.harness import percentile

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ADDRESS = {"name": "压测", "phone": "13800000000", "province": "上海市", "city": "上海市", "district": "浦东新区",
           "detail": "世纪大道 100 号"}  # fmt: skip
SECRETS = {"SECRET_KEY": "bench-secret-key-0123456789abcdef", "LINK_SIGNING_KEYS": "k1:bench-link-key-0123456789",
           "SANDBOX_WEBHOOK_SECRETS": "bench-sandbox-secret-0123456789"}  # fmt: skip


def seed(url: str, buyers: int, units: int, rounds: int) -> dict[str, Any]:
    """A brand; for each round a sale's SKU and a plain one with `units` in stock, and a SKU for the floor's sale;
    the sales, and `buyers` buyers with API tokens (bulk: one password hash for all)."""
    from commerce.catalog.models import Product, ProductStatus, Sku
    from commerce.marketing import flash_sales
    from core import clock
    from core.accounts import passwords
    from core.accounts.models import ApiToken, Brand, BrandMember, BrandRole, User
    from core.db import Database
    from core.ids import sha256_hex

    db = Database(url)
    now = clock.now()
    pw = passwords.hash_password("bench-password-1")
    with db.session() as s:
        owner = User(email="owner@bench.test", display_name="品牌主", password_hash=pw)
        brand = Brand(name="压测品牌")
        s.add_all([owner, brand])
        s.flush()
        s.add(BrandMember(brand_id=brand.id, user_id=owner.id, role=BrandRole.OWNER))
        product = Product(brand_id=brand.id, code="P1", name="秒杀防晒霜", category="beauty",
                          status=ProductStatus.ACTIVE, price_min_fen=9_900, price_max_fen=9_900)  # fmt: skip
        s.add(product)
        s.flush()
        skus = [Sku(product_id=product.id, brand_id=brand.id, code=f"S{i}", price_fen=9_900, stock=units)
                for i in range(2 * rounds + 1)]  # fmt: skip
        s.add_all(skus)
        s.flush()
        users = [User(email=f"buyer{i}@bench.test", display_name=f"买家{i}", password_hash=pw,
                      created_at=now - dt.timedelta(days=365)) for i in range(buyers)]  # fmt: skip
        s.add_all(users)
        s.flush()
        tokens = [f"xl_bench{uuid.uuid4().hex}" for _ in users]
        s.add_all([ApiToken(user_id=u.id, token_hash=sha256_hex(t), expires_at=now + dt.timedelta(days=1))
                   for u, t in zip(users, tokens, strict=True)])  # fmt: skip
        s.commit()
        sales = [
            flash_sales.schedule(
                s, owner, brand.id, sku_id=skus[i].id, price_fen=990, quantity=units,
                starts_at=now - dt.timedelta(seconds=1), ends_at=now + dt.timedelta(hours=1),
            ).id
            for i in [*range(0, 2 * rounds, 2), 2 * rounds]
        ]  # fmt: skip
        out = {"sale_ids": sales[:-1], "floor_sale_id": sales[-1], "plain_sku_ids": [k.id for k in skus[1::2]],
               "tokens": tokens, "user_ids": [u.id for u in users]}  # fmt: skip
    db.dispose()
    return out


def _buyer_proc(port: int, requests: list[tuple[str, str, bytes | None]], start_at: float, out: Any) -> None:
    """One client process: a thread per buyer, all released at `start_at`; (sent, latency, status, done)."""
    results: list[tuple[float, float, int, float]] = []
    lock = threading.Lock()

    def buy(token: str, path: str, body: bytes | None, key: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Idempotency-Key": key, "Connection": "close"}  # fmt: skip
        time.sleep(max(0.0, start_at - time.time()))
        sent = time.time()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET" if body is None else "POST", path, body=body, headers=headers)
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = -1  # the transport failed: counted with the 5xx
        done = time.time()
        with lock:
            results.append((sent - start_at, (done - sent) * 1000, status, done - start_at))

    threads = [threading.Thread(target=buy, args=(t, p, b, uuid.uuid4().hex), daemon=True) for t, p, b in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    out.put(results)


Answer = tuple[float, float, int, float]  # sent (s after the start), latency ms, HTTP status, answered (s)


def stampede(port: int, requests: list[tuple[str, str, bytes | None]], procs: int) -> list[Answer]:
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 3.0 + len(requests) / 1000  # every thread started and waiting by then
    workers = [ctx.Process(target=_buyer_proc, args=(port, requests[i::procs], start_at, out)) for i in range(procs)]
    for w in workers:
        w.start()
    results: list[Answer] = []
    for _ in workers:
        results.extend(out.get(timeout=600))
    for w in workers:
        w.join()
    return results


def summarize(results: list[tuple[float, float, int, float]], won: int) -> dict[str, Any]:
    latencies = [r[1] for r in results]
    wall = max(r[3] for r in results)
    winners = sorted(r[3] for r in results if r[2] == won)
    return {
        "answers": len(results),
        "won": len(winners),
        "refused_409": sum(1 for r in results if r[2] == 409),
        "server_errors": sum(1 for r in results if r[2] >= 500 or r[2] < 0),
        "other": sorted({r[2] for r in results if r[2] not in (won, 409) and 0 <= r[2] < 500}),
        "sold_out_after_s": round(winners[-1], 3) if winners else None,
        "wall_s": round(wall, 3),
        "answers_per_s": round(len(results) / wall, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One path's rounds: counts summed, times and rates the median, answers/s with its range."""
    out: dict[str, Any] = {k: sum(r[k] for r in runs) for k in ("answers", "won", "refused_409", "server_errors")}
    out["other"] = sorted({c for r in runs for c in r["other"]})
    sold = [r["sold_out_after_s"] for r in runs if r["sold_out_after_s"] is not None]
    out["sold_out_after_s"] = round(statistics.median(sold), 3) if sold else None
    for k in ("wall_s", "answers_per_s", "p50_ms", "p99_ms"):
        out[k] = round(statistics.median(r[k] for r in runs), 1)
    out["answers_per_s_range"] = [min(r["answers_per_s"] for r in runs), max(r["answers_per_s"] for r in runs)]
    return out


def serve(url: str, gate: str, var: Path, port: int, prefix: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, **SECRETS, "ENV": "production", "DATABASE_URL": url, "STORAGE_URL": f"file://{var}/storage",
           "SEARCH_URL": str(var / "search"), "CELERY_BROKER_URL": "memory://", "RATE_LIMITS_ENABLED": "false",
           "FLASH_SALE_GATE": gate, "FLASH_SALE_REDIS_URL": REDIS_URL, "FLASH_SALE_KEY_PREFIX": prefix,
           # the Redis deployment fans the chat out over Redis, so it serves from two workers (web.gunicorn_conf)
           "REALTIME_BACKEND": "redis" if gate == "redis" else "memory",
           "LOG_LEVEL": "WARNING", "MEDIA_WORK_DIR": str(var / "media-work"),
           "CELERY_BEAT_SCHEDULE": str(var / "celerybeat-schedule")}  # fmt: skip
    log = (var / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:web.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "/dev/null", "web:create_app()"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/livez")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"gunicorn did not start: {(var / 'gunicorn.log').read_text()[-2000:]}")


def warm_up(port: int, seeded: dict[str, Any]) -> None:
    """Every worker thread imports, connects and authenticates once before the clock starts (signed-in reads)."""

    def get(token: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/api/v1/flash-sales/{seeded['sale_ids'][0]}",
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        conn.getresponse().read()
        conn.close()

    for _ in range(3):
        threads = [threading.Thread(target=get, args=(t,)) for t in seeded["tokens"][:32]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


def verdict(url: str, seeded: dict[str, Any], units: int) -> dict[str, Any]:
    """Counted in the database after the run: what was handed out against what there was."""
    from sqlalchemy import func, select

    from commerce.catalog.models import Sku
    from commerce.marketing.models import FlashAdmission, FlashSale
    from commerce.orders.models import OrderLine
    from core.db import Database

    db = Database(url)
    out: dict[str, Any] = {"admitted_units": [], "admitted_twice": 0, "flash_oversells": 0, "checkout_orders": [],
                           "checkout_oversells": 0, "sql_pool_left": []}  # fmt: skip
    with db.session() as s:
        for sale_id, plain_id in zip(seeded["sale_ids"], seeded["plain_sku_ids"], strict=True):
            sale = s.get(FlashSale, sale_id)
            plain = s.get(Sku, plain_id)
            assert sale is not None
            assert plain is not None
            rows = s.execute(select(FlashAdmission.user_id, FlashAdmission.quantity).where(
                FlashAdmission.sale_id == sale.id)).all()  # fmt: skip
            admitted_units = sum(q for _, q in rows)
            twice = len(rows) - len({u for u, _ in rows})
            sold = int(s.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0)).where(
                OrderLine.sku_id == plain_id)) or 0)  # fmt: skip
            out["admitted_units"].append(admitted_units)
            out["admitted_twice"] += twice
            out["flash_oversells"] += max(0, admitted_units - units) + twice
            out["checkout_orders"].append(sold)
            out["checkout_oversells"] += max(0, sold - units) + max(0, -plain.stock)
            out["sql_pool_left"].append(sale.remaining)
    db.dispose()
    return out


def redis_floor(units: int, clients: int) -> dict[str, Any]:
    """The Lua script alone: redis-benchmark EVALSHA at `clients` connections (random buyers, a fresh sale)."""
    import redis

    from commerce.marketing.gates import ADMIT_LUA

    client = redis.Redis.from_url(REDIS_URL)
    sha = client.script_load(ADMIT_LUA)
    prefix = f"bench-floor-{uuid.uuid4().hex[:8]}"
    keys = [f"{prefix}:{{1}}:left", f"{prefix}:{{1}}:buyers"]
    n = 200_000
    try:
        if shutil.which("redis-benchmark"):
            parsed = redis.connection.parse_url(REDIS_URL)
            run = subprocess.run(
                ["redis-benchmark", "-h", parsed.get("host", "127.0.0.1"), "-p", str(parsed.get("port", 6379)),
                 "-c", str(clients), "-n", str(n), "-r", "100000000", "--csv",
                 "EVALSHA", sha, "2", *keys, "__rand_int__", "1", str(units), "1"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            last = [line for line in run.stdout.splitlines() if line.startswith('"EVALSHA')][-1]
            rps = float(last.split(",")[1].strip('"'))
            how = f"redis-benchmark EVALSHA, {clients} connections, {n} calls"
        else:
            script = client.register_script(ADMIT_LUA)
            t = time.perf_counter()
            for i in range(20_000):
                script(keys=keys, args=[i, 1, units, 1])
            rps = 20_000 / (time.perf_counter() - t)
            how = "a tight redis-py loop (redis-benchmark is not installed), 1 connection, 20000 calls"
        admitted = client.hlen(keys[1])
    finally:
        client.delete(*keys)
        client.close()
    return {"floor_per_s": round(rps, 1), "floor": how, "floor_admitted": admitted}


def sql_floor(url: str, seeded: dict[str, Any]) -> dict[str, Any]:
    """The admission service with the SQL gate, called in a tight loop in this process (no HTTP, no auth)."""
    from commerce.marketing import flash_sales
    from commerce.marketing.gates import SqlStockGate
    from core.accounts.models import User
    from core.db import Database
    from core.errors import Conflict

    db = Database(url)
    gate = SqlStockGate()
    with db.session() as s:
        users = [s.get(User, uid) for uid in seeded["user_ids"]]
        s.expunge_all()
    t = time.perf_counter()
    for user in users:
        with db.session() as s, contextlib.suppress(Conflict):
            flash_sales.admit(s, gate, user, seeded["floor_sale_id"])
    rps = len(users) / (time.perf_counter() - t)
    db.dispose()
    return {"floor_per_s": round(rps, 1), "floor": f"flash_sales.admit with SqlStockGate in-process, 1 thread, "
            f"{len(users)} buyers"}  # fmt: skip


def run_deployment(name: str, url: str, gate: str, args: argparse.Namespace, var: Path) -> dict[str, Any]:
    from tests.conftest import free_port, migrate

    migrate(url)
    seeded = seed(url, args.buyers, args.units, args.rounds)
    port = free_port()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    server = serve(url, gate, var, port, prefix)

    def checkout(r: int) -> bytes:
        return json.dumps(
            {"items": [{"sku_id": seeded["plain_sku_ids"][r], "quantity": 1}], "address": ADDRESS}
        ).encode()

    paths: dict[str, tuple[int, Any]] = {  # what each path's buyers send in round r, and the status that wins
        "flash": (201, lambda r: [(t, f"/api/v1/flash-sales/{seeded['sale_ids'][r]}/admission", b"{}")
                                  for t in seeded["tokens"]]),
        "checkout": (201, lambda r: [(t, "/api/v1/checkouts", checkout(r)) for t in seeded["tokens"]]),
        # The web tier's own floor: the same buyers signed in, reading the sale's status (auth, one row, the gate's
        # count; no write).
        "status_read": (200, lambda r: [(t, f"/api/v1/flash-sales/{seeded['sale_ids'][r]}", None)
                                        for t in seeded["tokens"]]),
    }  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
    try:
        warm_up(port, seeded)
        names = list(paths)
        for r in range(args.rounds):  # each round in another order, so no path always runs first or last
            for p in names[r % 3 :] + names[: r % 3]:
                won, requests = paths[p]
                runs[p].append(summarize(stampede(port, requests(r), args.client_procs), won))
    finally:
        stop(server)
    checked = verdict(url, seeded, args.units)
    if gate == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        checked["redis_pool_left"] = [
            int(v) if v is not None else None
            for v in (client.get(f"{prefix}:flash:{{{i}}}:left") for i in seeded["sale_ids"])
        ]
        client.delete(*client.keys(f"{prefix}:*") or ["-"])
        client.close()
        floor = redis_floor(args.units, 50)
    else:
        floor = sql_floor(url, seeded)
    flash, plain, status = (runs[p] for p in names)

    def per_round(f: Any) -> float:  # the median over the rounds of a figure of one round's paths side by side
        return float(statistics.median(f(i) for i in range(args.rounds)))

    def tier(i: int) -> float:  # the most the web tier answered a second in round i
        return max(float(flash[i]["answers_per_s"]), float(status[i]["answers_per_s"]))

    row = {"deployment": name, "gate": gate, **{p: merged(runs[p]) for p in names}, **checked, **floor,
           "vs_checkout": round(per_round(lambda i: flash[i]["answers_per_s"] / plain[i]["answers_per_s"]), 2),
           "vs_status_read": round(per_round(lambda i: flash[i]["answers_per_s"] / status[i]["answers_per_s"]), 2),
           "vs_floor": round(per_round(lambda i: flash[i]["answers_per_s"]) / floor["floor_per_s"], 4)}  # fmt: skip
    # What the web tier allows whatever the gate. N buyers arrive at once and the tier answers at most X a second
    # (the most it answered in a round: the signed-in status read, or the admission itself if that was faster): the
    # 99th percentile answer cannot come before 0.99*N answers were served, so p99 >= 0.99*N/X; and admissions per
    # second can reach neither more than X/floor of the gate's floor nor more than X/checkout of the checkout path.
    x = per_round(tier)
    ceiling = per_round(lambda i: tier(i) / plain[i]["answers_per_s"])
    row["bound"] = {
        "web_tier_per_s": round(x, 1),
        "p99_floor_ms": round(0.99 * args.buyers / x * 1000, 1),
        "vs_floor_ceiling": round(x / floor["floor_per_s"], 4),
        "vs_checkout_ceiling": round(ceiling, 2),
    }
    row["goals"] = goals(row)
    return row


P99_GOAL_MS, FLOOR_SHARE_GOAL, CHECKOUT_RATIO_GOAL = 50.0, 0.3, 10.0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def goals(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of the issue's goals: its target, what this run measured, met or not, and whether the bound lets any
    gate meet it on this machine."""
    b, flash = row["bound"], row["flash"]
    return [
        {"goal": "oversells", "target": 0, "measured": row["flash_oversells"] + row["checkout_oversells"],
         "met": row["flash_oversells"] + row["checkout_oversells"] == 0, "reachable_here": True},
        {"goal": "5xx", "target": 0, "measured": flash["server_errors"] + row["checkout"]["server_errors"],
         "met": flash["server_errors"] + row["checkout"]["server_errors"] == 0, "reachable_here": True},
        {"goal": "admission p99 ms <=", "target": P99_GOAL_MS, "measured": flash["p99_ms"],
         "met": flash["p99_ms"] <= P99_GOAL_MS, "reachable_here": b["p99_floor_ms"] <= P99_GOAL_MS},
        {"goal": "admissions/s vs gate floor >=", "target": FLOOR_SHARE_GOAL, "measured": row["vs_floor"],
         "met": row["vs_floor"] >= FLOOR_SHARE_GOAL, "reachable_here": b["vs_floor_ceiling"] >= FLOOR_SHARE_GOAL},
        {"goal": "admissions/s vs checkout >=", "target": CHECKOUT_RATIO_GOAL, "measured": row["vs_checkout"],
         "met": row["vs_checkout"] >= CHECKOUT_RATIO_GOAL,
         "reachable_here": b["vs_checkout_ceiling"] >= CHECKOUT_RATIO_GOAL},
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=2000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--client-procs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="stampedes per path, alternated; medians reported")
    parser.add_argument("--only", choices=["scale-out", "embedded"], default=None)
    args = parser.parse_args()
    started, load_start = dt.datetime.now(dt.UTC), _load()

    from sqlalchemy import create_engine, text

    rows = []
    with tempfile.TemporaryDirectory(prefix="xl-bench-flash-") as tmp:
        if args.only in (None, "scale-out"):
            name = f"xl_bench_flash_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                var = Path(tmp) / "pg"
                var.mkdir()
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
                rows.append(run_deployment("postgresql+redis", url, "redis", args, var))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        if args.only in (None, "embedded"):
            var = Path(tmp) / "sqlite"
            var.mkdir()
            rows.append(run_deployment("sqlite+sql", f"sqlite:///{var / 'bench.sqlite3'}", "sql", args, var))

    from web import gunicorn_conf

    shape = f"{gunicorn_conf.workers} workers x {gunicorn_conf.threads} threads"
    print(f"bench.flashsale {started:%Y-%m-%d %H:%M} UTC; nproc {os.cpu_count()}; load average at start "
          f"{load_start}, at end {_load()}; args {' '.join(sys.argv[1:]) or '(defaults)'}")  # fmt: skip
    print(
        f"{args.buyers} buyers released at once ({args.client_procs} client processes, one connection each) at "
        f"{args.units} units; gunicorn -c python:web.gunicorn_conf ({shape})"
    )
    print(f"{'deployment':<18}{'path':<12}{'won':>5}{'409':>6}{'5xx':>5}{'sold out s':>11}{'answers/s':>11}"
          f"{'p50 ms':>8}{'p99 ms':>9}  answers/s range ({args.rounds} rounds: medians, counts summed)")  # fmt: skip
    for r in rows:
        for path in ("flash", "checkout", "status_read"):
            x = r[path]
            sold = "-" if x["sold_out_after_s"] is None else f"{x['sold_out_after_s']:.2f}"
            print(f"{r['deployment']:<18}{path:<12}{x['won']:>5}{x['refused_409']:>6}{x['server_errors']:>5}"
                  f"{sold:>11}{x['answers_per_s']:>11.1f}{x['p50_ms']:>8.1f}{x['p99_ms']:>9.1f}  "
                  f"{x['answers_per_s_range'][0]:.1f}-{x['answers_per_s_range'][1]:.1f}")  # fmt: skip
        print(f"{'':<18}floor       {r['floor_per_s']:>10.1f}/s  ({r['floor']})")
        print(f"{'':<18}ratios      admission/checkout {r['vs_checkout']:.2f}x, admission/status read "
              f"{r['vs_status_read']:.2f}x, admission/floor {r['vs_floor']:.4f}; "
              f"oversells flash {r['flash_oversells']} checkout {r['checkout_oversells']}")  # fmt: skip
        b = r["bound"]
        print(f"{'':<18}bound       {args.buyers} buyers at once through a web tier answering at most "
              f"{b['web_tier_per_s']:.1f}/s: p99 >= 0.99*N/X = {b['p99_floor_ms']:.0f} ms; admission/floor <= "
              f"{b['vs_floor_ceiling']:.4f}, admission/checkout <= {b['vs_checkout_ceiling']:.2f}x")  # fmt: skip
        for g in r["goals"]:
            reach = "" if g["reachable_here"] else " (unreachable on this machine whatever the gate)"
            print(f"{'':<18}goal        {g['goal']:<34} {g['measured']!s:>10} "
                  f"{'met' if g['met'] else 'NOT met'}{reach}")  # fmt: skip
    print(json.dumps({
        "buyers": args.buyers, "units": args.units, "nproc": os.cpu_count(), "load_start": load_start,
        "load_end": _load(), "gunicorn": shape,
        "oversells": sum(r["flash_oversells"] + r["checkout_oversells"] for r in rows),
        "server_errors": sum(r["flash"]["server_errors"] + r["checkout"]["server_errors"] for r in rows),
        "goals": {r["deployment"]: {g["goal"]: {"target": g["target"], "measured": g["measured"], "met": g["met"],
                                                "reachable_here": g["reachable_here"]} for g in r["goals"]}
                  for r in rows},
        "deployments": [{k: v for k, v in r.items() if k != "goals"} for r in rows],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
