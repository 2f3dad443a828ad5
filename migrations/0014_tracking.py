from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_invitation_rules')]

    initial = False

    operations = [
        ops.CreateModel(
            name='TrackEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('site', fields.ForeignKeyField('models.Site', source_field='site_id', db_constraint=True, to_field='id', related_name='track_events', on_delete=OnDelete.CASCADE)),
                ('visitor', fields.ForeignKeyField('models.Visitor', source_field='visitor_id', db_constraint=True, to_field='id', related_name='track_events', on_delete=OnDelete.CASCADE)),
                ('visit', fields.ForeignKeyField('models.Visit', source_field='visit_id', null=True, db_constraint=True, to_field='id', related_name='track_events', on_delete=OnDelete.SET_NULL)),
                ('name', fields.CharField(max_length=64)),
                ('props', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('url', fields.CharField(null=True, max_length=2048)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'track_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A custom event of the site\'s own: `Switchboard(\'track\', \'signup\', {plan: "pro"})`.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PageView',
            name='view_key',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name='PageView',
            index=Index(fields=['visitor_id', 'view_key']),
        ),
        ops.AddField(
            model_name='Visit',
            name='country',
            field=fields.CharField(null=True, max_length=2),
        ),
        ops.AddField(
            model_name='Visit',
            name='device',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Visit',
            name='keywords',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Visit',
            name='referrer_domain',
            field=fields.CharField(null=True, max_length=253),
        ),
        ops.AddField(
            model_name='Visit',
            name='referrer_type',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='Visit',
            name='utm',
            field=fields.JSONField(default=dict, db_default={}, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Visitor',
            name='external_id',
            field=fields.CharField(null=True, db_index=True, max_length=128),
        ),
    ]
