from __future__ import annotations

from django.db.models import Q

from generation.models import Identity, Method, Prompt, Reference, Video


def media_owner_get(*, name: str) -> Video | Reference | None:
    """The catalog row that stores ``name`` as its file or poster, if any."""
    for model in (Video, Reference):
        owner = model.objects.filter(Q(file=name) | Q(poster=name)).first()
        if owner is not None:
            return owner
    return None


def catalog_counts() -> dict[str, int]:
    return {
        "identities": Identity.objects.count(),
        "references": Reference.objects.count(),
        "prompts": Prompt.objects.count(),
        "methods": Method.objects.count(),
        "videos": Video.objects.count(),
    }
