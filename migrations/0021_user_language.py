from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields


class Migration(migrations.Migration):
    """The staff pages' language of each user (None: follow the browser)."""

    dependencies = [('models', '0020_knowledge_base')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='language',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
