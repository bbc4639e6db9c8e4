"""Study presets: question sets, formats and the default texts shown to participants.

The texts are ours to write (see ../shared/protocols.md) and every study admin may edit them. In the
instructions and consent text, ``{matchups}``, ``{minutes}``, ``{questions}`` and ``{contact}`` are
filled in from the study, so a changed number of matchups never leaves a wrong count on the page.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotate.models import Criterion


@dataclass(frozen=True)
class QuestionSpec:
    criterion: str
    text: str
    hint: str


@dataclass(frozen=True)
class PresetSpec:
    key: str
    title: str
    summary: str
    format: str  # Study.Format value
    questions: tuple[QuestionSpec, ...]
    kind: str = "clips"  # Study.Kind value: "narrative" draws its cases from stories


IDENTITY_FIDELITY = QuestionSpec(
    Criterion.IDENTITY_FIDELITY,
    "In which video does the person look more like the person in the reference image?",
    "Compare the face, its expressions and the overall appearance, across all frames.",
)
ELEMENT_CONSISTENCY = QuestionSpec(
    Criterion.ELEMENT_CONSISTENCY,
    "Which video better keeps what the prompt does not mention?",
    "Hairstyle, clothing and accessories the prompt does not ask to change should stay as in the "
    "reference image.",
)
PROMPT_CONTROLLABILITY = QuestionSpec(
    Criterion.PROMPT_CONTROLLABILITY,
    "Which video better makes the changes the prompt asks for?",
    "Appearance, expression, action and background as the prompt describes them.",
)
VISUAL_QUALITY = QuestionSpec(
    Criterion.VISUAL_QUALITY,
    "Which video has the better visual quality?",
    "Sharp, smooth motion, no blur, flicker or unnatural textures.",
)

PRESETS: dict[str, PresetSpec] = {
    "anyid": PresetSpec(
        key="anyid",
        title="Four questions (AnyID-style)",
        summary="Ours against one baseline drawn at random, two anonymous videos side by side; identity "
        "fidelity, element consistency (only where the prompt leaves hair, clothing or accessories "
        "unmentioned), prompt controllability and visual quality.",
        format="pairwise",
        questions=(IDENTITY_FIDELITY, ELEMENT_CONSISTENCY, PROMPT_CONTROLLABILITY, VISUAL_QUALITY),
    ),
    "personalvideo": PresetSpec(
        key="personalvideo",
        title="Best of all methods (PersonalVideo-style)",
        summary="Every method's video of the same case (same prompt and seed) side by side; for each of "
        "four criteria the participant picks the best one, which counts as a win over every other "
        "video shown.",
        format="best_of_all",
        questions=(
            QuestionSpec(
                Criterion.IDENTITY_FIDELITY,
                "In which video does the person look most like the person in the reference image?",
                "Compare the face and the overall appearance across all frames.",
            ),
            QuestionSpec(
                Criterion.TEXT_ALIGNMENT,
                "Which video matches the text prompt best?",
                "Everything the prompt describes: appearance, action, setting.",
            ),
            QuestionSpec(
                Criterion.DYNAMIC_DEGREE,
                "Which video has the most lively, natural motion?",
                "Prefer clear movement of the person and the camera over a nearly still picture.",
            ),
            QuestionSpec(
                Criterion.OVERALL_QUALITY,
                "Which video is the best overall?",
                "Your overall impression: likeness, prompt, motion and image quality together.",
            ),
        ),
    ),
    "concatid": PresetSpec(
        key="concatid",
        title="Facial motion, three questions (Concat-ID-style)",
        summary="Ours against one baseline; identity consistency, how well the facial motion follows the "
        "prompt, and how natural it looks.",
        format="pairwise",
        questions=(
            QuestionSpec(
                Criterion.IDENTITY_CONSISTENCY,
                "In which video does the person stay more consistently the person in the reference image?",
                "Look for a face that stays the same person from the first frame to the last.",
            ),
            QuestionSpec(
                Criterion.FACIAL_MOTION_ALIGNMENT,
                "In which video do the facial movements better match the prompt?",
                "Expressions, speaking, head movements: as the prompt describes them.",
            ),
            QuestionSpec(
                Criterion.FACIAL_MOTION_NATURALNESS,
                "In which video do the facial movements look more natural?",
                "Smooth, plausible movement of eyes, mouth and head; no warping or jitter.",
            ),
        ),
    ),
    "narrative": PresetSpec(
        key="narrative",
        title="Actor-Bench style: sequential narrative",
        summary="Ours against one baseline on stories: each side is one rendering of the same story (its "
        "shots played one after the other), beside the story's prompts shot by shot; identity "
        "consistency across shots, body consistency, narrative adherence and continuity.",
        format="pairwise",
        kind="narrative",
        questions=(
            QuestionSpec(
                Criterion.IDENTITY_CONSISTENCY,
                "In which video is it more clearly the same person in every shot?",
                "Face and body, matching the reference images from every viewpoint.",
            ),
            QuestionSpec(
                Criterion.BODY_CONSISTENCY,
                "In which video does the person's body stay more consistent?",
                "Build, clothing and hair held the same when the viewpoint changes.",
            ),
            QuestionSpec(
                Criterion.NARRATIVE_ADHERENCE,
                "Which video better follows the story?",
                "Each shot does what its prompt asks, in the order of the prompts.",
            ),
            QuestionSpec(
                Criterion.CONTINUITY,
                "Which video flows more smoothly from shot to shot?",
                "No jump between shots (in place, look or lighting) that the story does not ask for.",
            ),
        ),
    ),
}

DEFAULT_PRESET = "anyid"

DEFAULT_INSTRUCTIONS = """\
Thank you for your interest in this study.

