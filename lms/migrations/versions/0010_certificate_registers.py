"""certificate registers: a template's issuing body may keep its own register prefix

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('certificate_templates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('register_prefix', sa.String(length=20), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('certificate_templates', schema=None) as batch_op:
        batch_op.drop_column('register_prefix')
