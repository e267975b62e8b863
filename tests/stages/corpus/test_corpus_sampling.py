import pytest

from warmray.stages.corpus.sampling import even_quotas, sample_evenly, spare_ids


def test_quotas_are_equal_when_every_category_has_enough():
    assert even_quotas({"a": 100, "b": 100, "c": 100}, 30) == {"a": 10, "b": 10, "c": 10}


def test_quota_a_small_category_cannot_fill_goes_to_the_larger_ones():
    assert even_quotas({"small": 2, "mid": 8, "big": 100}, 30) == {"small": 2, "mid": 8, "big": 20}
    assert even_quotas({"small": 2, "mid": 50, "big": 100}, 30) == {"small": 2, "mid": 14, "big": 14}


def test_division_remainder_goes_to_the_larger_categories():
    assert even_quotas({"a": 10, "b": 20, "c": 30}, 8) == {"a": 2, "b": 3, "c": 3}


@pytest.mark.parametrize("n", [1, 5, 17, 61, 1617, 10_000])
def test_quotas_sum_to_n_or_everything(n):
    counts = {"refusal": 72, "creative": 165, "advice": 149, "factual": 520, "other": 822, "technical": 1147}
    quotas = even_quotas(counts, n)
    assert sum(quotas.values()) == min(n, sum(counts.values()))
    assert all(0 <= quotas[c] <= counts[c] for c in counts)
    # even: no category that could take more is more than one row short of the largest quota
    top = max(quotas.values())
    assert all(quotas[c] >= top - 1 for c in counts if quotas[c] < counts[c])


def make_rows(n_per):
    return {f"{cat}-{i}": cat for cat, n in n_per.items() for i in range(n)}


def test_even_sample_takes_each_category_quota():
    rows = make_rows({"a": 5, "b": 50, "c": 50})
    chosen, quotas, counts = sample_evenly(rows, 45, seed=0)
    assert counts == {"a": 5, "b": 50, "c": 50} and quotas == {"a": 5, "b": 20, "c": 20}
    assert len(chosen) == 45
    assert sum(rows[i] == "b" for i in chosen) == 20


def test_sample_is_deterministic_order_free_and_seeded():
    rows = make_rows({"a": 30, "b": 30})
    first, _, _ = sample_evenly(rows, 20, seed=1)
    reversed_rows = dict(reversed(list(rows.items())))
    assert sample_evenly(reversed_rows, 20, seed=1)[0] == first
    other_seed, quotas, _ = sample_evenly(rows, 20, seed=2)
    assert other_seed != first and len(other_seed) == 20 and quotas == {"a": 10, "b": 10}


def test_spares_are_the_next_in_line_of_each_category_and_at_most_its_quota():
    rows = make_rows({"a": 3, "b": 50, "c": 50})
    chosen, quotas, _ = sample_evenly(rows, 30, seed=0)
    spares = spare_ids(rows, chosen, quotas, set(), seed=0)
    assert not set(spares) & chosen
    assert quotas == {"a": 3, "b": 13, "c": 14}
    assert [rows[i] for i in spares] == ["b"] * 13 + ["c"] * 14  # "a" has none left
    # the next in line: a sample larger by one per category takes the first spare of each
    more, _, _ = sample_evenly(rows, 32, seed=0)
    assert more - chosen == {spares[0], spares[13]}


def test_excluded_ids_are_never_spares_and_the_next_one_steps_up():
    rows = make_rows({"a": 10})
    chosen, quotas, _ = sample_evenly(rows, 3, seed=0)
    spares = spare_ids(rows, chosen, quotas, set(), seed=0)
    without_first = spare_ids(rows, chosen, quotas, {spares[0]}, seed=0)
    assert without_first == spares[1:] + [without_first[-1]] and spares[0] not in without_first
    assert spare_ids(dict(reversed(list(rows.items()))), chosen, quotas, set(), seed=0) == spares
