r"""Checkout throughput on PostgreSQL, side by side with pgbench's TPC-B-like rate at the same client count.

One "order" is the whole money path of a purchase: checkout (stock reserved by
conditional update, prices, coupon-free line snapshot, affiliate rates, sharer
attribution from a logged share click or the customer binding, artist credit
from the video's product card, review rules), the payment created at the
sandbox provider, the buyer paying, and the provider's HMAC-signed webhook
verified and applied: capture into escrow and the split into brand, artist,
sharer and platform pending accounts (ledger postings), earnings rows. The
pay click and the webhook share a transaction (`buy_once`): two commits per
purchase, what a real provider, whose click is not in our database, costs it.

Each client is its own process with its own connection. A few hot SKUs with
little stock are mixed in, so buyers race for the last units; the run then
checks that nothing was oversold and that the ledger balances. pgbench runs
`-c N -j N` over its own tables in the same scratch database, which is created
and dropped by this script.

The purchase's own SQL floor: the statements of one purchase are traced
(SQLAlchemy's `before_cursor_execute`) and replayed exactly by pgbench
(`-f`, `-M prepared`) at the same client counts, in the same run: each
statement with its parameters, each commit where the service committed, the
ids a statement returns taken with `\gset` and the random references made
fresh per transaction, so every replayed purchase writes new rows.
`service_over_replay` is orders/s over the replay's tps: 1.0 would mean the
Python side costs nothing.

    .venv/bin/python -m bench.checkout [--clients 2,4,8] [--seconds 15] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.orm import Session

from commerce.orders.checkout import Address, PaymentLinks
from commerce.payments.sandbox import SandboxProvider
from commerce.policy import MoneyPolicy

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HOT_STOCK = 6  # units of each hot SKU: buyers race for the last ones
HOT_SKUS = 3
PRODUCTS = 50
BUYERS = 2000
SECRET = b"bench-sandbox-secret"
KEYS = [("k1", b"bench-link-key")]
# Returning customers buy often; the many-orders-per-device review rule is not what is measured here.
POLICY = MoneyPolicy(review_device_orders_per_day=1_000_000)
ADDRESS = Address(name="压测", phone="13800000000", province="上海市", city="上海市", district="浦东新区",
                  detail="世纪大道 100 号")  # fmt: skip
LINKS = PaymentLinks(notify_url="http://bench/api/v1/payments/webhooks/sandbox",
                     return_url="http://bench/pay/return/{checkout_id}")  # fmt: skip


def _db_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _libpq(url: str) -> list[str]:
    m = re.match(r"postgresql\+psycopg://(?P<user>[^@]+)@(?P<host>[^:/]+):(?P<port>\d+)/(?P<db>.+)", url)
    assert m, url
    return ["-h", m["host"], "-p", m["port"], "-U", m["user"], m["db"]]


def seed(url: str) -> dict[str, object]:
    """Brands, products with offers, artist videos carrying them, sharers, buyers and their share clicks."""
    from commerce.catalog.models import AffiliateOffer, Product, ProductStatus, Sku, VideoProduct
    from core import clock
    from core.accounts.models import Brand, BrandMember, BrandRole, User
    from core.db import Database
    from media.models import ReviewState, Video, VideoStatus

    db = Database(url)
    now = clock.now()
    with db.session() as s:
        long_ago = now.replace(year=now.year - 1)

        def users(n: int, prefix: str, artist: bool = False) -> list[int]:
            rows = [{"email": f"{prefix}{i}@bench.local", "display_name": f"{prefix}{i}", "password_hash": "-",
                     "is_artist": artist, "is_admin": False, "is_active": True, "locale": "zh-CN", "auth_version": 1,
                     "created_at": long_ago} for i in range(n)]  # fmt: skip
            s.execute(insert(User), rows)
            return list(s.scalars(select(User.id).where(User.email.like(f"{prefix}%@bench.local")).order_by(User.id)))

        owners = users(5, "owner")
        artists = users(10, "artist", artist=True)
        sharers = users(50, "sharer")
        buyers = users(BUYERS, "buyer")
        brands = []
        for i, owner in enumerate(owners):
            brand = Brand(name=f"bench-brand-{i}")
            s.add(brand)
            s.flush()
            s.add(BrandMember(brand_id=brand.id, user_id=owner, role=BrandRole.OWNER))
            brands.append(brand.id)
        skus, hot = [], []
        videos = []
        for a in artists:
            v = Video(uploader_id=a, title="bench", status=VideoStatus.READY, duration_seconds=30.0, published_at=now,
                  review_state=ReviewState.CLEARED)  # fmt: skip
            s.add(v)
            s.flush()
            videos.append(v.id)
        for i in range(PRODUCTS + HOT_SKUS):
            brand = brands[i % len(brands)]
            p = Product(brand_id=brand, code=f"B{i}", name=f"商品{i}", category="beauty.skincare",
                        status=ProductStatus.ACTIVE)  # fmt: skip
            sku = Sku(brand_id=brand, code=f"BS{i}", price_fen=random.Random(i).randint(990, 29_900),
                      stock=HOT_STOCK if i >= PRODUCTS else 10_000_000)  # fmt: skip
            p.skus.append(sku)
            s.add(p)
            s.flush()
            s.add(AffiliateOffer(product_id=p.id, artist_rate_bp=1500, sharer_rate_bp=800))
            video = videos[i % len(videos)]
            s.add(VideoProduct(video_id=video, product_id=p.id))
            (hot if i >= PRODUCTS else skus).append((sku.id, video))
        s.commit()
        share_clicks(s, sharers, buyers, [video for _, video in skus])
        s.commit()
    db.dispose()
    return {"skus": skus, "hot": hot, "buyers": buyers}


def live_history(url: str, world: dict[str, object], seconds: float) -> int:
    """A shop's past: purchases placed by the service itself (none of the hot SKUs), then ANALYZE.

    Measured on a shop's first minute, every plan PostgreSQL caches (psycopg's prepared statements and the
    foreign-key checks' plans) is chosen for empty orders, payments and ledger tables: sequential scans, each
    slower with every order, until autovacuum's analyze (a minute later) replaces them. A live database has a
    history and its statistics, so the measured runs start from one."""
    placed = run_ours(url, {**world, "hot": world["skus"]}, 2, seconds)["orders"] if seconds > 0 else 0
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return int(placed)


def share_clicks(s: Session, sharers: list[int], buyers: list[int], videos: list[int]) -> None:
    """Every buyer arrived through some sharer's link to a video."""
    from commerce.attribution import service as attribution
    from commerce.attribution.links import TargetKind
    from core.accounts.models import User

    policy = MoneyPolicy()
    sharer_users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(sharers)))}
    rng = random.Random(7)
    for b in buyers:
        link = attribution.create_share_link(
            s, sharer_users[rng.choice(sharers)], target_kind=TargetKind.VIDEO, target_id=rng.choice(videos),
            keys=KEYS, policy=policy, base_url="http://bench",
        )  # fmt: skip
        attribution.record_click(s, link.token, keys=KEYS, policy=policy, ip_hash="bench", viewer_id=b,
                                 device_hash=f"dev-{b}")  # fmt: skip


