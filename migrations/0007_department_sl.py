from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_away_reasons')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Department',
            name='sl_threshold_seconds',
            field=fields.IntField(null=True),
        ),
    ]
