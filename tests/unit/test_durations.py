"""tests/support/durations.py: a JUnit report's times summed per test file, longest first."""

from tests.support.durations import per_file


def test_times_are_summed_per_file_longest_first(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text("""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.unit.test_a" name="test_one" time="1.25"/>
  <testcase classname="tests.unit.test_a" name="test_two" time="0.5"/>
  <testcase classname="tests.e2e.test_b" name="test_x[sqlite]" time="3.0"/>
  <testcase classname="tests.e2e.test_b.TestGroup" name="test_y" time="2.0"/>
</testsuite></testsuites>""")
    assert list(per_file(str(report)).items()) == [("tests/e2e/test_b.py", 5.0), ("tests/unit/test_a.py", 1.8)]
