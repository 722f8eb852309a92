"""`make bench` reports a failed stage as a row and goes on (it must never lose the table)."""

import pytest

from course.bench import table as bench


def test_a_failing_command_is_reported_with_its_exit_status():
    with pytest.raises(bench.StageFailed, match="exit status 3"):
        bench._timed(["sh", "-c", "exit 3"])
    assert bench._timed(["true"]) >= 0


def test_a_failed_stage_becomes_a_row_and_later_stages_still_run(capsys):
    def broken():
        raise RuntimeError("kernel died\nmore detail")

    def nbval_fails():
        raise bench.StageFailed("exit status 1 after 70 s")

    rows = bench.run_stages(
        {
            "first": lambda: [("first", "1.0 s")],
            "broken": broken,
            "make test-notebooks": nbval_fails,
            "last": lambda: [("last", "2.0 s")],
        }
    )
    assert rows == [
        ("first", "1.0 s"),
        ("broken", "failed (RuntimeError: kernel died)"),
        ("make test-notebooks", "failed (exit status 1 after 70 s)"),
        ("last", "2.0 s"),
    ]
    assert "last: 2.0 s" in capsys.readouterr().out


def test_main_prints_the_whole_table_and_exits_1_when_a_row_failed(monkeypatch, capsys):
    monkeypatch.setattr(
        bench,
        "STAGES",
        {
            "tests": lambda: [
                ("make test-unit", "12 s"),
                ("make test-notebooks", "failed (exit status 1)"),
            ],
            "grader": lambda: [("grader: submissions per minute", "34.5")],
        },
    )
    assert bench.main() == 1
    table = capsys.readouterr().out.split("measurement")[-1]
    assert "failed (exit status 1)" in table and "grader: submissions per minute" in table

    monkeypatch.setattr(bench, "STAGES", {"grader": lambda: [("grader", "34.5")]})
    assert bench.main() == 0
