"""Sentences that explain each part of a match score, in Chinese or English, from the part's facts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from commerce.catalog import categories
from commerce.matching.scoring import Part
from core.money import format_yuan

LABELS = {
    "content": ("内容匹配", "Content fit"),
    "audience": ("受众匹配", "Audience fit"),
    "price": ("价格匹配", "Price fit"),
    "sales": ("带货表现", "Sales performance"),
    "reliability": ("履约可靠", "Reliability"),
    "category": ("类目相近", "Same categories"),
    "reach": ("量级相近", "Similar reach"),
}
DIMENSIONS = {"interests": ("兴趣", "interests"), "regions": ("地区", "regions"), "ages": ("年龄", "ages")}


def label(key: str, locale: str) -> str:
    zh, en = LABELS[key]
    return en if locale.startswith("en") else zh


def category_name(code: str, locale: str) -> str:
    c = categories.get(code)
    if c is None:
        return code
    return c.name_en if locale.startswith("en") else c.name_zh


def _content(f: dict[str, Any], en: bool, cat: str) -> str:
    share, rel = f["linked_share_pct"], f["relevance_pct"]
    if en:
        declared = "declares it" if f["declared"] else "does not declare it"
        return f"{share}% of the products in their videos are {cat}; {declared}; their videos match the brief {rel}%"
    declared = "自述擅长该类目" if f["declared"] else "未自述该类目"
    return f"视频所挂商品 {share}% 属于{cat}；{declared}；视频内容与需求匹配度 {rel}%"


def _audience(f: dict[str, Any], en: bool, _cat: str) -> str:
    if not f["targeted"]:
        return "No audience targeting in the brief" if en else "需求未限定目标人群"
    bits = []
    for dim, (zh, eng) in DIMENSIONS.items():
        if f"{dim}_pct" not in f:
            continue
        n, pct = f[f"{dim}_sample"], f[f"{dim}_pct"]
        if not n:
            bits.append(f"{eng}: no data yet" if en else f"{zh}：暂无数据")
        else:
            bits.append(f"{eng}: {pct}% in target ({n} viewers)" if en else f"{zh}：{pct}% 在目标人群（样本 {n} 人）")
    return "; ".join(bits) if en else "；".join(bits)


def _price(f: dict[str, Any], en: bool, _cat: str) -> str:
    if f["fee_fen"] is None:
        return "No rate for this video length" if en else "没有该时长的报价"
    fee, low, high = (format_yuan(f[k]) for k in ("fee_fen", "budget_min_fen", "budget_max_fen"))
    if f["within"]:
        return f"¥{fee} is within the budget (¥{low}–¥{high})" if en else f"报价 ¥{fee} 在预算 ¥{low}–¥{high} 内"
    return f"¥{fee} is over the budget's ¥{high}" if en else f"报价 ¥{fee} 超出预算上限 ¥{high}"


def _sales(f: dict[str, Any], en: bool, _cat: str) -> str:
    if not f["orders_90d"]:
        return "No attributed orders in the last 90 days" if en else "近 90 天没有可归因的成交"
    gmv, n = format_yuan(f["gmv_90d_fen"]), f["orders_90d"]
    conv = "—" if f["conversion_pct"] is None else f"{f['conversion_pct']}%"
    if en:
        return f"GMV ¥{gmv} from {n} attributed orders in 90 days; conversion {conv}"
    return f"近 90 天带货 GMV ¥{gmv}，{n} 单，点击转化率 {conv}"


def _reliability(f: dict[str, Any], en: bool, _cat: str) -> str:
    n = f["bookings_done"]
    if not n:
        return "No finished bookings yet (newcomer prior)" if en else "暂无已完成的合作（按新人默认值计）"
    on_time = "—" if f["on_time_pct"] is None else f"{f['on_time_pct']}%"
    rating = "—" if f["rating"] is None else f"{f['rating']}"
    if en:
        return f"{n} bookings finished, {on_time} on time, rated {rating}/5"
    return f"完成 {n} 单合作，准时率 {on_time}，品牌评分 {rating}/5"


_EXPLAINERS: dict[str, Callable[[dict[str, Any], bool, str], str]] = {
    "content": _content,
    "audience": _audience,
    "price": _price,
    "sales": _sales,
    "reliability": _reliability,
}


def explain(part: Part, locale: str, *, category: str) -> str:
    """One sentence saying where a part's points came from."""
    return _EXPLAINERS[part.key](part.facts, locale.startswith("en"), category_name(category, locale))
