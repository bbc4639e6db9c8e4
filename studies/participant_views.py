"""The participant's pages: instructions, consent, matchups, thank-you, withdrawal. No login.

A participant is whoever the session cookie names for this study. Every page works out where the
participant stands and sends them there, so a resumed session continues where it stopped.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import resolve, reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from studies import selectors, services
from studies.access import session_bind, session_participant
from studies.errors import IncompleteAnswers, NotYours, StudyError, StudyNotOpen, WatchRuleNotMet
from studies.forms import ConsentForm, MatchupForm
from studies.models import Matchup, Participant, Study

CROWD_PARAMS = (*services.CROWD_ID_PARAMS, *services.CROWD_SESSION_PARAMS)


def _study_or_404(slug: str) -> Study:
    study = selectors.study_by_slug(slug=slug)
    if study is None:
        raise Http404("No such study.")
    return study


def _where(study: Study, participant: Participant | None) -> str:
    """The page a participant belongs on now."""
    slug = study.public_slug
    if participant is None or participant.status in (Participant.Status.INVITED, Participant.Status.JOINED):
        name = "consent" if participant and participant.status == Participant.Status.JOINED else "join"
        return reverse(f"study_participant:{name}", args=[slug])
    if participant.status == Participant.Status.ACTIVE:
        number = selectors.participant_resume_position(participant=participant) + 1
        return reverse("study_participant:matchup", args=[slug, number])
    if participant.status in (Participant.Status.COMPLETED, Participant.Status.SCREENED_OUT):
        return reverse("study_participant:done", args=[slug])
    return reverse("study_participant:withdraw", args=[slug])


def _notice(
    request: HttpRequest, study: Study, error: StudyError, participant: Participant | None = None
) -> HttpResponse:
    context = {"study": study, "participant": participant, "message": error.message}
    return render(request, "studies/participant/notice.html", context, status=error.status)


def _closed(study: Study) -> StudyNotOpen | None:
    return StudyNotOpen(study.closed_message) if study.closed_message else None


@require_safe
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    participant = selectors.participant_by_token(token=token)
    if participant is None:
        raise Http404("This link is not valid. Please check that you copied all of it.")
    session_bind(request.session, participant)
    return redirect(_where(participant.study, participant))


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study_or_404(slug)
    participant = session_participant(request.session, study)
    if participant is not None and participant.status != Participant.Status.INVITED:
        return redirect(_where(study, participant))
    if request.method == "POST":
        try:
            if participant is None:
                crowd = {name: request.POST.get(name, "")[:200] for name in CROWD_PARAMS}
                # The session that remembers the participant is saved with it: a join that this
                # browser cannot come back to would leave a participant nobody can continue, and
                # refuse the person's next try as "already taken part".
                with transaction.atomic():
                    participant = services.participant_join(study=study, crowd_params=crowd)
                    session_bind(request.session, participant)
                    request.session.save()
            else:
                participant = services.invitation_accept(participant=participant)
        except StudyError as error:
            return _notice(request, study, error, participant)
        return redirect("study_participant:consent", slug=slug)
    problem = _closed(study)
    if problem is not None:
        return _notice(request, study, problem, participant)
    crowd = {name: request.GET[name][:200] for name in CROWD_PARAMS if request.GET.get(name)}
    context = {
        "study": study,
        "participant": participant,
        "texts": selectors.study_texts(study=study),
        "crowd": crowd,
    }
    return render(request, "studies/participant/instructions.html", context)


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study_or_404(slug)
    participant = session_participant(request.session, study)
    if participant is None or participant.status != Participant.Status.JOINED:
        return redirect(_where(study, participant))
    form = ConsentForm(request.POST or None)
    if request.method == "POST":
        try:
            participant = services.participant_consent(participant=participant, confirmed=form.is_valid())
            return redirect(_where(study, participant))
        except StudyError as error:
            if error.status != 400:
                return _notice(request, study, error, participant)
    context = {
        "study": study,
        "participant": participant,
        "texts": selectors.study_texts(study=study),
        "form": form,
    }
    return render(request, "studies/participant/consent.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def matchup(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    response = _matchup_page(request, slug, number)
    if request.method == "POST" and getattr(request, "htmx", False):
        return _swapped_in_place(response)
    return response


def _swapped_in_place(response: HttpResponse) -> HttpResponse:
    """An answer sent by htmx swaps the next matchup into the page (its ``<main>``), so that the videos
    prefetched meanwhile are already decoding when it shows: the answer carries that matchup's page, or
    redirects to one (Previous before the videos played), which the browser follows by itself. Anything
    else (the end page, a notice) is a whole new page: htmx is told to go there, or to load the address
    again."""
    if response.status_code in (200, 400):
        return response
    if isinstance(response, HttpResponseRedirect):
        if resolve(urlsplit(response.url).path).view_name == "study_participant:matchup":
            return response
        return HttpResponseClientRedirect(response.url)
    return HttpResponseClientRefresh()


def _matchup_page(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    study = _study_or_404(slug)
    participant = session_participant(request.session, study)
    if participant is None or participant.status != Participant.Status.ACTIVE:
        return redirect(_where(study, participant))
    furthest = selectors.participant_furthest_position(participant=participant)
    if not 1 <= number <= furthest + 1:
        return redirect(_where(study, participant))  # no skipping ahead past an unanswered page
    page = selectors.matchup_page(participant=participant, position=number - 1)
    if page is None:
        raise Http404("No such matchup.")
    problem = _closed(study)
    if problem is not None:
        return _notice(request, study, problem, participant)
    criteria = [view.question.criterion for view in page.questions]
    form = MatchupForm(request.POST or None, criteria=criteria, choices=len(page.videos))
    if request.method == "GET":
        return _matchup_show(request, study, participant, page)
    if not form.is_valid():
        return _matchup_render(
            request, study, participant, page, "Please choose one of the videos.", status=400
        )
    try:
        return _matchup_submit(request, study, participant, page, form)
    except NotYours as error:
        raise Http404(error.message) from error
    except WatchRuleNotMet as error:
        if form.cleaned_data["go"] == "previous":
            # Going back is always allowed; picks made before the videos played are not kept.
            target = max(page.number - 1, 1)
            services.participant_go_to(participant=participant, position=target - 1)
            return redirect("study_participant:matchup", slug=slug, number=target)
        return _matchup_render(
            request, study, participant, _with_picks(page, form), error.message, status=400
        )
    except IncompleteAnswers as error:
        if error.position is not None and error.position != page.matchup.position:
            return redirect("study_participant:matchup", slug=slug, number=error.position + 1)
        page = selectors.matchup_page(participant=participant, position=number - 1) or page
        return _matchup_render(
            request, study, participant, _with_picks(page, form), error.message, status=400
        )
    except StudyError as error:
        return _notice(request, study, error, participant)


def _with_picks(page: selectors.MatchupPage, form: MatchupForm) -> selectors.MatchupPage:
    for view in page.questions:  # show what was just picked, beside what was stored before
        view.picked = form.picks().get(view.question.criterion, view.picked)
    return page


def _fraction(value: str) -> float:
    number = float(value)  # ValueError for text; "nan" and "inf" are refused below
    if not 0.0 <= number <= 1.0:
        raise ValueError(value)
    return number


def _active_matchup_or_404(
    request: HttpRequest, slug: str, number: int
) -> tuple[Study, Participant, Matchup]:
    """The study, the session's active participant and their matchup ``number`` (1-based), else a 404
    that says no more than that this session has no such matchup."""
    study = _study_or_404(slug)
    participant = session_participant(request.session, study)
    if participant is None or participant.status != Participant.Status.ACTIVE:
        raise Http404("No such matchup in your study session.")
    matchup = participant.matchups.filter(position=number - 1).first()
    if matchup is None:
        raise Http404("No such matchup in your study session.")
    return study, participant, matchup


@require_POST
def matchup_watch(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The player's report of how much of each video has played; answers are checked against it."""
    study, participant, matchup = _active_matchup_or_404(request, slug, number)
    aliases = {"watched_left": 0, "watched_right": 1}
    reported: dict[int, float] = {}
    for name in request.POST:
        value = request.POST.get(name, "")
        index = aliases.get(name)
        if index is None and name.startswith("watched_") and name[8:].isdigit():
            index = int(name[8:])
        if index is None:
            continue
        try:
            reported[index] = _fraction(value)
        except ValueError:
            return JsonResponse({"error": f"{name} must be a fraction from 0 to 1."}, status=400)
    recorded = services.matchup_watch_record(participant=participant, matchup_id=matchup.pk, watched=reported)
    watched = [recorded.watched_of(k) for k in range(len(recorded.video_ids))]
    # The server's view: the page unlocks its answer buttons from this, not from its own.
    return JsonResponse(
        {
            "watched": watched,
            "watched_left": watched[0],
            "watched_right": watched[1],
            "missing": selectors.watch_missing(study=study, matchup=recorded),
        }
    )


