"""message tracking from the Postfix log

Revision ID: 0017_mail_tracking
Revises: 0016_quarantine_search
"""
from alembic import op
import sqlalchemy as sa


revision = '0017_mail_tracking'
down_revision = '0016_quarantine_search'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('tracked_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=True),
    sa.Column('message_id', sa.String(length=500), nullable=True),
    sa.Column('client', sa.String(length=255), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('nrcpt', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracked_messages'))
    )
    with op.batch_alter_table('tracked_messages', schema=None) as batch_op:
        batch_op.create_index('ix_tracked_messages_received_at', ['received_at'], unique=False)
        batch_op.create_index('ix_tracked_messages_sender', ['sender', 'received_at'], unique=False)
        batch_op.create_index('ix_tracked_messages_message_id', ['message_id'], unique=False)
        batch_op.create_index('ix_tracked_messages_open', ['queue_id', 'closed'], unique=False)

    op.create_table('tracking_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=True),
    sa.Column('relay', sa.String(length=255), nullable=True),
    sa.Column('dsn', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('delay', sa.Float(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['tracked_messages.id'], name=op.f('fk_tracking_events_message_id_tracked_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_events'))
    )
    with op.batch_alter_table('tracking_events', schema=None) as batch_op:
        batch_op.create_index('ix_tracking_events_message', ['message_id', 'at'], unique=False)
        batch_op.create_index('ix_tracking_events_recipient', ['recipient', 'at'], unique=False)

    op.create_table('log_positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('inode', sa.BigInteger(), nullable=True),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_positions')),
    sa.UniqueConstraint('path', name=op.f('uq_log_positions_path'))
    )


def downgrade():
    op.drop_table('log_positions')
    with op.batch_alter_table('tracking_events', schema=None) as batch_op:
        batch_op.drop_index('ix_tracking_events_recipient')
        batch_op.drop_index('ix_tracking_events_message')
    op.drop_table('tracking_events')
    with op.batch_alter_table('tracked_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_tracked_messages_open')
        batch_op.drop_index('ix_tracked_messages_message_id')
        batch_op.drop_index('ix_tracked_messages_sender')
        batch_op.drop_index('ix_tracked_messages_received_at')
    op.drop_table('tracked_messages')
