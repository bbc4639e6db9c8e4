"""People: the annotators and ML-team members a study admin manages in the app.

A new person gets an account without a password and a one-time sign-in link to set one: Django's
password-reset token, which stops working once a password is set (the token hashes the password) or
after ``PASSWORD_RESET_TIMEOUT``. Deactivating someone keeps everything they did (votes, seats) and
hands back the comparisons they hold; they can no longer sign in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from annotate import services, vote_path
from annotate.errors import PeopleError
from annotate.models import Track, TrackSeat
from lib.roles import ANNOTATORS_GROUP, ML_TEAM_GROUP

# One paste at a time: enough for a crowd of annotators, small enough to read the answer.
MAX_PEOPLE_PER_LIST = 200
_USERNAME_MAX = User._meta.get_field("username").max_length or 150


@dataclass(frozen=True)
class Newcomer:
    """One entry of a pasted list: the line it came from, the account's username and e-mail."""

    line: int
    entry: str
    username: str
    email: str


# --- reads ----------------------------------------------------------------------------------------


def _ml_team() -> Exists:
    return Exists(Group.objects.filter(name=ML_TEAM_GROUP, user=OuterRef("pk")))


def people_list() -> QuerySet[User]:
    """Everyone who is not a study admin: annotators and the ML team, with their seats' tracks."""
    seats = TrackSeat.objects.select_related("track").order_by("track__name")
    return (
        User.objects.filter(is_staff=False)
        .annotate(in_ml_team=_ml_team())
        .prefetch_related(Prefetch("track_seats", queryset=seats))
        .order_by("username")
    )


def person_get(*, person_id: int) -> User | None:
    return people_list().filter(pk=person_id).first()


def person_status(person: User) -> str:
    if not person.is_active:
        return "Deactivated"
    if not person.has_usable_password():
        return "Invited"
    return "Active"


def sign_in_link_path(person: User) -> str:
    """The path of a link that lets ``person`` set a password once (and so sign in)."""
    uid = urlsafe_base64_encode(force_bytes(person.pk))
    return reverse("password_set", args=[uid, default_token_generator.make_token(person)])


# --- parsing a list -------------------------------------------------------------------------------


def _entry_problem(entry: str) -> str:
    """Why ``entry`` is neither an e-mail address nor a username, or ``""``."""
    if "@" in entry:
        try:
            validate_email(entry)
        except ValidationError:
            return "is not a valid e-mail address"
        return f"is longer than {_USERNAME_MAX} characters" if len(entry) > _USERNAME_MAX else ""
    if len(entry) > _USERNAME_MAX:
        return f"is longer than {_USERNAME_MAX} characters"
    try:
        UnicodeUsernameValidator()(entry)
    except ValidationError:
        return "is not a username: letters, digits and @ . + - _ only, no spaces"
    return ""


