from ggen_desktop.core.traffic import TrafficMeter, format_rate


def test_rates_are_the_change_over_the_window() -> None:
    meter = TrafficMeter(window=2.0)
    assert meter.sample(0.0, 0, 0) == (0.0, 0.0)
    assert meter.sample(1.0, 1000, 500) == (1000.0, 500.0)
    assert meter.sample(2.0, 3000, 500) == (1500.0, 250.0)
    assert meter.sample(3.0, 3000, 500) == (1000.0, 0.0)  # the window slid: samples at 1, 2, 3 s
    assert meter.sample(5.0, 3000, 500) == (0.0, 0.0)  # idle for the whole window


def test_counters_that_start_again_are_a_new_start_not_a_negative_rate() -> None:
    meter = TrafficMeter()
    meter.sample(0.0, 5000, 5000)
    assert meter.sample(0.5, 100, 50) == (0.0, 0.0)
    assert meter.sample(1.5, 1100, 50) == (1000.0, 0.0)


def test_rates_read_as_people_write_them() -> None:
    assert [format_rate(v) for v in (0, 512, 1536, 20_000, 12 * 1024 * 1024, -3)] == [
        "0 B/s", "512 B/s", "1.5 KB/s", "20 KB/s", "12 MB/s", "0 B/s"]
