"""link tokens: single-use, expiring links sent by mail (login, password, digest actions)

Revision ID: 0012_link_tokens
Revises: 0011_mail_servers
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_link_tokens'
down_revision = '0011_mail_servers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('link_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=24), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('admin_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('(admin_id IS NULL) <> (user_id IS NULL)', name=op.f('ck_link_tokens_one_account')),
    sa.ForeignKeyConstraint(['admin_id'], ['admins.id'], name=op.f('fk_link_tokens_admin_id_admins'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_link_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_tokens')),
    sa.UniqueConstraint('digest', name=op.f('uq_link_tokens_digest'))
    )
    with op.batch_alter_table('link_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_tokens_admin_id'), ['admin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_tokens_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_tokens_user_id'), ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('link_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_link_tokens_expires_at'))
        batch_op.drop_index(batch_op.f('ix_link_tokens_admin_id'))

    op.drop_table('link_tokens')
