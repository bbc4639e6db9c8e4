"""Which media an annotator may fetch: the videos and references of the tracks they are seated on.

Registered with the catalog's media view in ``AnnotateConfig.ready``; everyone else keeps getting a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from annotate.models import Comparison
from generation.models import Reference, Video


def seated_annotator_may_view(request: HttpRequest, owner: Any) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    seated = Comparison.objects.filter(track_items__track__seats__user=user)
    if isinstance(owner, Video):
        return seated.filter(Q(video_a=owner) | Q(video_b=owner)).exists()
    if isinstance(owner, Reference):
        # The gallery of a comparison shows its identity's references (files and clip posters).
        return seated.filter(identity_id=owner.identity_id).exists()
    return False
