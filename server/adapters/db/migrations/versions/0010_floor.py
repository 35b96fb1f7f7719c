"""events.speaking_order: the event's order of categories for the list of speakers by category

Revision ID: 0010_floor
Revises: 0009_certs
Create Date: 2026-12-01 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0010_floor'
down_revision = '0009_certs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('speaking_order', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_column('speaking_order')
