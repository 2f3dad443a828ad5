"""Quality monitoring (质量监控, 质检): scorecards, the evaluators' queue, evaluations, disputes,
calibration and coaching.

- A `Scorecard` names a form for a department or a contact category (or the whole center); its
  content lives in immutable `ScorecardVersion`s (sections → criteria, app/quality/scoring.py
  `parse_sections`), and an evaluation keeps the version it was scored with.
- `SampleItem` is a chat in an evaluator's queue and why it is there (a random draw of the week, a
  bad rating, a long handle time, a transfer, a complaint category, a supervisor's flag).
- `Evaluation` is one evaluator's scoring of one chat against one version; its `EvaluationAnswer`s
  hold each criterion's answer (and whether it was filled automatically from the event log),
  `EvaluationComment`s may be pinned to a message of the chat. A chat is evaluated once outside
  calibration (`calibration` null); a calibration session has each of its evaluators score the same
  chats blind.
- `Dispute`: a CSR contests one criterion of an evaluation of theirs; a supervisor decides it.
- `CoachingSession`: a coach's session with a CSR, linked to evaluations.
- `QualityEvent` (append-only) holds every step — sampled, started, submitted, acknowledged,
  disputed, decided, calibrated, coached — and is what the quality reports read.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Scorecard(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    description = fields.CharField(max_length=500, default="", db_default="")
    # Whose chats it scores: a department's, a contact category's, or (both None) any chat.
    department = fields.ForeignKeyField("models.Department", related_name="scorecards", null=True,
                                        on_delete=fields.SET_NULL)
    category = fields.ForeignKeyField("models.WorkCategory", related_name="scorecards", null=True,
                                      on_delete=fields.SET_NULL)
    active = fields.BooleanField(default=True, db_default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_scorecard"
        ordering = ["name", "id"]


class ScorecardVersion(Model):
    # Immutable once saved: editing a scorecard saves a new version (number + 1).
    id = fields.IntField(primary_key=True)
    scorecard = fields.ForeignKeyField("models.Scorecard", related_name="versions", on_delete=fields.CASCADE)
    number = fields.IntField()
    # [{"title": str, "criteria": [{"key", "label", "scale": "yes_no"|"five", "weight", "guidance",
    #   "critical", "auto": None|check name, "auto_param": …}]}] — app/quality/scoring.py.
    sections = fields.JSONField(default=list)
    created_by = fields.ForeignKeyField("models.User", related_name="scorecard_versions", null=True,
                                        on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_scorecard_version"
        unique_together = (("scorecard_id", "number"),)
        ordering = ["scorecard_id", "number"]


class SamplingRule(Model):
    # What fills the evaluators' queues for a department's chats (None: the general queues' chats).
    id = fields.IntField(primary_key=True)
    department = fields.ForeignKeyField("models.Department", related_name="sampling_rules", null=True,
                                        on_delete=fields.CASCADE)
    per_agent_per_week = fields.IntField(default=2, db_default=2)  # random closed chats per CSR per week
    on_bad_rating = fields.BooleanField(default=True, db_default=True)
    on_long_handle = fields.BooleanField(default=True, db_default=True)  # above the department's p90
    on_transfer = fields.BooleanField(default=False, db_default=False)
    complaint_categories = fields.JSONField(default=list, db_default=[])  # WorkCategory ids
    evaluators = fields.ManyToManyField("models.User", related_name="sampling_rules", through="qa_rule_evaluator")
    active = fields.BooleanField(default=True, db_default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_sampling_rule"


class SampleItem(Model):
    # One chat in an evaluator's queue and why (reason: random | bad_rating | long_handle | transfer |
    # complaint | flag). A chat is queued once per reason; `done` when its evaluation is submitted.
    id = fields.IntField(primary_key=True)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="qa_samples", on_delete=fields.CASCADE)
    agent = fields.ForeignKeyField("models.User", related_name="qa_samples_of", null=True, on_delete=fields.SET_NULL)
    evaluator = fields.ForeignKeyField("models.User", related_name="qa_queue", null=True, on_delete=fields.SET_NULL)
    department_id = fields.IntField(null=True)
    reason = fields.CharField(max_length=16)
    detail = fields.CharField(max_length=300, default="", db_default="")
    week = fields.DateField()  # the Monday of the chat's week, in the center's time zone
    flagged_by = fields.ForeignKeyField("models.User", related_name="qa_flags", null=True, on_delete=fields.SET_NULL)
    status = fields.CharField(max_length=8, default="open", db_default="open")  # open | done | skipped
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_sample"
        unique_together = (("conversation_id", "reason"),)
        indexes = (("evaluator_id", "status"), ("week", "agent_id"))


class CalibrationSession(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    scorecard_version = fields.ForeignKeyField("models.ScorecardVersion", related_name="calibrations",
                                               on_delete=fields.CASCADE)
    conversation_ids = fields.JSONField(default=list)
    evaluators = fields.ManyToManyField("models.User", related_name="calibrations", through="qa_calibration_evaluator")
    created_by = fields.ForeignKeyField("models.User", related_name="calibrations_led", null=True,
                                        on_delete=fields.SET_NULL)
    # {"<conversation id>": {"<criterion key>": answer}} — agreed when the session is discussed.
    agreed = fields.JSONField(default=dict, db_default={})
    status = fields.CharField(max_length=8, default="open", db_default="open")  # open | closed
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_calibration"


class Evaluation(Model):
    id = fields.IntField(primary_key=True)
    conversation = fields.ForeignKeyField("models.Conversation", related_name="evaluations", on_delete=fields.CASCADE)
    scorecard_version = fields.ForeignKeyField("models.ScorecardVersion", related_name="evaluations",
                                               on_delete=fields.RESTRICT)
    evaluator = fields.ForeignKeyField("models.User", related_name="evaluations_done", null=True,
                                       on_delete=fields.SET_NULL)
    agent = fields.ForeignKeyField("models.User", related_name="evaluations", null=True, on_delete=fields.SET_NULL)
    department_id = fields.IntField(null=True)
    calibration = fields.ForeignKeyField("models.CalibrationSession", related_name="evaluations", null=True,
                                         on_delete=fields.CASCADE)
    # The conversation's id outside calibration, None inside: a unique column, so a chat is evaluated
    # once however many evaluators start at the same moment.
    solo = fields.IntField(null=True, unique=True)
    status = fields.CharField(max_length=12, default="draft", db_default="draft")  # draft | submitted
    score = fields.FloatField(null=True)  # 0–100; None while a draft or when every criterion is N/A
    critical_failed = fields.BooleanField(default=False, db_default=False)
    # The CSR's side: none → acknowledged | disputed → decided.
    agent_state = fields.CharField(max_length=12, default="none", db_default="none")
    started_at = fields.DatetimeField()
    submitted_at = fields.DatetimeField(null=True, db_index=True)
    acknowledged_at = fields.DatetimeField(null=True)

    class Meta:
        table = "qa_evaluation"
        indexes = (("agent_id", "submitted_at"), ("conversation_id", "calibration_id"))


class EvaluationAnswer(Model):
    id = fields.IntField(primary_key=True)
    evaluation = fields.ForeignKeyField("models.Evaluation", related_name="answers", on_delete=fields.CASCADE)
    criterion = fields.CharField(max_length=32)
    value = fields.CharField(max_length=4)  # yes | no | na | 1 … 5
    automatic = fields.BooleanField(default=False, db_default=False)  # pre-filled from the event log
    note = fields.CharField(max_length=500, default="", db_default="")

    class Meta:
        table = "qa_answer"
        unique_together = (("evaluation_id", "criterion"),)


class EvaluationComment(Model):
    id = fields.IntField(primary_key=True)
    evaluation = fields.ForeignKeyField("models.Evaluation", related_name="comments", on_delete=fields.CASCADE)
    message = fields.ForeignKeyField("models.Message", related_name="qa_comments", null=True,
                                     on_delete=fields.SET_NULL)  # pinned to a message of the chat
    criterion = fields.CharField(max_length=32, null=True)
    author = fields.ForeignKeyField("models.User", related_name="qa_comments", null=True, on_delete=fields.SET_NULL)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_comment"


class Dispute(Model):
    id = fields.IntField(primary_key=True)
    evaluation = fields.ForeignKeyField("models.Evaluation", related_name="disputes", on_delete=fields.CASCADE)
    criterion = fields.CharField(max_length=32)
    comment = fields.TextField()
    raised_by = fields.ForeignKeyField("models.User", related_name="qa_disputes", null=True, on_delete=fields.SET_NULL)
    raised_at = fields.DatetimeField()
    outcome = fields.CharField(max_length=8, null=True)  # None (open) | upheld | changed
    new_value = fields.CharField(max_length=4, null=True)
    decision_note = fields.TextField(default="", db_default="")
    decided_by = fields.ForeignKeyField("models.User", related_name="qa_decisions", null=True, on_delete=fields.SET_NULL)
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "qa_dispute"
        unique_together = (("evaluation_id", "criterion"),)


class CoachingSession(Model):
    id = fields.IntField(primary_key=True)
    agent = fields.ForeignKeyField("models.User", related_name="coaching", on_delete=fields.CASCADE)
    coach = fields.ForeignKeyField("models.User", related_name="coaching_given", null=True, on_delete=fields.SET_NULL)
    held_on = fields.DateField()
    topics = fields.TextField(default="", db_default="")
    goals = fields.TextField(default="", db_default="")
    follow_up_on = fields.DateField(null=True)
    evaluation_ids = fields.JSONField(default=list, db_default=[])
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "qa_coaching"
        ordering = ["-held_on", "-id"]


class QualityEvent(Model):
    # Append-only: sampled, flagged, started, submitted, acknowledged, disputed, decided,
    # calibration_created, calibration_agreed, coached, scorecard_saved.
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=24)
    at = fields.DatetimeField(db_index=True)
    actor = fields.ForeignKeyField("models.User", related_name="qa_events", null=True, on_delete=fields.SET_NULL)
    agent_id = fields.IntField(null=True)  # the CSR the step concerns
    evaluation_id = fields.IntField(null=True)
    conversation_id = fields.IntField(null=True)
    data = fields.JSONField(default=dict)

    class Meta:
        table = "qa_event"
        indexes = (("kind", "at"), ("agent_id", "at"))
