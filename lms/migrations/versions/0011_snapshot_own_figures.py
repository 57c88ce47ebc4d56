"""snapshot own figures: the people placed directly in a unit are frozen with its subtree

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

COUNTS = ('headcount', 'assigned', 'completed', 'started', 'overdue', 'score_count',
          'certificates')


def upgrade() -> None:
    with op.batch_alter_table('report_snapshot_rows', schema=None) as batch_op:
        for name in COUNTS:
            batch_op.add_column(sa.Column(f'own_{name}', sa.Integer(), server_default='0',
                                          nullable=False))
        batch_op.add_column(sa.Column('own_score_sum', sa.Float(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('report_snapshot_rows', schema=None) as batch_op:
        for name in (*COUNTS, 'score_sum'):
            batch_op.drop_column(f'own_{name}')
