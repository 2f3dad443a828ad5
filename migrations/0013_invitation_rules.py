from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_invitations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InvitationRule',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('site', fields.ForeignKeyField('models.Site', source_field='site_id', db_constraint=True, to_field='id', related_name='invitation_rules', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('enabled', fields.BooleanField(default=True)),
                ('conditions', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('message', fields.CharField(max_length=500)),
                ('department', fields.ForeignKeyField('models.Department', source_field='department_id', null=True, db_constraint=True, to_field='id', related_name='invitation_rules', on_delete=OnDelete.SET_NULL)),
                ('agent', fields.ForeignKeyField('models.User', source_field='agent_id', null=True, db_constraint=True, to_field='id', related_name='invitation_rules', on_delete=OnDelete.SET_NULL)),
                ('max_per_visitor', fields.IntField(default=1)),
                ('cap_hours', fields.IntField(default=24)),
                ('active_hours', fields.CharField(null=True, max_length=200)),
                ('position', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'invitation_rule', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
