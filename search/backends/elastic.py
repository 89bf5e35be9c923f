"""Elasticsearch backend on the official client.

Each entity has physical indexes behind an alias. Text fields use the
built-in `cjk` analyzer (bigrams for Han, lowercased Latin) with an `.en`
sub-field that adds English stemming; `smartcn` or IK can be
chosen when the cluster has the plugin. Writes use external versioning, so
Elasticsearch itself refuses stale versions. Ranking compiles to
`function_score`, facets to aggregations under a `post_filter`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

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
    Ranking,
    SearchRequest,
    SearchResult,
    SortBy,
    Suggestion,
    Term,
    Terms,
    TermsFacet,
    newest_per_id,
)
from search.schema import FieldType, IndexSchema, convert_dates

# How each configurable Chinese analyzer is spelled in a mapping: (index analyzer, search analyzer).
TEXT_ANALYZERS = {
    "cjk": ("cjk", "cjk"),
    "smartcn": ("smartcn", "smartcn"),
    "ik": ("ik_max_word", "ik_smart"),
}
SUGGEST_ANALYZER = "xl_suggest"
STEMMED_ANALYZER = "xl_cjk_stemmed"
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class ElasticsearchEngine:
    name = "elasticsearch"
    capabilities = ALL_CAPABILITIES

    def __init__(
        self,
        url: str,
        *,
        client: Elasticsearch | None = None,
        text_analyzer: str = "cjk",
        refresh_interval: str = "1s",
        **client_kwargs: Any,
    ) -> None:
        if text_analyzer not in TEXT_ANALYZERS:
            raise ValueError(f"unknown Elasticsearch text analyzer {text_analyzer!r}: {sorted(TEXT_ANALYZERS)}")
        self.url = url
        self.client = client or Elasticsearch(url, request_timeout=10, **client_kwargs)
        self.text_analyzer = text_analyzer
        self.refresh_interval = refresh_interval
        self._schemas: dict[str, IndexSchema] = {}

    # ------------------------------------------------------------ admin

    def ping(self) -> None:
        self.client.info()

    def close(self) -> None:
        self.client.close()

    def _mapping(self, schema: IndexSchema) -> dict[str, Any]:
        index_an, search_an = TEXT_ANALYZERS[self.text_analyzer]
        props: dict[str, Any] = {"id": {"type": "keyword"}}
        for f in schema.fields:
            match f.type:
                case FieldType.TEXT:
                    props[f.name] = {
                        "type": "text",
                        "analyzer": index_an,
                        "search_analyzer": search_an,
                        "fields": {"en": {"type": "text", "analyzer": STEMMED_ANALYZER}},
                    }
                case FieldType.KEYWORD:
                    props[f.name] = {"type": "keyword"}
                case FieldType.INTEGER:
                    props[f.name] = {"type": "long"}
                case FieldType.FLOAT:
                    props[f.name] = {"type": "double"}
                case FieldType.DATE:
                    props[f.name] = {"type": "date", "format": "strict_date_optional_time||epoch_millis"}
                case FieldType.BOOLEAN:
                    props[f.name] = {"type": "boolean"}
                case FieldType.COMPLETION:
                    props[f.name] = {"type": "completion", "analyzer": SUGGEST_ANALYZER, "max_input_length": 100}
        meta = {"xl_schema": json.dumps(schema.to_json(), ensure_ascii=False)}
        return {"dynamic": "strict", "_meta": meta, "properties": props}

    def _settings(self) -> dict[str, Any]:
        return {
            "refresh_interval": self.refresh_interval,
            "analysis": {
                "analyzer": {
                    # The `.en` sub-field: the cjk chain (Han bigrams) plus English stemming, so "shoes" finds
                    # "shoe" while Han characters still only match side by side.
                    STEMMED_ANALYZER: {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["cjk_width", "lowercase", "cjk_bigram", "porter_stem"],
                    },
                    # Autocomplete matches the typed prefix of the whole entry, case- and width-insensitively.
                    SUGGEST_ANALYZER: {"type": "custom", "tokenizer": "keyword", "filter": ["cjk_width", "lowercase"]},
                }
            },
        }

    def create_index(self, name: str, schema: IndexSchema) -> None:
        if self.index_exists(name):
            existing = self._schema(name)
            if existing.to_json() != schema.to_json():
                raise ValueError(f"index {name} exists with a different schema")
            return
        with _errors(name):
            self.client.indices.create(index=name, mappings=self._mapping(schema), settings=self._settings())
        self._schemas[name] = schema

    def delete_index(self, name: str) -> None:
        with _errors(name):
            self.client.indices.delete(index=name, ignore_unavailable=True)
        self._schemas.pop(name, None)

    def index_exists(self, name: str) -> bool:
        with _errors(name):
            return bool(self.client.indices.exists(index=name))

    def indexes(self, alias: str) -> list[str]:
        with _errors(alias):
            found = self.client.indices.get(index=f"{alias}__*", allow_no_indices=True, ignore_unavailable=True)
        return sorted(found.body)

    def resolve_alias(self, alias: str) -> str | None:
        try:
            found = self.client.indices.get_alias(name=alias)
        except NotFoundError:
            return None
        names = sorted(found.body)
        return names[0] if names else None

    def point_alias(self, alias: str, index: str) -> None:
        current = self.resolve_alias(alias)
        actions: list[dict[str, Any]] = [{"add": {"index": index, "alias": alias}}]
        if current and current != index:
            actions.insert(0, {"remove": {"index": current, "alias": alias}})
        with _errors(index):
            self.client.indices.update_aliases(actions=actions)  # one atomic swap

    def refresh(self, index: str) -> None:
        with _errors(index):
            self.client.indices.refresh(index=index)

    def _schema(self, index: str) -> IndexSchema:
        physical = self.resolve_alias(index) or index
        schema = self._schemas.get(physical)
        if schema is None:
            with _errors(index):
                mapping = self.client.indices.get_mapping(index=physical).body
            meta = next(iter(mapping.values()))["mappings"].get("_meta", {})
            schema = IndexSchema.from_json(json.loads(meta["xl_schema"]))
            self._schemas[physical] = schema
        return schema

    # ------------------------------------------------------------ writes

    def bulk(self, index: str, actions: Sequence[Action]) -> BulkResult:
        schema = self._schema(index)
        newest, stale = newest_per_id(actions)
        result = BulkResult(stale=stale)
        ops: list[dict[str, Any]] = []
        for a in newest:
            op: dict[str, Any] = {"_index": index, "_id": a.id, "version": a.version, "version_type": "external"}
            if isinstance(a, Delete):
                op["_op_type"] = "delete"
            else:
                try:
                    schema.validate(a.doc)
                except (TypeError, KeyError) as exc:
                    result.errors[a.id] = f"{type(exc).__name__}: {exc}"
                    continue
                op["_op_type"] = "index"
                op["_source"] = {"id": a.id, **convert_dates(schema, a.doc, _iso)}
            ops.append(op)
        if not ops:
            return result
        retryable: list[str] = []
        try:
            for ok, item in helpers.streaming_bulk(
                self.client, ops, raise_on_error=False, raise_on_exception=True, chunk_size=500
            ):
                info = next(iter(item.values()))
                doc_id, status = str(info["_id"]), int(info.get("status", 200))
                if ok or (status == 404 and info.get("result") == "not_found"):
                    result.applied.append(doc_id)  # deleting a missing document still records its version
                elif status == 409:
                    result.stale.append(doc_id)
                elif status in RETRYABLE_STATUS:
                    retryable.append(doc_id)
                else:
                    result.errors[doc_id] = json.dumps(info.get("error"), ensure_ascii=False)[:500]
        except (TransportError, ApiError) as exc:
            raise SearchError(f"bulk to {index} failed: {exc}") from exc
        if retryable:
            raise SearchError(f"Elasticsearch was overloaded for {len(retryable)} documents in {index}; retry")
        return result

    # ------------------------------------------------------------ reads

    def get(self, index: str, ids: Sequence[str]) -> dict[str, Hit]:
        if not ids:
            return {}
        schema = self._schema(index)
        with _errors(index):
            res = self.client.mget(index=index, ids=list(ids))
        out = {}
        for d in res["docs"]:
            if d.get("found"):
                out[d["_id"]] = Hit(d["_id"], None, _source(schema, d["_source"]), version=d.get("_version"))
        return out

    def count(self, index: str, filters: Sequence[Filter] = (), match: Match | None = None) -> int:
        schema = self._schema(index)
        with _errors(index):
            return int(self.client.count(index=index, query=self._query(schema, match, filters))["count"])

    def search(self, index: str, request: SearchRequest) -> SearchResult:
        schema = self._schema(index)
        query = self._query(schema, request.match, request.filters)
        if request.ranking is not None:
            query = self._function_score(schema, query, request.ranking)
        body: dict[str, Any] = {
            "query": query,
            "size": request.size,
            "sort": [_sort(s) for s in request.effective_sort()],
            "track_total_hits": request.with_total,
            "version": True,
        }
        if request.offset:
            body["from"] = request.offset
        if request.search_after is not None:
            body["search_after"] = list(request.search_after)
        if request.facet_filters:
            body["post_filter"] = {"bool": {"filter": [self._filter(schema, f) for _, f in request.facet_filters]}}
        if request.facets:
            body["aggs"] = self._aggs(schema, request)
        if request.highlight:
            fields: dict[str, Any] = {}
            for name in request.highlight:
                if schema.field(name).type != FieldType.TEXT:
                    raise ValueError(f"highlight needs text fields, not {name!r}")
                fields[name] = fields[f"{name}.en"] = {"number_of_fragments": 0}
            body["highlight"] = {"fields": fields, "pre_tags": ["<em>"], "post_tags": ["</em>"], "encoder": "html"}
        with _errors(index):
            res = self.client.search(index=index, **body).body
        hits = []
        for h in res["hits"]["hits"]:
            marks = h.get("highlight", {})
            highlight = {}
            for name in request.highlight:
                frags = marks.get(name) or marks.get(f"{name}.en")
                if frags:
                    highlight[name] = frags[0]
            hits.append(
                Hit(
                    id=h["_id"],
                    score=h.get("_score"),
                    source=_source(schema, h["_source"]),
                    sort=tuple(h.get("sort", ())),
                    highlight=highlight,
                    version=h.get("_version"),
                )
            )
        total = res["hits"]["total"]["value"] if request.with_total else None
        return SearchResult(hits, total, self._facet_results(request, res.get("aggregations", {})))

    def suggest(self, index: str, prefix: str, *, size: int = 10) -> list[Suggestion]:
        schema = self._schema(index)
        completion = schema.completion_field
        if completion is None or not prefix.strip():
            return []
        spec = {"prefix": prefix, "completion": {"field": completion.name, "size": size, "skip_duplicates": True}}
        with _errors(index):
            res = self.client.search(index=index, suggest={"s": spec}, source=False, size=0).body
        options = res["suggest"]["s"][0]["options"]
        return [Suggestion(o["text"], o["_id"], float(o["_score"])) for o in options]

    # ------------------------------------------------------------ compile

    def _query(self, schema: IndexSchema, match: Match | None, filters: Sequence[Filter]) -> dict[str, Any]:
        must = [self._match(schema, match)] if match else [{"match_all": {}}]
        return {"bool": {"must": must, "filter": [self._filter(schema, f) for f in filters]}}

    def _match(self, schema: IndexSchema, m: Match) -> dict[str, Any]:
        fields = []
        for name, boost in m.fields:
            if schema.field(name).type != FieldType.TEXT:
                raise ValueError(f"match needs text fields, not {name!r}")
            fields += [f"{name}^{boost}", f"{name}.en^{boost}"]
        return {
            "multi_match": {
                "query": m.text,
                "fields": fields,
                "type": "best_fields",
                "tie_breaker": TIE_BREAKER,
                "operator": m.operator,
            }
        }

    def _value(self, schema: IndexSchema, field_name: str, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return _iso(value)
        if field_name != "id" and schema.field(field_name).type in (FieldType.TEXT, FieldType.COMPLETION):
            raise ValueError(f"cannot filter on text field {field_name!r}; use a keyword field")
        return value

    def _filter(self, schema: IndexSchema, f: Filter) -> dict[str, Any]:  # noqa: PLR0911 - one return per filter kind
        match f:
            case Term(field=name, value=value):
                return {"term": {name: self._value(schema, name, value)}}
            case Terms(field=name, values=values):
                if not values:
                    return {"match_none": {}}
                return {"terms": {name: [self._value(schema, name, v) for v in values]}}
            case Ids(values=values):
                return {"terms": {"id": list(values)}} if values else {"match_none": {}}
            case Range(field=name):
                f_type = schema.field(name).type
                if not schema.field(name).is_numeric:
                    raise ValueError(f"range needs a number or date field, not {name!r}")
                bounds = {
                    k: (_epoch_ms(v) if f_type == FieldType.DATE else v)
                    for k, v in (("gte", f.gte), ("gt", f.gt), ("lte", f.lte), ("lt", f.lt))
                    if v is not None
                }
                return {"range": {name: bounds}}
            case Exists(field=name):
                if name != "id" and schema.field(name).type in (FieldType.TEXT, FieldType.COMPLETION):
                    raise ValueError(f"exists needs a keyword, number or date field, not {name!r}")
                return {"exists": {"field": name}}
            case Not(filter=inner):
                return {"bool": {"must_not": [self._filter(schema, inner)]}}
            case AnyOf(filters=fs):
                if not fs:
                    return {"match_none": {}}
                return {"bool": {"should": [self._filter(schema, x) for x in fs], "minimum_should_match": 1}}
            case AllOf(filters=fs):
                return {"bool": {"filter": [self._filter(schema, x) for x in fs]}}
        raise TypeError(f"unknown filter {f!r}")

    def _function_score(self, schema: IndexSchema, query: dict[str, Any], ranking: Ranking) -> dict[str, Any]:
        functions: list[dict[str, Any]] = []
        for fn in ranking.functions:
            if isinstance(fn, FieldFactor):
                functions.append(
                    {
                        "field_value_factor": {
                            "field": fn.field,
                            "factor": fn.factor,
                            "modifier": fn.modifier,
                            "missing": fn.missing,
                        },
                        "weight": fn.weight,
                    }
                )
            elif isinstance(fn, Decay):
                is_date = schema.field(fn.field).type == FieldType.DATE
                origin, scale, offset = fn.numeric()
                spec: dict[str, Any] = {
                    "origin": _iso_ms(origin) if is_date else origin,
                    "scale": f"{int(scale)}ms" if is_date else scale,
                    "offset": f"{int(offset)}ms" if is_date else offset,
                    "decay": fn.decay,
                }
                functions.append({fn.function: {fn.field: spec}, "weight": fn.weight})
            elif isinstance(fn, FilterWeight):
                functions.append({"filter": self._filter(schema, fn.filter), "weight": fn.weight})
        return {
            "function_score": {
                "query": query,
                "functions": functions,
                "score_mode": "sum",
                "boost_mode": ranking.boost_mode,
            }
        }

    def _aggs(self, schema: IndexSchema, request: SearchRequest) -> dict[str, Any]:
        aggs: dict[str, Any] = {}
        post = dict(request.facet_filters)
        for name, facet in request.facets:
            inner: dict[str, Any]
            if isinstance(facet, TermsFacet):
                order = [{"_count": "desc"}, {"_key": "asc"}]
                inner = {"terms": {"field": facet.field, "size": facet.size, "order": order}}
            else:
                ranges = []
                for r in facet.ranges:
                    item: dict[str, Any] = {"key": r.key}
                    if r.gte is not None:
                        item["from"] = r.gte
                    if r.lt is not None:
                        item["to"] = r.lt
                    ranges.append(item)
                inner = {"range": {"field": facet.field, "ranges": ranges}}
            # Each facet counts under every facet filter except its own (multi-select faceting).
            others = [self._filter(schema, f) for n, f in post.items() if n != name]
            aggs[name] = {"filter": {"bool": {"filter": others}}, "aggs": {"f": inner}}
        return aggs

    @staticmethod
    def _facet_results(request: SearchRequest, aggs: dict[str, Any]) -> dict[str, list[FacetBucket]]:
        out: dict[str, list[FacetBucket]] = {}
        for name, facet in request.facets:
            buckets = aggs.get(name, {}).get("f", {}).get("buckets", [])
            if isinstance(facet, RangeFacet):
                counts = {b["key"]: int(b["doc_count"]) for b in buckets}
                out[name] = [FacetBucket(r.key, counts.get(r.key, 0)) for r in facet.ranges]
            else:
                out[name] = [FacetBucket(str(b.get("key_as_string", b["key"])), int(b["doc_count"])) for b in buckets]
        return out


class _errors:
    """Map client errors to the engine's: a missing index, or a failure a retry may fix."""

    def __init__(self, index: str) -> None:
        self.index = index

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        if isinstance(exc, NotFoundError):
            raise IndexNotFound(self.index) from exc
        if isinstance(exc, ApiError) and exc.meta.status not in RETRYABLE_STATUS:
            return False  # a bad request is a bug to surface, not something to retry
        if isinstance(exc, TransportError | ApiError):
            raise SearchError(f"Elasticsearch request on {self.index} failed: {exc}") from exc
        return False


def _sort(s: SortBy) -> dict[str, Any]:
    order = "desc" if s.descending else "asc"
    if s.field == SCORE:
        return {"_score": {"order": order}}
    return {s.field: {"order": order, "missing": "_last"}}


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a search document or query")
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def _iso_ms(ms: float) -> str:
    return _iso(dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC))


def _epoch_ms(value: Any) -> Any:
    return int(value.timestamp() * 1000) if isinstance(value, dt.datetime) else value


def _source(schema: IndexSchema, raw: dict[str, Any]) -> dict[str, Any]:
    return convert_dates(schema, {k: v for k, v in raw.items() if k != "id"}, _parse)


def _parse(value: str | int) -> dt.datetime:
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
