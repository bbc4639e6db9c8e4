"""API views: thin, as the pages are. They parse, call a selector or service, and serialize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import authenticate, user_login_failed
from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from redis.exceptions import RedisError
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from annotate.models import Comparison, Judgment, Track
from annotate.selectors import quality_report_get
from api import filters
from api import serializers as out
from api.authentication import token_expires, token_for
from api.pagination import IdCursorPagination
from api.permissions import AUTHENTICATION_CLASSES
from exports.options import ExportOptions, ExportOptionsError
from exports.read import raters_resolve, sources_check
from exports.runs import (
    ExportRunBusy,
    export_run_archive_path,
    export_run_delete,
    export_run_get,
    export_run_list,
    export_run_start,
)
from generation.errors import GenerationError
from generation.models import GenerationJob, Identity, Method, Prompt, Story, StoryShot, Video
from generation.selectors import (
    job_list,
    job_progress_get,
    job_progress_of,
    metric_run_progress_get,
    metric_summaries,
    video_metric_list,
)
from generation.services import generation_job_cancel, generation_job_create, metric_run_create
from lib.auth import lockout_message, lockout_minutes
from lib.roles import IsMlTeamOrStaff, may_export
from studies.metric_agreement import (
    CARTOON_CAVEAT,
    DLIB_CAVEAT,
    agreement_query,
    criterion_agreement,
    made_procedurally,
)
from studies.metric_agreement import as_dict as agreement_as_dict
from studies.metric_table import paper_table, table_as_dict, table_methods_from_query, video_set_from_query
from studies.models import RankingRun, Study
from studies.rankings import (
    ALL_CRITERIA,
    RankingOptionsError,
    checkpoint_compare,
    criterion_from_query,
    half_width_from_query,
    judged_criteria,
    methods_from_query,
    options_from_query,
    ranking_run_get,
    ranking_run_start,
    scope_from_query,
)


class ApiView(APIView):
    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = (IsMlTeamOrStaff,)


# The entry points GET /api/ lists: the lists and what a client starts from (names in api/urls.py).
ENTRY_POINTS = (
    "identities", "prompts", "methods", "stories", "videos", "comparisons", "tracks", "studies", "judgments",
    "exports", "generation-jobs", "metrics", "metric-values", "metric-agreement", "metric-table",
    "rankings", "checkpoints", "token", "schema",
    "docs", "redoc",
)  # fmt: skip


class ApiRootApi(ApiView):
    """The API's entry points, by name, as absolute URLs (as DRF's browsable root lists them)."""

    @extend_schema(
        responses=inline_serializer("ApiRoot", {name: serializers.URLField() for name in ENTRY_POINTS})
    )
    def get(self, request: Request) -> Response:
        return Response({name: reverse(f"api:{name}", request=request) for name in ENTRY_POINTS})


def parse_filters(request: Request, filter_class: type[filters.Filters]) -> dict[str, Any]:
    """The validated query parameters; an unknown or repeated one or a bad value is a 400 naming it."""
    known = set(filter_class().fields) | filters.PAGING_PARAMS
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise ValidationError({name: ["Unknown filter."] for name in unknown})
    repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
    if repeated:
        # Each filter takes one value; reading only the last of several would ignore the others.
        raise ValidationError({name: ["Given more than once."] for name in repeated})
    checked = filter_class(data={k: request.query_params.get(k) for k in request.query_params})
    checked.is_valid(raise_exception=True)
    return dict(checked.validated_data)


class FilteredListApi(ListAPIView):
    """A cursor-paginated list whose query parameters are checked by ``filter_class``."""

    authentication_classes = AUTHENTICATION_CLASSES
    permission_classes = (IsMlTeamOrStaff,)
    pagination_class = IdCursorPagination
    filter_class: type[filters.Filters]

    def base_queryset(self) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        values = parse_filters(self.request, self.filter_class)
        return self.filter_class().apply(self.base_queryset(), values)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The filters are the list's documented query parameters.
        # (extend_schema_view gives each list its own copy of the inherited get to annotate.)
        if "filter_class" in cls.__dict__:
            extend_schema_view(get=extend_schema(parameters=[cls.filter_class]))(cls)


class IdentityListApi(FilteredListApi):
    serializer_class = out.IdentitySerializer
    filter_class = filters.IdentityFilters

    def base_queryset(self) -> QuerySet:
        return Identity.objects.prefetch_related("references")


class PromptListApi(FilteredListApi):
    serializer_class = out.PromptSerializer
    filter_class = filters.PromptFilters

    def base_queryset(self) -> QuerySet:
        return Prompt.objects.all()


class MethodListApi(FilteredListApi):
    serializer_class = out.MethodSerializer
    filter_class = filters.MethodFilters

    def base_queryset(self) -> QuerySet:
        return Method.objects.all()


class StoryListApi(FilteredListApi):
    serializer_class = out.StorySerializer
    filter_class = filters.StoryFilters

    def base_queryset(self) -> QuerySet:
        shots = StoryShot.objects.select_related("prompt").order_by("position")
        return Story.objects.prefetch_related(Prefetch("shots", queryset=shots))


class VideoListApi(FilteredListApi):
    serializer_class = out.VideoSerializer
    filter_class = filters.VideoFilters

    def base_queryset(self) -> QuerySet:
        return Video.objects.of_methods()


class ComparisonListApi(FilteredListApi):
    serializer_class = out.ComparisonSerializer
    filter_class = filters.ComparisonFilters

    def base_queryset(self) -> QuerySet:
        return Comparison.objects.all()


class TrackListApi(FilteredListApi):
    serializer_class = out.TrackSerializer
    filter_class = filters.TrackFilters

    def base_queryset(self) -> QuerySet:
        return Track.objects.all()


class StudyListApi(FilteredListApi):
    serializer_class = out.StudySerializer
    filter_class = filters.StudyFilters

    def base_queryset(self) -> QuerySet:
        return Study.objects.prefetch_related("baselines", "identities", "prompts", "stories")


class JudgmentListApi(FilteredListApi):
    serializer_class = out.JudgmentSerializer
    filter_class = filters.JudgmentFilters

    def base_queryset(self) -> QuerySet:
        return filters.judgments_visible(Judgment.objects.select_related("rater__study_participant"))


# --- rater quality ------------------------------------------------------------------------------


class TrackQualityApi(ApiView):
    @extend_schema(responses=out.QualityReportSerializer)
    def get(self, request: Request, track_id: int) -> Response:
        """The track's last computed rater quality table (the quality page's), raters as salted ids."""
        if not Track.objects.filter(pk=track_id).exists():
            raise NotFound("No such track.")
        scope = f"track:{track_id}"
        report = quality_report_get(scope=scope)
        return Response(out.QualityReportSerializer.of(scope=scope, kind="annotator", report=report).data)


class StudyQualityApi(ApiView):
    @extend_schema(responses=out.QualityReportSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        """The study's last computed rater quality table (the quality page's), raters as salted ids."""
        if not Study.objects.filter(pk=study_id).exists():
            raise NotFound("No such study.")
        scope = f"study:{study_id}"
        report = quality_report_get(scope=scope)
        return Response(out.QualityReportSerializer.of(scope=scope, kind="participant", report=report).data)


# --- exports ------------------------------------------------------------------------------------


class ExportRunListApi(FilteredListApi):
    serializer_class = out.ExportRunSerializer
    filter_class = filters.ExportRunFilters
    # JSON only: a form cannot say "no options" apart from a body it failed to read, and has no lists.
    parser_classes = (JSONParser,)

    def base_queryset(self) -> QuerySet:
        return export_run_list()

    @extend_schema(
        request=out.ExportOptionsSerializer,
        responses={202: out.ExportRunSerializer},
        description="Start an export as a Celery task; follow it at the returned run's URL.",
    )
    def post(self, request: Request) -> Response:
        body = out.ExportOptionsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            # The body has the options' JSON form: the serializer's fields are the option names.
            options = ExportOptions.from_json(body.validated_data)
            # Checked now so that a typo is a 400 here rather than a failed run later.
            sources_check(options)
            raters_resolve(options.exclude_raters)
        except ExportOptionsError as error:
            raise ValidationError({error.field: [error.message]}) from error
        # IsMlTeamOrStaff lets only signed-in users through.
        run = export_run_start(options=options, user=cast(User, request.user))
        data = out.ExportRunSerializer(run, context={"request": request}).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": f"{run.pk}/"})


class ExportRunDetailApi(ApiView):
    @extend_schema(responses=out.ExportRunSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        run = export_run_get(run_id=run_id)
        if run is None:
            raise NotFound("No such export.")
        return Response(out.ExportRunSerializer(run, context={"request": request}).data)

    @extend_schema(
        responses={
            204: OpenApiResponse(description="The run and its archive are deleted."),
            409: OpenApiResponse(description="The export is being built right now."),
        }
    )
    def delete(self, request: Request, run_id: int) -> Response:
        try:
            deleted = export_run_delete(run_id=run_id)
        except ExportRunBusy as busy:
            return Response({"detail": str(busy)}, status=status.HTTP_409_CONFLICT)
        if not deleted:
            raise NotFound("No such export.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExportRunDownloadApi(ApiView):
    @extend_schema(
        responses={
            (200, "application/gzip"): OpenApiResponse(description="The snapshot as .tar.gz"),
            409: OpenApiResponse(description="The export has not finished."),
        }
    )
    def get(self, request: Request, run_id: int) -> FileResponse | Response:
        run = export_run_get(run_id=run_id)
        if run is None:
            raise NotFound("No such export.")
        if not run.is_finished:
            return Response({"detail": "The export has not finished."}, status=status.HTTP_409_CONFLICT)
        path = export_run_archive_path(run=run)
        if path is None:
            raise NotFound("This export has no archive.")
        return FileResponse(
            open(path, "rb"), as_attachment=True, filename=path.name, content_type="application/gzip"
        )


# --- generation jobs ----------------------------------------------------------------------------


class GenerationJobListApi(FilteredListApi):
    serializer_class = out.GenerationJobSerializer
    filter_class = filters.GenerationJobFilters
    parser_classes = (JSONParser,)  # the settings are a JSON object

    def base_queryset(self) -> QuerySet:
        return job_list()

    def paginate_queryset(self, queryset: QuerySet[Any] | Sequence[Any]) -> list[Any] | None:
        # The serializer reads each job's progress: counted for the page's jobs at once.
        page = super().paginate_queryset(queryset)
        return None if page is None else job_progress_of(jobs=list(page))

    @extend_schema(request=out.GenerationJobCreateSerializer, responses={202: out.GenerationJobSerializer})
    def post(self, request: Request) -> Response:
        body = out.GenerationJobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            track = data.get("extend_track")
            job = generation_job_create(
                method=data["method"],
                identities=data.get("identities", ()),
                prompts=data.get("prompts", ()),
                seeds=data.get("seeds"),
                match_method=data.get("match_method"),
                extend_track_id=track.pk if track else None,
                settings_overrides=data["settings"],
                created_by=cast(User, request.user),  # signed in: IsMlTeamOrStaff
            )
        except GenerationError as error:
            raise ValidationError({"non_field_errors": [str(error)]}) from error
        progress = job_progress_get(job_id=job.pk)
        return Response(out.GenerationJobSerializer(progress).data, status=status.HTTP_202_ACCEPTED)


class GenerationJobDetailApi(ApiView):
    @extend_schema(responses=out.GenerationJobDetailSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        progress = job_progress_get(job_id=job_id)
        if progress is None:
            raise NotFound("No such generation job.")
        return Response(out.GenerationJobDetailSerializer(progress).data)


class GenerationJobCancelApi(ApiView):
    @extend_schema(request=None, responses=out.GenerationJobSerializer)
    def post(self, request: Request, job_id: int) -> Response:
        job = GenerationJob.objects.filter(pk=job_id).first()
        if job is None:
            raise NotFound("No such generation job.")
        generation_job_cancel(job=job)
        return Response(out.GenerationJobSerializer(job_progress_get(job_id=job_id)).data)


# --- automatic metrics --------------------------------------------------------------------------


class MetricOverviewApi(ApiView):
    @extend_schema(responses=out.MetricOverviewSerializer)
    def get(self, request: Request) -> Response:
        """The metrics as computed now (version, what each measures and cannot, model hash, settings), and
        the catalog's videos counted by the status of their row under each."""
        data = {"videos": Video.objects.of_methods().count(), "metrics": metric_summaries()}
        return Response(out.MetricOverviewSerializer(data).data)


