"""mail servers: the SMTP server Postern's own mail leaves through, POP3/IMAP servers

Revision ID: 0011_mail_servers
Revises: 0010_login_throttle
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_mail_servers'
down_revision = '0010_login_throttle'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_servers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('remark', sa.String(length=1024), nullable=True),
    sa.Column('protocol', sa.String(length=8), nullable=False),
    sa.Column('host', sa.String(length=253), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('security', sa.String(length=8), nullable=False),
    sa.Column('certificate', sa.String(length=8), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=True),
    sa.Column('auth', sa.String(length=20), nullable=False),
    sa.Column('username', sa.String(length=320), nullable=True),
    sa.Column('password', sa.Text(), nullable=True),
    sa.Column('oauth_tenant_id', sa.String(length=255), nullable=True),
    sa.Column('oauth_client_id', sa.String(length=255), nullable=True),
    sa.Column('oauth_client_secret', sa.Text(), nullable=True),
    sa.Column('oauth_token_url', sa.String(length=2048), nullable=True),
    sa.Column('oauth_scope', sa.String(length=1024), nullable=True),
    sa.Column('sender_name', sa.String(length=255), nullable=True),
    sa.Column('sender_address', sa.String(length=320), nullable=True),
    sa.Column('subject_prefix', sa.String(length=64), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('check_started_at', sa.DateTime(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('check_ok', sa.Boolean(), nullable=True),
    sa.Column('check_stage', sa.String(length=16), nullable=True),
    sa.Column('check_message', sa.String(length=1024), nullable=True),
    sa.Column('check_transcript', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_servers')),
    sa.UniqueConstraint('name', name=op.f('uq_mail_servers_name'))
    )
    with op.batch_alter_table('mail_servers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_servers_protocol'), ['protocol'], unique=False)
        batch_op.create_index('uq_mail_servers_enabled_smtp', ['protocol'], unique=True, sqlite_where=sa.text("enabled AND protocol = 'SMTP'"), postgresql_where=sa.text("enabled AND protocol = 'SMTP'"))



def downgrade():
    with op.batch_alter_table('mail_servers', schema=None) as batch_op:
        batch_op.drop_index('uq_mail_servers_enabled_smtp', sqlite_where=sa.text("enabled AND protocol = 'SMTP'"), postgresql_where=sa.text("enabled AND protocol = 'SMTP'"))
        batch_op.drop_index(batch_op.f('ix_mail_servers_protocol'))

    op.drop_table('mail_servers')
