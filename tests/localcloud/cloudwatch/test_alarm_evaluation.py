"""Which datapoints an alarm judges out of its evaluation range (AWS's rules for missing data)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from localcloud.cloudwatch.alarms import EVALUATION_RANGE, in_evaluation, judge

ALARM = {
    "ComparisonOperator": "LessThanThreshold",
    "Threshold": 18.0,
    "DatapointsToAlarm": 3,
    "TreatMissingData": "missing",
    "StateValue": "OK",
    "StateReason": "",
}


def test_a_gap_is_bridged_by_older_real_datapoints():
    window = [5.0, 6.0, None, 7.0, None, 8.0]
    assert in_evaluation(window, 3) == [6.0, 7.0, 8.0]
    state, reason = judge(ALARM, in_evaluation(window, 3))
    assert state == "ALARM" and reason.startswith("Threshold Crossed: 3 datapoints were [6, 7, 8] less than")


def test_too_few_real_datapoints_leave_the_gaps_to_the_missing_data_treatment():
    window = [None, None, None, 7.0, None, 8.0]
    assert in_evaluation(window, 3) == [7.0, None, 8.0]
    assert judge(ALARM, in_evaluation(window, 3))[0] == "OK"
    assert judge(ALARM, in_evaluation([None] * 6, 3))[0] == "INSUFFICIENT_DATA"


@given(
    st.integers(1, 10).flatmap(
        lambda periods: st.tuples(
            st.just(periods),
            st.lists(
                st.none() | st.floats(0, 100), min_size=EVALUATION_RANGE * periods, max_size=EVALUATION_RANGE * periods
            ),
        )
    )
)
def test_always_the_evaluation_periods_and_never_a_datapoint_out_of_order(case):
    periods, window = case
    judged = in_evaluation(window, periods)
    assert len(judged) == periods
    real = [v for v in judged if v is not None]
    if real:
        assert real == [v for v in window if v is not None][-len(real) :]
