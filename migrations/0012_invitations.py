from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_capacity_languages')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Invitation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('site', fields.ForeignKeyField('models.Site', source_field='site_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('visitor', fields.ForeignKeyField('models.Visitor', source_field='visitor_id', db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.CASCADE)),
                ('agent', fields.ForeignKeyField('models.User', source_field='agent_id', null=True, db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.SET_NULL)),
                ('department', fields.ForeignKeyField('models.Department', source_field='department_id', null=True, db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.SET_NULL)),
                ('rule_id', fields.IntField(null=True, db_index=True)),
                ('message', fields.CharField(max_length=500)),
                ('state', fields.CharField(default='sent', db_index=True, max_length=16)),
                ('sent_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('conversation', fields.ForeignKeyField('models.Conversation', source_field='conversation_id', null=True, db_constraint=True, to_field='id', related_name='invitations', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'invitation', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InvitationEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('invitation', fields.ForeignKeyField('models.Invitation', source_field='invitation_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('site', fields.ForeignKeyField('models.Site', source_field='site_id', db_constraint=True, to_field='id', related_name='invitation_events', on_delete=OnDelete.CASCADE)),
                ('rule_id', fields.IntField(null=True)),
                ('agent_id', fields.IntField(null=True)),
                ('kind', fields.CharField(max_length=16)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'invitation_event', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
