"""mail: confirmations, lost links and organisers' messages reuse reminder_deliveries (day_id may be
empty, one undated delivery per recipient and kind); mailings; lost_link_requests (the throttle)

Revision ID: 0007_mail
Revises: 0006
Create Date: 2026-12-01 04:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import server.adapters.db.types


revision = '0007_mail'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mailings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.JSON(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', server.adapters.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_mailings_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_mailings_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailings'))
    )
    with op.batch_alter_table('mailings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailings_event_id'), ['event_id'], unique=False)

    op.create_table('lost_link_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', server.adapters.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('handled_at', server.adapters.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_lost_link_requests_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lost_link_requests'))
    )
    with op.batch_alter_table('lost_link_requests', schema=None) as batch_op:
        batch_op.create_index('ix_lost_link_requests_address_at', ['address', 'at'], unique=False)
        batch_op.create_index('ix_lost_link_requests_email_at', ['email', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lost_link_requests_handled_at'), ['handled_at'], unique=False)

    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.alter_column('day_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(
            'ux_reminder_deliveries_undated', ['recipient', 'event_id', 'kind'], unique=True,
            sqlite_where=sa.text('day_id IS NULL'), postgresql_where=sa.text('day_id IS NULL'),
        )


def downgrade() -> None:
    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ux_reminder_deliveries_undated')
    op.execute("DELETE FROM reminder_deliveries WHERE day_id IS NULL")
    with op.batch_alter_table('reminder_deliveries', schema=None) as batch_op:
        batch_op.alter_column('day_id', existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table('lost_link_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lost_link_requests_handled_at'))
        batch_op.drop_index('ix_lost_link_requests_email_at')
        batch_op.drop_index('ix_lost_link_requests_address_at')
    op.drop_table('lost_link_requests')

    with op.batch_alter_table('mailings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailings_event_id'))
    op.drop_table('mailings')
