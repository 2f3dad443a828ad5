from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_kpi_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AwayReason',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('label', fields.CharField(unique=True, max_length=64)),
                ('position', fields.IntField(default=0)),
            ],
            options={'table': 'away_reason', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
