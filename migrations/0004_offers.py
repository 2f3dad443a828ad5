from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_routing')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Conversation',
            name='declined_by',
            field=fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Conversation',
            name='offer_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Conversation',
            name='offered_to',
            field=fields.ForeignKeyField('models.User', source_field='offered_to_id', null=True, db_constraint=True, to_field='id', related_name='offers', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Department',
            name='missed_offers_limit',
            field=fields.IntField(default=3, db_default=3),
        ),
        ops.AddField(
            model_name='Department',
            name='offer_seconds',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='missed_offers',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
