"""Accounts, brands (companies with members), API tokens and role checks."""

from core.errors import register_messages

register_messages(
    {
        "brand_name_taken": ("该品牌名已被使用", "This brand name is taken"),
        "already_member": ("该用户已是品牌成员", "This user is already a member"),
        "artist_only": ("仅艺人可以执行此操作", "Only artists can do this"),
        "not_brand_member": ("你不是该品牌的成员", "You are not a member of this brand"),
        "brand_owner_only": ("仅品牌所有者可以执行此操作", "Only the brand owner can do this"),
    }
)
