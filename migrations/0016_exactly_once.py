from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0015_schedules')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DeploymentIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uid', fields.CharField(unique=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'deployment_identity', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Conversation',
            name='visitor_last_seq',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Message',
            name='visitor',
            field=fields.ForeignKeyField('models.Visitor', source_field='visitor_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE),
        ),
        ops.AddField(
            model_name='Message',
            name='visitor_seq',
            field=fields.IntField(null=True),
        ),
        # Existing rows: the visitor's numbering over what they may see, the visitor of each visitor
        # message (the first of any client_id stored twice keeps it), and one open conversation per
        # visitor (older duplicates, which the unique index below forbids, are closed).
        ops.RunSQL([
            "UPDATE message SET visitor_seq = (SELECT COUNT(*) FROM message m2 WHERE m2.conversation_id = "
            "message.conversation_id AND m2.sender_kind <> 'internal' AND m2.seq <= message.seq) "
            "WHERE sender_kind <> 'internal'",
            "UPDATE conversation SET visitor_last_seq = COALESCE((SELECT MAX(m.visitor_seq) FROM message m "
            "WHERE m.conversation_id = conversation.id), 0)",
            # The agent's read state is kept in the visitor's numbering (it is what the visitor is told).
            "UPDATE conversation SET agent_read_seq = COALESCE((SELECT MAX(m.visitor_seq) FROM message m "
            "WHERE m.conversation_id = conversation.id AND m.seq <= conversation.agent_read_seq), 0)",
            "UPDATE message SET visitor_id = (SELECT c.visitor_id FROM conversation c WHERE c.id = "
            "message.conversation_id) WHERE sender_kind = 'visitor' AND client_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM message m2 JOIN conversation c2 ON c2.id = m2.conversation_id WHERE "
            "m2.sender_kind = 'visitor' AND m2.client_id = message.client_id AND m2.id < message.id AND "
            "c2.visitor_id = (SELECT c.visitor_id FROM conversation c WHERE c.id = message.conversation_id))",
            "UPDATE conversation SET status = 'closed', closed_at = requested_at, closed_by = 'system' "
            "WHERE status IN ('waiting', 'assigned') AND EXISTS (SELECT 1 FROM conversation c2 WHERE "
            "c2.visitor_id = conversation.visitor_id AND c2.status IN ('waiting', 'assigned') AND c2.id > conversation.id)",
        ]),
        ops.AddConstraint(
            model_name='Message',
            constraint=UniqueConstraint(fields=('conversation', 'visitor_seq'), name=None),
        ),
        ops.AddConstraint(
            model_name='Message',
            constraint=UniqueConstraint(fields=('visitor', 'client_id'), name=None),
        ),
        # Exactly one open conversation per visitor, whichever tab, socket or worker starts it.
        ops.RunSQL(
            "CREATE UNIQUE INDEX uniq_conversation_open_visitor ON conversation (visitor_id) "
            "WHERE status IN ('waiting', 'assigned')",
            "DROP INDEX uniq_conversation_open_visitor",
        ),
    ]
