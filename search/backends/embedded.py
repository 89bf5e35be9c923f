"""Embedded search on tantivy, stored in a local directory.

Layout under the root (SEARCH_URL, default var/search)::

    indexes/<physical name>/   a tantivy index plus xl-schema.json (the neutral schema and tokenizer)
    aliases/<alias>            a one-line file naming the physical index; replaced atomically

Tantivy allows one writer per index, so only the `search` queue's single
worker writes; web processes only read, and pick up new commits (and alias
swaps) by checking meta.json and the alias file before each request.

Each document carries its external version in `_version`. A delete leaves a
tombstone (a document with `_deleted` set and the delete's version) so that a
late, older upsert still loses; searches never see tombstones and a reindex
drops them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

from search.analysis import KEYWORD_TOKENIZER, TOKENIZER_NAME, Analyzer, ChineseMode, analyzer, highlight, normalise
from search.engine import ALL_CAPABILITIES, IndexNotFound, SearchError
from search.query import (
    SCORE,
    TIE_BREAKER,
    Action,
    AllOf,
    AnyOf,
    BulkResult,
    Decay,
    Delete,
    Exists,
    FacetBucket,
    FieldFactor,
    Filter,
    FilterWeight,
    Hit,
    Ids,
    Match,
    Not,
    Range,
    RangeFacet,
    SearchRequest,
    SearchResult,
    SortBy,
    Suggestion,
    Term,
    Terms,
    TermsFacet,
    newest_per_id,
)
from search.schema import FieldType, IndexSchema, convert_dates, from_epoch_ms, to_epoch_ms

SCHEMA_FILE = "xl-schema.json"
SUGGEST_FIELD, SUGGEST_WEIGHT = "_sugg", "_sugg_w"
WRITER_HEAP = 128_000_000
_RUST_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$#&\-~])")

Occur = tantivy.Occur
Query = tantivy.Query


def _tantivy_schema(schema: IndexSchema) -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("id", stored=True, tokenizer_name=KEYWORD_TOKENIZER, fast=True)
    b.add_bytes_field("_source", stored=True)
    b.add_unsigned_field("_version", indexed=True, fast=True)
    b.add_boolean_field("_deleted", indexed=True, fast=True)
    for f in schema.fields:
        match f.type:
            case FieldType.TEXT:
                b.add_text_field(f.name, tokenizer_name=TOKENIZER_NAME, index_option="position")
            case FieldType.KEYWORD:
                b.add_text_field(f.name, tokenizer_name=KEYWORD_TOKENIZER, fast=True)
            case FieldType.INTEGER | FieldType.DATE:
                b.add_integer_field(f.name, indexed=True, fast=True)
            case FieldType.FLOAT:
                b.add_float_field(f.name, indexed=True, fast=True)
            case FieldType.BOOLEAN:
                b.add_boolean_field(f.name, indexed=True, fast=True)
            case FieldType.COMPLETION:
                b.add_text_field(SUGGEST_FIELD, tokenizer_name=KEYWORD_TOKENIZER)
                b.add_integer_field(SUGGEST_WEIGHT, fast=True)
    return b.build()


def _suggest_key(text: str) -> str:
    return normalise(text).lower()


def _all() -> Query:
    return Query.all_query()


def _and(*queries: Query) -> Query:
    return Query.boolean_query([(Occur.Must, q) for q in queries]) if len(queries) != 1 else queries[0]


def _filter_clause(q: Query) -> Query:
    """A filter that narrows without adding to the score (Elasticsearch filter context)."""
    return Query.const_score_query(q, 0.0)


@dataclass
class _Handle:
    """One open physical index."""

    name: str
    path: Path
    schema: IndexSchema
    analyzer: Analyzer
    index: tantivy.Index
    tschema: tantivy.Schema
    meta_stamp: tuple[int, int] = (0, 0)
    writer: tantivy.IndexWriter | None = None
    field_kinds: dict[str, tuple[FieldType, bool]] = field(default_factory=dict)
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    def meta_changed(self) -> bool:
        try:
            st = (self.path / "meta.json").stat()
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self.meta_stamp:
            self.meta_stamp = stamp
            return True
        return False

    def searcher(self) -> tantivy.Searcher:
        if self.meta_changed():
            self.index.reload()
        return self.index.searcher()


@dataclass
class _Row:
    addr: tantivy.DocAddress
    score: float | None
    keys: list[Any] = field(default_factory=list)


class EmbeddedEngine:
    name = "embedded"
    capabilities = ALL_CAPABILITIES

    def __init__(self, path: str | Path, *, chinese: ChineseMode = "han") -> None:
        self.root = Path(path)
        self.chinese = chinese
        self._handles: dict[str, _Handle] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ admin

    def ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        probe = self.root / ".healthcheck"
        probe.write_bytes(b"ok")
        probe.unlink()
        tantivy.SchemaBuilder()  # the native library loads

    def _index_dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"invalid index name {name!r}")
        return self.root / "indexes" / name

    def _alias_file(self, alias: str) -> Path:
        return self.root / "aliases" / alias

    def create_index(self, name: str, schema: IndexSchema) -> None:
        path = self._index_dir(name)
        wanted = {**schema.to_json(), "chinese": self.chinese}
        with self._lock:
            if (path / SCHEMA_FILE).exists():
                existing = json.loads((path / SCHEMA_FILE).read_text())
                if {**existing, "chinese": None} != {**wanted, "chinese": None}:
                    raise ValueError(f"index {name} exists with a different schema")
                return
            path.mkdir(parents=True, exist_ok=True)
            tantivy.Index(_tantivy_schema(schema), path=str(path), reuse=False)
            tmp = path / (SCHEMA_FILE + ".tmp")
            tmp.write_text(json.dumps(wanted, ensure_ascii=False))
            os.replace(tmp, path / SCHEMA_FILE)

    def index_exists(self, name: str) -> bool:
        with contextlib.suppress(IndexNotFound):
            self._resolve(name)
            return True
        return False

    def indexes(self, alias: str) -> list[str]:
        base = self.root / "indexes"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if p.name.startswith(alias + "__") and (p / SCHEMA_FILE).exists())

    def resolve_alias(self, alias: str) -> str | None:
        try:
            return self._alias_file(alias).read_text().strip() or None
        except FileNotFoundError:
            return None

    def point_alias(self, alias: str, index: str) -> None:
        if not (self._index_dir(index) / SCHEMA_FILE).exists():
            raise IndexNotFound(index)
        target = self._alias_file(alias)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{alias}.{os.getpid()}.tmp")
        tmp.write_text(index)
        os.replace(tmp, target)  # readers see the old or the new name, never a partial one

    def delete_index(self, name: str) -> None:
        with self._lock:
            handle = self._handles.pop(name, None)
            if handle is not None and handle.writer is not None:
                with handle.write_lock:
                    handle.writer.rollback()
                    handle.writer = None
            aliases = self.root / "aliases"
            if aliases.is_dir():
                for f in aliases.iterdir():
                    if not f.name.startswith(".") and f.read_text().strip() == name:
                        f.unlink()
            shutil.rmtree(self._index_dir(name), ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            for handle in self._handles.values():
                if handle.writer is not None:
                    with handle.write_lock:
                        handle.writer.wait_merging_threads()
                        handle.writer = None
            self._handles.clear()

    def _resolve(self, name: str) -> _Handle:
        physical = self.resolve_alias(name) or name
        handle = self._handles.get(physical)
        if handle is not None:
            return handle
        with self._lock:
            handle = self._handles.get(physical)
            if handle is not None:
                return handle
            path = self._index_dir(physical)
            if not (path / SCHEMA_FILE).exists():
                raise IndexNotFound(name)
            # Another process may have dropped indexes this one still holds after an alias swap.
            for gone in [n for n, h in self._handles.items() if not h.path.exists()]:
                del self._handles[gone]
            meta = json.loads((path / SCHEMA_FILE).read_text())
            index = tantivy.Index.open(str(path))
            an = analyzer(meta["chinese"])
            an.register(index)  # tantivy keeps custom tokenizers only while the index is open
            index.config_reader(reload_policy="manual")
            schema = IndexSchema.from_json(meta)
            handle = _Handle(physical, path, schema, an, index, index.schema)
            handle.field_kinds = {f.name: (f.type, f.multi) for f in schema.fields}
            handle.meta_changed()
            self._handles[physical] = handle
            return handle

    def refresh(self, index: str) -> None:
        h = self._resolve(index)
        h.meta_changed()
        h.index.reload()

    # ------------------------------------------------------------ writes

    def _writer(self, h: _Handle) -> tantivy.IndexWriter:
        if h.writer is None:
            try:
                h.writer = h.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:  # LockBusy: another process (the search worker) is the writer
                raise SearchError(f"embedded index {h.name} is locked by another writer: {exc}") from exc
        return h.writer

    def bulk(self, index: str, actions: Sequence[Action]) -> BulkResult:
        h = self._resolve(index)
        newest, stale = newest_per_id(actions)
        result = BulkResult(stale=stale)
        latest = {a.id: a for a in newest}
        if not latest:
            return result
        with h.write_lock:
            writer = self._writer(h)
            h.index.reload()
            current = self._versions(h, h.index.searcher(), list(latest))
            changed = False
            for doc_id, action in latest.items():
                have = current.get(doc_id)
                if have is not None and action.version <= have:
                    result.stale.append(doc_id)
                    continue
                try:
                    doc = (
                        self._tombstone(doc_id, action.version)
                        if isinstance(action, Delete)
                        else self._to_tantivy(h, doc_id, action.doc, action.version)
                    )
                except (TypeError, KeyError, ValueError, OverflowError) as exc:
                    result.errors[doc_id] = f"{type(exc).__name__}: {exc}"
                    continue
                writer.delete_documents_by_term("id", doc_id)
                writer.add_document(doc)
                result.applied.append(doc_id)
                changed = True
            if changed:
                try:
                    writer.commit()
                except Exception as exc:  # disk full, I/O error: nothing of this batch is durable
                    writer.rollback()
                    raise SearchError(f"commit to {h.name} failed: {exc}") from exc
                h.index.reload()
        return result

    def _versions(self, h: _Handle, searcher: tantivy.Searcher, ids: list[str]) -> dict[str, int]:
        res = searcher.search(Query.term_set_query(h.tschema, "id", ids), max(1, len(ids)), count=False)
        addrs = [a for _, a in res.hits]
        versions = searcher.fast_field_values("_version", addrs)
        return {searcher.doc(a).get_first("id"): int(v or 0) for a, v in zip(addrs, versions, strict=True)}

    @staticmethod
    def _tombstone(doc_id: str, version: int) -> tantivy.Document:
        d = tantivy.Document()
        d.add_text("id", doc_id)
        d.add_unsigned("_version", version)
        d.add_boolean("_deleted", True)
        return d

    @staticmethod
    def _to_tantivy(h: _Handle, doc_id: str, doc: dict[str, Any], version: int) -> tantivy.Document:
        """The tantivy document for `doc`, checking it against the schema on the way (one pass, no copies)."""
        unknown = doc.keys() - h.field_kinds.keys()
        if unknown:
            raise KeyError(f"{h.schema.alias} has no field {sorted(unknown)[0]!r}")
        d = tantivy.Document()
        d.add_text("id", doc_id)
        d.add_unsigned("_version", version)
        d.add_boolean("_deleted", False)
        source = doc
        for name, (kind, multi) in h.field_kinds.items():
            value = doc.get(name)
            if value is None:
                continue
            if multi and not isinstance(value, list | tuple):
                raise TypeError(f"{h.schema.alias}.{name} is multi-valued: give a list")
            for v in value if multi else (value,):
                _ADD[kind](h, d, name, v)
            if kind == FieldType.DATE:
                if source is doc:
                    source = dict(doc)
                source[name] = [to_epoch_ms(v) for v in value] if multi else to_epoch_ms(value)
        d.add_bytes("_source", json.dumps(source, ensure_ascii=False).encode())
        return d

    # ------------------------------------------------------------ queries

    def _value(self, h: _Handle, field_name: str, value: Any) -> Any:
        if field_name == "id":
            return str(value)
        f = h.schema.field(field_name)
        match f.type:
            case FieldType.DATE:
                return to_epoch_ms(value) if isinstance(value, dt.datetime) else int(value)
            case FieldType.FLOAT:
                return float(value)
            case FieldType.INTEGER:
                return int(value)
            case FieldType.KEYWORD:
                return str(value)
            case FieldType.BOOLEAN:
                return bool(value)
        raise ValueError(f"cannot filter on {f.type.value} field {field_name!r}; use a keyword field")

    def _filter(self, h: _Handle, f: Filter) -> Query:  # noqa: PLR0911 - one return per filter kind
        ts = h.tschema
        match f:
            case Term(field=name, value=value):
                return Query.term_query(ts, name, self._value(h, name, value))
            case Terms(field=name, values=values):
                if not values:
                    return Query.empty_query()
                return Query.term_set_query(ts, name, [self._value(h, name, v) for v in values])
            case Ids(values=values):
                return Query.term_set_query(ts, "id", list(values)) if values else Query.empty_query()
            case Range(field=name):
                return self._range(h, f)
            case Exists(field=name):
                if name != "id" and h.schema.field(name).type in (FieldType.TEXT, FieldType.COMPLETION):
                    raise ValueError(f"exists needs a keyword, number or date field, not {name!r}")
                return Query.exists_query(name)
            case Not(filter=inner):
                return Query.boolean_query([(Occur.Must, _all()), (Occur.MustNot, self._filter(h, inner))])
            case AnyOf(filters=fs):
                if not fs:
                    return Query.empty_query()
                return Query.boolean_query([(Occur.Should, self._filter(h, x)) for x in fs], 1)
            case AllOf(filters=fs):
                return _and(*[self._filter(h, x) for x in fs]) if fs else _all()
        raise TypeError(f"unknown filter {f!r}")

    def _range(self, h: _Handle, r: Range) -> Query:
        f = h.schema.field(r.field)
        kind = {
            FieldType.INTEGER: tantivy.FieldType.Integer,
            FieldType.DATE: tantivy.FieldType.Integer,
            FieldType.FLOAT: tantivy.FieldType.Float,
        }.get(f.type)
        if kind is None:
            raise ValueError(f"range needs a number or date field, not {r.field!r}")
        lower = r.gte if r.gte is not None else r.gt
        upper = r.lte if r.lte is not None else r.lt
        return Query.range_query(
            h.tschema,
            r.field,
            kind,
            None if lower is None else self._value(h, r.field, lower),
            None if upper is None else self._value(h, r.field, upper),
            include_lower=r.gt is None,
            include_upper=r.lt is None,
        )

    def _match(self, h: _Handle, m: Match) -> Query:
        clauses = h.analyzer.query_clauses(m.text)
        if not clauses:
            return Query.empty_query()
        occur = Occur.Must if m.operator == "and" else Occur.Should
        per_field = []
        for name, boost in m.fields:
            if h.schema.field(name).type != FieldType.TEXT:
                raise ValueError(f"match needs text fields, not {name!r}")
            subs = [
                Query.term_query(h.tschema, name, c[0]) if len(c) == 1 else Query.phrase_query(h.tschema, name, list(c))
                for c in clauses
            ]
            q = Query.boolean_query([(occur, s) for s in subs])
            per_field.append(Query.boost_query(q, boost) if boost != 1.0 else q)
        if len(per_field) == 1:
            return per_field[0]
        return Query.disjunction_max_query(per_field, tie_breaker=TIE_BREAKER)

    def _base(self, h: _Handle, match: Match | None, filters: Sequence[Filter]) -> Query:
        parts: list[tuple[tantivy.Occur, Query]] = [
            (Occur.Must, self._match(h, match) if match else Query.const_score_query(_all(), 1.0)),
            (Occur.MustNot, Query.term_query(h.tschema, "_deleted", True)),
        ]
        parts += [(Occur.Must, _filter_clause(self._filter(h, f))) for f in filters]
        return Query.boolean_query(parts)

    # ------------------------------------------------------------ search

    def count(self, index: str, filters: Sequence[Filter] = (), match: Match | None = None) -> int:
        h = self._resolve(index)
        return int(h.searcher().search(self._base(h, match, filters), 1, count=True).count or 0)

    def get(self, index: str, ids: Sequence[str]) -> dict[str, Hit]:
        h = self._resolve(index)
        if not ids:
            return {}
        searcher = h.searcher()
        q = self._base(h, None, [Ids(list(ids))])
        res = searcher.search(q, len(ids), count=False)
        addrs = [a for _, a in res.hits]
        versions = searcher.fast_field_values("_version", addrs)
        out = {}
        for addr, version in zip(addrs, versions, strict=True):
            doc = searcher.doc(addr)
            doc_id = doc.get_first("id")
            out[doc_id] = Hit(doc_id, None, self._source(h, doc), version=int(version or 0))
        return out

    @staticmethod
    def _source(h: _Handle, doc: tantivy.Document) -> dict[str, Any]:
        raw = doc.get_first("_source")
        return convert_dates(h.schema, json.loads(raw), from_epoch_ms) if raw else {}

    def search(self, index: str, request: SearchRequest) -> SearchResult:
        h = self._resolve(index)
        searcher = h.searcher()
        base = self._base(h, request.match, request.filters)
        post = [_filter_clause(self._filter(h, f)) for _, f in request.facet_filters]
        hits_q = _and(base, *post) if post else base
        keys = request.effective_sort()
        want = request.offset + request.size
        if request.ranking is not None:
            rows = self._ranked_rows(h, searcher, hits_q, request)
        else:
            rows = self._sorted_rows(h, searcher, hits_q, keys, want=want, after=request.search_after)
        page = rows[request.offset : want]
        hits = []
        clauses = h.analyzer.query_clauses(request.match.text) if request.match and request.highlight else []
        for name in request.highlight:
            if h.schema.field(name).type != FieldType.TEXT:
                raise ValueError(f"highlight needs text fields, not {name!r}")
        for row in page:
            doc = searcher.doc(row.addr)
            source = self._source(h, doc)
            hit = Hit(doc.get_first("id"), row.score, source, sort=tuple(row.keys))
            for name in request.highlight:
                values = source.get(name)
                for text in values if isinstance(values, list) else [values] if values else []:
                    marked = highlight(h.analyzer, text, clauses)
                    if marked:
                        hit.highlight[name] = marked
                        break
            hits.append(hit)
        total = int(searcher.search(hits_q, 1, count=True).count or 0) if request.with_total else None
        facets = self._facets(h, searcher, base, request) if request.facets else {}
        return SearchResult(hits, total, facets)

    def _key_reader(self, h: _Handle, searcher: tantivy.Searcher, key: SortBy) -> Callable[[list[_Row]], list[Any]]:
        if key.field == SCORE:
            return lambda rows: [r.score for r in rows]
        if key.field == "id":
            return lambda rows: [searcher.doc(r.addr).get_first("id") for r in rows]
        f = h.schema.field(key.field)
        if f.type == FieldType.KEYWORD:
            return lambda rows: [_first(self._source(h, searcher.doc(r.addr)).get(key.field)) for r in rows]
        if f.type in (FieldType.TEXT, FieldType.COMPLETION):
            raise ValueError(f"cannot sort by {f.type.value} field {key.field!r}")
        return lambda rows: list(searcher.fast_field_values(key.field, [r.addr for r in rows]))

    def _fill_keys(self, h: _Handle, searcher: tantivy.Searcher, rows: list[_Row], keys: Sequence[SortBy]) -> None:
        for i, key in enumerate(keys):
            if rows and len(rows[0].keys) > i:
                continue
            for row, v in zip(rows, self._key_reader(h, searcher, key)(rows), strict=True):
                row.keys.append(v)

    def _sorted_rows(
        self,
        h: _Handle,
        searcher: tantivy.Searcher,
        q: Query,
        keys: Sequence[SortBy],
        *,
        want: int,
        after: tuple[Any, ...] | None,
    ) -> list[_Row]:
        """Rows in full sort order, exact for the first `want` (after the cursor).

        Tantivy orders by one key; the window grows until every row we return
        is strictly ahead of the last row fetched on that key, so ties cut by
        the window cannot change the result.
        """
        primary = keys[0]
        if after is not None and primary.field not in (SCORE, "id") and h.schema.field(primary.field).is_numeric:
            bound = Range(primary.field, lte=after[0]) if primary.descending else Range(primary.field, gte=after[0])
            q = _and(q, _filter_clause(self._range(h, bound)))
        limit = max(want * 2, 32)
        while True:
            if primary.field == SCORE:
                res = searcher.search(q, limit, count=False)
            else:
                order = tantivy.Order.Desc if primary.descending else tantivy.Order.Asc
                res = searcher.search(q, limit, count=False, order_by_field=primary.field, order=order)
            raw = res.hits
            if primary.field == SCORE:
                rows = [_Row(addr, float(v), [float(v)]) for v, addr in raw]
            else:  # Elasticsearch reports no score when sorting by a field
                rows = [_Row(addr, None, [_plain(v)]) for v, addr in raw]
            self._fill_keys(h, searcher, rows, keys)
            if after is not None:
                rows = [r for r in rows if _is_after(r.keys, after, keys)]
            _sort_rows(rows, keys)
            if len(raw) < limit:
                return rows
            edge = _plain(raw[-1][0])
            ahead = [r for r in rows if _strictly_before(r.keys[0], edge, primary.descending)]
            if len(ahead) >= want:
                return ahead
            limit *= 4

    def _ranked_rows(self, h: _Handle, searcher: tantivy.Searcher, q: Query, request: SearchRequest) -> list[_Row]:
        """Score every match with the ranking functions (exactly Elasticsearch's function_score, score_mode sum).

        Without a text query every match scores 1, so tantivy itself adds the filter weights (each filter
        as a constant-score optional clause); the field functions are evaluated a column at a time with
        numpy, and rows (with their other sort keys) are built only for the requested window.
        """
        ranking = request.ranking
        assert ranking is not None
        everything = max(1, searcher.num_docs)
        weights = [fn for fn in ranking.functions if isinstance(fn, FilterWeight)]
        if request.match is None and weights:
            clauses = [(Occur.Must, q)] + [
                (Occur.Should, Query.const_score_query(self._filter(h, fn.filter), fn.weight)) for fn in weights
            ]
            hits = searcher.search(Query.boolean_query(clauses), everything, count=False).hits
            sums = np.fromiter((s for s, _ in hits), dtype=np.float64, count=len(hits)) - 1.0
            text: Any = 1.0
        else:
            hits = searcher.search(q, everything, count=False).hits
            scores = np.fromiter((s for s, _ in hits), dtype=np.float64, count=len(hits))
            text = scores if request.match else 1.0
            sums = np.zeros(len(hits))
            for fn in weights:
                matched = searcher.search(_and(q, _filter_clause(self._filter(h, fn.filter))), everything, count=False)
                inside = {(a.segment_ord, a.doc) for _, a in matched.hits}
                mask = np.fromiter(((a.segment_ord, a.doc) in inside for _, a in hits), dtype=bool, count=len(hits))
                sums += fn.weight * mask
        addrs = [a for _, a in hits]
        for fn in ranking.functions:
            if isinstance(fn, FieldFactor | Decay) and addrs:
                sums += _column_values(fn, searcher.fast_field_values(fn.field, addrs))
        final = _combine(ranking.boost_mode, text, sums)
        keys = request.effective_sort()
        want = request.offset + request.size
        picked: Iterable[int] = range(len(addrs))
        if keys[0].field == SCORE and keys[0].descending and request.search_after is None and len(addrs) > want:
            # Only the window's rows, and anything that could tie with its edge once rounded to 32 bits.
            edge = float(np.partition(final, len(final) - want)[len(final) - want])
            picked = np.flatnonzero(final >= edge - abs(edge) * 1e-6 - 1e-12).tolist()
        # Elasticsearch reports scores as 32-bit floats; round the same way so both backends order alike.
        rows = [_Row(addrs[i], float(np.float32(final[i])), []) for i in picked]
        self._fill_keys(h, searcher, rows, keys)
        if request.search_after is not None:
            rows = [r for r in rows if _is_after(r.keys, request.search_after, keys)]
        _sort_rows(rows, keys)
        return rows

    def _facets(
        self, h: _Handle, searcher: tantivy.Searcher, base: Query, request: SearchRequest
    ) -> dict[str, list[FacetBucket]]:
        out: dict[str, list[FacetBucket]] = {}
        post = dict(request.facet_filters)
        for name, facet in request.facets:
            others = [_filter_clause(self._filter(h, f)) for n, f in post.items() if n != name]
            q = _and(base, *others) if others else base
            if isinstance(facet, TermsFacet):
                agg = searcher.aggregate(q, {"f": {"terms": {"field": facet.field, "size": max(facet.size * 4, 100)}}})
                buckets = [FacetBucket(str(b["key"]), int(b["doc_count"])) for b in agg["f"]["buckets"]]
                buckets.sort(key=lambda b: (-b.count, b.key))
                out[name] = buckets[: facet.size]
            elif isinstance(facet, RangeFacet):
                spec = []
                for r in facet.ranges:
                    item: dict[str, Any] = {"key": r.key}
                    if r.gte is not None:
                        item["from"] = r.gte
                    if r.lt is not None:
                        item["to"] = r.lt
                    spec.append(item)
                agg = searcher.aggregate(q, {"f": {"range": {"field": facet.field, "ranges": spec}}})
                counts = {b["key"]: int(b["doc_count"]) for b in agg["f"]["buckets"]}
                out[name] = [FacetBucket(r.key, counts.get(r.key, 0)) for r in facet.ranges]
        return out

    # ------------------------------------------------------------ suggest

    def suggest(self, index: str, prefix: str, *, size: int = 10) -> list[Suggestion]:
        h = self._resolve(index)
        completion = h.schema.completion_field
        key = _suggest_key(prefix)
        if completion is None or not key.strip():
            return []
        searcher = h.searcher()
        pattern = _RUST_REGEX_META.sub(r"\\\1", key) + ".*"
        q = _and(self._base(h, None, ()), Query.regex_query(h.tschema, SUGGEST_FIELD, pattern))
        out: dict[str, Suggestion] = {}
        limit = size * 3
        while True:
            res = searcher.search(q, limit, count=False, order_by_field=SUGGEST_WEIGHT)
            for weight, addr in res.hits:
                doc = searcher.doc(addr)
                inputs = (self._source(h, doc).get(completion.name) or {}).get("input", [])
                for text in inputs:
                    if _suggest_key(text).startswith(key) and text not in out:
                        out[text] = Suggestion(text, doc.get_first("id"), float(weight))
            if len(out) >= size or len(res.hits) < limit:
                break
            limit *= 4
        ranked = sorted(out.values(), key=lambda s: (-s.score, s.text))
        return ranked[:size]


# ---------------------------------------------------------------- helpers


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def _plain(value: Any) -> Any:
    if isinstance(value, list):  # tantivy returns str fast-field keys wrapped in a list
        return value[0] if value else None
    return value


def _strictly_before(a: Any, b: Any, descending: bool) -> bool:
    return bool(a > b) if descending else bool(a < b)


def _is_after(values: Sequence[Any], cursor: Sequence[Any], keys: Sequence[SortBy]) -> bool:
    for v, c, k in zip(values, cursor, keys, strict=False):
        if v == c:
            continue
        return _strictly_before(c, v, k.descending)
    return False


def _sort_rows(rows: list[_Row], keys: Sequence[SortBy]) -> None:
    for i in range(len(keys) - 1, -1, -1):  # stable sorts, least significant key first
        # Documents without the key come last in either direction, as in Elasticsearch.
        desc = keys[i].descending
        rows.sort(key=lambda r, i=i, desc=desc: ((r.keys[i] is not None) == desc, r.keys[i]), reverse=desc)


def _column_values(fn: FieldFactor | Decay, raws: list[Any]) -> np.ndarray:
    """`fn.value` over a whole fast-field column (None where a document lacks the field)."""
    missing = [i for i, v in enumerate(raws) if v is None] if None in raws else []
    x = np.array([0.0 if v is None else v for v in raws] if missing else raws, dtype=np.float64)
    if isinstance(fn, FieldFactor):
        if missing:
            x[missing] = fn.missing
        x = fn.factor * x
        if fn.modifier == "ln1p":
            x = np.log1p(np.maximum(x, 0.0))
        elif fn.modifier == "sqrt":
            x = np.sqrt(np.maximum(x, 0.0))
        return fn.weight * x
    origin, scale, offset = fn.numeric()
    d = np.maximum(0.0, np.abs(x - origin) - offset)
    if fn.function == "gauss":
        v = np.exp(math.log(fn.decay) / scale**2 * d * d)
    elif fn.function == "exp":
        v = np.exp(math.log(fn.decay) / scale * d)
    else:
        s = scale / (1.0 - fn.decay)
        v = np.maximum(0.0, (s - d) / s)
    if missing:
        v[missing] = 1.0  # Elasticsearch scores documents without the field as if at the origin
    return fn.weight * v


def _combine(boost_mode: str, text: Any, functions: np.ndarray) -> np.ndarray:
    if boost_mode == "replace":
        return functions
    return text * functions if boost_mode == "multiply" else text + functions


# ---------------------------------------------------------------- adding values, one function per field type


def _add_text(h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    if not isinstance(v, str):
        raise TypeError(f"{name}: {v!r} is not text")
    text = normalise(v)
    if h.analyzer.pretokenized:
        d.add_pre_tokenized_text(name, h.analyzer.pretokenize(text))  # type: ignore[attr-defined]
    else:
        d.add_text(name, text)


def _add_keyword(_h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    if not isinstance(v, str):
        raise TypeError(f"{name}: {v!r} is not a keyword")
    d.add_text(name, v)


def _add_integer(_h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{name}: {v!r} is not an integer")
    d.add_integer(name, v)


def _add_float(_h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    if not isinstance(v, int | float) or isinstance(v, bool):
        raise TypeError(f"{name}: {v!r} is not a number")
    d.add_float(name, float(v))


def _add_date(_h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    if not isinstance(v, dt.datetime):
        raise TypeError(f"{name}: {v!r} is not a datetime")
    d.add_integer(name, to_epoch_ms(v))


def _add_boolean(_h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise TypeError(f"{name}: {v!r} is not a boolean")
    d.add_boolean(name, v)


def _add_completion(_h: _Handle, d: tantivy.Document, name: str, v: Any) -> None:
    inputs = v.get("input") if isinstance(v, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
        raise TypeError(f"{name}: {v!r} is not a completion entry")
    for text in inputs:
        d.add_text(SUGGEST_FIELD, _suggest_key(text))
    d.add_integer(SUGGEST_WEIGHT, int(v.get("weight", 0)))


_ADD: dict[FieldType, Any] = {
    FieldType.TEXT: _add_text,
    FieldType.KEYWORD: _add_keyword,
    FieldType.INTEGER: _add_integer,
    FieldType.FLOAT: _add_float,
    FieldType.DATE: _add_date,
    FieldType.BOOLEAN: _add_boolean,
    FieldType.COMPLETION: _add_completion,
}
