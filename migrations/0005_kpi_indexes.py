from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_offers')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='ConversationEvent',
            index=Index(fields=['conversation_id', 'at']),
        ),
    ]
