"""lists at scale: domains.users_count kept by the flush, so a domain's unfiltered users list counts nothing

Revision ID: 0019_users_count
Revises: 0018_statistics
"""
from alembic import op
import sqlalchemy as sa


revision = '0019_users_count'
down_revision = '0018_statistics'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("domains", sa.Column("users_count", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE domains SET users_count = (SELECT count(*) FROM users WHERE users.domain_id = domains.id)")


def downgrade():
    with op.batch_alter_table("domains") as batch_op:
        batch_op.drop_column("users_count")
