"""Django admin registrations: a back door for support. Study admins use the pages under /studies/."""

from __future__ import annotations

from django.contrib import admin

from studies.models import Participant, ParticipantDecision, Question, Study


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "preset", "ours", "matchups_per_participant", "created_at")
    list_filter = ("status", "preset")
    search_fields = ("name",)
    filter_horizontal = ("baselines", "identities", "prompts", "stories")
    readonly_fields = ("public_slug", "created_at", "opened_at", "closed_at")
    inlines = (QuestionInline,)


class ParticipantDecisionInline(admin.TabularInline):
    model = ParticipantDecision
    extra = 0
    can_delete = False
    readonly_fields = ("action", "reason", "decided_by", "decided_at")

    def has_add_permission(self, request, obj=None) -> bool:  # the history is written by the services
        return False


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("pk", "study", "status", "personal_link", "consented_at", "completed_at", "withdrawn_at")
    inlines = (ParticipantDecisionInline,)
    list_filter = ("status", "study")
    # Tokens let their holder in: never shown, not even to staff. Hashes are not shown either.
    exclude = ("token", "crowd_hash", "crowd_session_hash")
    readonly_fields = ("study", "rater", "status", "personal_link", "position", "joined_at", "consented_at",
                       "completed_at", "withdrawn_at", "screened_out_at")  # fmt: skip

    def has_add_permission(self, request) -> bool:  # participants join through their link only
        return False
