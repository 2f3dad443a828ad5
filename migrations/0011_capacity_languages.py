from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_routing_rules')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Department',
            name='default_max_chats',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Department',
            name='route_languages',
            field=fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AlterField(
            model_name='User',
            name='max_chats',
            field=fields.IntField(null=True),
        ),
    ]
