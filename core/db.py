"""SQLAlchemy base, engine and session handling for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import json
import select
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import psycopg
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    FromClause,
    Insert,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    bindparam,
    cast,
    column,
    create_engine,
    event,
    func,
    insert,
    literal_column,
    text,
)
from sqlalchemy import select as sql_select  # `select` here is the standard library's (socket readiness)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, class_mapper, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault
from sqlalchemy.types import TypeDecorator

from core.tasks import SENDER, TaskSender

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Every integer column is a signed 64-bit one (BIGINT on PostgreSQL); what is outside never reaches it.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type, so values are stored as naive UTC and handed
    back aware; naive input is refused so local times never sneak in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use core.clock.now()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_T = TypeVar("_T")

# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids use a variant.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Money is integer fen and ids grow: 64-bit everywhere (SQLite's INTEGER already is).
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime(), int: BigId}


def str_enum(enum_cls: type[enum.Enum], length: int = 24) -> Enum:
    """A string column holding an enum's values (not its names), as a CHECK-free VARCHAR on every backend."""
    return Enum(enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


def _configure_sqlite(engine: Engine) -> None:
    # The web server and the worker write the same file: WAL lets readers run
    # beside the writer, the busy timeout makes writers queue instead of failing,
    # and BEGIN IMMEDIATE takes the write lock up front so a transaction never
    # fails half-way on a lock upgrade (SQLITE_BUSY_SNAPSHOT).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=15000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 15, "check_same_thread": False}
        if parsed.database and parsed.database != ":memory:":
            from pathlib import Path

            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        # No pre-ping (a round trip before every transaction): a connection the server closed is found without one
        # when it is checked out (`_drop_closed`), and connections are replaced after an hour in any case.
        kwargs.update(pool_size=10, max_overflow=20, pool_recycle=3600)
        kwargs["connect_args"] = {"cursor_factory": _PlainDescriptionCursor}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    else:
        event.listen(engine, "do_connect", _connect)
        event.listen(engine, "checkout", _drop_closed)
    return engine


def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> psycopg.Connection[Any]:
    return _KeepPreparedConnection.connect(*cargs, **cparams)


_IDLE = psycopg.pq.TransactionStatus.IDLE
_IN_TRANSACTION = {psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR}


class _KeepPreparedConnection(psycopg.Connection[Any]):
    """psycopg's connection, minus one thing its rollback does: forget and DEALLOCATE ALL its prepared statements.

    psycopg prepares a statement on its 5th execution on a connection and drops them all at every ROLLBACK, in case
    the transaction dropped or changed an object they name. A session that only read, or whose checkout lost the
    last unit of stock, ends in a ROLLBACK, so the hot statements never stay prepared: each is parsed and planned
    again, five times, then prepared anew (in bench.checkout, 10 % sold-out attempts made a purchase cost 1.7 ms more
    of PostgreSQL's CPU). Prepared statements outlive a ROLLBACK on the server, and PostgreSQL re-plans them itself
    when a table they use changes; sessions of this app never change the schema. Migrations do, on an engine of
    their own that is disposed when they finish (its connections and what they prepared go with it), and psycopg
    still drops its statements after a DROP or an ALTER it executes.
    """

    def rollback(self) -> None:
        if self.pgconn.transaction_status == _IDLE:
            return
        if self.pgconn.transaction_status in _IN_TRANSACTION:
            with self.lock:
                done = self.pgconn.exec_(b"ROLLBACK").status == psycopg.pq.ExecStatus.COMMAND_OK
            if done:
                return
        super().rollback()  # a ROLLBACK that failed (a lost connection) or a state this is not for: psycopg's errors


_ROWS = {psycopg.pq.ExecStatus.TUPLES_OK, psycopg.pq.ExecStatus.SINGLE_TUPLE, psycopg.pq.ExecStatus.TUPLES_CHUNK}


class _PlainDescriptionCursor(psycopg.Cursor[Any]):
    """psycopg's cursor, with `description` as DB-API tuples (name, type code, then sizes left None).

    SQLAlchemy reads `description` after every statement that returns columns (RETURNING id included) and uses only
    each entry's name and type code; psycopg builds a `Column` object per column, with a type lookup, every time:
    1.3 us a column, some 170 us of Python per purchase (131 columns over its 21 statements).
    """

    @property
    def description(self) -> list[tuple[Any, ...]] | None:  # type: ignore[override]
        res = self.pgresult
        if not res or not (res.nfields or res.status in _ROWS):  # as psycopg: `SELECT ;` has rows and no columns
            return None
        encoding = self._encoding
        return [
            ((name.decode(encoding) if (name := res.fname(i)) else f"column_{i + 1}"), res.ftype(i), *_NO_SIZES)
            for i in range(res.nfields)
        ]


_NO_SIZES = (None,) * 5


def _drop_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """An idle pooled connection has nothing to read: when its socket is readable, the server has closed it (a
    restart, an idle timeout, a terminated backend, which says so before hanging up) and the pool connects anew
    instead of handing it out (raising `DisconnectionError` here makes it retry with a fresh connection)."""
    try:
        poller = select.poll()  # not select.select: a busy process's descriptors may be past FD_SETSIZE (1024)
        poller.register(dbapi_conn.fileno(), select.POLLIN)
        readable = poller.poll(0)
    except (OSError, ValueError, psycopg.Error) as exc:
        raise DisconnectionError() from exc
    if readable:
        raise DisconnectionError()


class Database:
    """An engine and its session factory.

    `session_factory` may be swapped (tests hand every request the session that
    wraps their SAVEPOINT) without touching code that asks for sessions.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._maker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session_factory: Callable[[], Session] = self._maker
        self.owns_sessions = True
        self.task_sender: TaskSender | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def new_session(self) -> Session:
        session = self.session_factory()
        if self.task_sender is not None:
            session.info.setdefault(SENDER, self.task_sender)
        return session

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session for one unit of work outside a request (CLI, worker, scripts)."""
        session = self.new_session()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            if self.owns_sessions:
                session.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def adopt(session: Session, obj: _T) -> _T:
    """The session's object for a row this transaction has just written with a Core statement, as if loaded: hot
    paths write with one cheap statement and still hand back a model. An object of that row the session already
    holds takes the given values (as loaded, not as changes) and is returned instead.

    `obj` must carry its primary key; columns it was not given load from the row when first read.
    """
    make_transient_to_detached(obj)
    key = instance_state(obj).key
    if key is not None and key in session.identity_map:
        return session.merge(obj, load=False)
    # The usual case, a row new to the session: `obj` itself joins it (merge would copy it into another object).
    session.add(obj)
    return obj


def adopt_row(session: Session, model: type[_T], values: Mapping[str, Any]) -> _T:
    """`adopt` for a row given as its column values (a RETURNING row's mapping, a dict of what was inserted), for
    the hottest paths: the object is filled as the ORM loads one, without the per-attribute change events of the
    model's constructor. `values` must hold the primary key; its keys are the model's attribute names.
    """
    mapper = class_mapper(model)
    obj = mapper.class_manager.new_instance()
    instance_state(obj).dict.update(values)
    return adopt(session, obj)


def expire_loaded(session: Session, model: type[Any], ids: Iterable[Any]) -> None:
    """After a Core UPDATE of these rows: objects of them this session already holds read the new row when next
    used (the ORM cannot know what a Core statement changed)."""
    for id_ in ids:
        loaded = session.identity_map.get(identity_key(model, id_))
        if loaded is not None:
            session.expire(loaded)


@dataclasses.dataclass(frozen=True)
class Rows:
    """Rows to insert into a table, as one of `write_together`'s writes (one INSERT for all of them)."""

    table: Table
    rows: Sequence[Mapping[str, Any]]


@dataclasses.dataclass(frozen=True)
class Statement:
    """A statement built once (its values as bind parameters named apart from the other writes') and its values."""

    statement: UpdateBase | Select[Any]
    params: Mapping[str, Any]


def write_together(
    session: Session, writes: Sequence[Rows | Statement], query: Statement | None = None
) -> Sequence[Row[Any]]:
    """Writes of one step that touch different rows and read nothing another of them writes, in one round trip;
    with `query`, that query too, in the same round trip: its rows are returned (none without one).

    PostgreSQL runs them as the data-modifying WITH clauses of a single statement (they share its snapshot, which
    is why none may depend on another's effect), each `Rows` as an INSERT from one JSON parameter: the statement is
    the same object for the same kinds of write however many rows, so it is compiled and prepared once. `query` is
    that statement's main query, and the WITH clauses complete after it: it may not read what they write either.
    SQLite has no writable WITH and runs the writes one after the other, then the query. The rows and values are
    the same on both: only the number of round trips differs.
    """
    writes = [w for w in writes if not isinstance(w, Rows) or w.rows]
    if not is_postgres(session) or not writes or (len(writes) < 2 and query is None):
        for w in writes:
            if isinstance(w, Rows):
                session.execute(insert(w.table), complete_rows(w.table, w.rows))
            else:
                session.execute(w.statement, w.params)
        return [] if query is None else session.execute(query.statement, query.params).all()
    shape: list[tuple[Table, tuple[str, ...]] | UpdateBase | Select[Any]] = []
    params: dict[str, Any] = {}
    for i, w in enumerate(writes):
        if isinstance(w, Rows):
            rows = complete_rows(w.table, w.rows)
            shape.append((w.table, tuple(rows[0])))
            params[f"rows_{i}"] = rows_json(rows)
        else:
            shape.append(w.statement)
            params.update(w.params)
    if query is not None:
        params.update(query.params)
    return session.execute(_together(tuple(shape), None if query is None else query.statement), params).all()


def complete_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every column it does not give at its default: the same keys in each row (what one INSERT of
    many rows needs), the same values on both databases."""
    defaults = _python_defaults(table)
    return [{**{k: make() for k, make in defaults if k not in row}, **row} for row in rows]


def rows_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """Completed rows (`complete_rows`) as the JSON parameter of an `insert_from_json` statement."""
    return json.dumps(rows, default=_json_value, ensure_ascii=False)


@functools.lru_cache(maxsize=256)
def _together(
    shape: tuple[tuple[Table, tuple[str, ...]] | UpdateBase | Select[Any], ...], query: Select[Any] | None
) -> Any:
    ctes = [
        (insert_from_json(*w, f"rows_{i}") if isinstance(w, tuple) else w).cte(f"w{i}") for i, w in enumerate(shape)
    ]
    return (sql_select(literal_column("1").label("written")) if query is None else query).add_cte(*ctes)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use core.clock.now()")
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not a column value")


@dataclasses.dataclass(frozen=True)
class Lookup:
    """A key column of `insert_from_json`'s rows that holds a stand-in: each row takes instead `source.c[value]` of
    the row of `source` (another WITH clause's RETURNING) whose `source.c[key]` equals it (NULL when none does; an
    error when several do). Rows can so name rows the same statement writes, whose ids nobody knows before it runs.
    The stand-in is read as `key`'s type."""

    column: str
    source: FromClause
    key: str
    value: str = "id"


def insert_from_json(
    table: Table, keys: Sequence[str], param: str, given: Mapping[str, ColumnElement[Any]] | None = None,
    lookup: Lookup | None = None,
) -> Insert:  # fmt: skip
    """INSERT INTO table (given, keys) SELECT given, keys FROM jsonb_to_recordset(:param) AS r(key type, ...).

    PostgreSQL only. The statement is the same however many rows `param` holds (`rows_json` of `complete_rows`), so
    built once it is compiled and prepared once, where a multi-VALUES INSERT is a new statement for each row count.
    `given` are columns every row takes the same value of, from elsewhere in the statement (a scalar subquery of
    another WITH clause's RETURNING, which unlike a second FROM is no cross join to the rows). With `lookup`, its
    column comes from the row of its source the row's stand-in matches: a scalar subquery per row too, where a JOIN
    could hand the rows to the INSERT in another order than `param`'s, and their new ids with it."""
    given = dict(given or {})
    rows = (
        func.jsonb_to_recordset(cast(bindparam(param, type_=String()), JSONB()))
        .table_valued(*(column(k, _json_type(table, k, lookup)) for k in keys))
        .render_derived(with_types=True)
    )
    if lookup is not None:
        found = lookup.source.c[lookup.key] == rows.c[lookup.column]
        given[lookup.column] = sql_select(lookup.source.c[lookup.value]).where(found).scalar_subquery()
    own = [k for k in keys if k not in given]
    selected = sql_select(*given.values(), *(rows.c[k] for k in own)).select_from(rows)
    return insert(table).from_select([*given, *own], selected)


def _json_type(table: Table, key: str, lookup: Lookup | None) -> Any:
    return lookup.source.c[lookup.key].type if lookup is not None and key == lookup.column else table.c[key].type


@functools.cache
def _python_defaults(table: Table) -> tuple[tuple[str, Callable[[], Any]], ...]:
    """The columns' Python-side defaults: SQLAlchemy applies them only to rows of an INSERT it runs itself."""
    out = []
    for c in table.columns:
        if isinstance(c.default, ScalarElementColumnDefault):
            out.append((c.key, functools.partial(lambda v: v, c.default.arg)))
        elif isinstance(c.default, CallableColumnDefault):
            # SQLAlchemy's wrapper of a default takes an execution context, which these defaults do not read.
            out.append((c.key, functools.partial(c.default.arg, None)))  # type: ignore[arg-type]
    return tuple(out)
