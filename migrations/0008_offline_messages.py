from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_department_sl')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OfflineMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('site', fields.ForeignKeyField('models.Site', source_field='site_id', db_constraint=True, to_field='id', related_name='offline_messages', on_delete=OnDelete.CASCADE)),
                ('visitor', fields.ForeignKeyField('models.Visitor', source_field='visitor_id', db_constraint=True, to_field='id', related_name='offline_messages', on_delete=OnDelete.CASCADE)),
                ('department', fields.ForeignKeyField('models.Department', source_field='department_id', null=True, db_constraint=True, to_field='id', related_name='offline_messages', on_delete=OnDelete.SET_NULL)),
                ('name', fields.CharField(null=True, max_length=100)),
                ('email', fields.CharField(max_length=254)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('handled_by', fields.ForeignKeyField('models.User', source_field='handled_by_id', null=True, db_constraint=True, to_field='id', related_name='handled_messages', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'offline_message', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Department',
            name='business_hours',
            field=fields.CharField(null=True, max_length=200),
        ),
    ]
