"""Drawing a participant's matchup plan: which case, which baseline, which side.

Kept apart from the services so that the rules can be read (and tested) in one place:

- every baseline is met equally often, ±1 (the remainder goes to the baselines the study has shown
  least so far, so the study as a whole stays balanced too);
- ours and the baseline show the same case: the same identity, prompt and seed where both have a video
  with that seed, otherwise the same identity and prompt; a clip study never shows a story's videos;
- in a narrative study a case is a story: the joined files of ours' and the baseline's renderings of it,
  the same seed where both have one;
- cases are spread: a participant sees a case again only when every other case has been used, and
  identities and prompts are used as evenly as the pool allows, preferring cases the study has shown
  least often to earlier participants;
- sides are counterbalanced: ours is left on half the matchups (±1) and on half of each baseline's
  matchups (±1);
- element consistency is asked where the prompt leaves hairstyle, clothing or accessories unmentioned
  (or on a drawn share of those matchups);
- quality checks take some of the pages (``checks_insert``): gold matchups (a comparison with a known
  answer) at random positions, and repeats, each showing one earlier real matchup again at a random
  later position with the sides swapped. They are drawn like the rest and shown the same way.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from generation.models import Prompt, Video


@dataclass(frozen=True)
class Case:
    """Videos of one identity and prompt to show together; ``video_ids[0]`` is ours.

    A story's case has its ``story_id``, its identity and its first shot's prompt (the joined files')."""

    identity_id: int
    prompt_id: int
    video_ids: tuple[int, ...]
    same_seed: bool
    story_id: int | None = None

    @property
    def key(self) -> tuple[int, int, int | None]:
        return (self.identity_id, self.prompt_id, self.story_id)


@dataclass(frozen=True)
class PlannedMatchup:
    position: int
    baseline_id: int | None  # None in "best of all" studies: every baseline is shown
    case: Case
    video_ids: tuple[int, ...]  # display order, left to right
    asks_element_consistency: bool
    purpose: str = "real"  # "real", "gold" or "repeat", as Matchup.Purpose
    repeat_of: int | None = None  # a repeat: the position of the matchup it shows again


def _pairings(ours: dict[int, int], others: list[dict[int, int]]) -> list[tuple[tuple[int, ...], bool]]:
    """Video tuples (ours first) for one identity and prompt, from ``{seed: video id}`` per method.

    Seeds every method has give same-seed tuples; without a common seed, videos are paired in seed
    order, cycling the shorter lists, so that no video is left out.
    """
    common = set(ours).intersection(*(set(other) for other in others))
    if common:
        return [((ours[s], *(other[s] for other in others)), True) for s in sorted(common)]
    lists = [[ours[s] for s in sorted(ours)]] + [[other[s] for s in sorted(other)] for other in others]
    longest = max(len(videos) for videos in lists)
    return [(tuple(videos[k % len(videos)] for videos in lists), False) for k in range(longest)]


# (identity, prompt, story or None) -> method -> seed -> video id
_ByCase = defaultdict[tuple[int, int, int | None], defaultdict[int, dict[int, int]]]


def case_pools(
    *,
    ours_id: int,
    baseline_ids: Sequence[int],
    identity_ids: Iterable[int],
    prompt_ids: Iterable[int],
    best_of_all: bool,
) -> dict[int | None, list[Case]]:
    """The cases each baseline can be shown in (or, for "best of all", the cases every method has)."""
    by_case: _ByCase = defaultdict(lambda: defaultdict(dict))
    rows = (
        Video.objects.of_methods()
        .filter(
            identity_id__in=list(identity_ids),
            prompt_id__in=list(prompt_ids),
            method_id__in=[ours_id, *baseline_ids],
            rendering__isnull=True,  # a story's shots and joined files belong to narrative studies
        )
        .order_by("-id")  # the oldest video of a seed wins below, so re-imports do not change plans
        .values_list("id", "method_id", "identity_id", "prompt_id", "seed")
    )
    for video_id, method_id, identity_id, prompt_id, seed in rows:
        by_case[(identity_id, prompt_id, None)][method_id][seed] = video_id
    return _pools_from(by_case, ours_id=ours_id, baseline_ids=baseline_ids, best_of_all=best_of_all)


def story_case_pools(
    *, ours_id: int, baseline_ids: Sequence[int], story_ids: Iterable[int], best_of_all: bool = False
) -> dict[int | None, list[Case]]:
    """The stories each baseline can be shown in: those that ours and the baseline have both rendered,
    each side the joined file of one rendering (paired by seed as clips are)."""
    by_case: _ByCase = defaultdict(lambda: defaultdict(dict))
    rows = (
        Video.objects.of_methods()
        .filter(
            rendering__story_id__in=list(story_ids),
            shot__isnull=True,  # the joined file, never a single shot
            method_id__in=[ours_id, *baseline_ids],
        )
        .order_by("-id")  # the oldest rendering of a seed wins, as for clips
        .values_list(
            "id", "method_id", "rendering__story__identity_id", "prompt_id", "rendering__story_id", "seed"
        )
    )
    for video_id, method_id, identity_id, prompt_id, story_id, seed in rows:
        by_case[(identity_id, prompt_id, story_id)][method_id][seed] = video_id
    return _pools_from(by_case, ours_id=ours_id, baseline_ids=baseline_ids, best_of_all=best_of_all)


def _pools_from(
    by_case: _ByCase, *, ours_id: int, baseline_ids: Sequence[int], best_of_all: bool
) -> dict[int | None, list[Case]]:
    def cases_for(method_ids: Sequence[int]) -> list[Case]:
        found = []
        for (identity_id, prompt_id, story_id), methods in sorted(
            by_case.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0)
        ):
            if ours_id not in methods or any(m not in methods for m in method_ids):
                continue
            for video_ids, same_seed in _pairings(methods[ours_id], [methods[m] for m in method_ids]):
                found.append(Case(identity_id, prompt_id, video_ids, same_seed, story_id))
        return found

    if best_of_all:
        return {None: cases_for(list(baseline_ids))}
    return {baseline_id: cases_for([baseline_id]) for baseline_id in baseline_ids}


