"""record formats: a format number on live_states.state and event_log.payload (existing rows: 1)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 01:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('event_log', 'live_states')


def upgrade() -> None:
    # Every row written so far is format 1. The server default fills them in, then goes: a writer
    # must always say which format it writes (server.core.records), never fall back to 1.
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('format', sa.Integer(), nullable=False, server_default=sa.text('1')))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('format', existing_type=sa.Integer(), existing_nullable=False, server_default=None)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('format')
