"""lists at scale: domains.active_users kept by the flush; trigram and covering indexes (PostgreSQL)

Revision ID: 0015_list_indexes
Revises: 0014_dkim_health

The domains list counted every listed domain's ENABLED users on each request; the count is now a column kept
in the transaction that changes a user (portal/models/tenancy.py), filled here from the users table.

A list filtered by `*word*` (ILIKE '%word%') and its X-Total-Count scanned the whole table; a GIN trigram
index answers both from the index. A deep page walks its offset over keys alone (listing.page): an index on
the sort column that INCLUDEs the id answers that without reading the table. SQLite keeps its LIKE, and its
indexes carry the rowid already: nothing is created there.
"""
import sqlalchemy as sa
from alembic import op


revision = '0015_list_indexes'
down_revision = '0014_dkim_health'
branch_labels = None
depends_on = None

# (table, column): the columns that services' ListSpec.filters match with a wildcard
TRIGRAM = [
    ("users", "email"), ("admins", "login"), ("admins", "email"), ("admins", "display_name"),
    ("domains", "name"), ("email_aliases", "email"), ("sender_rules", "value"), ("customers", "name"),
    ("audit_events", "target"),
]

# (name, table, columns, included): the default sorts of the big lists
COVERING = [
    ("ix_users_domain_email_keys", "users", "domain_id, email", "id"),
    ("ix_admins_login_keys", "admins", "login", "id"),
    ("ix_domains_name_keys", "domains", "name", "id"),
]


def upgrade():
    op.add_column("domains", sa.Column("active_users", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE domains SET active_users = (SELECT count(*) FROM users WHERE users.domain_id = domains.id "
               "AND users.status = 'ENABLED')")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in TRIGRAM:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)")
    for name, table, columns, included in COVERING:
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns}) INCLUDE ({included})")


def downgrade():
    with op.batch_alter_table("domains") as batch_op:
        batch_op.drop_column("active_users")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in TRIGRAM:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
    for name, *_ in COVERING:
        op.execute(f"DROP INDEX IF EXISTS {name}")
