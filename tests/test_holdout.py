"""Held-back drawings (issue 24, item 3): the split is by browser tab and stable, nothing is held back when it cannot
measure, and the verdict on a retrain is one sentence with the figures on drawings it did not train on."""
import itertools
import json

import numpy as np
import pytest

from digitdnn.storage.drawings import DrawingStore
from digitdnn.training import holdout
from digitdnn.training.holdout import Measured, kept_sentence, split_by_tab, tab_hash, why_held_back


def tab_names(held: bool, count: int) -> list[str]:
    """`count` tab ids that the hash holds back (held) or not."""
    names = (f"tab-{i}" for i in itertools.count())
    return list(itertools.islice((n for n in names if (tab_hash(n) < holdout.HELD_BACK_SHARE) == held), count))


def drawings_of(sizes: dict[str, int], seed: int = 0) -> np.ndarray:
    """The tab id of each drawing, `sizes[tab]` drawings per tab, in a shuffled order (as drawings arrive)."""
    tabs = np.array([tab for tab, n in sizes.items() for _ in range(n)], dtype=object)
    return tabs[np.random.default_rng(seed).permutation(len(tabs))]


def held_tabs(tabs: np.ndarray, held: np.ndarray) -> set[str]:
    return set(tabs[held])


def test_the_split_is_by_tab_about_a_fifth_of_them_and_the_same_every_time():
    rng = np.random.default_rng(1)
    sizes = {f"{rng.integers(2**62):x}": int(rng.integers(1, 30)) for _ in range(400)}
    tabs = drawings_of(sizes)
    split = split_by_tab(tabs)
    assert split.nothing_held_back is None and split.tabs == 400
    chosen = held_tabs(tabs, split.held)
    assert split.held_tabs == len(chosen) and 0.15 < len(chosen) / 400 < 0.25
    for tab in sizes:  # a tab's drawings are never split
        assert len(set(split.held[tabs == tab])) == 1
    assert chosen == {tab for tab in sizes if tab_hash(tab) < holdout.HELD_BACK_SHARE}
    assert split.held_drawings == sum(sizes[tab] for tab in chosen)

    again = drawings_of(sizes, seed=7)  # the same tabs, drawings in another order: the same tabs held back
    assert held_tabs(again, split_by_tab(again).held) == chosen
    more = drawings_of({**sizes, **dict.fromkeys(tab_names(False, 5) + tab_names(True, 5), 12)})
    assert held_tabs(more, split_by_tab(more).held) >= chosen  # new tabs move no old one


def test_the_hash_is_salted():
    assert tab_hash("abc") != tab_hash("abcd") and 0 <= tab_hash("abc") < 1
    import hashlib

    unsalted = int.from_bytes(hashlib.sha256(b"abc").digest()[:8], "big") / 2**64
    assert tab_hash("abc") != unsalted


def test_one_tab_or_drawings_without_one_hold_nothing_back():
    split = split_by_tab(["a"] * 50)
    assert not split.held.any() and split.nothing_held_back == "all drawings come from one tab"
    assert split.describe() == "nothing held back: all drawings come from one tab"
    imported = split_by_tab([None] * 20 + [""] * 30)  # no tab, stored as NULL or "": one group
    assert not imported.held.any() and imported.tabs == 1
    assert imported.nothing_held_back == "none of the drawings records the browser tab it came from"
    assert split_by_tab([]).nothing_held_back == "there are no drawings"


def test_two_tabs_hold_one_back_even_when_the_hash_picks_none_or_both():
    (kept_a, kept_b), (held_a, held_b) = tab_names(False, 2), tab_names(True, 2)
    for pair in ((kept_a, kept_b), (held_a, held_b), (None, kept_a)):
        tabs = drawings_of({pair[0]: 20, pair[1]: 20})
        split = split_by_tab(tabs)
        assert split.held_tabs == 1 and split.held_drawings == 20, pair
        # none under the share: the one hashed lowest; both: the one hashed highest is trained on
        assert held_tabs(tabs, split.held) == {min(pair, key=lambda t: tab_hash(t or ""))}, pair
    assert split_by_tab([None] * 15 + [""] * 15 + [kept_a] * 15).tabs == 2  # NULL and "" are one group


