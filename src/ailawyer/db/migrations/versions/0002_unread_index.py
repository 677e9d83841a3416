"""A partial index of unread notifications: the capped count and the unread list.

On PostgreSQL it is built CONCURRENTLY, so writers are not held while it builds.

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


INDEX = "ix_notifications_unread"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("notifications", schema=None) as batch_op:
            batch_op.create_index(INDEX, ["user_id", "created_at"], sqlite_where=UNREAD)
        return
    # CONCURRENTLY: the workers and the app go on writing notifications while it
    # builds (a plain CREATE INDEX holds their inserts for the whole build). It
    # cannot run inside a transaction, hence the autocommit block.
    with op.get_context().autocommit_block():
        # A build that was interrupted leaves an invalid index of this name behind,
        # and this revision is not applied yet: whatever is there is built again.
        op.drop_index(INDEX, "notifications", if_exists=True, postgresql_concurrently=True)
        op.create_index(
            INDEX,
            "notifications",
            ["user_id", "created_at"],
            postgresql_where=UNREAD,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("notifications", schema=None) as batch_op:
            batch_op.drop_index(INDEX)
        return
    with op.get_context().autocommit_block():
        op.drop_index(INDEX, "notifications", postgresql_concurrently=True)
