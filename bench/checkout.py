"""Checkout throughput on PostgreSQL, side by side with pgbench's TPC-B-like rate at the same client count.

One "order" is the whole money path of a purchase: checkout (stock reserved by
conditional update, prices, coupon-free line snapshot, affiliate rates, sharer
attribution from a logged share click or the customer binding, artist credit
from the video's product card, review rules), the payment created at the
sandbox provider, the buyer paying, and the provider's HMAC-signed webhook
verified and applied: capture into escrow and the split into brand, artist,
sharer and platform pending accounts (ledger postings), earnings rows.

Each client is its own process with its own connection. A few hot SKUs with
little stock are mixed in, so buyers race for the last units; the run then
checks that nothing was oversold and that the ledger balances. pgbench runs
`-c N -j N` over its own tables in the same scratch database, which is created
and dropped by this script.

    .venv/bin/python -m bench.checkout [--clients 8] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

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
    from media.models import Video, VideoStatus

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
            v = Video(uploader_id=a, title="bench", status=VideoStatus.READY, duration_seconds=30.0, published_at=now)
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
    db.dispose()
    return {"skus": skus, "hot": hot, "buyers": buyers}


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
    """One purchase end to end: checkout, the buyer pays at the provider, the provider's signed webhook."""
    from commerce.orders import checkout
    from commerce.payments import service as payments
    from commerce.payments.models import Payment
    from commerce.payments.sandbox import SandboxNotification, signature_header
    from core.accounts.models import User

    placed = checkout.place_order(
        s, s.get(User, buyer_id), items=[checkout.CheckoutItem(sku_id, qty, source_video_id=video)], address=ADDRESS,
        provider=provider, policy=POLICY, links=LINKS, device_hash=f"dev-{buyer_id}",
    )  # fmt: skip
    payment = s.get(Payment, placed.payment_id)
    assert payment is not None
    assert payment.provider_payment_id is not None
    provider.complete(payment.provider_payment_id, succeed=True)  # the buyer pays on the hosted page
    s.commit()
    # What the sandbox's sender posts to the webhook: the notification's body (its delivery reads just that).
    body = s.scalar(
        select(SandboxNotification.body)
        .where(SandboxNotification.payment_id == payment.provider_payment_id)
        .order_by(SandboxNotification.id.desc())
        .limit(1)
    ).encode()
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
    statements = commits = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

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
    deadline = time.monotonic() + seconds
    with db.session() as s:
        provider = SandboxProvider(s, secrets=[SECRET], base_url="http://bench")
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
    db.dispose()
    out.put({"latencies": latencies, "sold_out": sold_out, "errors": errors, "statements": statements,
             "commits": commits})  # fmt: skip


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
        "commits_per_order": sum(r["commits"] for r in results) / max(1, len(lat)),
        "sold_out": sum(r["sold_out"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "wall_s": elapsed,
    }


def run_pgbench(url: str, clients: int, seconds: float) -> dict[str, float]:
    conn = _libpq(url)
    subprocess.run(["pgbench", "-i", "-s", "1", "-q", *conn], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "pgb")
        done = subprocess.run(
            ["pgbench", "-c", str(clients), "-j", str(clients), "-T", str(int(seconds)), "-l", "--log-prefix", prefix,
             *conn],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout).group(1))  # type: ignore[union-attr]
        lat: list[int] = []
        for log in Path(tmp).glob("pgb*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))  # microseconds
    lat.sort()
    return {"tps": tps, "p50_ms": statistics.median(lat) / 1000, "p99_ms": lat[int(0.99 * (len(lat) - 1))] / 1000}


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
            oversells += max(0, int(sold) - HOT_STOCK) + (1 if stock < 0 or stock + int(sold) != HOT_STOCK else 0)
        paid = s.scalar(select(func.count()).select_from(Order).where(Order.status == OrderStatus.PAID))
    db.dispose()
    return {"ledger_balanced": ledger.ok, "oversells": oversells, "paid_orders": int(paid or 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    from tests.conftest import migrate

    name = f"xl_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _db_url(name)
    try:
        migrate(url)
        world = seed(url)
        ours = run_ours(url, world, args.clients, args.seconds)
        pg = run_pgbench(url, args.clients, args.seconds)
        verdict = check(url, world)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    ratio = ours["orders_per_s"] / pg["tps"] if pg["tps"] else 0.0
    print(f"clients={args.clients} seconds={args.seconds:g} (PostgreSQL, scratch database {name}, dropped)")
    print(f"{'':28}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'checkout+webhook+ledger':28}{ours['orders_per_s']:>12.1f}{ours['p50_ms']:>10.2f}{ours['p99_ms']:>10.2f}")
    print(f"{'pgbench TPC-B-like':28}{pg['tps']:>12.1f}{pg['p50_ms']:>10.2f}{pg['p99_ms']:>10.2f}")
    print(f"ratio orders/s ÷ pgbench tps = {ratio:.3f} (target ≥ 0.30)")
    print(f"per order: {ours['statements_per_order']:.1f} SQL statements and {ours['commits_per_order']:.1f} commits "
          f"(a pgbench transaction: 5 statements, 1 commit)")  # fmt: skip
    print(f"orders {ours['orders']}, sold out {ours['sold_out']}, errors {ours['errors']}, "
          f"oversells {verdict['oversells']}, ledger balanced {verdict['ledger_balanced']}")  # fmt: skip
    print(
        json.dumps(
            {
                "clients": args.clients,
                "seconds": args.seconds,
                "orders_per_s": round(ours["orders_per_s"], 1),
                "p50_ms": round(ours["p50_ms"], 2),
                "p99_ms": round(ours["p99_ms"], 2),
                "pgbench_tps": round(pg["tps"], 1),
                "pgbench_p99_ms": round(pg["p99_ms"], 2),
                "tps_ratio": round(ratio, 3),
                "oversells": verdict["oversells"],
                "ledger_balanced": verdict["ledger_balanced"],
                "errors": ours["errors"],
                "statements_per_order": round(ours["statements_per_order"], 1),
                "commits_per_order": round(ours["commits_per_order"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