def people_parse(*, text: str) -> list[Newcomer]:
    """The people of a pasted list (one per line, or separated by commas), each checked: a valid e-mail
    address (which becomes the username too) or username, listed once, without an account yet. Every
    problem is raised at once, each naming its line."""
    entries = [
        (number, part.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        for part in line.split(",")
        if part.strip()
    ]
    if not entries:
        raise PeopleError(["Give at least one e-mail address or username."])
    if len(entries) > MAX_PEOPLE_PER_LIST:
        raise PeopleError([f"{len(entries)} people listed: {MAX_PEOPLE_PER_LIST} at most at a time."])
    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    people: list[Newcomer] = []
    for number, entry in entries:
        problem = _entry_problem(entry)
        key = entry.lower()
        if problem:
            problems.append((number, f"Line {number}: “{entry}” {problem}."))
        elif key in first_line:
            problems.append(
                (number, f"Line {number}: “{entry}” is listed twice (first on line {first_line[key]}).")
            )
        else:
            first_line[key] = number
            email = entry if "@" in entry else ""
            people.append(Newcomer(line=number, entry=entry, username=entry, email=email))
    taken = _taken(first_line)
    problems.extend(
        (person.line, f"Line {person.line}: “{person.entry}” already has an account.")
        for person in people
        if person.entry.lower() in taken
    )
    if problems:
        raise PeopleError([problem for _, problem in sorted(problems)])
    return people


def _taken(keys: Iterable[str]) -> set[str]:
    """Of these lower-cased names, those that are the username or e-mail address of an account."""
    wanted = list(keys)
    rows = User.objects.annotate(name=Lower("username"), mail=Lower("email")).filter(
        Q(name__in=wanted) | Q(mail__in=wanted)
    )
    return {value for row in rows.values_list("name", "mail") for value in row} & set(wanted)


# --- writes ---------------------------------------------------------------------------------------


def _annotators_group() -> Group:
    return Group.objects.get_or_create(name=ANNOTATORS_GROUP)[0]


def people_add(*, text: str, tracks: Iterable[Track] = ()) -> list[User]:
    """Make an account for each person of the list (no password yet: each sets one through their
    sign-in link), in the annotators group, seated on ``tracks``. All of them or, on any problem, none."""
    newcomers = people_parse(text=text)
    tracks = list(tracks)
    try:
        with transaction.atomic():
            people = [
                User.objects.create_user(person.username, email=person.email, password=None)
                for person in newcomers
            ]
            _annotators_group().user_set.add(*people)
            for track in tracks:
                services.track_seats_add(track=track, user_ids=[person.pk for person in people])
    except IntegrityError:
        # Another admin made one of these accounts between the check and the write.
        raise PeopleError(
            ["One of these people was just added by someone else: check the list again."]
        ) from None
    return people


def _mail_configured() -> bool:
    smtp = settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    return bool(settings.EMAIL_HOST) or not smtp


def sign_in_link_send(*, person: User, link: str) -> str:
    """E-mail ``link`` to the person when they have an address and the platform can send mail; the
    answer says what happened, for the admin (who has the link to hand over either way)."""
    if not person.email or not _mail_configured():
        return ""
    try:
        send_mail(
            "Your sign-in link: preference annotation",
            f"Hello,\n\nan account was made for you ({person.get_username()}). Open this link once to "
            f"choose your password; then sign in with it:\n\n{link}\n",
            None,
            [person.email],
        )
    except OSError as error:
        return f"The e-mail to {person.email} could not be sent ({error}): hand them the link."
    return f"Sent to {person.email}."


@transaction.atomic
def person_tracks_set(*, person: User, tracks: Iterable[Track]) -> None:
    """Seat the person on exactly these tracks: new seats are added, seats on other tracks removed (their
    votes stay). ML-team members hold no seat."""
    wanted = {track.pk: track for track in tracks}
    if wanted and Group.objects.filter(name=ML_TEAM_GROUP, user=person).exists():
        raise PeopleError([f"{person.get_username()} is in the ML team, whose members never vote."])
    leaving = TrackSeat.objects.filter(user=person).exclude(track_id__in=wanted)
    # An excluded seat is what keeps their votes out of every count: it stays.
    excluded = [seat.track.name for seat in leaving.filter(excluded=True).select_related("track")]
    if excluded:
        raise PeopleError(
            [
                f"{person.get_username()} is excluded from {', '.join(excluded)}: the seat stays so that "
                "their votes there keep counting nowhere."
            ]
        )
    services.track_seats_remove(seats=leaving)
    for track in wanted.values():
        services.track_seats_add(track=track, user_ids=[person.pk])


@transaction.atomic
def person_active_set(*, person: User, active: bool) -> None:
    """Deactivated, a person can no longer sign in (their sessions end with it) and the comparisons they
    hold go back to the pool; their votes and seats are kept, for a reactivation."""
    if person.is_staff:
        raise PeopleError(["Study admins are managed in the admin site."])
    User.objects.filter(pk=person.pk).update(is_active=active)
    person.is_active = active
    if not active:
        vote_path.rater_leases_release(user=person)


@transaction.atomic
def person_ml_team_set(*, person: User, member: bool) -> None:
    """Put the person in the ML team (generation, exports, the API) or take them out of it."""
    group = Group.objects.get_or_create(name=ML_TEAM_GROUP)[0]
    if not member:
        group.user_set.remove(person)
        return
    seats = TrackSeat.objects.filter(user=person).count()
    if seats:
        raise PeopleError(
            [
                f"{person.get_username()} is seated on {seats} track{'s' if seats != 1 else ''}: ML-team "
                "members never vote. Take them off their tracks first."
            ]
        )
    group.user_set.add(person)