What it is for. We are researchers developing methods that generate short videos of a person from a few \
reference pictures and a text prompt. This study compares how people judge videos made by different \
methods. The people shown are synthetic or have agreed to the use of their images.

What you will do. You will see {matchups} pages. Each page shows a reference image of a person, a text \
prompt, and short videos made from them. The videos play together; you may pause, replay and look as \
often as you like. For each page you answer {questions} by choosing one of the videos. There are no right \
or wrong answers: we want your own impression.

How to vote. Choose the video that answers each question better, even when the difference is small. \
Use Previous and Next to move between pages; you can go back and change an answer at any time before \
you finish.

Time. About {minutes} minutes.

Taking part is voluntary. You may stop and withdraw at any moment, without giving a reason, with the \
Withdraw link at the top of every page. If you withdraw, all your answers are left out of the analysis.

Privacy. Your answers are anonymous. We do not ask for and do not store your name, e-mail address or IP \
address. If you arrive from a crowd-working platform, its participant id is stored only as a one-way \
(salted) hash, to make sure each person takes part once.

Contact. Questions about this study: {contact}."""

# The narrative preset's participants see stories, not single clips: only "What you will do" differs.
NARRATIVE_INSTRUCTIONS = DEFAULT_INSTRUCTIONS.replace(
    "Each page shows a reference image of a person, a text prompt, and short videos made from them. The "
    "videos play together;",
    "Each page shows reference images of a person, a short story told in a few numbered shots (one text "
    "prompt per shot), and two videos, each telling the whole story shot after shot. The videos play "
    "together;",
)


def instructions_for(preset: str) -> str:
    """The default instructions of a new study of ``preset``."""
    return NARRATIVE_INSTRUCTIONS if PRESETS[preset].kind == "narrative" else DEFAULT_INSTRUCTIONS


DEFAULT_CONSENT = """\
Before you start, please confirm that:

- you have read the information about this study and had the chance to ask questions;
- you take part voluntarily and know you may withdraw at any time without giving a reason, in which \
case all your answers are left out;
- you understand that your answers are anonymous and no personally identifying data is stored;
- you agree that your anonymous answers are used for research and may be published in aggregate form."""

DEFAULT_CONTACT_FALLBACK = "the research team that shared this link with you"


def minutes_estimate(matchups: int, *, watch_seconds: float = 0.0) -> str:
    """A range of minutes: about 30 to 45 seconds a matchup with short videos (40 matchups give
    "20–30"), more where watching a matchup's videos (``watch_seconds``) takes longer than that allows."""
    low_each = max(30.0, watch_seconds + 20)  # watch once, then answer
    high_each = max(45.0, watch_seconds * 1.5 + 30)  # some replay, some hesitate
    low = max(1, round(matchups * low_each / 60))
    high = max(low + 1, round(matchups * high_each / 60))
    return f"{low}–{high}"


def questions_phrase(count: int) -> str:
    words = {1: "one question", 2: "two questions", 3: "three questions", 4: "four questions"}
    return words.get(count, f"{count} questions")


def fill(text: str, *, matchups: int, questions: str, contact: str, watch_seconds: float = 0.0) -> str:
    """Fill the known placeholders; anything else in braces is left as the admin wrote it.

    ``questions`` is already a phrase ("four questions", "up to four questions").
    """
    values = {
        "{matchups}": str(matchups),
        "{minutes}": minutes_estimate(matchups, watch_seconds=watch_seconds),
        "{questions}": questions,
        "{contact}": contact.strip() or DEFAULT_CONTACT_FALLBACK,
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text