def test_too_few_drawings_to_measure_or_to_train_on_hold_nothing_back():
    kept, held = tab_names(False, 1)[0], tab_names(True, 1)[0]
    few = split_by_tab(drawings_of({kept: 100, held: 9}))
    assert not few.held.any()
    assert few.nothing_held_back == "the 1 tab it would hold back has 9 drawings, fewer than the 10 it takes to measure"
    assert split_by_tab(drawings_of({kept: 100, held: 10})).held_drawings == 10
    starved = split_by_tab(drawings_of({kept: 9, held: 100}))
    assert not starved.held.any()
    assert starved.nothing_held_back == "holding back 1 tab would leave 9 drawings to train on, fewer than 10"


def test_the_sentence_says_which_model_is_kept_and_why():
    worse, better = Measured(42, 2, 40, 39), Measured(42, 2, 39, 40)
    assert worse.worse and not better.worse and not Measured(42, 2, 40, 40).worse  # a tie keeps the retrained one
    assert kept_sentence(worse, None, 0.99, 0.99) == ("Kept the model you started from: on 42 drawings from 2 tabs "
                                                      "it did not train on, it named 95.2% and the retrained one "
                                                      "92.9%.")
    assert kept_sentence(better, None, 0.99, 0.99) == ("Kept the retrained model: on 42 drawings from 2 tabs it did "
                                                       "not train on, it named 95.2% and the model you started from "
                                                       "92.9%.")
    assert kept_sentence(better, None, 0.99, 0.90) == ("Kept the model you started from: MNIST test accuracy fell "
                                                       "from 99.0% to 90.0% (more than 1.5 points).")
    assert kept_sentence(worse, None, 0.99, 0.90).endswith("92.9%, and MNIST test accuracy fell from 99.0% to 90.0% "
                                                           "(more than 1.5 points).")
    assert kept_sentence(None, "all drawings come from one tab", 0.991, 0.989, new="the fine-tuned one") == (
        "Kept the fine-tuned model: nothing was held back to measure it (all drawings come from one tab), and MNIST "
        "test accuracy held (99.1% before, 98.9% after).")
    assert why_held_back(worse, 0.99, 0.99) == ("on 42 drawings from 2 tabs it did not train on, it named 92.9% and "
                                                "the model it started from 95.2%")
    assert why_held_back(better, 0.99, 0.985) is None and why_held_back(None, None, 0.5) is None


def test_the_figures_survive_a_model_card_and_garbage_is_ignored():
    measured = Measured(42, 2, 40, 39)
    record = json.loads(json.dumps(holdout.fine_tuned_record(88, split_by_tab(["a"] * 5 + ["b"] * 5), measured)))
    assert record["drawings"] == 88 and holdout.unseen_of(record) == measured
    for garbage in (None, "x", {"held_back": {"drawings": 0, "tabs": 1, "named_before": 0, "named_after": 0}},
                    {"held_back": {"drawings": 5, "tabs": 1, "named_before": 6, "named_after": 0}},
                    {"held_back": {"drawings": 5, "tabs": True, "named_before": 1, "named_after": 0}},
                    {"held_back": {"drawings": 5.0, "tabs": 1, "named_before": 1, "named_after": 0}}):
        assert holdout.unseen_of(garbage) is None, garbage


def test_the_store_returns_each_drawings_tab(tmp_path):
    store = DrawingStore(tmp_path / "drawings.sqlite")
    for label, session in [(1, "a"), (2, None), (3, "b"), (4, "a"), (5, "")]:
        store.add(np.full((28, 28), label / 10, np.float32), label, session=session)
    x, y, tabs = store.arrays_with_tabs()
    assert y.tolist() == [1, 2, 3, 4, 5] and tabs.tolist() == ["a", "", "b", "a", ""]
    assert tabs[0] is tabs[3]  # one string per tab, not per drawing
    np.testing.assert_array_equal(x, store.arrays()[0])
    x, y, tabs = store.arrays_with_tabs(newest=2, stored=True)
    assert y.tolist() == [4, 5] and tabs.tolist() == ["a", ""] and x.dtype == np.uint8
    with pytest.raises(ValueError, match="newest must be >= 0"):
        store.arrays_with_tabs(newest=-1)