@require_POST
def matchup_wait(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """The player's report of the wait before this matchup's videos could play through."""
    _, participant, matchup = _active_matchup_or_404(request, slug, number)
    try:
        wait_ms = float(request.POST["wait_ms"])
    except (KeyError, ValueError):
        wait_ms = math.nan
    if not math.isfinite(wait_ms):
        return JsonResponse({"error": "wait_ms must be a number of milliseconds."}, status=400)
    recorded = services.matchup_wait_record(participant=participant, matchup_id=matchup.pk, wait_ms=wait_ms)
    return JsonResponse({"wait_ms": recorded.wait_ms})


def _matchup_submit(
    request: HttpRequest,
    study: Study,
    participant: Participant,
    page: selectors.MatchupPage,
    form: MatchupForm,
) -> HttpResponse:
    """Save the picks, then go where the participant asked: Previous keeps what there is."""
    go = form.cleaned_data["go"]
    services.answers_save(
        participant=participant,
        matchup_id=form.cleaned_data["matchup"],
        picks=form.picks(),
        elapsed_ms=form.cleaned_data.get("elapsed_ms"),
        require_all=go != "previous",
    )
    participant.refresh_from_db(fields=["status"])
    if participant.is_screened_out:
        return redirect("study_participant:done", slug=study.public_slug)
    if go == "finish":
        services.participant_finish(participant=participant)
        return redirect("study_participant:done", slug=study.public_slug)
    target = min(max(page.number - 1 if go == "previous" else page.number + 1, 1), page.total)
    services.participant_go_to(participant=participant, position=target - 1)
    url = reverse("study_participant:matchup", kwargs={"slug": study.public_slug, "number": target})
    next_page = selectors.matchup_page(participant=participant, position=target - 1)
    if getattr(request, "htmx", False) and next_page is not None:
        # The next matchup in this very answer, with its address for the browser's history: one round
        # trip less than a redirect the browser would follow.
        response = _matchup_show(request, study, participant, next_page)
        response["HX-Push-Url"] = url
        return response
    return redirect(url)


def _matchup_show(
    request: HttpRequest, study: Study, participant: Participant, page: selectors.MatchupPage
) -> HttpResponse:
    services.matchup_shown(matchup=page.matchup)
    return _matchup_render(request, study, participant, page, None)


def _matchup_render(
    request: HttpRequest,
    study: Study,
    participant: Participant,
    page: selectors.MatchupPage,
    error: str | None,
    status: int = 200,
) -> HttpResponse:
    context = {"study": study, "participant": participant, "page": page, "error": error}
    return render(request, "studies/participant/matchup.html", context, status=status)


@require_safe
def done(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study_or_404(slug)
    participant = session_participant(request.session, study)
    if participant is None or participant.status not in (
        Participant.Status.COMPLETED,
        Participant.Status.SCREENED_OUT,
    ):
        return redirect(_where(study, participant))
    # The same address either way; a screened-out participant reads a polite end, never why.
    template = "screened_out.html" if participant.is_screened_out else "done.html"
    return render(request, f"studies/participant/{template}", {"study": study, "participant": participant})


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study_or_404(slug)
    participant = session_participant(request.session, study)
    if participant is None or participant.status == Participant.Status.INVITED:
        return redirect(_where(study, participant))
    if request.method == "POST":
        participant = services.participant_withdraw(participant=participant)
    context = {"study": study, "participant": participant, "back": _where(study, participant)}
    return render(request, "studies/participant/withdraw.html", context)
