"""audit requests: every administrator write and mail read, with the request and the client's address

Revision ID: 0009_audit_requests
Revises: 0008_job_outbox
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_audit_requests'
down_revision = '0008_job_outbox'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=8), server_default='', nullable=False))
        batch_op.add_column(sa.Column('route', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('client', sa.String(length=64), server_default='', nullable=False))
        batch_op.create_index('ix_audit_events_actor_at', ['actor', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_actor_at')
        batch_op.drop_column('client')
        batch_op.drop_column('route')
        batch_op.drop_column('method')
