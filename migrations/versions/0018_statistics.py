"""daily statistics: counts per domain, day, kind and key; busiest senders

Revision ID: 0018_statistics
Revises: 0017_mail_tracking
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_statistics'
down_revision = '0017_mail_tracking'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stat_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_stat_counts_domain_id_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_counts')),
    sa.UniqueConstraint('domain_id', 'day', 'kind', 'key', name=op.f('uq_stat_counts_domain_id'))
    )
    op.create_index('ix_stat_counts_day', 'stat_counts', ['day'], unique=False)
    op.create_table('stat_senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_stat_senders_domain_id_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_senders')),
    sa.UniqueConstraint('domain_id', 'day', 'kind', 'sender', name=op.f('uq_stat_senders_domain_id'))
    )
    op.create_index('ix_stat_senders_day', 'stat_senders', ['day'], unique=False)


def downgrade():
    op.drop_index('ix_stat_senders_day', table_name='stat_senders')
    op.drop_table('stat_senders')
    op.drop_index('ix_stat_counts_day', table_name='stat_counts')
    op.drop_table('stat_counts')
