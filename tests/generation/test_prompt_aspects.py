from __future__ import annotations

from generation.models import Prompt


def test_a_differential_prompt_tells_the_generator_only_what_changes():
    prompt = Prompt(
        task="differential",
        omitted_aspects=["hairstyle", "clothing"],
        shot="static",
        hairstyle="a bob",
        clothing="a red shirt",
        accessories="",
        expression="smiling",
        action="",
        setting="in a park",
    )
    assert prompt.aspects() == {
        "shot": "static",
        "expression": "smiling",
        "setting": "in a park",
    }
    prompt.task = "full"
    assert set(prompt.aspects()) == {"shot", "hairstyle", "clothing", "expression", "setting"}
