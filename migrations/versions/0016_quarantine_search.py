"""domain-wide quarantine searches: the search, its hits, its failed mailboxes

Revision ID: 0016_quarantine_search
Revises: 0015_list_indexes
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_quarantine_search'
down_revision = '0015_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('quarantine_searches',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('admin_id', sa.Integer(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('mailboxes_total', sa.Integer(), nullable=False),
    sa.Column('mailboxes_done', sa.Integer(), nullable=False),
    sa.Column('hits_total', sa.Integer(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], name=op.f('fk_quarantine_searches_admin_id_admins'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_quarantine_searches_domain_id_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine_searches'))
    )
    with op.batch_alter_table('quarantine_searches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_searches_admin_id'), ['admin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantine_searches_expires_at'), ['expires_at'], unique=False)

    op.create_table('quarantine_search_hits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('search_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_email', sa.String(length=320), nullable=False),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('message_key', sa.String(length=998), nullable=False),
    sa.Column('sender', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('sent_date', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['search_id'], ['quarantine_searches.id'], name=op.f('fk_quarantine_search_hits_search_id_quarantine_searches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine_search_hits'))
    )
    with op.batch_alter_table('quarantine_search_hits', schema=None) as batch_op:
        batch_op.create_index('ix_quarantine_search_hits_search', ['search_id', 'id'], unique=False)

    op.create_table('quarantine_search_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('search_id', sa.String(length=32), nullable=False),
    sa.Column('mailbox', sa.String(length=320), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['search_id'], ['quarantine_searches.id'], name=op.f('fk_quarantine_search_failures_search_id_quarantine_searches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine_search_failures'))
    )
    with op.batch_alter_table('quarantine_search_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_search_failures_search_id'), ['search_id'], unique=False)


def downgrade():
    op.drop_table('quarantine_search_failures')
    op.drop_table('quarantine_search_hits')
    op.drop_table('quarantine_searches')
