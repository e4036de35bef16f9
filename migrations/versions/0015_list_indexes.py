"""list indexes: trigram indexes for the lists' contains-filters (PostgreSQL)

Revision ID: 0015_list_indexes
Revises: 0014_dkim_health

A list filtered by `*word*` (ILIKE '%word%') and its X-Total-Count scanned the whole table; a GIN trigram
index answers both from the index. SQLite keeps its LIKE (nothing is created there).
"""
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


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, column in TRIGRAM:
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in TRIGRAM:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_{column}_trgm")