def _baseline_slots(
    baseline_ids: Sequence[int], matchups: int, shown_so_far: Counter[int], rng: random.Random
) -> list[int]:
    """One baseline id per matchup: each equally often, the remainder to the least shown so far."""
    share, remainder = divmod(matchups, len(baseline_ids))
    order = sorted(baseline_ids, key=lambda b: (shown_so_far[b], rng.random()))
    slots = [b for b in baseline_ids for _ in range(share)] + order[:remainder]
    rng.shuffle(slots)
    return slots


def _ours_left_flags(slots: Sequence[int], rng: random.Random) -> list[bool]:
    """Whether ours is on the left, per slot: half of each baseline's slots, and half overall (±1)."""
    by_baseline: dict[int, list[int]] = defaultdict(list)
    for index, baseline_id in enumerate(slots):
        by_baseline[baseline_id].append(index)
    flags = [False] * len(slots)
    odd_ones: list[int] = []
    for indexes in by_baseline.values():
        half = len(indexes) // 2
        sides = [True] * half + [False] * half
        rng.shuffle(indexes)
        for index, ours_left in zip(indexes, sides, strict=False):
            flags[index] = ours_left
        if len(indexes) % 2:
            odd_ones.append(indexes[-1])
    # The baselines met an odd number of times each have one slot left: alternate those across
    # baselines so the overall count stays within one as well.
    rng.shuffle(odd_ones)
    start = rng.random() < 0.5
    for k, index in enumerate(odd_ones):
        flags[index] = start if k % 2 == 0 else not start
    return flags


def _rotations(count: int, methods: int, rng: random.Random) -> list[tuple[int, ...]]:
    """Display orders for "best of all": a random order rotated one step per matchup, so that each
    method stands in each position equally often (±1)."""
    base = list(range(methods))
    rng.shuffle(base)
    orders = [tuple(base[(k + shift) % methods] for k in range(methods)) for shift in range(methods)]
    picks = [orders[k % methods] for k in range(count)]
    rng.shuffle(picks)
    return picks


