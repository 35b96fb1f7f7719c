"""poll_ballots: each attendee's current ballot in each poll

Revision ID: 0008_polls
Revises: 0007_mail
Create Date: 2026-12-01 04:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import server.adapters.db.types


revision = '0008_polls'
down_revision = '0007_mail'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('poll_ballots',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('voter', sa.String(length=32), nullable=False),
    sa.Column('option_ids', sa.JSON(), nullable=False),
    sa.Column('at', server.adapters.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_poll_ballots_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'poll_id', 'voter', name=op.f('pk_poll_ballots'))
    )


def downgrade() -> None:
    op.drop_table('poll_ballots')
