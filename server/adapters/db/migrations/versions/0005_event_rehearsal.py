"""events.is_rehearsal: rehearsal copies may open their segments on any day

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 01:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('is_rehearsal', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_column('is_rehearsal')