def buy_once(s: Session, provider: SandboxProvider, *, buyer_id: int, sku_id: int, video: int, qty: int) -> None:
    """One purchase end to end: checkout, the buyer pays at the provider, the provider's signed webhook.

    The pay click and the webhook commit together: with a real provider (WeChat Pay, Alipay) the click is not in
    our database at all, so a purchase costs it two transactions, the checkout's and the webhook's; the sandbox's
    own writes for the click (its payment row, its queued notification) ride along in the webhook's."""
    from commerce.orders import checkout
    from commerce.payments import service as payments
    from commerce.payments.models import Payment
    from commerce.payments.sandbox import signature_header
    from core.accounts.models import User

    placed = checkout.place_order(
        s, s.get(User, buyer_id), items=[checkout.CheckoutItem(sku_id, qty, source_video_id=video)], address=ADDRESS,
        provider=provider, policy=POLICY, links=LINKS, device_hash=f"dev-{buyer_id}",
    )  # fmt: skip
    payment = s.get(Payment, placed.payment_id)
    assert payment is not None
    assert payment.provider_payment_id is not None
    provider.complete(payment.provider_payment_id, succeed=True)  # the buyer pays on the hosted page
    # What the sandbox's sender posts to the webhook: the notification's body, as the sandbox queued it.
    body = provider.last_sent
    assert body is not None
    result = payments.handle_notification(s, provider, {"Sandbox-Signature": signature_header(SECRET, body)}, body)
    assert result.outcome == "applied", result


