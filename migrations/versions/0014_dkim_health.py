"""dkim keys and health reports

Revision ID: 0014_dkim_health
Revises: 0013_digest_runs
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_dkim_health'
down_revision = '0013_digest_runs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('dkim_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain_id', sa.Integer(), nullable=False),
    sa.Column('selector', sa.String(length=63), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('bits', sa.Integer(), nullable=False),
    sa.Column('private_key_enc', sa.Text(), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['domain_id'], ['domains.id'], name=op.f('fk_dkim_keys_domain_id_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dkim_keys')),
    sa.UniqueConstraint('domain_id', 'selector', name=op.f('uq_dkim_keys_domain_id'))
    )
    with op.batch_alter_table('dkim_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dkim_keys_domain_id'), ['domain_id'], unique=False)
        batch_op.create_index('uq_dkim_keys_active', ['domain_id'], unique=True, sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))

    op.create_table('health_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_type', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Boolean(), nullable=True),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('performed_at', sa.DateTime(), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=True),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_reports')),
    sa.UniqueConstraint('entity_type', 'entity_id', name=op.f('uq_health_reports_entity_type'))
    )


def downgrade():
    op.drop_table('health_reports')
    with op.batch_alter_table('dkim_keys', schema=None) as batch_op:
        batch_op.drop_index('uq_dkim_keys_active', sqlite_where=sa.text("state = 'active'"), postgresql_where=sa.text("state = 'active'"))
        batch_op.drop_index(batch_op.f('ix_dkim_keys_domain_id'))
    op.drop_table('dkim_keys')
