from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_offline_messages')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Department',
            name='max_wait_seconds',
            field=fields.IntField(null=True),
        ),
    ]
