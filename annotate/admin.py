from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotate.gold import mark_gold
from annotate.models import GoldAnswer


@admin.register(GoldAnswer)
class GoldAnswerAdmin(admin.ModelAdmin):
    """Known answers: an admin marks a comparison (by its id) and a criterion with the right video, A or B."""

    list_display = ("comparison", "criterion", "answer", "source", "created_by", "created_at")
    list_filter = ("criterion", "source")
    list_select_related = ("comparison", "created_by")
    raw_id_fields = ("comparison",)
    readonly_fields = ("source", "created_by", "created_at")
    search_fields = ("comparison__id", "note")

    def get_readonly_fields(self, request: HttpRequest, obj: GoldAnswer | None = None) -> Any:
        # A known answer belongs to one comparison and criterion; another one is a new row.
        fixed = ("comparison", "criterion") if obj is not None else ()
        return (*fixed, *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: GoldAnswer, form: Any, change: bool) -> None:
        saved = mark_gold(
            comparison=obj.comparison,
            criterion=obj.criterion,
            answer=obj.answer,
            by=request.user if request.user.is_authenticated else None,
            note=obj.note,
        )
        obj.pk, obj.source, obj.created_by_id = saved.pk, saved.source, saved.created_by_id
