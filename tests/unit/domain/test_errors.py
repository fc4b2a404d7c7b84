from acmeca.domain.errors import (
    ConnectionProblem,
    ErrorSummary,
    RejectedIdentifier,
    Subproblem,
    error_from_summary,
)
from acmeca.domain.identifiers import dns


def test_summary_round_trip_keeps_kind_detail_and_subproblems() -> None:
    error = RejectedIdentifier(
        "some names were refused",
        subproblems=[Subproblem(ConnectionProblem("no route"), dns("a.example"))],
    )
    rebuilt = error_from_summary(ErrorSummary.of(error))
    assert type(rebuilt) is RejectedIdentifier
    assert rebuilt.detail == "some names were refused"
    assert type(rebuilt.subproblems[0].error) is ConnectionProblem
    assert rebuilt.subproblems[0].identifier == dns("a.example")
