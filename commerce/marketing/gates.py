"""The flash-sale admission gate: who gets one of a sale's units, decided in O(1) without the order tables.

Two real implementations behind one interface, chosen by `flash_sale_gate`:

- `SqlStockGate` (the embedded default, also valid on PostgreSQL): one conditional
  `UPDATE flash_sales SET remaining = remaining - q WHERE id = :sale AND remaining >= q AND per_user_limit >= q
  RETURNING remaining`
  and one `INSERT ... ON CONFLICT (sale_id, user_id) DO NOTHING` of the admission row, in the caller's
  transaction. The unique (sale, user) row refuses a second admission; the caller rolls back any refusal,
  which also undoes the decrement.
- `RedisStockGate` (scale-out): one Lua script checks the buyer's place in the sale's hash, the units left,
  decrements and records the buyer, atomically; only winners then write their admission row. The two keys of a
  sale share a hash tag, so they live in one slot of a Redis Cluster.

Units go back with `give_back`, called by the expiry job after its own conditional update of the admission row
(so each admission returns its units exactly once); the Redis script is idempotent per buyer as well.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commerce.marketing.models import FlashAdmission, FlashSale

if TYPE_CHECKING:
    import redis


class GateOutcome(enum.StrEnum):
    ADMITTED = "admitted"
    SOLD_OUT = "sold_out"
    ALREADY_ADMITTED = "already_admitted"


class SaleTerms(Protocol):
    """What a gate reads of a sale to admit to it (a `FlashSale`, or the row `flash_sales.admit` reads)."""

    @property
    def id(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def per_user_limit(self) -> int: ...


class StockGate(Protocol):
    name: str

    def admit(self, session: Session, sale: SaleTerms, row: dict[str, Any]) -> tuple[GateOutcome, int | None]:
        """Take `row["quantity"]` units for `row["user_id"]`; when admitted, the admission `row` is written (not
        committed) and its id returned. The caller commits an admission and rolls back anything else."""
        ...

    def undo(self, sale_id: int, user_id: int) -> None:
        """Forget an admission whose row did not commit (its units go back, the buyer may try again)."""
        ...

    def give_back(self, session: Session, sale_id: int, user_id: int, quantity: int) -> None:
        """Return an admission's units to the pool, in the caller's transaction (which has marked it returned)."""
        ...

    def drain(self, session: Session, sale: FlashSale) -> int:
        """Empty the pool of a sale that is over and return how many units were left; asked again, the same number
        (so a close that failed to commit can run again)."""
        ...

    def remaining(self, session: Session, sale: FlashSale) -> int: ...


_sales, _admissions = FlashSale.__table__, FlashAdmission.__table__
_TAKE = (
    update(_sales)
    .where(
        _sales.c.id == bindparam("sale"),
        _sales.c.remaining >= bindparam("qty"),
        _sales.c.per_user_limit >= bindparam("qty"),
    )
    .values(remaining=_sales.c.remaining - bindparam("qty"))
    .returning(_sales.c.remaining)
)
_GIVE_BACK = (
    update(_sales)
    .where(_sales.c.id == bindparam("sale"))
    .values(remaining=_sales.c.remaining + bindparam("qty"))
    .returning(_sales.c.remaining)
)
_INSERT = {
    name: dialect.insert(_admissions).on_conflict_do_nothing(index_elements=["sale_id", "user_id"])
    .returning(_admissions.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}  # fmt: skip
_INSERT_PLAIN = insert(_admissions).returning(_admissions.c.id)


class SqlStockGate:
    """The pool is the sale row's `remaining`; admission is one conditional UPDATE plus one unique row."""

    name = "sql"

    def admit(self, session: Session, sale: SaleTerms, row: dict[str, Any]) -> tuple[GateOutcome, int | None]:
        left = session.execute(_TAKE, {"sale": sale.id, "qty": row["quantity"]}).first()
        if left is None:
            return GateOutcome.SOLD_OUT, None
        admission_id = session.execute(_INSERT[session.get_bind().dialect.name], row).scalar()
        if admission_id is None:  # the unique (sale, user) row is there already: the caller rolls the take back
            return GateOutcome.ALREADY_ADMITTED, None
        return GateOutcome.ADMITTED, int(admission_id)

    def undo(self, sale_id: int, user_id: int) -> None:
        return None  # the rollback already undid both statements

    def give_back(self, session: Session, sale_id: int, user_id: int, quantity: int) -> None:
        session.execute(_GIVE_BACK, {"sale": sale_id, "qty": quantity})

    def drain(self, session: Session, sale: FlashSale) -> int:
        # The caller holds the sale row (its close is a conditional update of it): read, then empty.
        session.refresh(sale, ["remaining"])
        left = sale.remaining
        session.execute(update(_sales).where(_sales.c.id == sale.id).values(remaining=0))
        session.refresh(sale, ["remaining"])
        return left

    def remaining(self, session: Session, sale: FlashSale) -> int:
        session.refresh(sale, ["remaining"])
        return sale.remaining


