"""The fixed product category tree (two levels, like Douyin Shop's first two levels).

Products sit in a leaf. A leaf is named by its code (`beauty.skincare`) in the API and
by its code or its Chinese or English path (`美妆/护肤`, `Beauty/Skincare`) in CSV files.
Leaf keywords feed tag suggestions: they are the words shoppers use for the category.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    parent: Category | None = None
    keywords: tuple[str, ...] = ()
    children: list[Category] = field(default_factory=list, compare=False, repr=False)

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def path_zh(self) -> str:
        return f"{self.parent.name_zh}/{self.name_zh}" if self.parent else self.name_zh

    @property
    def path_en(self) -> str:
        return f"{self.parent.name_en}/{self.name_en}" if self.parent else self.name_en

    def text(self) -> str:
        """Every name of this category and its parent, for text matching."""
        parts = [self.name_zh, self.name_en, *self.keywords]
        if self.parent:
            parts += [self.parent.name_zh, self.parent.name_en]
        return " ".join(parts)


# (code, 中文, English, [(code, 中文, English, keywords), ...])
_TREE: list[tuple[str, str, str, list[tuple[str, str, str, str]]]] = [
    ("beauty", "美妆", "Beauty", [
        ("skincare", "护肤", "Skincare", "面霜 精华 乳液 防晒 面膜 cream serum sunscreen"),
        ("makeup", "彩妆", "Makeup", "口红 粉底 眼影 腮红 lipstick foundation"),
        ("fragrance", "香水", "Fragrance", "香氛 perfume"),
        ("haircare", "洗护", "Hair care", "洗发水 护发 shampoo conditioner"),
    ]),
    ("apparel", "服饰", "Apparel", [
        ("women", "女装", "Womenswear", "连衣裙 半身裙 衬衫 dress skirt blouse"),
        ("men", "男装", "Menswear", "衬衫 夹克 西装 shirt jacket"),
        ("shoes", "鞋靴", "Shoes", "运动鞋 高跟鞋 靴子 sneakers boots"),
        ("bags", "箱包", "Bags", "包 手提包 背包 handbag backpack"),
        ("accessories", "配饰", "Accessories", "帽子 围巾 项链 hat scarf necklace jewelry"),
    ]),
    ("digital", "数码", "Electronics", [
        ("phone_accessories", "手机配件", "Phone accessories", "手机壳 充电器 数据线 贴膜 phone case charger cable"),
        ("audio", "耳机音响", "Audio", "耳机 蓝牙 音箱 降噪 earphones earbuds headphones speaker wireless"),
        ("smart", "智能设备", "Smart devices", "手表 手环 智能 watch smartwatch"),
        ("computer", "电脑办公", "Computers", "键盘 鼠标 电脑 keyboard mouse laptop"),
    ]),
    ("food", "食品", "Food", [
        ("snacks", "零食", "Snacks", "坚果 饼干 糖果 snack nuts"),
        ("drinks", "饮料", "Drinks", "茶 咖啡 果汁 tea coffee juice"),
        ("fresh", "生鲜", "Fresh food", "水果 蔬菜 海鲜 fruit seafood"),
    ]),
    ("home", "家居", "Home", [
        ("kitchen", "厨具", "Kitchen", "锅 刀具 餐具 pan knife cookware"),
        ("textiles", "家纺", "Home textiles", "床品 四件套 枕头 bedding pillow"),
        ("cleaning", "清洁", "Cleaning", "洗衣液 清洁剂 detergent cleaner"),
        ("decor", "装饰", "Decor", "摆件 香薰 灯 decor candle lamp"),
    ]),
    ("baby", "母婴", "Mother & baby", [
        ("feeding", "喂养", "Feeding", "奶瓶 奶粉 bottle formula"),
        ("toys", "玩具", "Toys", "积木 玩偶 toy blocks"),
        ("kids_clothing", "童装", "Kids' clothing", "儿童 宝宝 kids"),
    ]),
    ("sports", "运动户外", "Sports & outdoors", [
        ("fitness", "健身", "Fitness", "瑜伽 哑铃 yoga dumbbell"),
        ("outdoor", "户外", "Outdoor", "露营 帐篷 登山 camping tent hiking"),
        ("sportswear", "运动服", "Sportswear", "运动裤 瑜伽服 leggings"),
    ]),
    ("health", "健康", "Health", [
        ("supplements", "保健品", "Supplements", "维生素 蛋白粉 vitamin protein"),
        ("personal_care", "个护", "Personal care", "牙刷 剃须刀 toothbrush razor"),
    ]),
]  # fmt: skip


def _build() -> tuple[list[Category], dict[str, Category]]:
    roots: list[Category] = []
    by_code: dict[str, Category] = {}
    for code, zh, en, leaves in _TREE:
        root = Category(code=code, name_zh=zh, name_en=en)
        roots.append(root)
        by_code[code] = root
        for leaf_code, leaf_zh, leaf_en, keywords in leaves:
            leaf = Category(
                code=f"{code}.{leaf_code}",
                name_zh=leaf_zh,
                name_en=leaf_en,
                parent=root,
                keywords=tuple(keywords.split()),
            )
            root.children.append(leaf)
            by_code[leaf.code] = leaf
    return roots, by_code


ROOTS, _BY_CODE = _build()
_BY_PATH = {
    key.casefold(): c for c in _BY_CODE.values() if c.is_leaf for key in (c.path_zh, c.path_en, c.code)
}  # fmt: skip


def get(code: str) -> Category | None:
    return _BY_CODE.get(code)


def leaf(code: str) -> Category | None:
    """The leaf category with this code, or None (unknown codes and top-level codes alike)."""
    c = _BY_CODE.get(code)
    return c if c is not None and c.is_leaf else None


def leaves() -> list[Category]:
    """Every leaf, in tree order."""
    return [child for root in ROOTS for child in root.children]


def resolve(text: str) -> Category | None:
    """A leaf from its code or its Chinese or English path, as people type them in spreadsheets."""
    key = "/".join(part.strip() for part in text.replace("／", "/").replace(">", "/").split("/")).casefold()
    return _BY_PATH.get(key)


def codes_under(code: str) -> list[str]:
    """The leaf codes a filter on `code` covers: itself if a leaf, its children if a root."""
    c = _BY_CODE.get(code)
    if c is None:
        return []
    return [code] if c.is_leaf else [child.code for child in c.children]