def client(url: str, world: dict[str, object], seconds: float, seed_: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One buyer process: buy again and again until time is up; record each order's latency."""
    from commerce.orders.checkout import PURPOSE
    from commerce.orders.money import CheckoutPayments
    from commerce.payments import service as payments
    from core.db import Database
    from core.errors import Conflict

    payments.register_purpose(PURPOSE, CheckoutPayments(POLICY))
    db = Database(url)
    statements = commits = sandbox = 0

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        nonlocal statements, sandbox
        statements += 1
        # The sandbox provider's own tables: with WeChat Pay or Alipay that work is theirs, not our database's.
        sandbox += "sandbox_" in statement

    def count_commit(*_: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(db.engine, "before_cursor_execute", count)
    event.listen(db.engine, "commit", count_commit)
    rng = random.Random(seed_)
    skus: list[tuple[int, int]] = world["skus"]  # type: ignore[assignment]
    hot: list[tuple[int, int]] = world["hot"]  # type: ignore[assignment]
    buyers: list[int] = world["buyers"]  # type: ignore[assignment]
    latencies: list[float] = []
    sold_out = errors = 0
    with db.session() as s:
        backend = _cpu_path(s.scalar(text("SELECT pg_backend_pid()")))
        s.commit()
        provider = SandboxProvider(s, secrets=[SECRET], base_url="http://bench")
        python_cpu, pg_cpu = time.process_time(), _cpu_seconds(backend)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sku_id, video = rng.choice(hot) if rng.random() < 0.1 else rng.choice(skus)
            started = time.perf_counter()
            try:
                buy_once(s, provider, buyer_id=rng.choice(buyers), sku_id=sku_id, video=video, qty=rng.randint(1, 2))
                latencies.append(time.perf_counter() - started)
            except Conflict:  # a hot SKU sold out: the race this run is about
                s.rollback()
                sold_out += 1
            except Exception:
                s.rollback()
                errors += 1
            s.expunge_all()
        python_cpu, pg_cpu = time.process_time() - python_cpu, _cpu_seconds(backend) - pg_cpu
    db.dispose()
    out.put({"latencies": latencies, "sold_out": sold_out, "errors": errors, "statements": statements,
             "sandbox_statements": sandbox, "commits": commits, "python_cpu": python_cpu,
             "pg_cpu": pg_cpu})  # fmt: skip


def _cpu_path(pid: int) -> Path:
    return Path(f"/proc/{pid}/schedstat")


def _cpu_seconds(path: Path) -> float:
    """CPU time a process has run (its server backend, when PostgreSQL is on this machine; else 0)."""
    try:
        return int(path.read_text().split()[0]) / 1e9
    except (OSError, ValueError):
        return 0.0


def run_ours(url: str, world: dict[str, object], clients: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("fork")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=client, args=(url, world, seconds, i, out)) for i in range(clients)]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    lat = sorted(x for r in results for x in r["latencies"])
    return {
        "orders": len(lat),
        "orders_per_s": len(lat) / seconds,
        "p50_ms": 1000 * statistics.median(lat) if lat else 0.0,
        "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else 0.0,
        "statements_per_order": sum(r["statements"] for r in results) / max(1, len(lat)),
        "sandbox_statements_per_order": sum(r["sandbox_statements"] for r in results) / max(1, len(lat)),
        "commits_per_order": sum(r["commits"] for r in results) / max(1, len(lat)),
        "sold_out": sum(r["sold_out"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "wall_s": elapsed,
        "python_cpu_ms": 1000 * sum(r["python_cpu"] for r in results) / max(1, len(lat)),
        "pg_cpu_ms": 1000 * sum(r["pg_cpu"] for r in results) / max(1, len(lat)),
    }


def init_pgbench(url: str) -> None:
    subprocess.run(["pgbench", "-i", "-s", "1", "-q", *_libpq(url)], check=True, capture_output=True)


def run_pgbench(url: str, clients: int, seconds: float, script: Path | None = None) -> dict[str, float]:
    """TPC-B-like by default; with `script`, that file (`-M prepared`): the replay of one purchase."""
    conn = _libpq(url)
    custom = ["-f", str(script), "-M", "prepared"] if script is not None else []
    backends: dict[int, float] = {}
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp, admin.connect() as watch:
        prefix = str(Path(tmp) / "pgb")
        run = subprocess.Popen(
            ["pgbench", *custom, "-c", str(clients), "-j", str(clients), "-T",
             str(int(seconds)), "-l", "--log-prefix", prefix, *conn],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while run.poll() is None:  # the CPU its server backends have used, read until they go away
            for (pid,) in watch.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench'")):
                backends[pid] = max(backends.get(pid, 0.0), _cpu_seconds(_cpu_path(pid)))
            time.sleep(0.2)
        stdout, stderr = run.communicate()
        if run.returncode:
            raise RuntimeError(f"pgbench failed: {stderr}")
        tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", stdout).group(1))  # type: ignore[union-attr]
        transactions = int(re.search(r"number of transactions actually processed: (\d+)", stdout).group(1))  # type: ignore[union-attr]
        lat: list[int] = []
        for log in Path(tmp).glob("pgb*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))  # microseconds
    admin.dispose()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lat.sort()
    return {
        "tps": tps,
        "p50_ms": statistics.median(lat) / 1000,
        "p99_ms": lat[int(0.99 * (len(lat) - 1))] / 1000,
        "client_cpu_ms": 1000 * client_cpu / max(1, transactions),
        "pg_cpu_ms": 1000 * sum(backends.values()) / max(1, transactions),
    }


def statement_costs(url: str, script: Path, seconds: float) -> list[tuple[float, str]]:
    """The replay on one client with `pgbench -r`: each statement's average latency in ms (on this host mostly
    the server's time: parse and plan are prepared away, so it is execution, triggers and, for COMMIT, the
    deferred checks and the WAL flush), in script order."""
    out = subprocess.run(
        ["pgbench", "-f", str(script), "-M", "prepared", "-c", "1", "-j", "1", "-T", str(int(seconds)), "-r",
         *_libpq(url)], check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    costs = []
    for line in out.split("statement latencies in milliseconds", 1)[-1].splitlines()[1:]:
        found = re.match(r"\s*([\d.]+)\s+\d+\s+(.*)", line) or re.match(r"\s*([\d.]+)\s+(.*)", line)
        if found and not found.group(2).startswith("\\"):  # pgbench's meta-commands cost nothing here
            costs.append((float(found.group(1)), found.group(2).strip()))
    return costs


def print_statement_costs(costs: list[tuple[float, str]], top: int = 8) -> None:
    total = sum(ms for ms, _ in costs)
    print(f"per statement, one client (pgbench -r): {len(costs)} statements, {total:.2f} ms per purchase; "
          "the costliest:")  # fmt: skip
    for ms, sql in sorted(costs, reverse=True)[:top]:
        print(f"  {ms:7.3f} ms {100 * ms / max(total, 1e-9):5.1f}%  {sql[:110]}")


# -- the SQL floor: one purchase's own statements, replayed by pgbench ----------------------------------------

# Ids are taken from far apart ranges before the trace, so that a value names one row of one table: each id a
# statement returns is then found, by its value, wherever a later statement uses it (also inside a string: a
# ledger key, a JSON body), and the replay uses the id its own transaction got instead.
_ID_BASE = 7_000_000_000
_TOKEN = re.compile(r"\b[a-z]{2,8}_?[0-9a-f]{16,}\b")  # random references made in Python (merchant ref, event id)


def trace_purchase(url: str, world: dict[str, object]) -> list[dict[str, Any]]:
    """The statements of one purchase as the driver sent them, with their parameters and what each returned."""
    from commerce.orders.checkout import PURPOSE
    from commerce.orders.money import CheckoutPayments
    from commerce.payments import service as payments
    from core.db import Database

    payments.register_purpose(PURPOSE, CheckoutPayments(POLICY))
    db = Database(url)
    with db.engine.begin() as conn:
        sequences = conn.execute(text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).all()
        for n, (seq,) in enumerate(sorted(sequences)):
            conn.execute(text("SELECT setval(CAST(:s AS regclass), :v)"), {"s": seq, "v": _ID_BASE + n * 10_000_000})
    trace: list[dict[str, Any]] = []

    def before(_c: object, _cur: object, statement: str, params: Any, _ctx: object, many: bool) -> None:
        # A batched INSERT ("insertmanyvalues") comes as executemany with one dict: one multi-row statement.
        trace.append({"sql": statement, "params": params, "many": many and not isinstance(params, dict), "row": None})

    def after(_c: object, cursor: Any, *_: object) -> None:
        result = getattr(cursor, "pgresult", None)
        if result is not None and result.ntuples == 1:  # what a \gset can take: one row
            names = [result.fname(i).decode() for i in range(result.nfields)]
            values = [result.get_value(0, i) for i in range(result.nfields)]
            trace[-1]["row"] = {n: None if v is None else v.decode() for n, v in zip(names, values, strict=True)}

    rng = random.Random(99)
    skus: list[tuple[int, int]] = world["skus"]  # type: ignore[assignment]
    buyers: list[int] = world["buyers"]  # type: ignore[assignment]
    with db.session() as s:
        provider = SandboxProvider(s, secrets=[SECRET], base_url="http://bench")
        for attempt in range(2):  # the first warms the caches; the second is the one traced
            if attempt:
                event.listen(db.engine, "before_cursor_execute", before)
                event.listen(db.engine, "after_cursor_execute", after)
                event.listen(db.engine, "commit", lambda *_: trace.append({"sql": "COMMIT"}))
            sku_id, video = rng.choice(skus)
            buy_once(s, provider, buyer_id=rng.choice(buyers), sku_id=sku_id, video=video, qty=1)
            s.expunge_all()
    db.dispose()
    return trace


def _literal(value: Any) -> str:
    """A parameter as SQL text; strings as E'' literals with ':' escaped, which pgbench would take for a variable."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if hasattr(value, "obj"):  # psycopg's Json wrapper
        value = json.dumps(value.obj, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        value = value.isoformat()
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\x3a")
    return f"E'{escaped}'"


def replay_script(trace: list[dict[str, Any]]) -> str:
    """A pgbench script running exactly the traced statements, as one transaction per commit of the purchase.

    Ids a statement returned become variables (`\\gset`) that later statements use where the trace had the value;
    the random references Python made (merchant refs, event ids, the sandbox's ids) are made fresh from a random
    number per run of the script, so every replayed purchase inserts new rows like a real one."""
    ids: dict[str, str] = {}  # returned id value -> pgbench variable
    tokens = {t for step in trace for t in _TOKEN.findall(json.dumps(step.get("params"), default=str))}
    fresh = {t: f"{t[:3]}{n}_" for n, t in enumerate(sorted(tokens))}  # prefix; the random suffix follows

    def value(v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool) and str(v) in ids:
            return f":{ids[str(v)]}"
        lit = _literal(v)
        if not isinstance(v, str) and not hasattr(v, "obj"):
            return lit
        raw = v if isinstance(v, str) else json.dumps(v.obj, ensure_ascii=False)
        for old, var in ids.items():
            if old in raw:
                lit = f"replace({lit}, '{old}', CAST(:{var} AS text))"
        for old, prefix in fresh.items():
            if old in raw:
                lit = f"replace({lit}, '{old}', '{prefix}' || :client_id || '_' || :r)"
        return lit

    def render(sql: str, params: Any) -> str:
        return re.sub(r"%\((\w+)\)s", lambda m: value(params[m.group(1)]), sql)

    out = ["\\set r random(1, 999999999999)", "BEGIN;"]
    steps = [step for step in trace]
    while steps and steps[-1]["sql"] == "COMMIT":
        steps.pop()
    for n, step in enumerate(steps):
        if step["sql"] == "COMMIT":
            out += ["COMMIT;", "BEGIN;"]
            continue
        if step["many"]:
            out.append("\\startpipeline")
            out += [render(step["sql"], p).strip() + ";" for p in step["params"]]
            out.append("\\endpipeline")
            continue
        sql = render(step["sql"], step["params"] or {}).strip()
        row = step["row"]
        if row is None:
            out.append(sql + ";")
            continue
        out += [sql, f"\\gset s{n}_"]
        for column, v in row.items():
            if v is not None and v.isdigit() and int(v) >= _ID_BASE:
                ids[v] = f"s{n}_{column}"
    out.append("COMMIT;")
    return "\n".join(out) + "\n"


def check(url: str, world: dict[str, object]) -> dict[str, object]:
    from commerce.catalog.models import Sku
    from commerce.ledger import verify
    from commerce.orders.models import Order, OrderLine, OrderStatus
    from core.db import Database

    db = Database(url)
    with db.session() as s:
        ledger = verify(s)
        oversells = 0
        for sku_id, _ in world["hot"]:  # type: ignore[attr-defined]
            sold = s.scalar(
                select(func.coalesce(func.sum(OrderLine.quantity), 0))
                .join(Order, Order.id == OrderLine.order_id)
                .where(OrderLine.sku_id == sku_id, Order.status != OrderStatus.CANCELLED)
            )
            stock = s.get(Sku, sku_id).stock  # type: ignore[union-attr]
            sold = int(sold or 0)
            oversells += max(0, sold - HOT_STOCK) + (1 if stock < 0 or stock + sold != HOT_STOCK else 0)
        paid = s.scalar(select(func.count()).select_from(Order).where(Order.status == OrderStatus.PAID))
    db.dispose()
    return {"ledger_balanced": ledger.ok, "oversells": oversells, "paid_orders": int(paid or 0)}


# Reported field: (measured key, decimals), medians over the rounds.
OURS_FIELDS = {
    "orders_per_s": ("orders_per_s", 1), "p50_ms": ("p50_ms", 2), "p99_ms": ("p99_ms", 2),
    "statements_per_order": ("statements_per_order", 1), "commits_per_order": ("commits_per_order", 1),
    "sandbox_statements_per_order": ("sandbox_statements_per_order", 1),
    "python_cpu_ms_per_order": ("python_cpu_ms", 2), "pg_cpu_ms_per_order": ("pg_cpu_ms", 2),
}  # fmt: skip
PGBENCH_FIELDS = {
    "pgbench_tps": ("tps", 1), "pgbench_p50_ms": ("p50_ms", 2), "pgbench_p99_ms": ("p99_ms", 2),
    "pgbench_client_cpu_ms_per_tx": ("client_cpu_ms", 3), "pgbench_pg_cpu_ms_per_tx": ("pg_cpu_ms", 3),
}  # fmt: skip


REPLAY_FIELDS = {
    "replay_tps": ("tps", 1), "replay_p50_ms": ("p50_ms", 2), "replay_p99_ms": ("p99_ms", 2),
    "replay_pg_cpu_ms_per_tx": ("pg_cpu_ms", 3),
}  # fmt: skip


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="2,4,8", help="client counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side per client count, alternated")
    parser.add_argument("--history", type=float, default=15.0, metavar="SECONDS",
                        help="purchases placed before measuring, on 2 clients, so the runs see a live shop's "
                             "tables and statistics (0: a shop's first minute)")  # fmt: skip
    parser.add_argument("--save-replay", metavar="FILE", help="also write the pgbench script of the traced purchase")
    parser.add_argument("--per-statement", action="store_true",
                        help="also replay the purchase on one client with pgbench -r and print what each statement "
                             "costs (where PostgreSQL's time per purchase goes)")  # fmt: skip
    args = parser.parse_args()
    counts = [int(c) for c in str(args.clients).split(",")]

    from tests.conftest import migrate

    if shutil.which("pgbench") is None:
        raise SystemExit(
            "bench.checkout needs pgbench (the floor it measures against): `make bench` installs Debian's "
            "postgresql-client, which has it"
        )
    name = f"xl_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _db_url(name)
    results: dict[int, tuple[list[dict[str, float]], list[dict[str, float]], list[dict[str, float]]]] = {}
    try:
        migrate(url)
        world = seed(url)
        history = live_history(url, world, args.history)
        init_pgbench(url)
        trace = trace_purchase(url, world)
        replayed = sum(len(t["params"]) if t["many"] else 1 for t in trace if t["sql"] != "COMMIT")
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "purchase.sql"
            script.write_text(replay_script(trace))
            if args.save_replay:
                Path(args.save_replay).write_text(script.read_text())
            for clients in counts:
                ours_runs, pg_runs, replay_runs = [], [], []
                for _ in range(args.rounds):  # ours, pgbench, replay, ours, ...: all see the same neighbours
                    ours_runs.append(run_ours(url, world, clients, args.seconds))
                    pg_runs.append(run_pgbench(url, clients, args.seconds))
                    replay_runs.append(run_pgbench(url, clients, args.seconds, script))
                results[clients] = (ours_runs, pg_runs, replay_runs)
            if args.per_statement:
                print_statement_costs(statement_costs(url, script, args.seconds))
        verdict = check(url, world)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    print(f"history: {history} purchases placed in {args.history:g} s before measuring, then ANALYZE")
    report(args, name, results=results, verdict=verdict, trace=trace, replayed=replayed)


def report(
    args: argparse.Namespace, name: str, *,
    results: dict[int, tuple[list[dict[str, float]], list[dict[str, float]], list[dict[str, float]]]],
    verdict: dict[str, object], trace: list[dict[str, Any]], replayed: int,
) -> None:  # fmt: skip
    """The table, the CPU lines, the floor's table and the closing JSON line."""
    print(f"{args.rounds} alternating runs of {args.seconds:g} s per side and client count "
          f"(PostgreSQL, scratch database {name}, dropped); medians, ratio range over the rounds")  # fmt: skip
    header = f"{'clients':>7}{'orders/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'pgbench tps':>13}{'p50 ms':>8}{'p99 ms':>8}"
    print(header + f"{'ratio':>8}{'range':>14}{'stmts':>7}{'commits':>8}")
    by_clients = []
    for clients, (ours_runs, pg_runs, replay_runs) in results.items():
        ratios = sorted(o["orders_per_s"] / p["tps"] for o, p in zip(ours_runs, pg_runs, strict=True))
        floor = sorted(o["orders_per_s"] / p["tps"] for o, p in zip(ours_runs, replay_runs, strict=True))
        row: dict[str, Any] = {"clients": clients}
        for runs, fields in ((ours_runs, OURS_FIELDS), (pg_runs, PGBENCH_FIELDS), (replay_runs, REPLAY_FIELDS)):
            row.update({out: round(_median(runs, key), digits) for out, (key, digits) in fields.items()})
        row.update({
            "service_over_replay": round(statistics.median(floor), 3),
            "service_over_replay_range": [round(floor[0], 3), round(floor[-1], 3)],
            "tps_ratio": round(statistics.median(ratios), 3),
            "tps_ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
            "orders": sum(int(o["orders"]) for o in ours_runs),
            "sold_out": sum(int(o["sold_out"]) for o in ours_runs),
            "errors": sum(int(o["errors"]) for o in ours_runs),
        })  # fmt: skip
        by_clients.append(row)
        print(f"{clients:>7}{row['orders_per_s']:>10.1f}{row['p50_ms']:>8.1f}{row['p99_ms']:>8.1f}"
              f"{row['pgbench_tps']:>13.1f}{row['pgbench_p50_ms']:>8.2f}{row['pgbench_p99_ms']:>8.2f}"
              f"{row['tps_ratio']:>8.3f}{ratios[0]:>7.3f}-{ratios[-1]:.3f}{row['statements_per_order']:>7.1f}"
              f"{row['commits_per_order']:>8.1f}")  # fmt: skip
    commits = sum(t["sql"] == "COMMIT" for t in trace)
    print(f"the SQL floor: one traced purchase ({replayed} statements, {commits} commits) replayed by pgbench"
          " (-M prepared, fresh ids per transaction)")  # fmt: skip
    print(f"{'clients':>7}{'orders/s':>10}{'replay tps':>12}{'p50 ms':>8}{'p99 ms':>8}{'service/replay':>16}"
          f"{'range':>14}{'replay PG CPU ms':>18}")  # fmt: skip
    for row in by_clients:
        lo, hi = row["service_over_replay_range"]
        print(f"{row['clients']:>7}{row['orders_per_s']:>10.1f}{row['replay_tps']:>12.1f}{row['replay_p50_ms']:>8.2f}"
              f"{row['replay_p99_ms']:>8.2f}{row['service_over_replay']:>16.3f}{lo:>7.3f}-{hi:.3f}"
              f"{row['replay_pg_cpu_ms_per_tx']:>18.3f}")  # fmt: skip
    print(
        "CPU per unit of work (medians): ours = Python client + its PostgreSQL backend per order; "
        "pgbench = its C client + backend per transaction"
    )
    for row in by_clients:
        print(f"{row['clients']:>7} clients: order {row['python_cpu_ms_per_order']:.2f} ms Python + "
              f"{row['pg_cpu_ms_per_order']:.2f} ms PostgreSQL; pgbench tx "
              f"{row['pgbench_client_cpu_ms_per_tx']:.3f} ms client + "
              f"{row['pgbench_pg_cpu_ms_per_tx']:.3f} ms PostgreSQL")  # fmt: skip
    errors = sum(r["errors"] for r in by_clients)
    orders, sold_out = sum(r["orders"] for r in by_clients), sum(r["sold_out"] for r in by_clients)
    print(
        f"of the statements per order, the sandbox provider's own (its payment, its notification): "
        f"{by_clients[0]['sandbox_statements_per_order']:.1f}; with a real provider they are not in our database"
    )
    print(f"orders {orders}, sold out {sold_out}, errors {errors}, oversells {verdict['oversells']}, "
          f"ledger balanced {verdict['ledger_balanced']}")  # fmt: skip
    worst = min(by_clients, key=lambda r: r["tps_ratio"])
    print(
        json.dumps(
            {
                # The headline is the worst client count's median ratio, so as to claim no more than holds.
                "tps_ratio": worst["tps_ratio"],
                "tps_ratio_clients": worst["clients"],
                "service_over_replay": min(r["service_over_replay"] for r in by_clients),
                "replay_statements": replayed,
                "oversells": verdict["oversells"],
                "ledger_balanced": verdict["ledger_balanced"],
                "errors": errors,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "by_clients": by_clients,
            }
        )
    )


if __name__ == "__main__":
    main()
