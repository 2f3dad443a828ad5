from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0021_user_language')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Department',
            name='accept_after_hours',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        # A chat held outside business hours ("held") is a visitor's open conversation too: still
        # exactly one open conversation per visitor.
        ops.RunSQL(
            ["DROP INDEX uniq_conversation_open_visitor",
             "CREATE UNIQUE INDEX uniq_conversation_open_visitor ON conversation (visitor_id) "
             "WHERE status IN ('held', 'waiting', 'assigned')"],
            ["DROP INDEX uniq_conversation_open_visitor",
             "CREATE UNIQUE INDEX uniq_conversation_open_visitor ON conversation (visitor_id) "
             "WHERE status IN ('waiting', 'assigned')"],
        ),
    ]
