"""digest runs: one quarantine digest per user and period, claimed before it is sent

Revision ID: 0013_digest_runs
Revises: 0012_link_tokens
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_digest_runs'
down_revision = '0012_link_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('digest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('covers_until', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_digest_runs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_runs')),
    sa.UniqueConstraint('user_id', 'period', name=op.f('uq_digest_runs_user_id'))
    )


def downgrade():
    op.drop_table('digest_runs')