def plan_draw(
    *,
    pools: dict[int | None, list[Case]],
    matchups: int,
    prompts: dict[int, Prompt],
    ask_element_consistency: bool,
    element_fraction: float | None,
    shown_so_far: Counter[tuple[int, ...]],
    baselines_so_far: Counter[int],
    rng: random.Random,
) -> list[PlannedMatchup]:
    """Draw one participant's plan from the case pools.

    ``shown_so_far`` counts how often earlier participants saw each video tuple (sorted ids) and
    ``baselines_so_far`` each baseline, so that a new plan prefers what the study has shown least.
    ``element_fraction`` is None to ask element consistency wherever it applies, or the share of those
    matchups that should ask it.
    """
    best_of_all = list(pools) == [None]
    if best_of_all:
        slots: list[int | None] = [None] * matchups
    else:
        slots = list(_baseline_slots([b for b in pools if b is not None], matchups, baselines_so_far, rng))

    used_entries: Counter[tuple[int | None, tuple[int, ...]]] = Counter()
    used_cases: Counter[tuple[int, int, int | None]] = Counter()
    used_identities: Counter[int] = Counter()
    used_prompts: Counter[int] = Counter()
    chosen: list[Case] = []
    for baseline_id in slots:

        def score(case: Case, baseline_id: int | None = baseline_id) -> tuple[int, int, int, int, float]:
            return (
                used_entries[(baseline_id, case.video_ids)],
                used_cases[case.key],
                used_identities[case.identity_id] + used_prompts[case.prompt_id],
                shown_so_far[tuple(sorted(case.video_ids))],
                rng.random(),
            )

        case = min(pools[baseline_id], key=score)
        chosen.append(case)
        used_entries[(baseline_id, case.video_ids)] += 1
        used_cases[case.key] += 1
        used_identities[case.identity_id] += 1
        used_prompts[case.prompt_id] += 1

    if best_of_all:
        orders = _rotations(matchups, len(chosen[0].video_ids) if chosen else 1, rng)
        displays = [
            tuple(case.video_ids[k] for k in order) for case, order in zip(chosen, orders, strict=True)
        ]
    else:
        flags = _ours_left_flags([b for b in slots if b is not None], rng)
        displays = [
            case.video_ids if ours_left else case.video_ids[::-1]
            for case, ours_left in zip(chosen, flags, strict=True)
        ]

    applies = [ask_element_consistency and prompts[case.prompt_id].keeps_elements for case in chosen]
    asks = list(applies)
    if element_fraction is not None:
        eligible = [k for k, flag in enumerate(applies) if flag]
        keep = set(rng.sample(eligible, round(element_fraction * len(eligible))))
        asks = [k in keep for k in range(len(chosen))]

    return [
        PlannedMatchup(
            position=k,
            baseline_id=slots[k],
            case=chosen[k],
            video_ids=displays[k],
            asks_element_consistency=asks[k],
        )
        for k in range(len(chosen))
    ]


@dataclass(frozen=True)
class GoldCase:
    """A gold comparison that can be shown as a matchup: its two videos and what it asks about."""

    comparison_id: int
    identity_id: int
    prompt_id: int
    video_ids: tuple[int, int]
    keeps_elements: bool


def checks_insert(
    *,
    plan: Sequence[PlannedMatchup],
    gold: Sequence[GoldCase],
    repeats: int,
    ask_element_consistency: bool,
    rng: random.Random,
) -> list[PlannedMatchup]:
    """The real ``plan`` with the gold matchups and ``repeats`` repeats inserted, renumbered.

    Gold matchups go to random positions with random sides. Each repeat shows a different real matchup
    again, sides swapped, at a random later position, not right after its original where the plan
    leaves room: a page seen a moment ago is too easy to recognise.
    """
    if repeats > len(plan):
        raise ValueError(f"{repeats} repeats need as many real matchups; the plan has {len(plan)}.")
    sequence: list[PlannedMatchup] = list(plan)
    for case in gold:
        video_ids = case.video_ids if rng.random() < 0.5 else case.video_ids[::-1]
        matchup = PlannedMatchup(
            position=-1,
            baseline_id=None,
            case=Case(case.identity_id, case.prompt_id, tuple(case.video_ids), same_seed=False),
            video_ids=tuple(video_ids),
            asks_element_consistency=ask_element_consistency and case.keeps_elements,
            purpose="gold",
        )
        sequence.insert(rng.randrange(len(sequence) + 1), matchup)
    originals = rng.sample(list(plan), repeats)
    for original in originals:
        after = sequence.index(original) + 1
        spaced = after + 1 if after + 1 <= len(sequence) else after
        repeat = replace(
            original, video_ids=original.video_ids[::-1], purpose="repeat", repeat_of=original.position
        )
        sequence.insert(rng.randint(spaced, len(sequence)), repeat)
    # Positions: renumber, and point each repeat at its original's new position.
    new_position = {id(item): k for k, item in enumerate(sequence)}
    by_old = {item.position: new_position[id(item)] for item in plan}
    return [
        replace(
            item,
            position=k,
            repeat_of=by_old[item.repeat_of] if item.repeat_of is not None else None,
        )
        for k, item in enumerate(sequence)
    ]
