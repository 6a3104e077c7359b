"""The Profiler's note on what the hosts ran on (app/training/profiler_view.py `hosts_note`): localcloud runs an
instance on fewer cores than its type's vCPUs, and the tab says so rather than showing 2 cores unexplained."""

import pytest

from app.training.profiler_view import hosts_note, html_report
from classifier.recording.reader import Recording


def recording(**config: object) -> Recording:
    return Recording(timeline=[{"Record": "config", "DataloaderWorkers": 0, **config}])


@pytest.mark.parametrize(
    ("config", "note"),
    [
        (
            {"Cores": 2, "InstanceType": "ml.m5.xlarge"},
            "Hosts: ml.m5.xlarge (4 vCPUs on AWS); each ran on 2 core(s) of this machine, which the charts and "
            "rules count.",
        ),
        ({"Cores": 4, "InstanceType": "ml.m5.xlarge"}, "Hosts: ml.m5.xlarge, 4 vCPUs each."),
        ({"Cores": 2, "InstanceType": "ml.r7i.48xlarge"}, "Hosts: ml.r7i.48xlarge."),  # a type without a price row
        ({"Cores": 2, "InstanceType": None}, None),  # an EC2 machine's recording names no SageMaker type
        ({"Cores": 2}, None),  # a recording from before the type was recorded
    ],
)
def test_the_note_names_the_type_and_the_cores_it_ran_on(config: dict, note: str | None) -> None:
    assert hosts_note(recording(**config)) == note


def test_the_report_carries_the_note() -> None:
    page = html_report("job", recording(Cores=2, InstanceType="ml.m5.xlarge"), [], [])
    assert "ml.m5.xlarge (4 vCPUs on AWS)" in page