# KEYS[1]: units left, KEYS[2]: hash buyer -> units held. ARGV: buyer, quantity, the sale's quantity (the pool's
# first value, set on the first call), per-user limit. Returns units left after admission, or -1 sold out,
# -2 already admitted, -3 over the per-user limit.
ADMIT_LUA = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return -2 end
local q = tonumber(ARGV[2])
if q > tonumber(ARGV[4]) then return -3 end
local left = redis.call('GET', KEYS[1])
if left then left = tonumber(left) else left = tonumber(ARGV[3]); redis.call('SET', KEYS[1], left) end
if left < q then return -1 end
redis.call('DECRBY', KEYS[1], q)
redis.call('HSET', KEYS[2], ARGV[1], q)
return left - q
"""
# Give a buyer's units back once: their place stays taken (held 0), so they are not admitted again.
GIVE_BACK_LUA = """
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if held <= 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], 0)
redis.call('INCRBY', KEYS[1], held)
return held
"""
# An admission whose database row never committed: as if it had not happened.
UNDO_LUA = """
local held = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
redis.call('HDEL', KEYS[2], ARGV[1])
if held > 0 then redis.call('INCRBY', KEYS[1], held) end
return held
"""

# KEYS[1]: units left, KEYS[3]: what the drain found (kept, so draining again answers the same). ARGV: the sale's
# quantity (the pool was never touched if KEYS[1] is missing).
DRAIN_LUA = """
local done = redis.call('GET', KEYS[3])
if done then return tonumber(done) end
local left = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
redis.call('SET', KEYS[1], 0)
redis.call('SET', KEYS[3], left)
return left
"""


class RedisStockGate:
    name = "redis"

    def __init__(self, client: redis.Redis, *, prefix: str = "xl") -> None:
        self.client, self.prefix = client, prefix
        self._admit = client.register_script(ADMIT_LUA)
        self._give_back = client.register_script(GIVE_BACK_LUA)
        self._undo = client.register_script(UNDO_LUA)
        self._drain = client.register_script(DRAIN_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "xl") -> RedisStockGate:
        import redis

        return cls(redis.Redis.from_url(url), prefix=prefix)

    def keys(self, sale_id: int) -> list[str]:
        base = f"{self.prefix}:flash:{{{sale_id}}}"
        return [f"{base}:left", f"{base}:buyers"]

    def admit(self, session: Session, sale: SaleTerms, row: dict[str, Any]) -> tuple[GateOutcome, int | None]:
        user_id = row["user_id"]
        left = int(
            self._admit(keys=self.keys(sale.id), args=[user_id, row["quantity"], sale.quantity, sale.per_user_limit])
        )
        if left == -2:
            return GateOutcome.ALREADY_ADMITTED, None
        if left < 0:
            return GateOutcome.SOLD_OUT, None
        try:
            admission_id = session.execute(_INSERT_PLAIN, row).scalar_one()
        except IntegrityError:
            # The database knows this buyer already (Redis lost its memory of them): the units go back, the place
            # stays taken.
            self._give_back(keys=self.keys(sale.id), args=[user_id])
            return GateOutcome.ALREADY_ADMITTED, None
        except BaseException:
            self.undo(sale.id, user_id)
            raise
        return GateOutcome.ADMITTED, int(admission_id)

    def undo(self, sale_id: int, user_id: int) -> None:
        self._undo(keys=self.keys(sale_id), args=[user_id])

    def give_back(self, session: Session, sale_id: int, user_id: int, quantity: int) -> None:
        self._give_back(keys=self.keys(sale_id), args=[user_id])

    def drain(self, session: Session, sale: FlashSale) -> int:
        return int(self._drain(keys=[*self.keys(sale.id), f"{self.prefix}:flash:{{{sale.id}}}:drained"],
                               args=[sale.quantity]))  # fmt: skip

    def remaining(self, session: Session, sale: FlashSale) -> int:
        left = self.client.get(self.keys(sale.id)[0])
        return sale.quantity if left is None else int(left)  # type: ignore[arg-type]


def open_gate(kind: str, *, redis_url: str, prefix: str) -> StockGate:
    """The gate the settings choose (`flash_sale_gate`)."""
    if kind == "redis":
        return RedisStockGate.from_url(redis_url, prefix=prefix)
    return SqlStockGate()
