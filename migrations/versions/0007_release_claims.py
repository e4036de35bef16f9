"""release claims: a release row is written (state sending) before the message is sent

Revision ID: 0007_release_claims
Revises: 0006_job_failures
Create Date: 2026-11-27 15:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_release_claims'
down_revision = '0006_job_failures'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=16), nullable=False, server_default='delivered'))
        batch_op.add_column(sa.Column('claim', sa.String(length=32), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(), nullable=True))
    # Every row written before claims existed records a delivery (it was inserted after the relay's 250).
    op.execute("UPDATE releases SET claimed_at = created_at, delivered_at = created_at")
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.alter_column('claimed_at', existing_type=sa.DateTime(), nullable=False)


def downgrade():
    # Claims still being sent are not deliveries: the old schema records deliveries only.
    op.execute("DELETE FROM releases WHERE delivered_at IS NULL")
    with op.batch_alter_table('releases', schema=None) as batch_op:
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('claim')
        batch_op.drop_column('state')
