import pytest
from pydantic import ValidationError

from warmray.config import TaskSource


@pytest.mark.parametrize(
    "name, n, expected",
    [
        ("triviaqa", None, 500),
        ("truthfulqa", None, 500),
        ("medqa", None, 500),
        ("disinformation", None, None),
        ("mmlu", None, None),
        ("medqa", "all", None),
        ("medqa", 20, 20),
    ],
)
def test_sample_size_defaults_to_the_study(name, n, expected):
    assert TaskSource(name=name, n=n).sample_size() == expected


@pytest.mark.parametrize("n", [0, -3, "some"])
def test_sample_size_must_be_positive_or_all(n):
    with pytest.raises(ValidationError):
        TaskSource(name="medqa", n=n)
