from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0024_quality')]

    initial = False

    operations = [
        ops.CreateModel(
            name='KeptDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('time_zone', fields.CharField(max_length=64)),
                ('day', fields.DateField()),
                ('starts_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('state', fields.CharField(max_length=16)),
                ('claim', fields.CharField(max_length=32)),
                ('computed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('conversations', fields.IntField(default=0)),
                ('events', fields.IntField(default=0)),
            ],
            options={'table': 'kpi_kept_day', 'app': 'models', 'unique_together': (('time_zone', 'day'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KeptFact',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.ForeignKeyField('models.KeptDay', source_field='day_id', db_constraint=True, to_field='id', related_name='facts', on_delete=OnDelete.CASCADE)),
                ('conversation', fields.ForeignKeyField('models.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='kept_facts', on_delete=OnDelete.CASCADE)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_response_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('abandoned_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('queue_seconds', fields.FloatField(null=True)),
                ('handle_seconds', fields.FloatField(null=True)),
                ('wrap_up_seconds', fields.FloatField(default=0.0)),
                ('transfers', fields.IntField(default=0)),
                ('rating', fields.CharField(null=True, max_length=16)),
                ('department_id', fields.IntField(null=True)),
                ('agent_id', fields.IntField(null=True)),
                ('last_agent_id', fields.IntField(null=True)),
                ('site_id', fields.IntField(null=True)),
                ('visitor_id', fields.CharField(null=True, max_length=64)),
                ('holds', fields.TextField(default='[]', unique=False)),
                ('after_hours', fields.BooleanField(default=False)),
                ('held_only', fields.BooleanField(default=False)),
            ],
            options={'table': 'kpi_kept_fact', 'app': 'models', 'unique_together': (('day', 'conversation'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
