"""Every model, imported here so `Base.metadata` knows them all (Alembic needs it)."""

from ailawyer.db.models.akte import Akte, AkteMember
from ailawyer.db.models.notification import Notification
from ailawyer.db.models.setting import SettingType, SystemSetting
from ailawyer.db.models.user import Role, User, UserSession

__all__ = [
    "Akte",
    "AkteMember",
    "Notification",
    "Role",
    "SettingType",
    "SystemSetting",
    "User",
    "UserSession",
]
