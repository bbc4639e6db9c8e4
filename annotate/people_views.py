"""The People page of study admins (add annotators, seat them, deactivate them, the ML team) and the
page where a new person sets their password through their one-time sign-in link."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST, require_safe

from annotate import people
from annotate.errors import PeopleError
from annotate.people_forms import PeopleAddForm, PersonSwitchForm, PersonTracksForm
from lib.roles import staff_required


def _person_or_404(person_id: int) -> User:
    person = people.person_get(person_id=person_id)
    if person is None:
        raise Http404("No such person.")
    return person


def _link(request: HttpRequest, person: User) -> str:
    return request.build_absolute_uri(people.sign_in_link_path(person))


@require_safe
@staff_required
def people_list(request: HttpRequest) -> HttpResponse:
    return _render_list(request, PeopleAddForm())


def _render_list(request: HttpRequest, form: PeopleAddForm, status: int = 200) -> HttpResponse:
    rows = [(person, people.person_status(person)) for person in people.people_list()]
    return render(request, "annotate/manage/people_list.html", {"rows": rows, "form": form}, status=status)


@require_POST
@staff_required
def people_add(request: HttpRequest) -> HttpResponse:
    form = PeopleAddForm(request.POST)
    if form.is_valid():
        try:
            added = people.people_add(text=form.cleaned_data["people"], tracks=form.cleaned_data["tracks"])
        except PeopleError as error:
            for problem in error.problems:
                form.add_error("people", problem)
        else:
            links = [(person, _link(request, person)) for person in added]
            rows = [
                (person, link, people.sign_in_link_send(person=person, link=link)) for person, link in links
            ]
            context = {"rows": rows, "tracks": form.cleaned_data["tracks"]}
            return render(request, "annotate/manage/people_added.html", context)
    return _render_list(request, form, status=400)


def _render_person(
    request: HttpRequest,
    person: User,
    *,
    form: PersonTracksForm | None = None,
    link: str = "",
    status: int = 200,
) -> HttpResponse:
    if form is None:
        form = PersonTracksForm(initial={"tracks": [seat.track for seat in person.track_seats.all()]})
    if not link and person.is_active and not person.has_usable_password():
        link = _link(request, person)  # an invited person's link, until they use it
    context = {"person": person, "status": people.person_status(person), "form": form, "link": link}
    return render(request, "annotate/manage/person_detail.html", context, status=status)


@require_safe
@staff_required
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    return _render_person(request, _person_or_404(person_id))


@require_POST
@staff_required
def person_link(request: HttpRequest, person_id: int) -> HttpResponse:
    """A fresh one-time link, for someone who lost theirs or forgot their password."""
    person = _person_or_404(person_id)
    if not person.is_active:
        messages.error(request, "Reactivate this person before making them a sign-in link.")
        return redirect("people:detail", person_id=person.pk)
    return _render_person(request, person, link=_link(request, person))


@require_POST
@staff_required
def person_tracks(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _person_or_404(person_id)
    form = PersonTracksForm(request.POST)
    if form.is_valid():
        try:
            people.person_tracks_set(person=person, tracks=form.cleaned_data["tracks"])
        except PeopleError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, f"{person.get_username()} is on {len(form.cleaned_data['tracks'])} tracks."
            )
            return redirect("people:detail", person_id=person.pk)
    return _render_person(request, person, form=form, status=400)


def _switched(request: HttpRequest, person_id: int, *, change: Any, done: tuple[str, str]) -> HttpResponse:
    """Apply a yes/no ``change`` to the person, then back to their page saying ``done`` (yes, no)."""
    person = _person_or_404(person_id)
    form = PersonSwitchForm(request.POST)
    if not form.is_valid():
        return HttpResponse("on must be 1 or 0.", status=400)
    on = form.cleaned_data["on"]
    try:
        change(person=person, on=on)
    except PeopleError as error:
        messages.error(request, error.message)
        return _render_person(request, _person_or_404(person_id), status=error.status)
    messages.success(request, f"{person.get_username()} {done[0] if on else done[1]}")
    return redirect("people:detail", person_id=person.pk)


@require_POST
@staff_required
def person_active(request: HttpRequest, person_id: int) -> HttpResponse:
    return _switched(
        request,
        person_id,
        change=lambda person, on: people.person_active_set(person=person, active=on),
        done=("can sign in again.", "is deactivated: they can no longer sign in; their votes are kept."),
    )


@require_POST
@staff_required
def person_ml_team(request: HttpRequest, person_id: int) -> HttpResponse:
    return _switched(
        request,
        person_id,
        change=lambda person, on: people.person_ml_team_set(person=person, member=on),
        done=("is in the ML team.", "is no longer in the ML team."),
    )


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """Where a one-time sign-in link leads: the person chooses a password, then signs in with it. A link
    already used (or too old) says so and points to the sign-in page."""

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, f"Your password is set. Sign in as {form.user.get_username()}.")
        return response

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        if not context.get("validlink"):
            kwargs["status"] = 410  # used or expired: gone for good
        return super().render_to_response(context, **kwargs)
