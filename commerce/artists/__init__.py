"""Artists as brands see them: profiles with a rate card, audience traits viewers share, and measured metrics."""

from core.errors import register_messages

register_messages(
    {
        "unknown_category_code": ("没有这个类目", "Unknown category"),
        "unknown_region": ("没有这个地区", "Unknown region"),
        "unknown_age_band": ("没有这个年龄段", "Unknown age band"),
    }
)
