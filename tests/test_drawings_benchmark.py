"""The drawings benchmark's pen-digit report: its figures from known answers, and a quick run on the held-out
writers."""
import numpy as np

from benchmarks.drawings import pen_digit_lines, pen_digit_report


class Answers:
    """A stand-in classifier whose probabilities are given."""

    def __init__(self, probabilities):
        self.probabilities = np.asarray(probabilities, np.float32)

    def predict_proba(self, x):
        return self.probabilities[:len(x)]


def one_hot(digit, sure):
    p = np.full(10, (1 - sure) / 9)
    p[digit] = sure
    return p


def test_the_report_counts_named_confidently_wrong_unsure_and_mistakes():
    y = np.array([0, 0, 0, 0, 1, 1, 7, 7])
    answers = Answers([one_hot(0, .99), one_hot(0, .99), one_hot(6, .95), one_hot(6, .5),
                       one_hot(1, .99), one_hot(7, .92), one_hot(7, .99), one_hot(7, .99)])
    labs = np.array(["a"] * 4 + ["b"] * 4)
    lines = pen_digit_report(answers, np.zeros((8, 28, 28), np.uint8), y, labs)
    text = "\n".join(lines)
    assert "named 62.50% of 8" in text and "zeros 50.0%" in text
    assert "confidently wrong 25.00% of all" in text  # 0->6 at 95% and 1->7 at 92%
    assert "12.5% of all digits (target <= 6%), 33% of the wrong answers" in text  # the 0->6 at 50%: "not sure"
    assert "< 50%: 0.0% / 0%" in text and "< 60%: 12.5% / 33%" in text and "< 90%: 12.5% / 33%" in text
    assert "< 95%: " not in text and "ones 50.0%" in text
    assert "per lab: a: 50.0%  b: 75.0%" in text
    assert "commonest mistakes: 0->6: 2  1->7: 1" in text


def test_a_quick_run_names_most_held_out_pen_digits(default_model):
    from digitdnn import load_classifier

    lines = pen_digit_lines(load_classifier(default_model), quick=True)
    assert lines[0].startswith("pen digits of ") and "held-out writers, as written" in lines[0]
    named = float(lines[1].split("named ")[1].split("%")[0])
    assert named > 90.0
    assert any("with foreign styles" in line for line in lines)
    families = [line for line in lines if "named" in line and "not sure" in line and "confidently wrong" in line]
    assert {line.split("named")[0].strip().rsplit(" ", 1)[0].strip() for line in families} == {
        "crossed zero", "dotted zero", "long-flag one", "slanted one", "barred seven", "curved-tail nine"}
