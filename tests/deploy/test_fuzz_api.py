"""schemathesis against the production server, every operation of the schema, with an admin token: no server
error, every response as documented (status code, content type, headers, body). A bounded run of
benchmarks/fuzz_api.py, which runs longer ones."""

from benchmarks.fuzz_api import fuzz


def test_every_operation_answers_as_documented_and_never_with_a_server_error(production_server):
    report = fuzz(production_server, max_examples=4, phases="examples,fuzzing", workers=2, seed=16, max_time=40)

    assert report.operations >= 40
    assert report.cases >= report.operations
    assert report.failures == {}, report.output[-8000:]
    assert report.exit_code == 0, report.output[-8000:]
