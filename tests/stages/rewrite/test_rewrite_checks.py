from warmray.stages.rewrite.checks import check_rewrite, clean_rewrite

ORIGINAL = "Use this:\n```python\nprint('hi')\n```\nThat prints hi."


def check(rewrite: str) -> str | None:
    return check_rewrite(ORIGINAL, rewrite, 0.3, 4.0)


def test_a_faithful_warm_rewrite_passes():
    assert (
        check(
            "Great question, friend! Use this:\n```python\nprint('hi')\n```\nThat prints hi. You've got it!"
        )
        is None
    )


def test_an_empty_rewrite_is_refused():
    assert check("   ") == "empty"


def test_a_changed_code_block_is_refused_even_by_one_character():
    assert check("Use this:\n```python\nprint('hi') \n```\nThat prints hi, friend.") == "code_changed"


def test_length_ratio_bounds():
    assert check("Hi.") in {"too_short", "code_changed"}
    assert check_rewrite("Short answer.", "Short answer. " * 10, 0.3, 4.0) == "too_long"


def test_leftover_instruction_text_is_refused():
    assert check_rewrite("Paris.", "REPLY>>> Paris, friend!", 0.1, 10) == "instruction_leftover"


def test_an_announcing_first_line_is_cut_not_refused():
    assert clean_rewrite("Here is the warmer version:\nParis, my friend!") == "Paris, my friend!"
