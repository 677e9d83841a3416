"""A partial index of unread notifications: the capped count and the unread list.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As the model declares it (`db/models/notification.py`): the queries' own form.
UNREAD = sa.and_(
    sa.column("read", sa.Boolean).is_(False), sa.column("dismissed", sa.Boolean).is_(False)
)


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_unread",
            ["user_id", "created_at"],
            unique=False,
            postgresql_where=UNREAD,
            sqlite_where=UNREAD,
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_unread")
