from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0016_exactly_once')]

    initial = False

    operations = [
        ops.CreateModel(
            name='StaffSession',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_reason', fields.CharField(null=True, max_length=32)),
                ('user_agent', fields.CharField(null=True, max_length=256)),
                ('address', fields.CharField(null=True, max_length=64)),
            ],
            options={'table': 'staff_session', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Site',
            name='identity_secret',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='Visitor',
            name='identity_verified',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
