from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_max_wait')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Department',
            name='priority',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Department',
            name='route_pages',
            field=fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
