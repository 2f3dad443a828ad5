from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_supervision')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Conversation',
            name='priority',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Conversation',
            name='sticky_agent',
            field=fields.ForeignKeyField('models.User', source_field='sticky_agent_id', null=True, db_constraint=True, to_field='id', related_name='sticky_conversations', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='Department',
            name='routing_strategy',
            field=fields.CharField(default='longest_idle', db_default='longest_idle', max_length=16),
        ),
        ops.AddField(
            model_name='Department',
            name='sticky_seconds',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='last_assigned_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='User',
            name='skills',
            field=fields.JSONField(default=dict, db_default={}, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