class VideoMetricListApi(FilteredListApi):
    """Stored metric values, of each metric's current definition unless ``current=false``."""

    serializer_class = out.VideoMetricSerializer
    filter_class = filters.VideoMetricFilters

    def get_queryset(self) -> QuerySet:
        values = parse_filters(self.request, self.filter_class)
        video_id = values.get("video")
        if video_id is not None and not Video.objects.of_methods().filter(pk=video_id).exists():
            raise NotFound("No such video.")
        return video_metric_list(video_id=video_id, name=values.get("name"), current=values["current"])


class MetricRunStartApi(ApiView):
    @extend_schema(
        request=None,
        responses={202: out.MetricRunSerializer},
        description="Compute the current metrics of every video of the catalog that lacks one (and those "
        "that failed), one Celery task a video; follow the run at its URL.",
    )
    def post(self, request: Request) -> Response:
        run = metric_run_create(created_by=cast(User, request.user))  # signed in: IsMlTeamOrStaff
        progress = metric_run_progress_get(run_id=run.pk)
        return Response(
            out.MetricRunSerializer(progress).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{run.pk}/"},
        )


class MetricRunDetailApi(ApiView):
    @extend_schema(responses=out.MetricRunSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        progress = metric_run_progress_get(run_id=run_id)
        if progress is None:
            raise NotFound("No such metric run.")
        return Response(out.MetricRunSerializer(progress).data)


# --- any other path -----------------------------------------------------------------------------


@extend_schema(exclude=True)
class UnknownPathApi(ApiView):
    """A path under /api/ that names nothing (an id beyond what a row can have, a typo): the API's JSON
    404, as its schema documents, rather than the site's HTML page."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound()

    post = put = patch = delete = get


# --- tokens -------------------------------------------------------------------------------------


# Wrong credentials and the right ones of a user who may not use the API get this same answer: the
# endpoint does not tell an annotator's password from a wrong one.
TOKEN_REFUSED = "Unable to sign in with these credentials, or this user may not use the API."
THROTTLED_SCHEMA = OpenApiResponse(
    inline_serializer("Throttled", {"detail": serializers.CharField()}),
    description="Too many requests, or too many failed sign-ins for this user from this address; "
    "the Retry-After header says how many seconds to wait.",
)


class TokenThrottle(ScopedRateThrottle):
    """``API_TOKEN_RATE`` requests per client address, counted in the cache. While the cache's Redis does
    not answer, requests pass: the lockout after failed sign-ins, kept in the database, still holds."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            return True


class TokenApi(APIView):
    """POST: a token for a username and password (only the ML team and study admins get one).
    DELETE: revoke the token of the caller."""

    authentication_classes = AUTHENTICATION_CLASSES
    throttle_scope = "token"

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    def get_throttles(self) -> list[Any]:
        return [TokenThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        request=out.TokenCredentialsSerializer,
        # The 400 is the shared ValidationError body (added by api.schema.ApiAutoSchema).
        responses={200: out.TokenSerializer, 429: THROTTLED_SCHEMA},
        auth=[],
        description="A wrong password, an unknown user and a user who may not use the API all get the "
        f'same 400: {{"non_field_errors": ["{TOKEN_REFUSED}"]}}. '
        f"A token is refused {settings.API_TOKEN_TTL_DAYS} days (API_TOKEN_TTL_DAYS) after it "
        "was made, with a 401 saying it expired; asking again then gives a new one.",
    )
    def post(self, request: Request) -> Response:
        body = out.TokenCredentialsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        # The DRF request, not Django's: a lockout is answered here, not by the sign-in page of axes'
        # middleware.
        user = authenticate(request, **body.validated_data)
        if user is not None and not may_export(user):
            # Counted as a failure too, or the lockout coming later would tell this password apart.
            user_login_failed.send(__name__, credentials={"username": user.get_username()}, request=request)
            user = None
        if getattr(request, "axes_locked_out", False):
            raise Throttled(wait=lockout_minutes() * 60, detail=lockout_message())
        if user is None:
            raise ValidationError({"non_field_errors": [TOKEN_REFUSED]})
        token = token_for(user=user)
        return Response(out.TokenSerializer({"token": token.key, "expires": token_expires(token)}).data)

    @extend_schema(request=None, responses={204: None, 401: OpenApiResponse(description="Not signed in.")})
    def delete(self, request: Request) -> Response:
        """Revoke the caller's token: it is refused from now on, and POST /api/token/ makes a new one.
        Staff revoke anyone's under Auth Token in the admin."""
        Token.objects.filter(user=cast(User, request.user)).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- rankings -----------------------------------------------------------------------------------


def _ranking_payload(run: RankingRun, criterion: str) -> dict[str, Any]:
    boards = (
        run.boards if criterion == ALL_CRITERIA else {k: v for k, v in run.boards.items() if k == criterion}
    )
    leaderboards = [{"criterion": name} | board for name, board in boards.items()]
    fields = ("status", "progress", "error", "computed_at", "seconds", "judgments", "options")
    return {name: getattr(run, name) for name in fields} | {"leaderboards": leaderboards}


def _ranking_query(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """The query checked against its serializer: a bad value, or an unknown or repeated name, is a 400."""
    fields: list[str] = list(serializer_class().fields.keys())
    unknown = sorted(set(request.query_params) - set(fields))
    repeated = sorted(name for name in fields if len(request.query_params.getlist(name)) > 1)
    if unknown or repeated:
        errors = {name: ["Unknown parameter."] for name in unknown}
        raise ValidationError(errors | {name: ["Give this parameter once."] for name in repeated})
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def _refused(error: RankingOptionsError) -> Exception:
    if error.not_found:
        return NotFound(error.message)
    return ValidationError({error.field: [error.message]})


NOT_COMPUTED = OpenApiResponse(
    description="Nothing to show: an id of no row, a criterion nobody judged, or "
    "no leaderboard computed for these options yet (POST them)."
)


class RankingsApi(ApiView):
    @extend_schema(
        parameters=[out.RankingQuerySerializer], responses={200: out.RankingRunSerializer, 404: NOT_COMPUTED}
    )
    def get(self, request: Request) -> Response:
        """The last computed leaderboard of these options (the Rankings page's): Bradley–Terry scores with
        rater-clustered bootstrap intervals, ranks (upper bound), win rates and fragility."""
        query = _ranking_query(request, out.RankingQuerySerializer)
        try:
            options = options_from_query(query)
            criterion = criterion_from_query(query, judged=judged_criteria(options.scope))
        except RankingOptionsError as error:
            raise _refused(error) from error
        run = ranking_run_get(options)
        if run is None:
            raise NotFound("No leaderboard computed for these options yet: POST them to compute one.")
        return Response(out.RankingRunSerializer(_ranking_payload(run, criterion)).data)

    @extend_schema(
        request=out.RankingOptionsSerializer,
        responses={200: out.RankingRunSerializer, 202: out.RankingRunSerializer, 404: NOT_COMPUTED},
        description="Compute the leaderboard of these options: at once when small (200), else as a Celery "
        "task (202; GET the same options to follow it).",
    )
    def post(self, request: Request) -> Response:
        known = set(out.RankingOptionsSerializer().fields.keys())
        unknown = sorted(set(request.data) - known) if isinstance(request.data, dict) else []
        if unknown:
            raise ValidationError({name or "(empty name)": ["Unknown option."] for name in unknown})
        body = out.RankingOptionsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            options = options_from_query(body.validated_data)
        except RankingOptionsError as error:
            raise _refused(error) from error
        run = ranking_run_start(options)
        code = status.HTTP_200_OK if run.status == RankingRun.Status.DONE else status.HTTP_202_ACCEPTED
        return Response(out.RankingRunSerializer(_ranking_payload(run, ALL_CRITERIA)).data, status=code)


class CheckpointsApi(ApiView):
    @extend_schema(
        parameters=[out.CheckpointQuerySerializer],
        responses={200: out.CheckpointComparisonSerializer, 404: NOT_COMPUTED},
    )
    def get(self, request: Request) -> Response:
        """Two methods head to head per criterion: wins, losses, ties, win rate with a rater-clustered
        interval, a one-sided test that the new one is better, and the judgments still needed."""
        query = _ranking_query(request, out.CheckpointQuerySerializer)
        try:
            new, old = methods_from_query(query)
            scope = scope_from_query(query)
            half_width = half_width_from_query(query)
            rows = checkpoint_compare(new=new, old=old, scope=scope, half_width=half_width)
        except RankingOptionsError as error:
            raise _refused(error) from error
        data = {
            "new": new.name,
            "old": old.name,
            "half_width": half_width,
            "criteria": [r.as_dict() for r in rows],
        }
        return Response(out.CheckpointComparisonSerializer(data).data)


# --- metrics against people ------------------------------------------------------------------------


NOT_FOUND_OPTIONS = OpenApiResponse(
    description="Nothing to show: an id of no row, a criterion nobody judged, or a definition without values."
)


def _metric_query(request: Request, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
    """As the rankings check their query, but an empty value is a value: ``videos=`` is refused, where
    a form's empty field (a QueryDict) would be read as absent and the schema's promise broken."""
    _ranking_query(request, serializer_class)  # unknown or repeated names
    query = serializer_class(data=request.query_params.dict())
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


class MetricAgreementApi(ApiView):
    @extend_schema(
        parameters=[out.MetricAgreementQuerySerializer],
        responses={200: out.MetricAgreementSerializer, 404: NOT_FOUND_OPTIONS},
    )
    def get(self, request: Request) -> Response:
        """How often the criterion's automatic metric prefers the video people's majority preferred, with
        its Wilson interval, by the metric's gap, Kendall's tau of the methods' order and the strongest
        disagreements (the "Metrics against people" page's numbers). A criterion without a metric, or
        whose metric has no value (text alignment without weights), answers with ``reason`` instead."""
        query = _metric_query(request, out.MetricAgreementQuerySerializer)
        try:
            asked = agreement_query(query)
            result = criterion_agreement(
                scope=asked.scope, criterion=asked.criterion, definition=asked.definition, bins=asked.bins
            )
        except RankingOptionsError as error:
            raise _refused(error) from error
        notes = [DLIB_CAVEAT] if result.uses_dlib else []
        if result.order and made_procedurally(result.order.methods):
            notes.append(CARTOON_CAVEAT)
        data = agreement_as_dict(result) | {"notes": notes}
        return Response(out.MetricAgreementSerializer(data).data)


class MetricTableApi(ApiView):
    @extend_schema(
        parameters=[out.MetricTableQuerySerializer],
        responses={200: out.MetricTableSerializer, 404: NOT_FOUND_OPTIONS},
    )
    def get(self, request: Request) -> Response:
        """The paper table: each method's mean of every metric with a 95 % t interval over its videos,
        beside its win rate per criterion against the other methods asked for; best marked."""
        query = _metric_query(request, out.MetricTableQuerySerializer)
        try:
            table = paper_table(
                scope=scope_from_query(query),
                methods=table_methods_from_query(query),
                videos=video_set_from_query(query),
            )
        except RankingOptionsError as error:
            raise _refused(error) from error
        return Response(out.MetricTableSerializer(table_as_dict(table)).data)
